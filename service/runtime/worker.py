"""Inference workers: each owns a set of cameras (lanes) and runs pose → track → window →
classify → segments for them, handing every result to one callback, in capture order.

A camera is routed to exactly one worker, so its frames are processed one after another and
its results leave in capture order without a reordering buffer. Models are built inside the
worker thread that uses them (CUDA contexts and MediaPipe graphs are not shared).

Frames in, results out: a lane's frames come from its capture queue; a file's end comes through
the same queue, after its last frame (``FrameQueue.ended``), and then the lane's running segments
are ended in one last result on its last frame.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from capture.frame import Frame
from capture.queue import FrameQueue
from inference.backends.base import PoseBackend
from inference.poses import Poses
from service.engine.analyzer import BackendFactory, ClassifierFactory, FrameAnalyzer, FrameResult
from service.engine.options import LaneOptions
from service.engine.segments import SegmentTracker
from service.outputs.metrics import Metrics
from service.runtime.stride import StrideController

log = logging.getLogger(__name__)

# Gets every result (each carries its frame); the service composes its sinks into this one callback.
ResultSink = Callable[[FrameResult], object]

__all__ = ["BackendFactory", "CameraLane", "ClassifierFactory", "InferenceWorker", "ResultSink"]


@dataclass
class CameraLane:
    """One camera as a worker sees it: its queue, its stride, and its per-track state."""

    camera_id: str
    frames: FrameQueue
    fps: Callable[[], float | None]
    stride: StrideController
    options: LaneOptions = field(default_factory=LaneOptions)
    finished: threading.Event = field(default_factory=threading.Event)


class InferenceWorker:
    """A thread serving some cameras; survives exceptions on single frames."""

    def __init__(
        self,
        name: str,
        lanes: Sequence[CameraLane],
        *,
        backend_factory: BackendFactory,
        classifier_factory: ClassifierFactory,
        segments: SegmentTracker,
        on_result: ResultSink,
        metrics: Metrics,
        stop_event: threading.Event,
        batch_size: int = 4,
        idle_wait_s: float = 0.02,
    ) -> None:
        self.name = name
        self.lanes = list(lanes)
        self._backend_factory = backend_factory
        self._classifier_factory = classifier_factory
        self._segments = segments
        self._on_result = on_result
        self._metrics = metrics
        self._stop_event = stop_event
        self._batch_size = max(1, batch_size)
        self._idle_wait_s = idle_wait_s
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._rr = 0
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.labels: tuple[str, ...] = ()
        # The backend of each camera; one shared instance (batched calls) unless it keeps state.
        self._backends: dict[str, PoseBackend] = {}
        self._shared: PoseBackend | None = None
        self._analyzer: FrameAnalyzer | None = None
        self._last_error_log = 0.0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("worker thread %s did not stop within %.1f s", self.name, timeout)
            return False
        return True

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            classifier = self._classifier_factory()
            backend = self._backend_factory()
        except Exception as exc:
            self.error = exc
            log.error("%s: could not load the models: %s", self.name, exc)
            self.ready.set()
            return
        self.labels = classifier.labels
        analyzer = FrameAnalyzer(classifier, self._segments, on_classify=self._observe_classify)
        # A backend that tracks between frames (MediaPipe in stream mode) serves one camera only.
        self._shared = None if backend.stateful else backend
        for i, lane in enumerate(self.lanes):
            analyzer.add_camera(lane.camera_id, lane.options)
            self._backends[lane.camera_id] = (
                backend if i == 0 or not backend.stateful else self._backend_factory()
            )
        self._analyzer = analyzer
        self.ready.set()
        try:
            while not self._stop_event.is_set():
                batch = self._collect()
                if batch:
                    self._process_guarded(batch, analyzer)
                self._finish_ended_lanes()
                if all(lane.finished.is_set() for lane in self.lanes):
                    break
        finally:
            for b in {id(b): b for b in self._backends.values()}.values():
                try:
                    b.close()
                except Exception:
                    log.exception("%s: closing the pose backend failed", self.name)

    # -- frame admission -----------------------------------------------------------------------

    def _admit_from(self, lane: CameraLane, timeout: float) -> Frame | None:
        """The next frame of this lane to process, skipping (and counting) what the stride passes over."""
        skipped = 0
        frame = None
        wait = timeout
        while True:
            f = lane.frames.get(timeout=wait)
            wait = 0.0
            if f is None:
                break
            # A lossless source (a file read as fast as we go) waits for us: nothing to keep up with.
            lane.stride.set_fps(None if lane.frames.lossless else lane.fps())
            if lane.stride.admit():
                frame = f
                break
            skipped += 1
        if skipped:
            self._metrics.frames_skipped.labels(camera=lane.camera_id).inc(skipped)
        return frame

    def _collect(self) -> list[tuple[CameraLane, Frame]]:
        """Up to one frame per lane (round robin), at most ``batch_size``; waits briefly when idle."""
        batch: list[tuple[CameraLane, Frame]] = []
        n = len(self.lanes)
        for i in range(n):
            lane = self.lanes[(self._rr + i) % n]
            if lane.finished.is_set():
                continue
            frame = self._admit_from(lane, 0.0)
            if frame is not None:
                batch.append((lane, frame))
                if len(batch) >= self._batch_size:
                    break
        self._rr = (self._rr + 1) % max(1, n)
        if not batch:
            lane = self.lanes[self._rr]
            if not lane.finished.is_set() and not lane.frames.ended:
                frame = self._admit_from(lane, self._idle_wait_s)
                if frame is not None:
                    batch.append((lane, frame))
            else:
                time.sleep(self._idle_wait_s)
        return batch

    # -- processing ----------------------------------------------------------------------------

    def _observe_classify(self, seconds: float) -> None:
        self._metrics.stage_latency.labels(stage="classify").observe(seconds)

    def _process_guarded(self, batch: list[tuple[CameraLane, Frame]], analyzer: FrameAnalyzer) -> None:
        try:
            self._process(batch, analyzer)
        except Exception:
            self._metrics.worker_errors.labels(stage="pose").inc()
            now = time.monotonic()
            if now - self._last_error_log > 5.0:  # rate-limited: a broken model fails every frame
                self._last_error_log = now
                log.exception(
                    "%s: processing frames %s failed; going on with the next ones",
                    self.name,
                    ", ".join(f"{lane.camera_id}#{f.seq}" for lane, f in batch),
                )

    def _infer(self, batch: list[tuple[CameraLane, Frame]]) -> list[Poses]:
        if self._shared is not None:  # one call for the whole batch
            return self._shared.infer([f.image for _, f in batch])
        return [self._backends[lane.camera_id].infer([f.image])[0] for lane, f in batch]

    def _process(self, batch: list[tuple[CameraLane, Frame]], analyzer: FrameAnalyzer) -> None:
        t0 = time.perf_counter()
        poses = self._infer(batch)
        t1 = time.perf_counter()
        self._metrics.stage_latency.labels(stage="pose").observe(t1 - t0)

        results = analyzer.analyze([(frame, people) for (_, frame), people in zip(batch, poses, strict=True)])
        for result in results:
            self._on_result(result)

        per_frame = (time.perf_counter() - t0) / len(batch)
        now = time.monotonic()
        for lane, frame in batch:
            self._metrics.frames_processed.labels(camera=lane.camera_id).inc()
            lane.stride.observe_service_time(per_frame)
            if not lane.frames.lossless:  # a file's frames wait in its queue by design
                lane.stride.observe_latency(now - frame.capture_time)
            self._metrics.stride.labels(camera=lane.camera_id).set(lane.stride.stride)

    def _finish_ended_lanes(self) -> None:
        """A source whose end came through its queue (a file, after its last frame): close its
        segments once."""
        for lane in self.lanes:
            if not lane.finished.is_set() and lane.frames.ended:
                self._end_lane(lane)

    def close_segments(self) -> None:
        """At shutdown, once the thread has stopped: end the segments still running, so subscribers
        see them end."""
        if self._thread.is_alive():
            return
        for lane in self.lanes:
            if not lane.finished.is_set():
                self._end_lane(lane)

    def _end_lane(self, lane: CameraLane) -> None:
        final = self._analyzer.end_camera(lane.camera_id) if self._analyzer is not None else None
        if final is not None:  # None: no frame was analysed, so no segment can be running
            self._on_result(final)
        lane.finished.set()
