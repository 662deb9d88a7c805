"""The running service: capture threads → bounded queues → a pool of pose workers → the analysis
stage → results, for many cameras. Every result goes to one ``on_result`` callback (in capture order
per camera) and every camera state change to ``on_status``; the service composes its sinks
(publisher, live preview) into those two.

::

    camera ─(capture)─▶ queue ─┐                    ┌─ pose worker ─┐
    camera ─(capture)─▶ queue ─┼─ admission ────────┼─ pose worker ─┼─▶ outcomes ─▶ analysis ─▶ on_result
    camera ─(capture)─▶ queue ─┘ (stride, tickets)  └─ pose worker ─┘   (bounded)   (reorder, tracker,
                                                     devices x workers_per_device     windows, LSTM, segments)

Start order: the analysis stage and the pose workers (which load the models), then the cameras'
capture threads. Stop order is the reverse: captures first (no new frames), then the pose workers,
then the analysis stage, then the final segment ends. Counters kept by capture threads are copied
into Prometheus by ``sync_metrics``, which the owner calls periodically (capture never imports the
service's metrics).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from capture.sources import SourceError, VideoSource, open_source
from capture.state import SourceState, StateChange
from capture.thread import CaptureThread
from service.config import AppConfig, CameraConfig
from service.engine.segments import SegmentTracker
from service.outputs.events import StatusEvent
from service.outputs.metrics import Metrics
from service.runtime.admission import Admission, CameraLane, SignallingQueue, WorkSignal
from service.runtime.analysis import AnalysisWorker
from service.runtime.pool import PoolMeter
from service.runtime.stride import StrideController
from service.runtime.worker import (
    ClassifierFactory,
    DeviceBackendFactory,
    OutcomeQueue,
    PoseWorker,
    ResultSink,
)

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
        signal: WorkSignal,
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
        self.frames = SignallingQueue(cfg.queue_size, lossless=lossless, signal=signal)
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
    """Cameras, pose workers, the analysis stage and the wiring between them: ``on_result`` gets every
    frame's result (in capture order per camera), ``on_status`` every camera state change.

    ``backend_factory(device)`` builds one pose backend on ``device``; it is called inside each pose
    worker's thread (and again per camera for a backend that keeps per-camera state). ``clock`` times
    the pose calls (tests pass a fake one).
    """

    def __init__(
        self,
        config: AppConfig,
        *,
        metrics: Metrics,
        on_result: ResultSink,
        on_status: StatusSink,
        backend_factory: DeviceBackendFactory,
        classifier_factory: ClassifierFactory,
        stop_event: threading.Event,
        source_opener: SourceOpener = open_source,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.config = config
        self._metrics = metrics
        self._on_result = on_result
        self._on_status = on_status
        self._stop_event = stop_event
        self._signal = WorkSignal()
        self._torch_threads: int | None = None  # torch's thread count before start, restored at stop
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
                    signal=self._signal,
                    source_opener=source_opener,
                )
            )
        if not self.cameras:
            raise PipelineError("no enabled camera in the config: enable at least one")
        pc = config.pipeline
        self.lanes = [
            CameraLane(
                camera_id=cam.camera_id,
                frames=cam.frames,
                fps=lambda c=cam: c.capture.fps,  # type: ignore[misc]
                stride=StrideController(pc.max_stride, target_latency_s=pc.target_latency_s),
                options=config.lane_options(),
            )
            for cam in self.cameras
        ]
        self.meter = PoolMeter()
        self.admission = Admission(self.lanes, metrics=metrics, signal=self._signal, meter=self.meter)
        devices = [
            (device, i)
            for device in config.pose.devices()
            for i in range(workers_per_device(pc.workers_per_device, device))
        ]
        # Room for two batches per worker: a worker never waits on the analysis stage in normal running.
        self._outcomes: OutcomeQueue = queue.Queue(maxsize=2 * len(devices))
        self.pose_workers = [
            PoseWorker(
                f"pose-{device}-{i}",
                device=device,
                admission=self.admission,
                outcomes=self._outcomes,
                backend_factory=lambda d=device: backend_factory(d),  # type: ignore[misc]
                metrics=metrics,
                stop_event=stop_event,
                batch_size=config.pose.batch_size,
                batch_budget_s=config.pose.batch_budget_s,
                clock=clock,
            )
            for device, i in devices
        ]
        self.analysis = AnalysisWorker(
            self.lanes,
            admission=self.admission,
            outcomes=self._outcomes,
            holders=self.pose_workers,
            classifier_factory=classifier_factory,
            segments=SegmentTracker(config.segment_params()),
            on_result=on_result,
            metrics=metrics,
            stop_event=stop_event,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, model_timeout_s: float = 300.0) -> None:
        """Start the analysis stage and the pose workers (loading the models), then the captures;
        raise if a model cannot load."""
        self._torch_threads = single_threaded_torch()
        self.analysis.start()
        for w in self.pose_workers:
            w.start()
        deadline = time.monotonic() + model_timeout_s
        parts: list[PoseWorker | AnalysisWorker] = [self.analysis, *self.pose_workers]
        for part in parts:
            if not part.ready.wait(max(0.0, deadline - time.monotonic())):
                raise PipelineError(f"{part.name} did not load its model within {model_timeout_s:g} s")
            if part.error is not None:
                raise part.error
        log.info(
            "%d pose worker(s): %s", len(self.pose_workers), ", ".join(w.name for w in self.pose_workers)
        )
        self._metrics.model_loaded.set(1)
        if self.analysis.labels:
            self._metrics.init_labels([c.camera_id for c in self.cameras], self.analysis.labels)
        for cam in self.cameras:
            cam.capture.start()

    def model_loaded(self) -> bool:
        parts: list[PoseWorker | AnalysisWorker] = [self.analysis, *self.pose_workers]
        return all(p.ready.is_set() and p.error is None for p in parts)

    def camera_states(self) -> dict[str, str]:
        return {c.camera_id: c.state.value for c in self.cameras}

    def finished(self) -> bool:
        """True when every camera's source ended and its frames were processed (files, no loop)."""
        return self.admission.all_finished()

    def workers_alive(self) -> bool:
        """No pose worker and not the analysis stage has died (having finished every file is not dying)."""
        if self.finished():
            return True
        return self.analysis.is_alive() and all(w.is_alive() for w in self.pose_workers)

    def sync_metrics(self) -> None:
        for cam in self.cameras:
            cam.sync_metrics()

    def stop(self, timeout: float = 3.0) -> bool:
        """Reverse order of start: captures, then pose workers, then the analysis stage, then close
        what is still open."""
        self._stop_event.set()
        ok = True
        for cam in reversed(self.cameras):
            cam.capture.stop()
        for cam in reversed(self.cameras):
            ok &= cam.capture.join(timeout)
        for w in reversed(self.pose_workers):
            ok &= w.join(timeout)
        ok &= self.analysis.join(timeout)
        self.analysis.close_segments()
        self.sync_metrics()
        restore_torch_threads(self._torch_threads)
        self._torch_threads = None
        return ok

    # -- status --------------------------------------------------------------------------------

    def _on_state(self, change: StateChange) -> None:
        self._on_status(StatusEvent.from_state_change(change))


def single_threaded_torch() -> int | None:
    """One thread per torch op on the CPU, for the whole process while the pipeline runs; returns the
    thread count it replaced (None without torch).

    Parallelism here comes from the workers (one per core); a torch op that also splits itself over
    every core only fights them. Worse, a parallel region waits for its slowest thread: with two
    threads and another process holding one core, the action model's 0.3 ms call was measured
    taking 15 ms in the median and 277 ms at p90 (``docs/PERFORMANCE.md``)."""
    try:
        import torch  # noqa: PLC0415 - the action model is torch; import it only to set this
    except ImportError:
        return None
    before = int(torch.get_num_threads())
    torch.set_num_threads(1)
    return before


def restore_torch_threads(threads: int | None) -> None:
    if threads is not None:
        import torch  # noqa: PLC0415

        torch.set_num_threads(threads)


def workers_per_device(configured: int | None, device: str) -> int:
    """Pose workers for ``device``: as configured, else one per CPU core on the CPU (so every core runs
    a pose model) and two per GPU (one prepares and copies its batch while the other's runs)."""
    if configured is not None:
        return configured
    if device.startswith("cuda"):
        return 2
    if device == "auto" and _cuda_usable():
        return 2
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _cuda_usable() -> bool:
    try:
        import torch  # noqa: PLC0415 - only to size the pool for device "auto"
    except ImportError:
        return False
    return bool(torch.cuda.is_available())
