"""Which frames the pose workers get: every worker takes from every camera, through each camera's stride,
and each admitted frame gets a ticket that numbers it among its camera's admitted frames.

Cameras are not pinned to workers. A worker that is free takes the next frames that are ready, round
robin over the cameras (one frame per camera per round, as many rounds as its batch allows), so one
camera's frames spread over all the workers and a busy worker never holds a camera up while another
idles. The ticket's number (0, 1, 2, ... per camera, no gaps) is what the analysis stage uses to put
the results back in capture order (:mod:`service.runtime.reorder`).

The strides are planned here too: after every pose call, the pool's measured capacity
(:class:`~service.runtime.pool.PoolMeter`) is split fairly over the cameras and each camera's
:class:`~service.runtime.stride.StrideController` gets its share. One lock guards all of it; nothing
inside the lock blocks.

Idle workers wait on a :class:`WorkSignal` that the cameras' queues ring on every put, with a
timeout, so a frame is taken the moment it arrives and a stop request is seen within the timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from capture.frame import Frame
from capture.queue import FrameQueue
from service.engine.options import LaneOptions
from service.outputs.metrics import Metrics
from service.runtime.pool import PoolMeter, fair_shares
from service.runtime.stride import StrideController


class WorkSignal:
    """Rung when any camera's queue changes; waiters pass the generation they saw, so a ring that
    came between their look and their wait is never missed."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.generation = 0

    def notify(self) -> None:
        with self._cond:
            self.generation += 1
            self._cond.notify_all()

    def wait(self, generation: int, timeout: float) -> bool:
        """Wait until the generation moves past ``generation`` or ``timeout`` passes; True if it moved."""
        with self._cond:
            return self._cond.wait_for(lambda: self.generation != generation, max(0.0, timeout))


class SignallingQueue(FrameQueue):
    """A camera's :class:`FrameQueue` that rings the pipeline's :class:`WorkSignal` on every put and
    at its end."""

    def __init__(self, maxsize: int, lossless: bool, signal: WorkSignal) -> None:
        super().__init__(maxsize, lossless)
        self._signal = signal

    def put(self, frame: Frame, timeout: float) -> bool:
        ok = super().put(frame, timeout)
        self._signal.notify()
        return ok

    def close(self) -> None:
        super().close()
        self._signal.notify()


@dataclass
class CameraLane:
    """One camera as the workers see it: its queue, its stride, its options, and how many of its
    frames were admitted (``issued``: the next ticket's number)."""

    camera_id: str
    frames: FrameQueue
    fps: Callable[[], float | None]
    stride: StrideController
    options: LaneOptions = field(default_factory=LaneOptions)
    finished: threading.Event = field(default_factory=threading.Event)
    issued: int = 0


@dataclass(frozen=True, slots=True)
class Ticket:
    """An admitted frame: ``index`` numbers it among its camera's admitted frames (0, 1, 2, ...)."""

    camera_id: str
    index: int
    frame: Frame


class Admission:
    """Hands ready frames to the pose workers and plans each camera's stride."""

    def __init__(
        self,
        lanes: Sequence[CameraLane],
        *,
        metrics: Metrics,
        signal: WorkSignal,
        meter: PoolMeter,
    ) -> None:
        if not lanes:
            raise ValueError("Admission needs at least one camera lane")
        self.lanes = list(lanes)
        self._by_id = {lane.camera_id: lane for lane in self.lanes}
        self._metrics = metrics
        self._signal = signal
        self.meter = meter
        self._lock = threading.Lock()
        self._rr = 0
        self._workers: set[str] = set()

    # -- workers -------------------------------------------------------------------------------

    def add_worker(self, worker: str) -> None:
        """``worker`` takes part: its throughput counts in the capacity from now on."""
        with self._lock:
            self._workers.add(worker)

    def remove_worker(self, worker: str) -> None:
        """``worker`` stopped (or died): the capacity no longer counts it."""
        with self._lock:
            self._workers.discard(worker)
            self._plan()

    def take(self, max_frames: int, timeout: float) -> list[Ticket]:
        """Up to ``max_frames`` admitted frames, round robin over the cameras; waits up to ``timeout``
        for the first one. Empty when none came (or every camera has finished)."""
        deadline = time.monotonic() + timeout
        while True:
            generation = self._signal.generation
            with self._lock:
                batch = self._take_ready(max(1, max_frames))
            if batch:
                return batch
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.all_finished():
                return []
            self._signal.wait(generation, remaining)

    def report(self, worker: str, frames: int, seconds: float) -> None:
        """``worker`` ran a pose call of ``frames`` frames in ``seconds``: update capacity and strides."""
        self.meter.cost(worker).observe(frames, seconds)
        with self._lock:
            self._plan()

    # -- the analysis stage's side -------------------------------------------------------------

    def observe_latency(self, camera_id: str, seconds: float) -> None:
        """Capture-to-result latency of one of the camera's frames (the stride's outer loop)."""
        lane = self._by_id[camera_id]
        if lane.frames.lossless:  # a file's frames wait in its queue by design
            return
        with self._lock:
            lane.stride.observe_latency(seconds)
            self._metrics.stride.labels(camera=camera_id).set(lane.stride.stride)

    def issued_if_ended(self, lane: CameraLane) -> int | None:
        """How many tickets the camera got in all, once its queue has ended (a file after its last
        frame); None while frames may still come."""
        with self._lock:
            return lane.issued if lane.frames.ended else None

    def all_finished(self) -> bool:
        return all(lane.finished.is_set() for lane in self.lanes)

    # -- inside the lock -----------------------------------------------------------------------

    def _take_ready(self, max_frames: int) -> list[Ticket]:
        batch: list[Ticket] = []
        n = len(self.lanes)
        progressed = True
        while progressed and len(batch) < max_frames:
            progressed = False
            for k in range(n):
                lane = self.lanes[(self._rr + k) % n]
                if lane.finished.is_set():
                    continue
                ticket = self._admit(lane)
                if ticket is not None:
                    batch.append(ticket)
                    progressed = True
                    if len(batch) >= max_frames:
                        break
        self._rr = (self._rr + 1) % n
        return batch

    def _admit(self, lane: CameraLane) -> Ticket | None:
        """The camera's next frame to process, passing over (and counting) what its stride skips."""
        skipped = 0
        ticket = None
        while True:
            frame = lane.frames.get(timeout=0.0)
            if frame is None:
                break
            # A lossless source (a file read as fast as we go) waits for us: nothing to keep up with.
            lane.stride.set_fps(None if lane.frames.lossless else lane.fps())
            if lane.stride.admit():
                ticket = Ticket(lane.camera_id, lane.issued, frame)
                lane.issued += 1
                break
            skipped += 1
        if skipped:
            self._metrics.frames_skipped.labels(camera=lane.camera_id).inc(skipped)
        return ticket

    def _plan(self) -> None:
        capacity = self.meter.capacity(self._workers)
        if capacity is None:
            return
        active = [lane for lane in self.lanes if not lane.finished.is_set()]
        demands = [None if lane.frames.lossless else (lane.fps() or 0.0) for lane in active]
        for lane, want, share in zip(active, demands, fair_shares(capacity, demands), strict=True):
            lane.stride.set_fps(want)
            lane.stride.set_capacity(share if share > 0 else None)
            self._metrics.stride.labels(camera=lane.camera_id).set(lane.stride.stride)
