"""One subscribe endpoint for many shards: a ZeroMQ XSUB/XPUB forwarder.

Shards either publish to the proxy (their PUB socket connects to ``xsub_bind``) or the proxy
reaches out to each shard's bound PUB endpoint (``upstreams``). Subscribers connect to
``xpub_bind`` and their subscriptions travel upstream, so topic filtering still happens at
the publishers.

CURVE: with ``curve`` the bound sockets are CURVE servers whose clients must hold an authorized key
(a ZAP handler on the proxy's context checks them); with ``upstream_curve`` the connections to the
shards are made as a CURVE client. ZeroMQ copies a socket's options into each bind and connect
when it is made, so the XSUB socket binds as a server and then connects as a client.

Unlike ``serve``, the proxy forwards through one XPUB socket, so what a stuck subscriber of the
proxy loses is ZeroMQ's silent drop and is not counted (the proxy has no metrics endpoint).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence

import zmq

from service.outputs.curve import Authenticator, CurveClient, CurveServer

log = logging.getLogger(__name__)


class ProxyError(RuntimeError):
    """The proxy could not bind or connect an endpoint; the message says which and why."""


class EventProxy:
    """Forwards every message from XSUB to XPUB in a thread of its own until stopped."""

    def __init__(
        self,
        xpub_bind: str,
        *,
        xsub_bind: str | None = None,
        upstreams: Sequence[str] = (),
        sndhwm: int = 10_000,
        context: zmq.Context | None = None,
        curve: CurveServer | None = None,
        upstream_curve: CurveClient | None = None,
    ) -> None:
        if not xsub_bind and not upstreams:
            raise ValueError("the proxy needs an XSUB bind endpoint, upstream endpoints, or both")
        self.xpub_bind = xpub_bind
        self.xsub_bind = xsub_bind
        self.upstreams = tuple(upstreams)
        self._sndhwm = sndhwm
        self._curve = curve
        self._upstream_curve = upstream_curve
        self._auth: Authenticator | None = None
        self._ctx = context or zmq.Context.instance()
        self._control_addr = f"inproc://actionstream-proxy-{uuid.uuid4().hex}"
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._ctl: zmq.Socket | None = None
        self.bound_xpub: str | None = None
        self.bound_xsub: str | None = None

    def start(self, timeout: float = 5.0) -> None:
        """Bind/connect the sockets (in the proxy thread) and start forwarding; raise on failure."""
        self._thread = threading.Thread(target=self._run, name="zmq-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise ProxyError(f"the proxy did not start within {timeout:.1f} s")
        if self._error is not None:
            raise ProxyError(str(self._error)) from self._error

    def _open(self, frontend: zmq.Socket, backend: zmq.Socket) -> None:
        if self._curve is not None:
            self._auth = Authenticator(self._ctx, self._curve)
            self._auth.start()  # before the first bind: no client may slip in unchecked
            self._curve.apply(backend)
            self._curve.apply(frontend)
        try:
            backend.bind(self.xpub_bind)
        except zmq.ZMQError as exc:
            raise ProxyError(f"cannot bind the subscriber endpoint {self.xpub_bind}: {exc}") from exc
        self.bound_xpub = backend.getsockopt_string(zmq.LAST_ENDPOINT)
        if self.xsub_bind:
            try:
                frontend.bind(self.xsub_bind)
            except zmq.ZMQError as exc:
                raise ProxyError(f"cannot bind the publisher endpoint {self.xsub_bind}: {exc}") from exc
            self.bound_xsub = frontend.getsockopt_string(zmq.LAST_ENDPOINT)
        if self.upstreams:
            frontend.setsockopt(zmq.CURVE_SERVER, 0)  # back to the NULL mechanism for connecting...
            if self._upstream_curve is not None:
                self._upstream_curve.apply(frontend)  # ...or CURVE as a client of the shards
        for endpoint in self.upstreams:
            try:
                frontend.connect(endpoint)
            except zmq.ZMQError as exc:
                raise ProxyError(f"cannot connect to upstream {endpoint}: {exc}") from exc

    def _run(self) -> None:
        frontend = self._ctx.socket(zmq.XSUB)
        backend = self._ctx.socket(zmq.XPUB)
        control = self._ctx.socket(zmq.PAIR)
        for sock in (frontend, backend, control):
            sock.setsockopt(zmq.LINGER, 0)
        backend.setsockopt(zmq.SNDHWM, self._sndhwm)
        # Heartbeats on the shard side: a node that vanishes without closing its TCP connection is
        # noticed (and reconnected to) within seconds instead of leaving a half-open link.
        frontend.setsockopt(zmq.HEARTBEAT_IVL, 5_000)
        frontend.setsockopt(zmq.HEARTBEAT_TIMEOUT, 15_000)
        try:
            control.bind(self._control_addr)
            self._open(frontend, backend)
        except BaseException as exc:  # reported to start()'s caller
            self._error = exc
            self._ready.set()
            for sock in (frontend, backend, control):
                sock.close()
            self._stop_auth()
            return
        log.info(
            "event proxy: subscribers on %s, publishers via %s",
            self.bound_xpub,
            ", ".join(filter(None, [self.bound_xsub, *self.upstreams])),
        )
        self._ready.set()
        try:
            zmq.proxy_steerable(frontend, backend, None, control)
        except zmq.ContextTerminated:
            pass
        finally:
            for sock in (frontend, backend, control):
                sock.close()
            self._stop_auth()
            log.info("event proxy stopped")

    def _stop_auth(self) -> None:
        if self._auth is not None:
            self._auth.stop()
            self._auth = None

    def stop(self) -> None:
        """Ask the forwarder to end; :meth:`join` waits for it."""
        if self._thread is None or not self._thread.is_alive() or self._ctl is not None:
            return
        # The sending socket stays open until join(): closing it at once can tear down the
        # inproc pipe before the proxy has read the command.
        self._ctl = self._ctx.socket(zmq.PAIR)
        self._ctl.setsockopt(zmq.LINGER, 0)
        self._ctl.connect(self._control_addr)
        self._ctl.send(b"TERMINATE")

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        if self._ctl is not None and not self._thread.is_alive():
            self._ctl.close()
            self._ctl = None
        if self._thread.is_alive():
            log.warning("thread %s did not stop within %.1f s", self._thread.name, timeout or 0.0)
            return False
        return True
