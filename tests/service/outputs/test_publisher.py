"""The ZeroMQ publisher with real sockets: round trip to the subscriber CLI, stuck subscribers, errors."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from typing import Any

import jsonschema
import pytest
import zmq

from service.outputs.events import ActionEvent, StatusEvent, event_schema
from service.outputs.metrics import Metrics
from service.outputs.publisher import Publisher, PublisherError

LABELS = ("JUMPING", "BOXING")


def event(i: int, camera: str = "cam0", *, acting: bool = True) -> ActionEvent:
    """An update naming BOXING, or (``acting=False``) one that names no action (the model's
    background output won)."""
    return ActionEvent(
        type="update",
        camera=camera,
        track_id=i % 3,
        label="BOXING" if acting else None,
        reason="action" if acting else "background",
        confidence=0.8 if acting else 0.1,
        probabilities={"JUMPING": 0.2, "BOXING": 0.8} if acting else {"JUMPING": 0.05, "BOXING": 0.1},
        background=0.0 if acting else 0.85,
        window_start_pts=i * 0.1,
        window_end_pts=i * 0.1 + 1.45,
        frame_seq=i,
        pts=i * 0.1 + 1.45,
        capture_time=time.monotonic(),
    )


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ctx() -> Any:
    c: zmq.Context[Any] = zmq.Context()
    yield c
    c.term()


def test_round_trip_to_subscriber_cli_in_another_process(
    cli_argv: list[str], cli_env: dict[str, str]
) -> None:
    metrics = Metrics()
    pub = Publisher(f"tcp://127.0.0.1:{free_tcp_port()}", sndhwm=1000, metrics=metrics)
    pub.start()
    assert pub.endpoint is not None
    n = 20
    cmd = [*cli_argv, "subscribe", pub.endpoint, "--camera", "cam1", "--count", str(n), "--timeout", "60"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env, text=True)
    try:
        # ZeroMQ's slow joiner: keep publishing until the subscriber has connected and got its N.
        i = 0
        while proc.poll() is None and i < 100_000:
            pub.publish_event(event(i, camera="cam1", acting=i % 3 != 1))
            pub.publish_event(event(i, camera="cam10"))  # prefix of cam1's topic: must be filtered out
            if i % 5 == 0:
                pub.publish_event(StatusEvent(camera="cam1", state="online", reason="test"))
            i += 1
            time.sleep(0.01)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        pub.close(linger=0.5)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == n
    validator = jsonschema.Draft202012Validator(event_schema())
    payloads = [json.loads(line) for line in lines]
    for p in payloads:
        validator.validate(p)
        assert p["camera"] == "cam1"
        if p["type"] == "update":
            assert p["latency_s"] is not None and 0 <= p["latency_s"] < 30
    assert {p["type"] for p in payloads} == {"update", "status"}
    seqs = [p["frame_seq"] for p in payloads if p["type"] == "update"]
    assert seqs == sorted(seqs), "one publisher thread keeps the order"
    assert pub.published > n
    assert metrics.events_published.labels(camera="cam1", type="update", label="BOXING")._value.get() > 0
    # no-action updates: label null on the wire, "none" in the metrics
    assert any(p["type"] == "update" and p["label"] is None and p["reason"] == "background" for p in payloads)
    assert metrics.events_published.labels(camera="cam1", type="update", label="none")._value.get() > 0


def test_subscriber_cli_times_out_with_exit_1(cli_argv: list[str], cli_env: dict[str, str]) -> None:
    cmd = [*cli_argv, "subscribe", f"tcp://127.0.0.1:{free_tcp_port()}", "--count", "1", "--timeout", "0.5"]
    res = subprocess.run(cmd, check=False, capture_output=True, text=True, env=cli_env, timeout=60)
    assert res.returncode == 1
    assert "received 0 of 1 events" in res.stderr


def test_subscriber_cli_bad_endpoint_is_usage_error(cli_argv: list[str], cli_env: dict[str, str]) -> None:
    res = subprocess.run(
        [*cli_argv, "subscribe", "nonsense"],
        check=False,
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert res.returncode == 2
    assert "cannot connect to 'nonsense'" in res.stderr


def test_subscriber_cli_exits_cleanly_on_sigint(cli_argv: list[str], cli_env: dict[str, str]) -> None:
    cmd = [*cli_argv, "subscribe", f"tcp://127.0.0.1:{free_tcp_port()}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env, text=True)
    time.sleep(1.5)  # let it start and block in its receive loop
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


@pytest.mark.slow
def test_stuck_subscriber_never_blocks_publishing(ctx: Any) -> None:
    metrics = Metrics()
    pub = Publisher("tcp://127.0.0.1:*", sndhwm=100, metrics=metrics, queue_size=1000, context=ctx)
    pub.start()
    stuck = ctx.socket(zmq.SUB)
    stuck.setsockopt(zmq.RCVHWM, 10)
    stuck.setsockopt(zmq.SUBSCRIBE, b"")
    stuck.connect(pub.endpoint)
    reader = ctx.socket(zmq.SUB)
    reader.setsockopt(zmq.SUBSCRIBE, b"action.")
    reader.connect(pub.endpoint)
    time.sleep(0.5)  # both connected before the flood

    e = event(0)
    total = 100_000
    accepted, slowest = 0, 0.0
    t0 = time.perf_counter()
    for _ in range(total):
        t = time.perf_counter()
        accepted += pub.publish(e.topic, e)
        slowest = max(slowest, time.perf_counter() - t)
    elapsed = time.perf_counter() - t0

    # The reader still gets events although the stuck subscriber never reads.
    got = 0
    deadline = time.monotonic() + 20
    while got < 100 and time.monotonic() < deadline:
        if reader.poll(100):
            reader.recv_multipart()
            got += 1
    pub.close(linger=0)
    stuck.close(linger=0)
    reader.close(linger=0)

    dropped = sum(pub.dropped.values())
    print(
        f"publish(): {total} calls in {elapsed:.2f} s, slowest {slowest * 1e3:.2f} ms; accepted {accepted}, "
        f"sent {pub.published}, dropped {pub.dropped}"
    )
    assert slowest < 1.0, "publish() must never block"
    assert got >= 100
    assert dropped > 0 and pub.dropped.get("queue_full", 0) == total - accepted
    assert accepted + pub.dropped["queue_full"] == total
    assert metrics.events_dropped.labels(reason="queue_full")._value.get() == total - accepted


def test_bad_or_busy_endpoint_is_a_clear_error(ctx: Any) -> None:
    first = Publisher("tcp://127.0.0.1:*", sndhwm=10, context=ctx)
    first.start()
    try:
        busy = Publisher(first.endpoint or "", sndhwm=10, context=ctx)
        with pytest.raises(PublisherError, match="already in use"):
            busy.start()
        assert busy.join(5)
    finally:
        first.close(linger=0)
    with pytest.raises(PublisherError, match=r"expected an endpoint like tcp://127\.0\.0\.1:5556"):
        Publisher("bogus://x", sndhwm=10).start()
    with pytest.raises(PublisherError, match=r"cannot bind the event socket to tcp://10\.255\.255\.1:5556"):
        Publisher("tcp://10.255.255.1:5556", sndhwm=10).start()


def test_close_sends_what_is_queued(ctx: Any) -> None:
    pub = Publisher("tcp://127.0.0.1:*", sndhwm=1000, context=ctx)
    pub.start()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(pub.endpoint)
    time.sleep(0.3)
    received: list[bytes] = []

    def read() -> None:
        while len(received) < 50 and sub.poll(3000):
            received.append(sub.recv_multipart()[1])

    t = threading.Thread(target=read)
    t.start()
    for i in range(50):
        assert pub.publish("raw.cam0", {"i": i})
    pub.close(linger=2.0)
    t.join(10)
    sub.close(linger=0)
    assert [json.loads(r)["i"] for r in received] == list(range(50))
