"""The analysis stage: one thread that puts the pose workers' results back in capture order and runs the
stateful half of the engine on them, strictly in that order, for every camera.

Pose estimation is the only part of a frame's path that runs in parallel; everything that keeps state
from frame to frame (the tracker, the per-track windows, the segments) runs here, one frame after the
other in capture order, exactly as it would with a single worker. Each round takes every batch the
workers have returned, releases what is in order (:class:`~service.runtime.reorder.ReorderBuffer`),
and analyses all of it together: one classifier call for every window that became ready in the round,
whatever camera it belongs to. Then each result goes to the result callback and its latency to the
camera's stride.

Nothing waits forever on a worker: a ticket held by a worker that died, or by one whose call has run
far longer than its calls usually take (``hang_factor`` times as long, and at least ``min_hang_s``),
is given up and counted in ``actionstream_frames_dropped_total{reason="lost"}``; the camera's later
results go on.

A camera whose source ended (a file) is finished once every ticket it got has had its turn: its running
segments end in one last result, on its last frame.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from service.engine.analyzer import FrameAnalyzer
from service.engine.segments import SegmentTracker
from service.outputs.metrics import Metrics
from service.runtime.admission import Admission, CameraLane, Ticket
from service.runtime.reorder import PoseOutcome, ReorderBuffer
from service.runtime.worker import ClassifierFactory, OutcomeQueue, ResultSink

log = logging.getLogger(__name__)

_LOG_EVERY_S = 5.0


class TicketHolder(Protocol):
    """What the analysis stage needs to know about a pose worker."""

    name: str

    def is_alive(self) -> bool: ...

    def holding(self) -> tuple[Ticket, ...]: ...

    def busy_for(self, now: float) -> float | None: ...

    def expected_seconds(self, frames: int) -> float | None: ...


class AnalysisWorker:
    """The thread between the pose workers and the result callback."""

    def __init__(
        self,
        lanes: Sequence[CameraLane],
        *,
        admission: Admission,
        outcomes: OutcomeQueue,
        holders: Sequence[TicketHolder],
        classifier_factory: ClassifierFactory,
        segments: SegmentTracker,
        on_result: ResultSink,
        metrics: Metrics,
        stop_event: threading.Event,
        poll_s: float = 0.05,
        hang_factor: float = 20.0,
        min_hang_s: float = 10.0,
        name: str = "analysis",
    ) -> None:
        self.name = name
        self.lanes = list(lanes)
        self._admission = admission
        self._outcomes = outcomes
        self._holders = list(holders)
        self._classifier_factory = classifier_factory
        self._segments = segments
        self._on_result = on_result
        self._metrics = metrics
        self._stop_event = stop_event
        self._poll_s = poll_s
        self._hang_factor = hang_factor
        self._min_hang_s = min_hang_s
        self._reorder = ReorderBuffer(lane.camera_id for lane in self.lanes)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.labels: tuple[str, ...] = ()
        self._analyzer: FrameAnalyzer | None = None
        self._last_log: dict[str, float] = {}
        self.lost = 0
        self.late = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("analysis thread %s did not stop within %.1f s", self.name, timeout)
            return False
        return True

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def close_segments(self) -> None:
        """At shutdown, once the thread has stopped: end the segments still running, so subscribers
        see them end."""
        if self._thread.is_alive():
            return
        for lane in self.lanes:
            if not lane.finished.is_set():
                self._end_lane(lane)

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            classifier = self._classifier_factory()
        except Exception as exc:
            self.error = exc
            log.error("%s: could not load the action model: %s", self.name, exc)
            self.ready.set()
            return
        self.labels = classifier.labels
        analyzer = FrameAnalyzer(classifier, self._segments, on_classify=self._observe_classify)
        for lane in self.lanes:
            analyzer.add_camera(lane.camera_id, lane.options)
        self._analyzer = analyzer
        self.ready.set()
        try:
            while not self._stop_event.is_set():
                for outcome in self._collect():
                    if not self._reorder.add(outcome):
                        self.late += 1  # its turn was given up; the camera has moved on
                self._give_up_lost()
                ready = self._reorder.pop_ready()
                if ready:
                    self._analyze(analyzer, ready)
                self._finish_ended_lanes()
                if all(lane.finished.is_set() for lane in self.lanes):
                    break
        except BaseException:
            # The service sees it (workers_alive) and stops with an error; nothing waits on this thread.
            log.critical("the analysis stage died", exc_info=True)
            raise

    def _collect(self) -> list[PoseOutcome]:
        """Every batch returned so far; waits up to ``poll_s`` for the first."""
        got: list[PoseOutcome] = []
        try:
            got += self._outcomes.get(timeout=self._poll_s)
            while True:
                got += self._outcomes.get_nowait()
        except queue.Empty:
            pass
        return got

    def _give_up_lost(self) -> None:
        """Tickets whose results cannot come: held by a dead worker, or by one far slower than usual."""
        now = time.monotonic()
        for holder in self._holders:
            held = holder.holding()
            if not held:
                continue
            if holder.is_alive():
                busy = holder.busy_for(now)
                usual = holder.expected_seconds(len(held))
                limit = max(self._min_hang_s, self._hang_factor * usual) if usual is not None else None
                if busy is None or limit is None or busy <= limit:
                    continue
                why = f"has been running one pose call for {busy:.1f} s"
            else:
                why = "has died"
            given_up = [t for t in held if self._reorder.give_up(t.camera_id, t.index)]
            for t in given_up:
                self._metrics.frames_dropped.labels(camera=t.camera_id, reason="lost").inc()
            if given_up:
                self.lost += len(given_up)
                self._log(
                    logging.WARNING,
                    "lost",
                    "pose worker %s %s: passing over %d frame(s) it holds (%s)",
                    holder.name,
                    why,
                    len(given_up),
                    ", ".join(f"{t.camera_id}#{t.frame.seq}" for t in given_up),
                )

    def _analyze(self, analyzer: FrameAnalyzer, ready: list[PoseOutcome]) -> None:
        items = [(o.ticket.frame, o.poses) for o in ready if o.poses is not None]
        if not items:
            return
        try:
            results = analyzer.analyze(items)
        except Exception:
            self._metrics.worker_errors.labels(stage="classify").inc()
            self._log(
                logging.ERROR,
                "analyze",
                "tracking/classifying frames %s failed; going on with the next ones",
                ", ".join(f"{f.camera_id}#{f.seq}" for f, _ in items),
                exc_info=True,
            )
            return
        for result in results:
            self._on_result(result)
        now = time.monotonic()
        for result in results:
            camera_id = result.camera_id
            self._metrics.frames_processed.labels(camera=camera_id).inc()
            for c in result.classifications:
                self._metrics.windows_decided.labels(camera=camera_id, reason=c.prediction.reason).inc()
            self._admission.observe_latency(camera_id, max(0.0, now - result.frame.capture_time))

    def _observe_classify(self, seconds: float) -> None:
        self._metrics.stage_latency.labels(stage="classify").observe(seconds)

    def _finish_ended_lanes(self) -> None:
        for lane in self.lanes:
            if lane.finished.is_set():
                continue
            issued = self._admission.issued_if_ended(lane)
            if issued is not None and self._reorder.released(lane.camera_id) >= issued:
                self._end_lane(lane)

    def _end_lane(self, lane: CameraLane) -> None:
        final = self._analyzer.end_camera(lane.camera_id) if self._analyzer is not None else None
        if final is not None:  # None: no frame was analysed, so no segment can be running
            self._on_result(final)
        lane.finished.set()

    def _log(self, level: int, key: str, message: str, *args: object, exc_info: bool = False) -> None:
        """Rate-limited per ``key``: a broken model or a dead worker fails every frame."""
        now = time.monotonic()
        if now - self._last_log.get(key, -_LOG_EVERY_S) >= _LOG_EVERY_S:
            self._last_log[key] = now
            log.log(level, message, *args, exc_info=exc_info)
