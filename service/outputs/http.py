"""HTTP: Prometheus metrics, liveness and readiness, on FastAPI served by uvicorn in a thread.

FastAPI/Starlette because the same server later carries the web UI (uploads, SSE progress, MJPEG
preview). The server runs in its own thread; the pipeline never waits on it.

- ``/metrics``: the Prometheus text exposition of the service's own registry.
- ``/livez``: 200 while the process's main loop runs (``live()``), else 503.
- ``/readyz``: 200 only when every camera is online and the model is loaded; otherwise 503 with a
  JSON body that lists what is not ready, so an operator sees why at a glance.

Every request passes :mod:`service.outputs.http_guard` first (Host, Origin, token, security
headers); the connections are served by :mod:`service.outputs.http_protocol` (header and idle
timeouts, 414/431, a connection cap).
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse

from service.outputs.http_guard import AccessPolicy, GuardMiddleware
from service.outputs.http_protocol import MAX_HEAD, MAX_REQUEST_LINE, HttpLimits, protocol_for
from service.outputs.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)


class HealthSource(Protocol):
    """What readiness is made of; the pipeline implements it."""

    def camera_states(self) -> Mapping[str, str]:
        """Camera id -> state (``online``, ``connecting``, ``reconnecting``, ...)."""
        ...

    def model_loaded(self) -> bool:
        """True once the action model (and pose backend) are ready to run."""
        ...


class HttpServerError(RuntimeError):
    """The HTTP server could not start (port in use, bad address)."""


def readiness(health: HealthSource, *, require_cameras: bool = True) -> tuple[bool, dict[str, Any]]:
    """(ready, body): ready when there is at least one camera, all online, and the model is loaded
    (``require_cameras=False``, for ``actionstream web``: when the model is loaded)."""
    states = {cam: str(getattr(st, "value", st)).lower() for cam, st in health.camera_states().items()}
    model = bool(health.model_loaded())
    not_ready: dict[str, Any] = {}
    waiting = {cam: st for cam, st in states.items() if st != "online"}
    if waiting:
        not_ready["cameras"] = waiting
    if not states and require_cameras:
        not_ready["cameras"] = "no camera configured"
    if not model:
        not_ready["model"] = "not loaded"
    body: dict[str, Any] = {"ready": not not_ready, "cameras": states, "model_loaded": model}
    if not_ready:
        body["not_ready"] = not_ready
    return not not_ready, body


def create_app(
    metrics: Metrics,
    health: HealthSource,
    live: Callable[[], bool] | None = None,
    *,
    routers: Sequence[APIRouter] = (),
    require_cameras: bool = True,
    access: AccessPolicy | None = None,
) -> FastAPI:
    """The FastAPI app; ``live`` reports whether the main loop still runs (default: always);
    ``routers`` add more (the web UI); ``access``: who may use it (default: no token, loopback
    Host names only)."""
    app = FastAPI(title="actionstream", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(GuardMiddleware, policy=access or AccessPolicy())
    for router in routers:
        app.include_router(router)

    @app.get("/metrics")
    def get_metrics() -> Response:
        return Response(content=metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/livez")
    def get_livez() -> JSONResponse:
        alive = True if live is None else bool(live())
        return JSONResponse({"alive": alive}, status_code=200 if alive else 503)

    @app.get("/readyz")
    def get_readyz() -> JSONResponse:
        ready, body = readiness(health, require_cameras=require_cameras)
        return JSONResponse(body, status_code=200 if ready else 503)

    return app


class HttpServer:
    """uvicorn serving ``app`` on ``host:port`` in one thread; ``port=0`` picks a free port.

    The listening socket is bound in ``start()`` (not inside uvicorn), so a busy port or a bad
    address raises ``HttpServerError`` with a clear message instead of uvicorn exiting the thread.
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        log_level: str = "warning",
        limits: HttpLimits | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = "http"
        # log_config=None: uvicorn must not reconfigure logging; the entry point owns it.
        # timeout_graceful_shutdown: a streaming response (SSE, MJPEG) still open at shutdown is cut.
        limits = limits or HttpLimits()
        self._config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            http=protocol_for(limits),
            limit_concurrency=limits.max_connections + 1,  # uvicorn counts the asking one too
            timeout_keep_alive=int(max(1, limits.keep_alive_s)),
            h11_max_incomplete_event_size=MAX_HEAD + MAX_REQUEST_LINE + 1,
            server_header=False,
        )
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def bound_port(self) -> int:
        """The port actually listened on (differs from ``port`` when that was 0)."""
        if self._sock is None:
            raise RuntimeError("HttpServer is not started")
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.bound_port}"

    def start(self, timeout: float = 10.0) -> None:
        """Bind, start uvicorn's thread and wait until it accepts connections."""
        if self._thread is not None:
            raise RuntimeError("HttpServer.start() called twice")
        self._sock = _listen(self.host, self.port)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name=self.name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise HttpServerError(f"the HTTP server on {self.host}:{self.port} stopped while starting")
            if time.monotonic() > deadline:
                self.stop()
                raise HttpServerError(
                    f"the HTTP server on {self.host}:{self.port} did not start in {timeout} s"
                )
            time.sleep(0.02)
        log.info("HTTP server on %s", self.url)

    def stop(self) -> None:
        """Ask uvicorn to finish (it notices within about 0.1 s)."""
        self._server.should_exit = True

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has finished."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        done = not self._thread.is_alive()
        if done and self._sock is not None:
            self._sock.close()
        return done


def _listen(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise HttpServerError(
            f"cannot listen on {host}:{port}: unknown address ({exc.strerror}); "
            "use an IP like 127.0.0.1 or 0.0.0.0 for http.host"
        ) from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise HttpServerError(
                f"cannot listen on {host}:{port}: the port is already in use; "
                "choose another with http.port / ACTIONSTREAM_HTTP__PORT"
            ) from None
        raise HttpServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock
