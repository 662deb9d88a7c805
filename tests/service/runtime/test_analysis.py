"""The analysis stage on its own: results in capture order whatever order the workers return them in,
and a ticket whose worker died or hangs is passed over instead of holding its camera up forever."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from capture.frame import Frame
from service.engine.analyzer import ClassifierFactory, FrameResult
from service.engine.segments import SegmentParams, SegmentTracker
from service.outputs.metrics import Metrics
from service.runtime.admission import Admission, CameraLane, SignallingQueue, Ticket, WorkSignal
from service.runtime.analysis import AnalysisWorker
from service.runtime.pool import PoolMeter
from service.runtime.reorder import PoseOutcome
from service.runtime.stride import StrideController
from tests.service.doubles import TimedBackend, random_classifier

IMAGE = np.zeros((48, 64, 3), np.uint8)


@dataclass
class FakeHolder:
    """A pose worker as the analysis stage sees it."""

    name: str
    alive: bool = True
    held: tuple[Ticket, ...] = ()
    busy_s: float | None = None
    usual_s: float | None = 0.05

    def is_alive(self) -> bool:
        return self.alive

    def holding(self) -> tuple[Ticket, ...]:
        return self.held

    def busy_for(self, now: float) -> float | None:
        return self.busy_s

    def expected_seconds(self, frames: int) -> float | None:
        return self.usual_s


@dataclass
class Stage:
    holders: list[FakeHolder]
    metrics: Metrics = field(default_factory=Metrics)
    results: list[FrameResult] = field(default_factory=list)
    classifier_factory: ClassifierFactory = random_classifier

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self.outcomes: queue.Queue[list[PoseOutcome]] = queue.Queue(maxsize=8)
        self.lane = CameraLane(
            "a", SignallingQueue(4, lossless=False, signal=WorkSignal()), lambda: 30.0, StrideController()
        )
        admission = Admission([self.lane], metrics=self.metrics, signal=WorkSignal(), meter=PoolMeter())
        self.worker = AnalysisWorker(
            [self.lane],
            admission=admission,
            outcomes=self.outcomes,
            holders=self.holders,
            classifier_factory=self.classifier_factory,
            segments=SegmentTracker(SegmentParams()),
            on_result=self.results.append,
            metrics=self.metrics,
            stop_event=self.stop,
            poll_s=0.01,
            min_hang_s=1.0,
        )
        self.worker.start()
        assert self.worker.ready.wait(30.0) and self.worker.error is None

    def ticket(self, index: int) -> Ticket:
        return Ticket(
            "a", index, Frame("a", seq=index, pts=index / 30, capture_time=time.monotonic(), image=IMAGE)
        )

    def send(self, *tickets: Ticket) -> None:
        poses = TimedBackend().infer([t.frame.image for t in tickets])
        self.outcomes.put([PoseOutcome(t, p) for t, p in zip(tickets, poses, strict=True)])

    def seqs_when(self, n: int, timeout: float = 20.0) -> list[int]:
        deadline = time.monotonic() + timeout
        while len(self.results) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return [r.frame_seq for r in self.results]

    def lost(self) -> float:
        return (
            self.metrics.registry.get_sample_value(
                "actionstream_frames_dropped_total", {"camera": "a", "reason": "lost"}
            )
            or 0.0
        )

    def close(self) -> None:
        self.stop.set()
        assert self.worker.join(5.0)


def test_results_leave_in_capture_order_whatever_order_they_come_in() -> None:
    stage = Stage([])
    try:
        t = [stage.ticket(i) for i in range(6)]
        stage.send(t[2], t[3])
        stage.send(t[1])
        time.sleep(0.1)
        assert stage.results == [], "nothing before ticket 0"
        stage.send(t[0], t[5])
        stage.send(t[4])
        assert stage.seqs_when(6) == [0, 1, 2, 3, 4, 5]
    finally:
        stage.close()


def test_a_ticket_held_by_a_dead_worker_is_passed_over() -> None:
    dead = FakeHolder("pose-0", alive=False)
    stage = Stage([dead])
    try:
        t = [stage.ticket(i) for i in range(4)]
        dead.held = (t[1],)
        stage.send(t[0], t[2])
        stage.send(t[3])
        assert stage.seqs_when(3) == [0, 2, 3]
        assert stage.lost() == 1
        stage.send(t[1])  # it turns up after all: too late, discarded
        time.sleep(0.1)
        assert [r.frame_seq for r in stage.results] == [0, 2, 3] and stage.worker.late == 1
    finally:
        stage.close()


def test_a_hung_call_is_given_up_but_a_slow_one_is_waited_for() -> None:
    slow = FakeHolder("pose-0", busy_s=0.5, usual_s=0.05)  # longer than usual, under min_hang_s
    stage = Stage([slow])
    try:
        t = [stage.ticket(i) for i in range(3)]
        slow.held = (t[0],)
        stage.send(t[1], t[2])
        time.sleep(0.2)
        assert stage.results == [] and stage.lost() == 0, "a slow call is waited for"
        slow.busy_s = 60.0  # now far beyond 20x its usual time and min_hang_s
        assert stage.seqs_when(2) == [1, 2]
        assert stage.lost() == 1
    finally:
        stage.close()


def test_windows_are_counted_by_decision_and_no_action_updates_carry_null() -> None:
    """A model that declines every window: each classified window counts as ``unsure`` in
    ``windows_decided``, its update event has label None, and no segment starts."""
    stage = Stage([], classifier_factory=lambda: random_classifier(reject_threshold=1.0))
    try:
        for i in range(0, 75, 5):
            stage.send(*(stage.ticket(j) for j in range(i, i + 5)))
        stage.seqs_when(75)
        made = [c for r in stage.results for c in r.classifications]
        assert made, "2.5 s of poses make windows"
        events = [e for r in stage.results for e in r.events if getattr(e, "type", "") in ("update", "start")]
        assert events and {(e.type, e.label, e.reason) for e in events} == {("update", None, "unsure")}

        def decided(outcome: str) -> float:
            value = stage.metrics.registry.get_sample_value(
                "actionstream_windows_decided_total", {"camera": "a", "reason": outcome}
            )
            return value or 0.0

        assert decided("unsure") == len(made) and decided("action") == 0.0
    finally:
        stage.close()
