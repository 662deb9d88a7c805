"""``actionstream subscribe ENDPOINT``: the reference subscriber, one JSON event per line on stdout.

Also the smallest example of consuming the event stream::

    sock = zmq.Context().socket(zmq.SUB)
    sock.connect("tcp://127.0.0.1:5556")
    sock.setsockopt(zmq.SUBSCRIBE, b"action.")
    topic, payload = sock.recv_multipart()

ZeroMQ subscriptions match prefixes, so ``action.cam1`` also matches ``action.cam10``; this
command subscribes by prefix and then keeps only exact topics.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

import zmq

from service.cli.common import UsageError
from service.outputs.events import TOPIC_KINDS

log = logging.getLogger(__name__)
DEFAULT_TOPICS: tuple[str, ...] = ("action", "status")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "subscribe",
        help="print events from a running service, one JSON per line",
        description="Connect to an actionstream event endpoint and print each event as one JSON line.",
    )
    p.add_argument(
        "endpoint", metavar="ENDPOINT", help="where the service publishes, e.g. tcp://127.0.0.1:5556"
    )
    p.add_argument(
        "--camera",
        action="append",
        default=[],
        metavar="ID",
        help="only this camera (repeatable; default: all)",
    )
    p.add_argument(
        "--topic",
        action="append",
        default=[],
        choices=TOPIC_KINDS,
        help="event kinds to receive (repeatable; default: action and status)",
    )
    p.add_argument("--count", type=int, default=None, metavar="N", help="exit after N events")
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="exit after S seconds (exit code 1 if --count unmet)",
    )
    p.set_defaults(handler=run)


def subscriptions(kinds: list[str], cameras: list[str]) -> tuple[list[bytes], set[str] | None]:
    """(prefixes to subscribe to, exact topics to keep or None for all with those prefixes)."""
    kinds = kinds or list(DEFAULT_TOPICS)
    if not cameras:
        return [f"{k}.".encode() for k in kinds], None
    topics = {f"{k}.{c}" for k in kinds for c in cameras}
    return sorted(t.encode() for t in topics), topics


def run(args: argparse.Namespace) -> int:
    if args.count is not None and args.count < 1:
        raise UsageError(f"--count must be >= 1, got {args.count}")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError(f"--timeout must be > 0 seconds, got {args.timeout}")
    stop = threading.Event()
    previous = _install_signal_handlers(stop)
    prefixes, exact = subscriptions(args.topic, args.camera)
    ctx: zmq.Context[Any] = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        try:
            sock.connect(args.endpoint)
        except zmq.ZMQError as exc:
            raise UsageError(
                f"cannot connect to {args.endpoint!r}: {exc.strerror}; expected an endpoint like "
                "tcp://127.0.0.1:5556"
            ) from None
        for prefix in prefixes:
            sock.setsockopt(zmq.SUBSCRIBE, prefix)
        return _receive(sock, stop, exact, args.count, args.timeout)
    finally:
        sock.close(linger=0)
        ctx.term()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _receive(
    sock: zmq.Socket[Any],
    stop: threading.Event,
    exact: set[str] | None,
    count: int | None,
    timeout: float | None,
) -> int:
    deadline = None if timeout is None else time.monotonic() + timeout
    received = 0
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    while not stop.is_set():
        wait_ms = 100
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wait_ms = max(1, min(wait_ms, int(left * 1000)))
        if not dict(poller.poll(wait_ms)):
            continue
        parts = sock.recv_multipart(zmq.NOBLOCK)
        if len(parts) != 2:
            log.warning("ignoring a message with %d parts (expected [topic, json])", len(parts))
            continue
        topic = parts[0].decode("utf-8", "replace")
        if exact is not None and topic not in exact:
            continue
        try:
            event = json.loads(parts[1])
        except ValueError:
            log.warning("ignoring a non-JSON payload on %s", topic)
            continue
        if not _write(json.dumps(event, separators=(",", ":"))):
            return 0
        received += 1
        if count is not None and received >= count:
            return 0
    if count is not None and received < count and not stop.is_set():
        print(
            f"actionstream subscribe: received {received} of {count} events before the timeout",
            file=sys.stderr,
        )
        return 1
    return 0


def _write(line: str) -> bool:
    """Print one line; False when the reader has gone (``| head``): exit quietly."""
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush does not complain again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return False
    return True


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    """SIGINT/SIGTERM end the loop cleanly; returns the previous handlers to restore."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    return {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
