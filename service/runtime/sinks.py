"""Where results go: one callback per consumer, called in turn for every result.

A worker hands each :class:`~service.engine.analyzer.FrameResult` to one callback; the service
builds that callback from its sinks (the publisher, the console, the live preview) with
:class:`Sinks`. A sink that raises is logged (at most every few seconds per sink, with its
traceback) and counted in ``worker_errors{stage="publish"}``; the other sinks still get the result
and the worker goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from service.outputs.metrics import Metrics

log = logging.getLogger(__name__)

T = TypeVar("T")
_LOG_EVERY_S = 5.0


class Sinks(Generic[T]):
    """Calls every ``(name, sink)`` with each item, isolating the sinks from one another."""

    def __init__(
        self, sinks: Sequence[tuple[str, Callable[[T], object]]], metrics: Metrics | None = None
    ) -> None:
        self.sinks = tuple(sinks)
        self._metrics = metrics
        self._last_log: dict[str, float] = {}
        self._lock = threading.Lock()  # workers and capture threads call the same sinks
        self.failures: dict[str, int] = {}

    def __call__(self, item: T) -> None:
        for name, sink in self.sinks:
            try:
                sink(item)
            except Exception:
                self._failed(name)

    def _failed(self, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            self.failures[name] = self.failures.get(name, 0) + 1
            due = now - self._last_log.get(name, -_LOG_EVERY_S) >= _LOG_EVERY_S
            if due:
                self._last_log[name] = now
        if self._metrics is not None:
            self._metrics.worker_errors.labels(stage="publish").inc()
        if due:
            log.exception(
                "the %s failed on a result (%d times so far); the others still get it",
                name,
                self.failures[name],
            )
