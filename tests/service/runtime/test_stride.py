"""The adaptive stride controller: keeps up with slow processing, processes everything when fast."""

from __future__ import annotations

import itertools
import math

import pytest

from service.runtime.stride import StrideController


def feed(ctrl: StrideController, service_time: float, n: int = 50) -> int:
    for _ in range(n):
        ctrl.observe_service_time(service_time)
    return ctrl.stride


def simulate(ctrl: StrideController, fps: float, service_time: float, seconds: float) -> tuple[int, int]:
    """A source at ``fps`` and a worker needing ``service_time`` per frame; returns (processed, backlog)."""
    ctrl.set_fps(fps)
    busy_until, processed, backlog = 0.0, 0, 0
    for i in range(int(seconds * fps)):
        now = i / fps
        if not ctrl.admit():
            continue
        start = max(now, busy_until)
        backlog = max(backlog, round((start - now) * fps))
        busy_until = start + service_time
        processed += 1
        ctrl.observe_service_time(service_time)
    return processed, backlog


def test_fast_processing_keeps_every_frame() -> None:
    ctrl = StrideController(max_stride=8)
    ctrl.set_fps(30)
    assert feed(ctrl, 0.010) == 1
    assert [ctrl.admit() for _ in range(10)] == [True] * 10


def test_slow_processing_grows_the_stride_to_keep_up() -> None:
    ctrl = StrideController(max_stride=8)
    ctrl.set_fps(30)
    assert feed(ctrl, 0.1) == 3  # 0.1 s * 30 fps = 3 frames arrive per frame processed
    admitted = [ctrl.admit() for _ in range(30)]
    assert sum(admitted) == 10 and admitted[:4] == [True, False, False, True]
    processed, backlog = simulate(StrideController(max_stride=8), fps=30, service_time=0.1, seconds=20)
    assert processed >= 190 and backlog <= 3, (processed, backlog)


def test_bounded_by_max_stride() -> None:
    ctrl = StrideController(max_stride=4)
    ctrl.set_fps(30)
    assert feed(ctrl, 1.0) == 4


def test_workers_share_scales_the_need() -> None:
    ctrl = StrideController(max_stride=16, workers_share=0.5)  # one worker shared by two cameras
    ctrl.set_fps(25)
    assert feed(ctrl, 0.05) == math.ceil(0.05 * 25 / 0.5)


def test_recovers_to_one_when_processing_gets_fast_again() -> None:
    ctrl = StrideController(max_stride=8, patience=5)
    ctrl.set_fps(30)
    assert feed(ctrl, 0.2) == 6
    feed(ctrl, 0.005, n=100)
    assert ctrl.stride == 1


def test_no_oscillation_at_a_boundary() -> None:
    """Service time jittering around exactly 2 frame intervals must not flip the stride each frame."""
    ctrl = StrideController(max_stride=8)
    ctrl.set_fps(20)
    strides = []
    for i in range(400):
        strides.append(ctrl.observe_service_time(0.1 * (1.08 if i % 2 else 0.92)))  # required ~ 1.84..2.16
    changes = sum(1 for a, b in itertools.pairwise(strides) if a != b)
    assert changes <= 2, strides
    assert strides[-1] in (2, 3)


def test_unknown_fps_processes_everything() -> None:
    ctrl = StrideController(max_stride=8)
    feed(ctrl, 0.5)
    assert ctrl.stride == 1
    ctrl.set_fps(30)
    assert ctrl.stride == 8
    ctrl.set_fps(None)
    assert ctrl.stride == 1


def test_latency_over_target_raises_and_blocks_lowering() -> None:
    ctrl = StrideController(max_stride=8, patience=3, target_latency_s=0.5)
    ctrl.set_fps(30)
    feed(ctrl, 0.02)
    assert ctrl.stride == 1
    for _ in range(3):
        ctrl.observe_latency(1.5)
    assert ctrl.stride == 2
    feed(ctrl, 0.02)  # service time says 1 would do, but the latency is still high
    assert ctrl.stride == 2
    for _ in range(30):
        ctrl.observe_latency(0.1)
    feed(ctrl, 0.02)
    assert ctrl.stride == 1


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="max_stride must be >= 1"):
        StrideController(max_stride=0)
    with pytest.raises(ValueError, match="service time must be"):
        StrideController().observe_service_time(float("nan"))
    with pytest.raises(ValueError, match="fps must be"):
        StrideController().set_fps(-1)
