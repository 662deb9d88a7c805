"""The event publisher's fan-out: how many events per second reach every subscriber, with and
without CURVE and a stuck subscriber beside them, and what publish() costs the caller.

    PYTHONPATH=. python bench/bench_publisher.py [--events 20000] [--subscribers 1 4 16]

Each reading subscriber runs in its own process (so its reading does not share our GIL); the
publisher sends as fast as its queue lets it. Prints one JSON line per case.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from collections.abc import Sequence
from typing import Any

import zmq

from service.outputs.curve import CurveClient, CurveServer
from service.outputs.publisher import Publisher

# A typical `update` event on the wire (about 600 bytes of JSON).
EVENT = {
    "schema_version": 1,
    "event_id": "04e195457870437f90769a7262dcd234",
    "type": "update",
    "camera": "cam0",
    "track_id": 1,
    "label": "BOXING",
    "confidence": 0.9,
    "probabilities": {
        k: 0.1 for k in ("JUMPING", "JUMPING_JACKS", "BOXING", "WAVING_2HANDS", "WAVING_1HAND")
    },
    "window_start_pts": 10.0,
    "window_end_pts": 11.45,
    "frame_seq": 345,
    "pts": 11.45,
    "latency_s": 0.183,
    "emitted_at": 1763726400.12,
}


def _reader(endpoint: str, n: int, keys: tuple[bytes, bytes] | None, ready: Any, done: Any) -> None:
    sock = zmq.Context().socket(zmq.SUB)
    if keys is not None:
        CurveClient(keys[0], keys[1]).apply(sock)
    sock.setsockopt(zmq.SUBSCRIBE, b"action.")
    sock.setsockopt(zmq.RCVHWM, 100_000)
    sock.connect(endpoint)
    got = 0
    while True:  # probes until the bench starts, then the n events
        if sock.poll(100):
            topic, _ = sock.recv_multipart()
            if topic == b"action.probe":
                ready.set()
                continue
            got += 1
            if got == n:
                break
    done.put(time.monotonic())


def run_case(n_events: int, n_subscribers: int, curve: bool, stuck: bool) -> dict[str, Any]:
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    server = CurveServer(server_secret, frozenset({client_public})) if curve else None
    keys = (client_secret, server_public) if curve else None
    pub = Publisher("tcp://127.0.0.1:*", sndhwm=100_000, queue_size=n_events + 1000, curve=server)
    pub.start()
    ctx = mp.get_context("spawn")
    done = ctx.Queue()
    ready = [ctx.Event() for _ in range(n_subscribers)]
    procs = [
        ctx.Process(target=_reader, args=(pub.endpoint, n_events, keys, ready[i], done), daemon=True)
        for i in range(n_subscribers)
    ]
    for p in procs:
        p.start()
    stuck_sock = None
    if stuck:
        stuck_sock = zmq.Context().socket(zmq.SUB)
        if keys is not None:
            CurveClient(*keys).apply(stuck_sock)
        stuck_sock.setsockopt(zmq.SUBSCRIBE, b"")
        stuck_sock.connect(pub.endpoint or "")
    while not all(r.is_set() for r in ready):
        pub.publish("action.probe", {"probe": True})
        time.sleep(0.05)
    time.sleep(0.5)
    slowest = 0.0
    t0 = time.monotonic()
    for _ in range(n_events):
        t = time.perf_counter()
        pub.publish("action.cam0", EVENT)
        slowest = max(slowest, time.perf_counter() - t)
    ends = [done.get(timeout=600) for _ in procs]
    elapsed = max(ends) - t0
    dropped = dict(pub.dropped)
    pub.close(linger=0)
    if stuck_sock is not None:
        stuck_sock.close(linger=0)
    for p in procs:
        p.join(10)
    return {
        "subscribers": n_subscribers,
        "curve": curve,
        "stuck_subscriber": stuck,
        "events": n_events,
        "seconds": round(elapsed, 3),
        "events_per_s_to_each": round(n_events / elapsed),
        "slowest_publish_ms": round(slowest * 1000, 2),
        "dropped": dropped,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args(argv)
    for n in args.subscribers:
        for curve, stuck in ((False, False), (True, False), (False, True)):
            print(json.dumps(run_case(args.events, n, curve, stuck)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
