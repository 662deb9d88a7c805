"""The console: what the service finds, told to the person who started it.

A sink like the event publisher and the live preview (the service composes them with
:class:`~service.runtime.sinks.Sinks`): each action segment's start and end and each camera state
change become one log line, and :meth:`ConsoleLog.summary` says at exit, per camera, what was
captured, processed, skipped, dropped and published. The counts are read from the service's
Prometheus metrics, where they are already kept, so the console and ``/metrics`` cannot disagree.

Times are the segment's own (the span of the windows that made it, as in its events): the
position in the file for a file, the local wall-clock time for a live camera (whose pts run on a
clock that means nothing to a reader), worked out from when its frame was read.

Lines go through ``logging``, so ``--log-level`` and ``--quiet`` decide what shows; ``update``
events are DEBUG lines. The JSON events on ZeroMQ stay the machine interface: nothing here is
meant to be parsed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import Counter

from service.engine.analyzer import FrameResult
from service.outputs.events import ActionEvent, StatusEvent
from service.outputs.metrics import Metrics

log = logging.getLogger(__name__)

# States a camera passes through when all is well: INFO; the others (stalled, reconnecting,
# offline) are WARNING unless the service is stopping, when a camera going offline is expected.
_CALM_STATES = frozenset({"connecting", "online", "ended"})
# How the summary lists events published, in this order (other types after them).
_EVENT_TYPES = ("start", "end", "update", "status", "pose")


class ConsoleLog:
    """Log lines for a person watching the console; ``on_result`` and ``on_status`` are sinks."""

    def __init__(
        self,
        cameras: Sequence[str],
        metrics: Metrics,
        *,
        stop_event: threading.Event | None = None,
    ) -> None:
        self.cameras = tuple(cameras)
        # The cameras whose times are told as wall-clock times; the owner sets it once the sources
        # are open (it knows then which are live).
        self.live: frozenset[str] = frozenset()
        self._metrics = metrics
        self._stop_event = stop_event
        # The reason of each camera's last state change: a stall says why once, not again when the
        # camera then goes on to reconnecting for the same reason. One capture thread per camera
        # writes its own key.
        self._last_reason: dict[str, str] = {}

    # -- sinks ---------------------------------------------------------------------------------

    def on_result(self, result: FrameResult) -> None:
        for event in result.events:
            if isinstance(event, ActionEvent):
                self.on_action(event)

    def on_action(self, event: ActionEvent) -> None:
        """``start`` and ``end`` at INFO, with the segment's times in the source; ``update`` at DEBUG."""
        who = f"{event.camera} person {event.track_id}"
        if event.type == "start":
            at = self._at(event, event.window_start_pts)
            log.info("%s: %s started at %s (%.2f)", who, event.label, at, event.confidence)
        elif event.type == "end":
            log.info(
                "%s: %s ended at %s after %.1f s (mean %.2f)",
                who,
                event.label,
                self._at(event, event.window_end_pts),
                event.window_end_pts - event.window_start_pts,
                event.confidence,
            )
        elif log.isEnabledFor(logging.DEBUG):
            at = self._at(event, event.pts)
            said = event.label if event.label is not None else f"no action ({event.reason})"
            log.debug("%s: %s %.2f at %s", who, said, event.confidence, at)

    def _at(self, event: ActionEvent, pts: float) -> str:
        """``pts`` of the event's camera as a reader wants it: ``4.8 s`` in a file, ``14:03:07.2`` live."""
        if event.camera not in self.live or event.capture_time is None:
            return f"{pts:.1f} s"
        # The event's frame was read at capture_time (monotonic); pts differences are source seconds.
        wall = time.time() - (time.monotonic() - event.capture_time) - (event.pts - pts)
        return time.strftime("%H:%M:%S", time.localtime(wall)) + f".{int(wall * 10) % 10}"

    def on_status(self, event: StatusEvent) -> None:
        """One line per state change; the reason only when it is news for this camera."""
        reason = event.reason if event.reason != self._last_reason.get(event.camera) else ""
        self._last_reason[event.camera] = event.reason
        stopping = self._stop_event is not None and self._stop_event.is_set()
        level = logging.INFO if event.state in _CALM_STATES or stopping else logging.WARNING
        log.log(level, "%s %s%s", event.camera, event.state, f": {reason}" if reason else "")

    # -- at exit -------------------------------------------------------------------------------

    def summary(self) -> list[str]:
        """Log (INFO) and return one line per camera, and a WARNING line if events were dropped.

        Call it once the pipeline and the publisher have stopped: the counters are final then.
        """
        m = self._metrics
        lines = []
        for camera in self.cameras:
            dropped = _by(m.frames_dropped, "reason", camera=camera)
            published = _by(m.events_published, "type", camera=camera)
            n_published = sum(published.values())
            kinds = sorted(published, key=lambda t: (_rank(t), t))
            detail = ", ".join(f"{published[t]} {t}" for t in kinds if published[t])
            line = (
                f"{camera}: {_sum(m.frames_captured, camera=camera)} frames captured, "
                f"{_sum(m.frames_processed, camera=camera)} processed, "
                f"{_sum(m.frames_skipped, camera=camera)} skipped, "
                f"{sum(dropped.values())} dropped{_breakdown(dropped)}; "
                f"{n_published} events published" + (f" ({detail})" if detail else "")
            )
            lines.append(line)
            log.info("%s", line)
        lost = _by(m.events_dropped, "reason")
        if sum(lost.values()):
            line = f"{sum(lost.values())} events dropped{_breakdown(lost)}"
            lines.append(line)
            log.warning("%s", line)
        return lines


def _rank(event_type: str) -> int:
    return _EVENT_TYPES.index(event_type) if event_type in _EVENT_TYPES else len(_EVENT_TYPES)


def _totals(counter: Counter) -> Iterator[tuple[dict[str, str], float]]:
    """(labels, value) of every series of a counter, through prometheus_client's public collect()."""
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                yield sample.labels, sample.value


def _matching(counter: Counter, match: dict[str, str]) -> Iterable[tuple[dict[str, str], float]]:
    return ((lab, v) for lab, v in _totals(counter) if all(lab.get(k) == x for k, x in match.items()))


def _sum(counter: Counter, **match: str) -> int:
    return int(sum(v for _, v in _matching(counter, match)))


def _by(counter: Counter, label: str, **match: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for labels, value in _matching(counter, match):
        key = labels.get(label, "")
        out[key] = out.get(key, 0) + int(value)
    return out


def _breakdown(counts: dict[str, int]) -> str:
    shown = [f"{k} {v}" for k, v in sorted(counts.items()) if v]
    return f" ({', '.join(shown)})" if shown else ""
