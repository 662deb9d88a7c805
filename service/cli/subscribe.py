"""``actionstream subscribe ENDPOINT``: the reference subscriber, one JSON event per line on stdout.

Also the smallest example of consuming the event stream::

    sock = zmq.Context().socket(zmq.SUB)
    sock.connect("tcp://127.0.0.1:5556")
    sock.setsockopt(zmq.SUBSCRIBE, b"action.")
    topic, payload = sock.recv_multipart()

ZeroMQ subscriptions match prefixes, so ``action.cam1`` also matches ``action.cam10``; this
command subscribes by prefix and then keeps only exact topics.

With CURVE (``--server-key`` and ``--client-key``, or ``ACTIONSTREAM_CURVE_SERVER_KEY`` and
``ACTIONSTREAM_CURVE_CLIENT_KEY`` holding the Z85 keys), the connection is encrypted and the
server lets it in only when the client's public key is authorized; a refused handshake is reported.
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
from zmq.utils.monitor import recv_monitor_message

from service.cli.common import UsageError
from service.outputs.curve import CurveClient, CurveKeyError, load_public_key, load_secret_key, parse_key
from service.outputs.endpoints import EndpointError, parse_endpoint
from service.outputs.events import TOPIC_KINDS

log = logging.getLogger(__name__)
DEFAULT_TOPICS: tuple[str, ...] = ("action", "status")
SERVER_KEY_ENV = "ACTIONSTREAM_CURVE_SERVER_KEY"
CLIENT_KEY_ENV = "ACTIONSTREAM_CURVE_CLIENT_KEY"
_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


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
    p.add_argument(
        "--server-key",
        metavar="FILE",
        help=f"CURVE: the service's public key file (server.key; or ${SERVER_KEY_ENV})",
    )
    p.add_argument(
        "--client-key",
        metavar="FILE",
        help=f"CURVE: this subscriber's secret key file (NAME.key_secret; or ${CLIENT_KEY_ENV})",
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
    try:
        parse_endpoint(args.endpoint, bind=False)
    except EndpointError as exc:
        raise UsageError(f"cannot connect to {args.endpoint!r}: {exc}") from None
    curve = curve_client(args.server_key, args.client_key, os.environ)
    stop = threading.Event()
    previous = _install_signal_handlers(stop)
    prefixes, exact = subscriptions(args.topic, args.camera)
    ctx: zmq.Context[Any] = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    if curve is not None:
        curve.apply(sock)
    monitor = sock.get_monitor_socket(_HANDSHAKE_FAILED)
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
        return _receive(
            sock,
            monitor,
            stop=stop,
            exact=exact,
            count=args.count,
            timeout=args.timeout,
            curve=curve is not None,
        )
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close(linger=0)
        ctx.term()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def curve_client(server_key: str | None, client_key: str | None, env: Any) -> CurveClient | None:
    """The CURVE client keys from the flags (files) or the environment (Z85), or None for none."""
    try:
        server = load_public_key(server_key) if server_key else None
        if server is None and env.get(SERVER_KEY_ENV):
            server = parse_key(env[SERVER_KEY_ENV], SERVER_KEY_ENV)
        secret = load_secret_key(client_key) if client_key else None
        if secret is None and env.get(CLIENT_KEY_ENV):
            secret = parse_key(env[CLIENT_KEY_ENV], CLIENT_KEY_ENV)
    except CurveKeyError as exc:
        raise UsageError(str(exc)) from None
    if server is None and secret is None:
        return None
    if server is None or secret is None:
        raise UsageError(
            "CURVE needs both keys: the service's public key (--server-key) and this subscriber's "
            "secret key (--client-key); `actionstream keys DIR` writes both"
        )
    return CurveClient(secret, server)


def _receive(
    sock: zmq.Socket[Any],
    monitor: zmq.Socket[Any],
    *,
    stop: threading.Event,
    exact: set[str] | None,
    count: int | None,
    timeout: float | None,
    curve: bool,
) -> int:
    deadline = None if timeout is None else time.monotonic() + timeout
    received = 0
    refused = False
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(monitor, zmq.POLLIN)
    while not stop.is_set():
        wait_ms = 100
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wait_ms = max(1, min(wait_ms, int(left * 1000)))
        ready = dict(poller.poll(wait_ms))
        if monitor in ready:
            event = recv_monitor_message(monitor)
            if not refused:  # ZeroMQ retries on its own; say it once
                refused = True
                _say_refused(int(event["event"]), curve)
        if sock not in ready:
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


def _say_refused(event: int, curve: bool) -> None:
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        why = "the service does not authorize this subscriber's key (add it to zmq.curve_client_keys)"
    elif curve:
        why = "the service does not speak CURVE with this server key (is --server-key its server.key?)"
    else:
        why = "the service requires CURVE: give --server-key and --client-key (docs/SECURITY.md)"
    print(f"actionstream subscribe: the handshake was refused: {why}; still trying", file=sys.stderr)


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
