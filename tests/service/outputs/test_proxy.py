"""The XSUB/XPUB proxy forwards events from several publisher processes to one subscriber."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import zmq

from service.cli import build_parser
from service.outputs.curve import CurveClient, CurveServer
from service.outputs.proxy import EventProxy, ProxyError
from service.outputs.publisher import Publisher

PUBLISHER = r"""
import sys, time, zmq
mode, endpoint, name = sys.argv[1:4]
sock = zmq.Context.instance().socket(zmq.PUB)
(sock.bind if mode == "bind" else sock.connect)(endpoint)
n = 0
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    sock.send_multipart([f"action.{name}".encode(), b'{"camera": "%s", "n": %d}' % (name.encode(), n)])
    n += 1
    time.sleep(0.01)
"""


def _free_tcp() -> str:
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.PUB)
    port = s.bind_to_random_port("tcp://127.0.0.1")
    s.close(linger=0)
    return f"tcp://127.0.0.1:{port}"


def _receive_cameras(endpoint: str, want: set[str], timeout: float, topic: bytes = b"action.") -> set[str]:
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, topic)
    sub.connect(endpoint)
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while seen != want and time.monotonic() < deadline:
            if sub.poll(200):
                topic_got, _payload = sub.recv_multipart()
                seen.add(topic_got.decode().split(".", 1)[1])
    finally:
        sub.close()
    return seen


@pytest.fixture
def publishers():
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(mode: str, endpoint: str, name: str) -> None:
        procs.append(subprocess.Popen([sys.executable, "-c", PUBLISHER, mode, endpoint, name]))

    yield spawn
    for p in procs:
        p.kill()
        p.wait(timeout=5)


def test_proxy_forwards_from_two_bound_publisher_processes(publishers) -> None:
    shard_a, shard_b = _free_tcp(), _free_tcp()
    publishers("bind", shard_a, "cam-a")
    publishers("bind", shard_b, "cam-b")
    proxy = EventProxy("tcp://127.0.0.1:0", upstreams=[shard_a, shard_b])
    proxy.start()
    try:
        assert proxy.bound_xpub
        assert _receive_cameras(proxy.bound_xpub, {"cam-a", "cam-b"}, timeout=10) == {"cam-a", "cam-b"}
    finally:
        proxy.stop()
        assert proxy.join(timeout=3)


def test_proxy_accepts_publishers_that_connect_to_it(publishers) -> None:
    proxy = EventProxy("tcp://127.0.0.1:0", xsub_bind="tcp://127.0.0.1:0")
    proxy.start()
    try:
        assert proxy.bound_xsub and proxy.bound_xpub
        publishers("connect", proxy.bound_xsub, "cam-a")
        publishers("connect", proxy.bound_xsub, "cam-b")
        assert _receive_cameras(proxy.bound_xpub, {"cam-a", "cam-b"}, timeout=10) == {"cam-a", "cam-b"}
    finally:
        proxy.stop()
        assert proxy.join(timeout=3)


def test_subscription_filter_travels_upstream(publishers) -> None:
    proxy = EventProxy("tcp://127.0.0.1:0", xsub_bind="tcp://127.0.0.1:0")
    proxy.start()
    try:
        publishers("connect", proxy.bound_xsub, "cam-a")
        publishers("connect", proxy.bound_xsub, "cam-b")
        assert _receive_cameras(proxy.bound_xpub, {"cam-b"}, timeout=10, topic=b"action.cam-b") == {"cam-b"}
    finally:
        proxy.stop()
        proxy.join(timeout=3)


def test_busy_endpoint_is_a_clear_error() -> None:
    holder = zmq.Context.instance().socket(zmq.PUB)
    port = holder.bind_to_random_port("tcp://127.0.0.1")
    try:
        proxy = EventProxy(f"tcp://127.0.0.1:{port}", xsub_bind="tcp://127.0.0.1:0")
        with pytest.raises(ProxyError, match=f"cannot bind the subscriber endpoint tcp://127.0.0.1:{port}"):
            proxy.start()
        assert proxy.join(timeout=2)
    finally:
        holder.close(linger=0)


def test_stop_leaves_no_thread() -> None:
    before = {t.name for t in threading.enumerate()}
    proxy = EventProxy("tcp://127.0.0.1:0", xsub_bind="tcp://127.0.0.1:0")
    proxy.start()
    proxy.stop()
    assert proxy.join(timeout=3)
    assert {t.name for t in threading.enumerate()} <= before


def test_needs_somewhere_to_read_from() -> None:
    with pytest.raises(ValueError, match="XSUB bind endpoint"):
        EventProxy("tcp://127.0.0.1:0")


def test_curve_through_the_proxy_as_the_helm_chart_sets_it_up() -> None:
    """Shards and proxy share one keypair; subscribers of the proxy need an authorized key."""
    ctx: zmq.Context = zmq.Context()  # the proxy's; the shard (another process in a cluster) has its own
    shared_public, shared_secret = zmq.curve_keypair()
    alice_public, alice_secret = zmq.curve_keypair()
    shard = Publisher("tcp://127.0.0.1:*", curve=CurveServer(shared_secret))
    shard.start()
    proxy = EventProxy(
        "tcp://127.0.0.1:0",
        upstreams=[shard.endpoint or ""],
        context=ctx,
        curve=CurveServer(shared_secret, frozenset({alice_public})),
        upstream_curve=CurveClient(shared_secret, shared_public),
    )
    proxy.start()
    socks = {}
    for name, curve in (("alice", CurveClient(alice_secret, shared_public)), ("plain", None)):
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            curve.apply(sock)
        sock.setsockopt(zmq.SUBSCRIBE, b"action.")
        sock.connect(proxy.bound_xpub or "")
        socks[name] = sock
    got = dict.fromkeys(socks, 0)
    try:
        deadline = time.monotonic() + 10
        while got["alice"] < 20 and time.monotonic() < deadline:
            shard.publish("action.cam0", {"n": 1})
            time.sleep(0.02)
            for name, sock in socks.items():
                while sock.poll(0):
                    sock.recv_multipart()
                    got[name] += 1
    finally:
        for sock in socks.values():
            sock.close()
        proxy.stop()
        assert proxy.join(timeout=3)
        shard.close(linger=0)
        ctx.term()
    assert got["alice"] >= 20, "the proxy reached the CURVE shard and let the authorized subscriber in"
    assert got["plain"] == 0


def test_curve_proxy_refuses_a_plain_publisher(publishers) -> None:
    ctx: zmq.Context = zmq.Context()
    _, secret = zmq.curve_keypair()
    proxy = EventProxy(
        "tcp://127.0.0.1:0", xsub_bind="tcp://127.0.0.1:0", context=ctx, curve=CurveServer(secret)
    )
    proxy.start()
    try:
        publishers("connect", proxy.bound_xsub, "intruder")
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        CurveClient(secret, zmq.curve_public(secret)).apply(sub)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(proxy.bound_xpub or "")
        assert not sub.poll(3000), "nothing from a publisher without the key"
        sub.close()
    finally:
        proxy.stop()
        assert proxy.join(timeout=3)
        ctx.term()


def test_proxy_binds_to_loopback_by_default() -> None:
    parser = build_parser()
    args = parser.parse_args(["proxy", "--upstream", "tcp://127.0.0.1:5556"])
    assert args.bind == "tcp://127.0.0.1:5560"
