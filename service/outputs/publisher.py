"""The ZeroMQ socket events leave on, owned by one thread.

ZeroMQ sockets are not thread-safe, so the sockets are created, bound, used and closed by the
publisher's own thread and nothing else touches them. Any thread (inference workers, capture state
callbacks) calls ``publish()``, which only puts the message in a bounded queue: it never blocks.
When the queue is full the event is dropped and counted (``events_dropped_total{reason="queue_full"}``).

Subscribers are served by :class:`service.outputs.fanout.Fanout`: one XPUB socket per subscriber,
so a subscriber that stops reading fills its own queue of ``sndhwm`` messages and from then on loses
*its* copies, without slowing the others or this thread, and every copy it loses is counted
(``events_dropped_total{reason="subscriber_hwm"}``, one per event per subscriber), the moment it is
lost. With a :class:`~service.outputs.curve.CurveServer` every subscriber must complete a CURVE
handshake with an authorized key.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import zmq

from service.outputs.curve import Authenticator, CurveServer
from service.outputs.events import ActionEvent, PoseEvent, StatusEvent
from service.outputs.fanout import Fanout, FanoutError
from service.outputs.metrics import NO_ACTION_METRIC_LABEL, Metrics

log = logging.getLogger(__name__)

_DRAIN_QUIET_S = 0.2  # at stop: subscribers are caught up once no byte moved for this long

Payload = ActionEvent | StatusEvent | PoseEvent | Mapping[str, Any] | bytes


class PublisherError(RuntimeError):
    """The socket could not be set up (bad endpoint, address in use, CURVE handler)."""


@dataclass(frozen=True)
class _Message:
    topic: str
    payload: Payload
    enqueued_at: float


class Publisher:
    """Publishes ``[topic, json]`` multipart messages to the subscribers of ``bind``.

    ``bind`` may use a wildcard port (``tcp://127.0.0.1:*``); ``endpoint`` then tells the port
    actually bound. A ``context`` passed in is left open; one made here is terminated on close.
    ``curve``: subscribers must authenticate (a ZAP handler is started on the context).
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
        curve: CurveServer | None = None,
        max_subscribers: int = 256,
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
        self._curve = curve
        self._max_subscribers = max_subscribers
        self._subscribers = 0
        # publish() wakes the thread's poll at once (a socket pair: once closed, a late write fails
        # on the object instead of landing on a file descriptor the number was reused for).
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
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
        # Full: the thread is awake anyway; closed: it has stopped.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
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

    @property
    def subscribers(self) -> int:
        """Subscribers connected now (as of the thread's last poll)."""
        return self._subscribers

    # --- the publisher thread -------------------------------------------------------------------

    def _run(self) -> None:
        auth: Authenticator | None = None
        try:
            if self._context is None:
                self._context = zmq.Context()
            if self._curve is not None:
                auth = Authenticator(self._context, self._curve)
                auth.start()
            fanout = self._open()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            self._finish(auth)
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                if fanout.poll(self._poll, (self._wake_r,)):
                    _drain_wake(self._wake_r)
                self._send_queued(fanout, limit=256)  # then back to copying bytes to subscribers
                self._subscribers = fanout.subscribers
                self._set_depth()
            self._drain(fanout)
        finally:
            fanout.close()
            self._subscribers = 0
            self._set_depth()
            self._finish(auth)

    def _finish(self, auth: Authenticator | None) -> None:
        if auth is not None:
            auth.stop()
        if self._own_context and self._context is not None:
            self._context.term()
            self._context = None
        self._wake_w.close()
        self._wake_r.close()

    def _open(self) -> Fanout:
        assert self._context is not None
        fanout = Fanout(
            self.bind,
            context=self._context,
            sndhwm=self.sndhwm,
            curve=self._curve,
            max_subscribers=self._max_subscribers,
        )
        try:
            fanout.open()
        except FanoutError as exc:
            raise PublisherError(str(exc)) from None
        self._endpoint = fanout.endpoint
        return fanout

    def _send_queued(self, fanout: Fanout, limit: int) -> None:
        for _ in range(limit):
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                return
            self._send(fanout, msg)

    def _drain(self, fanout: Fanout) -> None:
        """At stop: send what is queued and let it reach the subscribers, for up to the linger time."""
        deadline = time.monotonic() + self._linger_ms / 1000.0
        while time.monotonic() < deadline:
            if self._queue.empty():
                break
            self._send_queued(fanout, limit=256)
            fanout.poll(0)
        left = self._queue.qsize()
        if left:
            self._count_drop("shutdown", left)
        # ZeroMQ writes to the relay asynchronously: copy until nothing has moved for a moment.
        quiet_since = time.monotonic()
        while (now := time.monotonic()) < deadline and now - quiet_since < _DRAIN_QUIET_S:
            fanout.poll(min(0.02, max(0.0, deadline - now)))
            if fanout.pending():
                quiet_since = time.monotonic()

    def _send(self, fanout: Fanout, msg: _Message) -> None:
        payload = msg.payload
        camera: str | None = None
        kind, label = "raw", ""
        try:
            if isinstance(payload, ActionEvent | StatusEvent | PoseEvent):
                payload = payload.stamped()
                camera, kind = payload.camera, payload.type
                if isinstance(payload, ActionEvent):
                    label = payload.label if payload.label is not None else NO_ACTION_METRIC_LABEL
                else:
                    label = getattr(payload, "state", "")
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
            lost = fanout.send([msg.topic.encode("utf-8"), data])
        except zmq.Again:  # inproc: the one socket refused it
            self._count_drop("hwm")
            return
        except zmq.ZMQError:
            log.exception("ZeroMQ send failed for topic %s", msg.topic)
            self._count_drop("error")
            return
        if lost:
            self._count_drop("subscriber_hwm", lost)
        self._subscribers = fanout.subscribers
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
            self.metrics.subscribers.set(self._subscribers)


def _drain_wake(sock: socket.socket) -> None:
    try:
        while sock.recv(4096):
            pass
    except OSError:  # nothing more to read
        pass
