"""The running service: capture threads → bounded queues → inference workers → results, for many
cameras. Every result goes to one ``on_result`` callback and every camera state change to
``on_status``; the service composes its sinks (publisher, live preview) into those two.

Start order: cameras' queues and capture threads, then workers (which load models). Stop order
is the reverse: captures first (no new frames), then workers, then the final segment ends and
statuses. Counters kept by capture threads are copied into Prometheus by ``sync_metrics``,
which the owner calls periodically (capture never imports the service's metrics).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from capture.queue import FrameQueue
from capture.sources import SourceError, VideoSource, open_source
from capture.state import SourceState, StateChange
from capture.thread import CaptureThread
from service.config import AppConfig, CameraConfig
from service.engine.segments import SegmentTracker
from service.outputs.events import StatusEvent
from service.outputs.metrics import Metrics
from service.runtime.stride import StrideController
from service.runtime.worker import BackendFactory, CameraLane, ClassifierFactory, InferenceWorker, ResultSink

log = logging.getLogger(__name__)

SourceOpener = Callable[..., VideoSource]
StatusSink = Callable[[StatusEvent], object]


class PipelineError(Exception):
    """A problem with what the user configured (a bad source); the message says which camera and why."""


@dataclass
class _CounterSync:
    captured: int = 0
    reconnects: int = 0
    dropped: dict[str, int] | None = None


class CameraRunner:
    """One camera: its source, bounded queue and capture thread, and its current state."""

    def __init__(
        self,
        cfg: CameraConfig,
        *,
        stop_event: threading.Event,
        metrics: Metrics,
        on_state: Callable[[StateChange], None],
        source_opener: SourceOpener = open_source,
    ) -> None:
        self.cfg = cfg
        self.camera_id = cfg.id
        try:
            self.source = source_opener(cfg.source, camera_id=cfg.id, options=cfg.source_options())
        except SourceError as exc:
            raise PipelineError(f"camera {cfg.id!r}: {exc}") from exc
        # A file read as fast as possible is lossless; live sources and paced files drop the oldest.
        lossless = not (self.source.is_live or cfg.realtime)
        self.frames = FrameQueue(cfg.queue_size, lossless=lossless)
        self.capture = CaptureThread(
            self.source,
            self.frames,
            stop_event,
            on_state=self._on_state,
            watchdog=cfg.watchdog_options(),
        )
        self.state = SourceState.CONNECTING
        self._metrics = metrics
        self._forward = on_state
        self._sync = _CounterSync(dropped={})

    def _on_state(self, change: StateChange) -> None:
        self.state = change.state
        self._metrics.set_camera_state(self.camera_id, change.state.value)
        if change.state is SourceState.ENDED or (
            change.state is SourceState.OFFLINE and not self.source.is_live and self.capture.error
        ):
            # The file is done for good (its reader has returned): the end goes into the queue,
            # behind the last frame.
            self.frames.close()
        self._forward(change)

    def sync_metrics(self) -> None:
        """Copy the capture thread's counters into Prometheus (as increments since the last call)."""
        m, cam, s = self._metrics, self.camera_id, self._sync
        captured, reconnects = self.capture.frames_captured, self.capture.reconnects
        m.frames_captured.labels(camera=cam).inc(captured - s.captured)
        m.reconnects.labels(camera=cam).inc(reconnects - s.reconnects)
        s.captured, s.reconnects = captured, reconnects
        dropped = self.capture.frames_dropped
        assert s.dropped is not None
        for reason, n in dropped.items():
            m.frames_dropped.labels(camera=cam, reason=reason).inc(n - s.dropped.get(reason, 0))
        s.dropped = dropped
        m.queue_depth.labels(camera=cam).set(self.frames.qsize())
        decode = m.stage_latency.labels(stage="decode")
        for seconds in self.capture.drain_decode_times():
            decode.observe(seconds)
        fps = self.capture.fps
        if fps:
            m.source_fps.labels(camera=cam).set(fps)


class Pipeline:
    """Cameras, workers and the wiring between them: ``on_result`` gets every frame's result (in
    capture order per camera), ``on_status`` every camera state change."""

    def __init__(
        self,
        config: AppConfig,
        *,
        metrics: Metrics,
        on_result: ResultSink,
        on_status: StatusSink,
        backend_factory: BackendFactory,
        classifier_factory: ClassifierFactory,
        stop_event: threading.Event,
        source_opener: SourceOpener = open_source,
    ) -> None:
        self.config = config
        self._metrics = metrics
        self._on_result = on_result
        self._on_status = on_status
        self._stop_event = stop_event
        self.cameras: list[CameraRunner] = []
        for cam in config.cameras:
            if not cam.enabled:
                continue
            metrics.init_camera(cam.id)
            self.cameras.append(
                CameraRunner(
                    cam,
                    stop_event=stop_event,
                    metrics=metrics,
                    on_state=self._on_state,
                    source_opener=source_opener,
                )
            )
        if not self.cameras:
            raise PipelineError("no enabled camera in the config: enable at least one")
        self._segment_params = config.segment_params()
        self.workers = self._make_workers(backend_factory, classifier_factory)

    def _make_workers(
        self, backend_factory: BackendFactory, classifier_factory: ClassifierFactory
    ) -> list[InferenceWorker]:
        pc = self.config.pipeline
        n_workers = min(pc.workers_per_device, len(self.cameras))
        share = n_workers / len(self.cameras)
        lanes: list[list[CameraLane]] = [[] for _ in range(n_workers)]
        for i, cam in enumerate(self.cameras):
            lane = CameraLane(
                camera_id=cam.camera_id,
                frames=cam.frames,
                fps=lambda c=cam: c.capture.fps,  # type: ignore[misc]
                stride=StrideController(
                    pc.max_stride,
                    workers_share=min(1.0, share),
                    target_latency_s=pc.target_latency_s,
                ),
                options=self.config.lane_options(),
            )
            lanes[i % n_workers].append(lane)
        return [
            InferenceWorker(
                f"infer-{i}",
                worker_lanes,
                backend_factory=backend_factory,
                classifier_factory=classifier_factory,
                # Each worker owns its cameras' segment state: nothing is shared between threads.
                segments=SegmentTracker(self._segment_params),
                on_result=self._on_result,
                metrics=self._metrics,
                stop_event=self._stop_event,
                batch_size=self.config.pose.batch_size,
            )
            for i, worker_lanes in enumerate(lanes)
        ]

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, model_timeout_s: float = 300.0) -> None:
        """Start workers (loading models) and then the captures; raise if a model cannot load."""
        for w in self.workers:
            w.start()
        deadline = time.monotonic() + model_timeout_s
        for w in self.workers:
            w.ready.wait(max(0.0, deadline - time.monotonic()))
            if w.error is not None:
                raise w.error
        self._metrics.model_loaded.set(1)
        if self.workers and self.workers[0].labels:
            self._metrics.init_labels([c.camera_id for c in self.cameras], self.workers[0].labels)
        for cam in self.cameras:
            cam.capture.start()

    def model_loaded(self) -> bool:
        return all(w.ready.is_set() and w.error is None for w in self.workers)

    def camera_states(self) -> dict[str, str]:
        return {c.camera_id: c.state.value for c in self.cameras}

    def finished(self) -> bool:
        """True when every camera's source ended and its frames were processed (files, no loop)."""
        return all(lane.finished.is_set() for w in self.workers for lane in w.lanes)

    def workers_alive(self) -> bool:
        return all(w.is_alive() for w in self.workers)

    def sync_metrics(self) -> None:
        for cam in self.cameras:
            cam.sync_metrics()

    def stop(self, timeout: float = 3.0) -> bool:
        """Reverse order of start: captures, then workers, then close what is still open."""
        self._stop_event.set()
        ok = True
        for cam in reversed(self.cameras):
            cam.capture.stop()
        for cam in reversed(self.cameras):
            ok &= cam.capture.join(timeout)
        for w in reversed(self.workers):
            ok &= w.join(timeout)
            w.close_segments()
        self.sync_metrics()
        return ok

    # -- status --------------------------------------------------------------------------------

    def _on_state(self, change: StateChange) -> None:
        self._on_status(StatusEvent.from_state_change(change))
