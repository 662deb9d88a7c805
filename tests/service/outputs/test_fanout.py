"""The publisher's per-subscriber fan-out with real ZeroMQ sockets: a stuck subscriber's losses are
counted exactly and appear in /metrics at once, the others lose nothing; CURVE lets in only
authorized keys; the subscriber limit and ipc endpoints."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from prometheus_client.parser import text_string_to_metric_families

from service.outputs.curve import CurveClient, CurveServer
from service.outputs.metrics import Metrics
from service.outputs.publisher import Publisher

PAYLOAD = {"type": "update", "pad": "x" * 2000}


@pytest.fixture
def ctx() -> Iterator[zmq.Context[Any]]:
    c: zmq.Context[Any] = zmq.Context()
    yield c
    c.term()


def dropped(metrics: Metrics, reason: str) -> float:
    """The counter as Prometheus would scrape it from /metrics."""
    for family in text_string_to_metric_families(metrics.render().decode()):
        if family.name == "actionstream_events_dropped":
            for sample in family.samples:
                if sample.labels.get("reason") == reason and sample.name.endswith("_total"):
                    return sample.value
    raise AssertionError(f"no events_dropped_total{{reason={reason!r}}} sample")


def subscribe(
    ctx: zmq.Context[Any],
    endpoint: str,
    curve: CurveClient | None = None,
    rcvhwm: int = 1000,
    rcvbuf: int = -1,
) -> Any:
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVHWM, rcvhwm)
    sock.setsockopt(zmq.RCVBUF, rcvbuf)
    if curve is not None:
        curve.apply(sock)
    sock.setsockopt(zmq.SUBSCRIBE, b"action.")
    sock.connect(endpoint)
    return sock


def until_both_subscribed(pub: Publisher, socks: list[Any], timeout: float = 20.0) -> None:
    """ZeroMQ's slow joiner: publish probes until every socket got one, then empty them."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < len(socks):
        assert time.monotonic() < deadline, "the subscribers never received a probe"
        pub.publish("action.probe", {"probe": True})
        time.sleep(0.05)
        for i, s in enumerate(socks):
            while s.poll(0):
                s.recv_multipart()
                seen.add(i)
    time.sleep(0.3)
    for s in socks:
        while s.poll(50):
            s.recv_multipart()


class Reader(threading.Thread):
    """A subscriber that keeps up: reads everything until stopped."""

    def __init__(self, sock: Any) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.got = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            if self.sock.poll(50):
                self.sock.recv_multipart()
                self.got += 1


def test_a_stuck_subscribers_losses_are_counted_exactly_and_at_once(ctx: zmq.Context[Any]) -> None:
    metrics = Metrics()
    pub = Publisher("tcp://127.0.0.1:*", sndhwm=50, metrics=metrics, queue_size=100_000, context=ctx)
    pub.start()
    stuck = subscribe(ctx, pub.endpoint or "", rcvhwm=10, rcvbuf=16 * 1024)
    healthy = subscribe(ctx, pub.endpoint or "")
    try:
        until_both_subscribed(pub, [stuck, healthy])
        reader = Reader(healthy)
        reader.start()
        assert dropped(metrics, "subscriber_hwm") == 0

        # The stuck subscriber never reads: its buffers fill, then every event it misses counts.
        n, first_loss_after = 4000, None
        t0 = time.monotonic()
        for i in range(n):
            assert pub.publish("action.cam0", PAYLOAD | {"i": i})
            if i % 10 == 0:
                time.sleep(0.005)  # an event rate the healthy reader keeps up with
            if first_loss_after is None and dropped(metrics, "subscriber_hwm") > 0:
                first_loss_after = time.monotonic() - t0
        deadline = time.monotonic() + 20
        while reader.got < n and time.monotonic() < deadline:
            time.sleep(0.05)
        reader.stop.set()
        reader.join(5)
        lost = dropped(metrics, "subscriber_hwm")

        # Now the stuck one reads what it was sent: received + counted losses = published.
        received = 0  # (a long quiet gap ends it: on a loaded machine the I/O threads can lag)
        while stuck.poll(3000):
            stuck.recv_multipart()
            received += 1
    finally:
        pub.close(linger=0)
        stuck.close()
        healthy.close()
    print(f"stuck subscriber: received {received}, counted lost {lost:.0f} of {n}; healthy got {reader.got}")
    assert reader.got == n, "the healthy subscriber loses nothing"
    assert 0 < received < n and lost > 0
    assert received + lost == n, "every event the stuck subscriber missed is counted, once"
    assert pub.dropped == {"subscriber_hwm": lost}
    assert first_loss_after is not None, "losses appear in the metrics while they happen"


def test_curve_lets_in_authorized_keys_only(ctx: zmq.Context[Any]) -> None:
    server_public, server_secret = zmq.curve_keypair()
    alice_public, alice_secret = zmq.curve_keypair()
    _, mallory_secret = zmq.curve_keypair()
    server = CurveServer(server_secret, frozenset({alice_public}))
    pub = Publisher("tcp://127.0.0.1:*", sndhwm=100, context=ctx, curve=server)
    pub.start()
    alice = subscribe(ctx, pub.endpoint or "", CurveClient(alice_secret, server_public))
    mallory = subscribe(ctx, pub.endpoint or "", CurveClient(mallory_secret, server_public))
    plain = subscribe(ctx, pub.endpoint or "")
    got = {"alice": 0, "mallory": 0, "plain": 0}
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pub.publish("action.cam0", PAYLOAD)
            time.sleep(0.02)
            for name, sock in (("alice", alice), ("mallory", mallory), ("plain", plain)):
                while sock.poll(0):
                    sock.recv_multipart()
                    got[name] += 1
    finally:
        pub.close(linger=0)
        for s in (alice, mallory, plain):
            s.close()
    assert got["alice"] > 50
    assert got["mallory"] == 0, "an unknown key gets nothing"
    assert got["plain"] == 0, "a subscriber without CURVE gets nothing"


def test_subscribers_beyond_the_limit_are_refused(ctx: zmq.Context[Any]) -> None:
    pub = Publisher("tcp://127.0.0.1:*", sndhwm=100, context=ctx, max_subscribers=1)
    pub.start()
    first = subscribe(ctx, pub.endpoint or "")
    try:
        until_both_subscribed(pub, [first])
        second = subscribe(ctx, pub.endpoint or "")
        got = 0
        for _ in range(40):
            pub.publish("action.cam0", PAYLOAD)
            time.sleep(0.02)
            while second.poll(0):
                second.recv_multipart()
                got += 1
        assert got == 0 and pub.subscribers == 1
        second.close()
    finally:
        pub.close(linger=0)
        first.close()


def test_ipc_endpoint(ctx: zmq.Context[Any], tmp_path: Path) -> None:
    endpoint = f"ipc://{tmp_path}/events.sock"
    pub = Publisher(endpoint, sndhwm=100, context=ctx)
    pub.start()
    sub = subscribe(ctx, endpoint)
    try:
        assert pub.endpoint == endpoint
        until_both_subscribed(pub, [sub])
        pub.publish("action.cam0", {"n": 1})
        assert sub.poll(5000)
        topic, _ = sub.recv_multipart()
        assert topic == b"action.cam0"
    finally:
        pub.close(linger=0)
        sub.close()
    assert not Path(f"{tmp_path}/events.sock").exists(), "the socket file is removed at close"
