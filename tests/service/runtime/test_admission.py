"""Admission: ready frames to whichever worker asks, round robin over cameras, through each camera's
stride, numbered without gaps; strides planned from the pool's measured capacity."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from capture.frame import Frame
from service.outputs.metrics import Metrics
from service.runtime.admission import Admission, CameraLane, SignallingQueue, WorkSignal
from service.runtime.pool import PoolMeter
from service.runtime.stride import StrideController

IMAGE = np.zeros((4, 4, 3), np.uint8)


class Setup:
    def __init__(
        self, cameras: dict[str, float | None], *, lossless: bool = False, queue_size: int = 64
    ) -> None:
        self.signal = WorkSignal()
        self.metrics = Metrics()
        self.lanes = [
            CameraLane(
                camera_id=cam,
                frames=SignallingQueue(queue_size, lossless=lossless, signal=self.signal),
                fps=lambda f=fps: f,  # type: ignore[misc]
                stride=StrideController(max_stride=8),
            )
            for cam, fps in cameras.items()
        ]
        self.admission = Admission(self.lanes, metrics=self.metrics, signal=self.signal, meter=PoolMeter())
        self.seq = dict.fromkeys(cameras, 0)

    def put(self, camera: str, n: int = 1) -> None:
        lane = next(lane for lane in self.lanes if lane.camera_id == camera)
        for _ in range(n):
            s = self.seq[camera]
            lane.frames.put(Frame(camera, s, s / 30, 0.0, IMAGE), timeout=0.1)
            self.seq[camera] += 1

    def skipped(self, camera: str) -> float:
        return (
            self.metrics.registry.get_sample_value("actionstream_frames_skipped_total", {"camera": camera})
            or 0
        )


def test_round_robin_over_cameras_and_tickets_per_camera() -> None:
    s = Setup({"a": 30.0, "b": 30.0})
    s.put("a", 3)
    s.put("b", 2)
    batch = s.admission.take(max_frames=4, timeout=0.0)
    assert [(t.camera_id, t.index) for t in batch] == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]
    assert [(t.camera_id, t.index) for t in s.admission.take(max_frames=4, timeout=0.0)] == [("a", 2)]
    assert s.admission.take(max_frames=4, timeout=0.0) == []


def test_one_frame_at_a_time_for_a_backend_that_does_not_batch() -> None:
    s = Setup({"a": 30.0})
    s.put("a", 3)
    assert [t.index for t in s.admission.take(1, 0.0)] == [0]
    assert [t.index for t in s.admission.take(1, 0.0)] == [1]


def test_strides_follow_the_pools_measured_capacity() -> None:
    s = Setup({"a": 30.0, "b": 30.0})
    s.admission.add_worker("w1")
    s.admission.add_worker("w2")
    for _ in range(10):  # two workers at 20 frames/s each: 40 for two 30 fps cameras
        s.admission.report("w1", 1, 0.05)
        s.admission.report("w2", 1, 0.05)
    for lane in s.lanes:
        assert lane.stride.capacity == pytest.approx(20.0)
        assert lane.stride.stride == pytest.approx(30 / 20 / 0.85)
    # One worker leaves (or dies): its throughput no longer counts, the strides go up at once.
    s.admission.remove_worker("w2")
    assert all(lane.stride.stride == pytest.approx(30 / 10 / 0.85) for lane in s.lanes)


def test_skipped_frames_are_counted_and_tickets_have_no_gaps() -> None:
    s = Setup({"a": 30.0})
    s.admission.add_worker("w")
    for _ in range(10):
        s.admission.report("w", 1, 0.1)  # 10 frames/s for a 30 fps camera
    s.put("a", 30)
    tickets = []
    while batch := s.admission.take(1, 0.0):
        tickets += batch
    assert [t.index for t in tickets] == list(range(len(tickets)))
    assert len(tickets) == pytest.approx(30 / s.lanes[0].stride.stride, abs=1)
    assert s.skipped("a") == 30 - len(tickets)
    frames = [t.frame.seq for t in tickets]
    assert frames == sorted(frames)


def test_a_lossless_file_is_never_skipped() -> None:
    s = Setup({"f": 30.0}, lossless=True)
    s.admission.add_worker("w")
    for _ in range(10):
        s.admission.report("w", 1, 1.0)
    s.put("f", 10)
    got = s.admission.take(64, 0.0)
    assert len(got) == 10 and s.skipped("f") == 0


def test_a_waiting_worker_wakes_when_a_frame_arrives() -> None:
    s = Setup({"a": 30.0, "b": 30.0})
    got: list[object] = []
    taker = threading.Thread(target=lambda: got.extend(s.admission.take(4, timeout=30.0)))
    taker.start()
    s.put("b")
    taker.join(30.0)
    assert not taker.is_alive()
    assert [(t.camera_id, t.index) for t in got] == [("b", 0)]  # type: ignore[attr-defined]


def test_the_end_of_a_file_is_known_with_its_ticket_count() -> None:
    s = Setup({"f": None}, lossless=True)
    s.put("f", 2)
    s.lanes[0].frames.close()
    assert s.admission.issued_if_ended(s.lanes[0]) is None, "frames still queued"
    assert len(s.admission.take(8, 0.0)) == 2
    assert s.admission.issued_if_ended(s.lanes[0]) == 2
