"""The ZeroMQ PUB socket events leave on, owned by one thread.

ZeroMQ sockets are not thread-safe, so the socket is created, bound, used and closed by the
publisher's own thread and nothing else touches it. Any thread (inference workers, capture state
callbacks) calls ``publish()``, which only puts the message in a bounded queue: it never blocks.
When the queue is full the event is dropped and counted (``events_dropped_total{reason="queue_full"}``).

The socket is a plain PUB: a subscriber that stops reading fills its own pipe up to ``sndhwm``
messages and from then on ZeroMQ drops *its* copies silently, without slowing the others or this
thread. ZeroMQ does not report those per-subscriber drops to a PUB socket (a send to PUB never
returns EAGAIN); the ``reason="hwm"`` counter covers the EAGAIN case anyway, should it ever happen.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import zmq

from service.outputs.events import ActionEvent, PoseEvent, StatusEvent
from service.outputs.metrics import Metrics

log = logging.getLogger(__name__)

Payload = ActionEvent | StatusEvent | PoseEvent | Mapping[str, Any] | bytes


class PublisherError(RuntimeError):
    """The socket could not be set up (bad endpoint, address in use)."""


@dataclass(frozen=True)
class _Message:
    topic: str
    payload: Payload
    enqueued_at: float


class Publisher:
    """Publishes ``[topic, json]`` multipart messages on a PUB socket bound to ``bind``.

    ``bind`` may use a wildcard port (``tcp://127.0.0.1:*``); ``endpoint`` then tells the port
    actually bound. A ``context`` passed in is left open; one made here is terminated on close.
    """

    def __init__(
        self,
        bind: str,
        sndhwm: int = 1000,
        context: zmq.Context[Any] | None = None,
        *,
        metrics: Metrics | None = None,
        queue_size: int = 10_000,
        stop_event: threading.Event | None = None,
        poll_interval_s: float = 0.1,
    ) -> None:
        if sndhwm < 1:
            raise ValueError(f"sndhwm must be >= 1, got {sndhwm}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.bind = bind
        self.sndhwm = sndhwm
        self.metrics = metrics
        self.name = "publisher"
        self._context = context
        self._own_context = context is None
        self._queue: queue.Queue[_Message] = queue.Queue(maxsize=queue_size)
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._poll = poll_interval_s
        self._linger_ms = 1000
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._endpoint: str | None = None
        self._lock = threading.Lock()
        self.published = 0
        self.dropped: dict[str, int] = {}

    @property
    def endpoint(self) -> str | None:
        """The endpoint actually bound (wildcard port resolved), once started."""
        return self._endpoint

    def start(self, timeout: float = 5.0) -> None:
        """Start the thread and wait until the socket is bound; raise ``PublisherError`` if it cannot be."""
        if self._thread is not None:
            raise RuntimeError("Publisher.start() called twice")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise PublisherError(f"ZeroMQ socket did not bind to {self.bind} within {timeout:.1f} s")
        if self._error is not None:
            self._thread.join(timeout)
            raise PublisherError(str(self._error)) from self._error
        log.info("publishing events on %s", self._endpoint)

    def publish(self, topic: str, payload: Payload) -> bool:
        """Queue one message for sending; False (and counted) when the queue is full. Never blocks."""
        try:
            self._queue.put_nowait(_Message(topic, payload, time.monotonic()))
        except queue.Full:
            self._count_drop("queue_full")
            return False
        return True

    def publish_event(self, event: ActionEvent | StatusEvent | PoseEvent) -> bool:
        """``publish(event.topic, event)``."""
        return self.publish(event.topic, event)

    def stop(self) -> None:
        """Ask the thread to send what is queued (briefly) and close the socket."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has finished."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self, linger: float = 1.0) -> None:
        """Stop, give queued messages up to ``linger`` seconds to go out, and join."""
        self._linger_ms = max(0, int(linger * 1000))
        self.stop()
        if not self.join(linger + 5.0):
            log.error("thread %s did not stop within %.1f s", self.name, linger + 5.0)

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    # --- the publisher thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            sock = self._open()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                try:
                    msg = self._queue.get(timeout=self._poll)
                except queue.Empty:
                    self._set_depth()
                    continue
                self._send(sock, msg)
                self._set_depth()
            self._drain(sock)
        finally:
            sock.close(linger=self._linger_ms)
            if self._own_context and self._context is not None:
                self._context.term()

    def _open(self) -> zmq.Socket[Any]:
        if self._context is None:
            self._context = zmq.Context()
        sock = self._context.socket(zmq.PUB)
        sock.setsockopt(zmq.SNDHWM, self.sndhwm)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.bind(self.bind)
        except zmq.ZMQError as exc:
            sock.close(linger=0)
            if self._own_context:
                self._context.term()
                self._context = None
            raise PublisherError(_bind_message(self.bind, exc)) from exc
        endpoint = sock.getsockopt(zmq.LAST_ENDPOINT)
        self._endpoint = endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)
        return sock

    def _drain(self, sock: zmq.Socket[Any]) -> None:
        deadline = time.monotonic() + self._linger_ms / 1000.0
        while time.monotonic() < deadline:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                return
            self._send(sock, msg)
        left = self._queue.qsize()
        if left:
            self._count_drop("shutdown", left)

    def _send(self, sock: zmq.Socket[Any], msg: _Message) -> None:
        payload = msg.payload
        camera: str | None = None
        kind, label = "raw", ""
        try:
            if isinstance(payload, ActionEvent | StatusEvent | PoseEvent):
                payload = payload.stamped()
                camera, kind = payload.camera, payload.type
                label = payload.label if isinstance(payload, ActionEvent) else getattr(payload, "state", "")
                data = payload.to_json()
            elif isinstance(payload, bytes):
                data = payload
            else:
                data = json.dumps(dict(payload), separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError):
            log.exception("cannot serialise the event for topic %s; dropped", msg.topic)
            self._count_drop("serialise")
            return
        try:
            sock.send_multipart([msg.topic.encode("utf-8"), data], flags=zmq.NOBLOCK)
        except zmq.Again:
            self._count_drop("hwm")
            return
        except zmq.ZMQError:
            log.exception("ZeroMQ send failed for topic %s", msg.topic)
            self._count_drop("error")
            return
        self.published += 1
        if self.metrics is not None:
            now = time.monotonic()
            m = self.metrics
            m.stage_latency.labels(stage="publish").observe(now - msg.enqueued_at)
            if camera is not None:
                m.events_published.labels(camera=camera, type=kind, label=label).inc()
                latency = getattr(payload, "latency_s", None)
                if latency is not None and kind != "pose":
                    m.end_to_end_latency.labels(camera=camera).observe(latency)

    def _count_drop(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.dropped[reason] = self.dropped.get(reason, 0) + n
        if self.metrics is not None:
            self.metrics.events_dropped.labels(reason=reason).inc(n)

    def _set_depth(self) -> None:
        if self.metrics is not None:
            self.metrics.publish_queue_depth.set(self._queue.qsize())


def _bind_message(bind: str, exc: zmq.ZMQError) -> str:
    if exc.errno == zmq.EADDRINUSE:
        return (
            f"cannot bind the event socket to {bind}: the address is already in use "
            "(another actionstream running?); choose another with zmq.bind / ACTIONSTREAM_ZMQ__BIND"
        )
    return (
        f"cannot bind the event socket to {bind}: {exc.strerror}; expected an endpoint like "
        "tcp://127.0.0.1:5556, tcp://0.0.0.0:5556 or ipc:///tmp/actionstream.sock"
    )
