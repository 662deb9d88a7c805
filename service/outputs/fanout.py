"""One ZeroMQ XPUB socket per subscriber, so that what a stuck subscriber loses is counted.

Why not one PUB socket: ZeroMQ drops a slow subscriber's copies inside the socket without telling
anyone. With ``ZMQ_XPUB_NODROP`` a send fails with EAGAIN instead, but then nobody gets the message;
and a lossy send marks the full pipe ineligible, so later messages skip it without any trace (see
libzmq's ``dist.cpp``). Only a socket with a single subscriber can say "this subscriber lost this
event". So subscribers connect to a plain listening socket owned here; each connection gets its own
XPUB socket (``ZMQ_XPUB_NODROP``, ``sndhwm`` messages deep, CURVE server when configured) on a
private ipc address, and the bytes are copied between the two unchanged (ZMTP, CURVE and all: the
subscriber talks to its XPUB socket end to end). A send that fails with EAGAIN is exactly one event
lost by exactly one subscriber, and is counted.

Everything here runs in the thread that owns it (the publisher's): ``poll()`` accepts subscribers
and copies bytes, ``send()`` offers one message to every subscriber. ``inproc://`` endpoints cannot
be relayed: they get one plain XPUB socket whose drops are not counted (nothing outside the process
could subscribe to it anyway).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

from service.outputs.curve import CurveServer
from service.outputs.endpoints import EXAMPLES, Endpoint, EndpointError, parse_endpoint

log = logging.getLogger(__name__)

_BUFFER = 64 * 1024  # bytes held per direction per subscriber before reading from that side stops
# The kernel's send buffer towards one subscriber: bounded (Linux would grow it to 4 MiB), so that
# a stuck subscriber's backlog is mostly the sndhwm events that are counted (2.5 MB/s at 100 ms RTT).
_SNDBUF = 256 * 1024
_CHUNK = 64 * 1024
_REFUSED_LOG_EVERY_S = 10.0


class FanoutError(RuntimeError):
    """The endpoint could not be bound; the message says why and what to do."""


@dataclass(eq=False)
class _Subscriber:
    number: int
    peer: str
    client: socket.socket  # the subscriber's connection
    upstream: socket.socket  # our connection to its XPUB socket
    xpub: zmq.Socket[Any]
    to_client: bytearray = field(default_factory=bytearray)
    to_xpub: bytearray = field(default_factory=bytearray)
    lost: int = 0
    closed: bool = False


class Fanout:
    """Subscribers on ``bind``, each behind its own XPUB socket; see the module docstring."""

    def __init__(
        self,
        bind: str,
        *,
        context: zmq.Context[Any],
        sndhwm: int,
        curve: CurveServer | None = None,
        max_subscribers: int = 256,
    ) -> None:
        self.bind = bind
        self._ctx = context
        self._sndhwm = sndhwm
        self._curve = curve
        self._max = max_subscribers
        self._listener: socket.socket | None = None
        self._direct: zmq.Socket[Any] | None = None  # inproc: one XPUB, drops not countable
        self._dir: Path | None = None
        self._unix_path: str | None = None
        self._subs: list[_Subscriber] = []
        self._next = 0
        self._refused = 0
        self._refused_logged = -float("inf")
        self._moved = 0  # bytes copied by the last poll()
        self.endpoint: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def open(self) -> None:
        """Bind the endpoint; ``FanoutError`` with a clear message when it cannot be."""
        try:
            ep = parse_endpoint(self.bind, bind=True)
        except EndpointError as exc:
            raise FanoutError(f"cannot bind the event socket to {self.bind}: {exc}") from None
        if ep.transport == "inproc":
            self._open_direct(ep)
            return
        self._listener = self._listen(ep)
        # 0700: only this user; short, since an ipc path must fit in 107 bytes
        base = tempfile.gettempdir()
        self._dir = Path(
            # mkdtemp makes a fresh 0700 directory, so a shared /tmp is safe here
            tempfile.mkdtemp(prefix="actionstream-subs-", dir=base if len(base) < 64 else "/tmp")  # noqa: S108
        )
        if ep.transport == "tcp":
            host, port = self._listener.getsockname()[:2]
            self.endpoint = str(Endpoint("tcp", host=host, port=port))
        else:
            self.endpoint = str(ep)

    def _open_direct(self, ep: Endpoint) -> None:
        sock = self._ctx.socket(zmq.XPUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, self._sndhwm)
        if self._curve is not None:
            self._curve.apply(sock)
        try:
            sock.bind(str(ep))
        except zmq.ZMQError as exc:
            sock.close(linger=0)
            raise FanoutError(f"cannot bind the event socket to {self.bind}: {exc.strerror}") from None
        self._direct = sock
        self.endpoint = str(ep)

    def _listen(self, ep: Endpoint) -> socket.socket:
        if ep.transport == "ipc":
            family, address = socket.AF_UNIX, ep.path
            try:
                if Path(ep.path).is_socket():  # a socket file left by a process that is gone
                    os.unlink(ep.path)
            except OSError:
                pass
        else:
            family = socket.AF_INET6 if ":" in ep.host else socket.AF_INET
            address = (ep.host, ep.port)  # type: ignore[assignment]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if family != socket.AF_UNIX:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(64)
        except OSError as exc:
            sock.close()
            raise FanoutError(_bind_message(self.bind, exc)) from None
        if family == socket.AF_UNIX:
            self._unix_path = ep.path
        sock.setblocking(False)
        return sock

    def close(self) -> None:
        """Close every subscriber, the listener and the private directory."""
        for sub in list(self._subs):
            self._drop_subscriber(sub, "the service is stopping")
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._unix_path is not None:
            Path(self._unix_path).unlink(missing_ok=True)
            self._unix_path = None
        if self._direct is not None:
            self._direct.close(linger=0)
            self._direct = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def pending(self) -> bool:
        """True while bytes are still on their way to subscribers (as of the last poll)."""
        return self._moved > 0 or any(sub.to_client for sub in self._subs)

    @property
    def counts_drops(self) -> bool:
        """False for inproc endpoints (one shared socket: ZeroMQ's drops cannot be seen)."""
        return self._direct is None

    # -- sending -----------------------------------------------------------------------------------

    def send(self, parts: Sequence[bytes]) -> int:
        """Offer one multipart message to every subscriber; returns how many lost it (their queue of
        ``sndhwm`` messages was full). Subscribers whose subscriptions do not match lose nothing."""
        if self._direct is not None:
            self._direct.send_multipart(parts, flags=zmq.NOBLOCK)
            return 0
        lost = 0
        for sub in self._subs:
            try:
                sub.xpub.send_multipart(parts, flags=zmq.NOBLOCK)
            except zmq.Again:
                sub.lost += 1
                lost += 1
                if sub.lost == 1:
                    log.warning(
                        "subscriber %d (%s) is not keeping up: its queue of %d events is full, "
                        "events for it are being dropped and counted",
                        sub.number,
                        sub.peer,
                        self._sndhwm,
                    )
        return lost

    # -- relaying ----------------------------------------------------------------------------------

    def poll(self, timeout_s: float, wake: Sequence[Any] = ()) -> set[Any]:
        """Wait up to ``timeout_s`` for a subscriber, bytes to copy, or one of ``wake`` (objects with
        ``fileno()``) to become readable; do the work; return the ``wake`` objects that are readable."""
        poller = zmq.Poller()
        for w in wake:
            poller.register(w, zmq.POLLIN)
        if self._listener is not None:
            poller.register(self._listener, zmq.POLLIN)
        for sub in self._subs:
            poller.register(sub.client, _flags(len(sub.to_xpub) < _BUFFER, bool(sub.to_client)))
            poller.register(sub.upstream, _flags(len(sub.to_client) < _BUFFER, bool(sub.to_xpub)))
            poller.register(sub.xpub, zmq.POLLIN)
        ready: dict[Any, int] = {}
        for key, events in poller.poll(max(0, int(timeout_s * 1000))):
            ready[key] = events  # zmq sockets come back as themselves, anything else as its fd
        self._moved = 0
        if self._listener is not None and self._listener.fileno() in ready:
            self._accept()
        for sub in list(self._subs):
            if not sub.closed:
                self._relay(
                    sub,
                    ready.get(sub.client.fileno(), 0),
                    ready.get(sub.upstream.fileno(), 0),
                    sub.xpub in ready,
                )
        return {w for w in wake if w.fileno() in ready}

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and friends: try again at the next poll
                log.warning("cannot accept a subscriber: %s", exc.strerror)
                return
            peer = _peer(address)
            if len(self._subs) >= self._max:
                client.close()
                self._refused += 1
                now = time.monotonic()
                if now - self._refused_logged >= _REFUSED_LOG_EVERY_S:
                    self._refused_logged = now
                    log.warning(
                        "refused subscriber %s: already %d connected (the limit; %d refused so far)",
                        peer,
                        self._max,
                        self._refused,
                    )
                continue
            try:
                self._subs.append(self._attach(client, peer))
            except (OSError, zmq.ZMQError) as exc:
                client.close()
                log.warning("cannot set up subscriber %s: %s", peer, exc)

    def _attach(self, client: socket.socket, peer: str) -> _Subscriber:
        assert self._dir is not None
        number = self._next
        self._next += 1
        path = str(self._dir / str(number))
        xpub = self._ctx.socket(zmq.XPUB)
        try:
            xpub.setsockopt(zmq.LINGER, 0)
            xpub.setsockopt(zmq.SNDHWM, self._sndhwm)
            xpub.setsockopt(zmq.XPUB_NODROP, 1)
            if self._curve is not None:
                self._curve.apply(xpub)
            xpub.bind(f"ipc://{path}")
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(path)
            except OSError:
                upstream.close()
                raise
        except BaseException:
            xpub.close(linger=0)
            raise
        upstream.setblocking(False)
        client.setblocking(False)
        if client.family in (socket.AF_INET, socket.AF_INET6):
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SNDBUF)
        log.info("subscriber %d connected from %s", number, peer)
        return _Subscriber(number, peer, client, upstream, xpub)

    def _relay(self, sub: _Subscriber, client_events: int, upstream_events: int, xpub_ready: bool) -> None:
        if xpub_ready:  # subscription messages: ZeroMQ applied them; read them so none pile up
            try:
                while True:
                    sub.xpub.recv(zmq.NOBLOCK)
            except zmq.Again:
                pass
        try:
            if client_events & zmq.POLLIN:
                got = _receive(sub.client, sub.to_xpub)
                if got is None:
                    self._drop_subscriber(sub, "it disconnected")
                    return
                self._moved += got
            if upstream_events & zmq.POLLIN:
                got = _receive(sub.upstream, sub.to_client)
                if got is None:
                    _send(sub.client, sub.to_client)  # e.g. ZeroMQ's reason for refusing its handshake
                    self._drop_subscriber(
                        sub, "its ZeroMQ session ended (refused handshake or protocol error)"
                    )
                    return
                self._moved += got
            if client_events & zmq.POLLERR or upstream_events & zmq.POLLERR:
                self._drop_subscriber(sub, "its connection failed")
                return
            self._moved += _send(sub.client, sub.to_client) + _send(sub.upstream, sub.to_xpub)
        except OSError as exc:
            self._drop_subscriber(sub, f"its connection failed ({exc.strerror or exc})")

    def _drop_subscriber(self, sub: _Subscriber, why: str) -> None:
        if sub.closed:
            return
        sub.closed = True
        for s in (sub.client, sub.upstream):
            with contextlib.suppress(OSError):
                s.close()
        sub.xpub.close(linger=0)
        if sub in self._subs:
            self._subs.remove(sub)
        lost = f"; it lost {sub.lost} events" if sub.lost else ""
        log.info("subscriber %d (%s) gone: %s%s", sub.number, sub.peer, why, lost)


def _flags(read: bool, write: bool) -> int:
    return (zmq.POLLIN if read else 0) | (zmq.POLLOUT if write else 0)


def _receive(sock: socket.socket, into: bytearray) -> int | None:
    """Read what is there into ``into`` (up to the buffer size): the bytes read, None at end of stream."""
    got = 0
    while len(into) < _BUFFER:
        try:
            data = sock.recv(min(_CHUNK, _BUFFER - len(into)))
        except (BlockingIOError, InterruptedError):
            break
        if not data:
            return None
        into += data
        got += len(data)
    return got


def _send(sock: socket.socket, data: bytearray) -> int:
    sent = 0
    while data:
        try:
            n = sock.send(data)
        except (BlockingIOError, InterruptedError):
            break
        del data[:n]
        sent += n
    return sent


def _peer(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host = f"[{address[0]}]" if ":" in str(address[0]) else address[0]
        return f"{host}:{address[1]}"
    return "a local socket"


def _bind_message(bind: str, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot bind the event socket to {bind}: the address is already in use "
            "(another actionstream running?); choose another with zmq.bind / ACTIONSTREAM_ZMQ__BIND"
        )
    return f"cannot bind the event socket to {bind}: {exc.strerror}; expected an endpoint like {EXAMPLES}"
