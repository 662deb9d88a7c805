"""Pose workers: threads that take ready frames from any camera, run the pose model on them, and hand
the people found to the analysis stage, which puts them back in capture order.

Several workers serve one device (``pipeline.workers_per_device``; on a CPU one per core, so every
core runs a pose model), and every worker takes from every camera (:mod:`service.runtime.admission`).
Models are built inside the worker thread that uses them (CUDA contexts and streams, MediaPipe graphs
are not shared between threads).

Batches: a backend that runs several images in one call (``PoseBackend.batches``, the Keypoint R-CNN
backends) gets as many ready frames as its measured cost says fit in ``pose.batch_budget_s``, at most
``pose.batch_size``: one frame when the cameras are quiet, bigger batches (better GPU throughput) as
load grows, never a pass so long that it breaks the latency budget. A backend that loops over the
images anyway (MediaPipe) takes one frame at a time, so the other workers take the next ones.

A backend that keeps state between frames (``PoseBackend.stateful``: MediaPipe's stream mode, which
tracks its person from frame to frame) gets one instance per camera in each worker, built the first
time the worker gets a frame of that camera. Each instance therefore sees one camera's frames in
capture order (with two workers, roughly every other processed frame of it).

A model's first call is its warm-up (MediaPipe starting its graph, CUDA loading kernels, cuDNN
choosing algorithms): it is not counted in the worker's cost, so the strides do not start from a
capacity the pool never really has.

A pose call that raises is logged with its traceback (at most every 5 s), counted in
``actionstream_worker_errors_total{stage="pose"}``, and its frames are returned as failed, so the
analysis stage passes over them; the worker goes on with the next frames.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from inference.backends.base import PoseBackend
from inference.poses import Poses
from service.engine.analyzer import BackendFactory, ClassifierFactory, FrameResult
from service.outputs.metrics import Metrics
from service.runtime.admission import Admission, Ticket
from service.runtime.reorder import PoseOutcome

log = logging.getLogger(__name__)

# The device a worker runs on ("cpu", "cuda:1") -> that worker's backend.
DeviceBackendFactory = Callable[[str], PoseBackend]
# Gets every result (each carries its frame); the service composes its sinks into this one callback.
ResultSink = Callable[[FrameResult], object]
OutcomeQueue = queue.Queue[list[PoseOutcome]]

__all__ = [
    "BackendFactory",
    "ClassifierFactory",
    "DeviceBackendFactory",
    "OutcomeQueue",
    "PoseWorker",
    "ResultSink",
]

_LOG_EVERY_S = 5.0
_PUT_WAIT_S = 0.1


class PoseWorker:
    """A thread running one pose model (or one per camera, for a stateful backend) on one device."""

    def __init__(
        self,
        name: str,
        *,
        device: str,
        admission: Admission,
        outcomes: OutcomeQueue,
        backend_factory: BackendFactory,
        metrics: Metrics,
        stop_event: threading.Event,
        batch_size: int = 4,
        batch_budget_s: float = 0.05,
        idle_wait_s: float = 0.1,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """``clock`` times the pose calls (what the batch sizes and the strides plan with); tests pass
        a fake one to make those plans independent of how busy the machine is."""
        self.name = name
        self._clock = clock
        self.device = device
        self._admission = admission
        self._outcomes = outcomes
        self._backend_factory = backend_factory
        self._metrics = metrics
        self._stop_event = stop_event
        self._batch_size = max(1, batch_size)
        self._batch_budget_s = batch_budget_s
        self._idle_wait_s = idle_wait_s
        self._cost = admission.meter.cost(name)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.ready = threading.Event()
        self.error: BaseException | None = None
        # What the analysis stage may need to give up on if this worker dies or hangs.
        self._holding: tuple[Ticket, ...] = ()
        self._busy_since: float | None = None
        self._last_error_log = -_LOG_EVERY_S
        self._warm: set[int] = set()  # backend instances past their first call

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("pose worker %s did not stop within %.1f s", self.name, timeout)
            return False
        return True

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    # -- what the analysis stage looks at ------------------------------------------------------

    def holding(self) -> tuple[Ticket, ...]:
        """The tickets this worker has taken and not yet returned."""
        return self._holding

    def busy_for(self, now: float) -> float | None:
        """Seconds the current pose call has been running; None when idle."""
        since = self._busy_since
        return None if since is None else now - since

    def expected_seconds(self, frames: int) -> float | None:
        """How long a call of ``frames`` frames usually takes on this worker (None before the first)."""
        return self._cost.predict(frames)

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            first = self._backend_factory()
        except Exception as exc:
            self.error = exc
            log.error("%s: could not load the pose model: %s", self.name, exc)
            self.ready.set()
            return
        backends: dict[str, PoseBackend] = {}
        spare: PoseBackend | None = first  # a stateful backend's first instance, for the first camera
        self._admission.add_worker(self.name)
        self.ready.set()
        try:
            while not self._stop_event.is_set() and not self._admission.all_finished():
                limit = (
                    self._cost.frames_within(self._batch_budget_s, self._batch_size) if first.batches else 1
                )
                tickets = self._admission.take(limit, self._idle_wait_s)
                if not tickets:
                    continue
                self._holding, self._busy_since = tuple(tickets), time.monotonic()
                if first.stateful:
                    spare = self._prepare(tickets, backends, spare)
                poses = self._infer_guarded(first, backends, tickets)
                self._post([PoseOutcome(t, p) for t, p in zip(tickets, poses, strict=True)])
                self._holding, self._busy_since = (), None
        except BaseException:
            log.critical(
                "pose worker %s died; the frames it holds will be passed over", self.name, exc_info=True
            )
            raise
        finally:
            self._admission.remove_worker(self.name)
            for backend in {id(b): b for b in [first, *backends.values()]}.values():
                try:
                    backend.close()
                except Exception:
                    log.exception("%s: closing the pose backend failed", self.name)

    def _prepare(
        self, tickets: Sequence[Ticket], backends: dict[str, PoseBackend], spare: PoseBackend | None
    ) -> PoseBackend | None:
        """A stateful backend: one instance per camera, built before the call is timed."""
        for t in tickets:
            if t.camera_id in backends:
                continue
            if spare is not None:
                backends[t.camera_id], spare = spare, None
                continue
            try:
                backends[t.camera_id] = self._backend_factory()
            except Exception:
                self._log_failure(f"building a pose model for camera {t.camera_id!r} failed")
        return spare

    def _infer_guarded(
        self, shared: PoseBackend, backends: dict[str, PoseBackend], tickets: Sequence[Ticket]
    ) -> list[Poses | None]:
        used = (
            [backends[t.camera_id] for t in tickets if t.camera_id in backends]
            if shared.stateful
            else [shared]
        )
        cold = any(id(b) not in self._warm for b in used)
        t0 = self._clock()
        try:
            if shared.stateful:
                poses: list[Poses | None] = [None] * len(tickets)
                for camera_id in dict.fromkeys(t.camera_id for t in tickets):  # cameras in first-seen order
                    rows = [i for i, t in enumerate(tickets) if t.camera_id == camera_id]
                    found = backends[camera_id].infer([tickets[i].frame.image for i in rows])
                    for i, p in zip(rows, found, strict=True):
                        poses[i] = p
            else:
                poses = list(shared.infer([t.frame.image for t in tickets]))
                if len(poses) != len(tickets):
                    raise RuntimeError(
                        f"the pose backend returned {len(poses)} results for {len(tickets)} images"
                    )
        except Exception:
            self._metrics.worker_errors.labels(stage="pose").inc()
            self._log_failure(
                "pose estimation on frames "
                + ", ".join(f"{t.camera_id}#{t.frame.seq}" for t in tickets)
                + " failed; going on with the next ones"
            )
            return [None] * len(tickets)
        seconds = self._clock() - t0
        self._metrics.stage_latency.labels(stage="pose").observe(seconds)
        if cold:  # a model's first call is its warm-up (graph start, CUDA kernels, cuDNN): not its cost
            self._warm.update(id(b) for b in used)
        else:
            self._admission.report(self.name, len(tickets), seconds)
        return poses

    def _post(self, outcomes: list[PoseOutcome]) -> None:
        """Hand a batch to the analysis stage; waits (bounded queue) but never past the stop event."""
        while not self._stop_event.is_set():
            try:
                self._outcomes.put(outcomes, timeout=_PUT_WAIT_S)
                return
            except queue.Full:
                continue

    def _log_failure(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= _LOG_EVERY_S:  # rate-limited: a broken model fails every frame
            self._last_error_log = now
            log.exception("%s: %s", self.name, message)
