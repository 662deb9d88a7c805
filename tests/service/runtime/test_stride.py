"""The adaptive stride controller: keeps up with the pool's capacity, processes everything when it can,
spreads a fractional stride evenly. Pure logic: no clock, no threads."""

from __future__ import annotations

import itertools

import pytest

from service.runtime.stride import StrideController


def feed(ctrl: StrideController, capacity: float, n: int = 50) -> float:
    for _ in range(n):
        ctrl.set_capacity(capacity)
    return ctrl.stride


def simulate(ctrl: StrideController, fps: float, service_time: float, seconds: float) -> tuple[int, int]:
    """A source at ``fps`` and one worker needing ``service_time`` per frame, whose throughput the
    controller is told after every frame; returns (processed, largest backlog in frames)."""
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
        ctrl.set_capacity(1.0 / service_time)
    return processed, backlog


def test_enough_capacity_keeps_every_frame() -> None:
    ctrl = StrideController(max_stride=8)
    ctrl.set_fps(30)
    assert feed(ctrl, 100.0) == 1
    assert [ctrl.admit() for _ in range(10)] == [True] * 10


def test_too_little_capacity_grows_the_stride_with_headroom() -> None:
    ctrl = StrideController(max_stride=8, headroom=0.85)
    ctrl.set_fps(30)
    assert feed(ctrl, 10.0) == pytest.approx(30 / 10 / 0.85)
    admitted = [ctrl.admit() for _ in range(300)]
    assert sum(admitted) == pytest.approx(300 / (30 / 10 / 0.85), abs=1)
    processed, backlog = simulate(StrideController(max_stride=8), fps=30, service_time=0.1, seconds=20)
    assert processed >= 150 and backlog <= 2, (processed, backlog)


def test_a_fractional_stride_processes_that_share_evenly() -> None:
    """25 frames/s of capacity for a 30 fps camera: about 21 frames/s processed (headroom 0.85),
    not the 15 an integer stride of 2 would give, and never two skips in a row."""
    ctrl = StrideController(max_stride=8)
    ctrl.set_fps(30)
    feed(ctrl, 25.0)
    assert 1 < ctrl.stride < 2
    admitted = [ctrl.admit() for _ in range(300)]
    assert sum(admitted) == pytest.approx(300 / ctrl.stride, abs=1)
    runs = [len(list(g)) for skipped, g in itertools.groupby(admitted) if not skipped]
    assert max(runs) == 1, "skips are spread out, one at a time"


def test_an_integer_stride_admits_the_first_and_then_every_nth() -> None:
    ctrl = StrideController(max_stride=8, headroom=1.0)
    ctrl.set_fps(30)
    feed(ctrl, 10.0)
    assert ctrl.stride == 3
    assert [ctrl.admit() for _ in range(7)] == [True, False, False, True, False, False, True]


def test_bounded_by_max_stride() -> None:
    ctrl = StrideController(max_stride=4)
    ctrl.set_fps(30)
    assert feed(ctrl, 1.0) == 4


def test_recovers_to_one_when_capacity_comes_back() -> None:
    ctrl = StrideController(max_stride=8, patience=5)
    ctrl.set_fps(30)
    assert feed(ctrl, 5.0) > 6
    feed(ctrl, 200.0, n=4)
    assert ctrl.stride > 6, "one good measurement does not lower the stride at once"
    feed(ctrl, 200.0, n=10)
    assert ctrl.stride == 1


def test_a_stride_just_above_one_comes_back_to_one() -> None:
    """Within 5 % of the floor: the dead band must not keep it at 1.05 for ever."""
    ctrl = StrideController(max_stride=8, patience=3)
    ctrl.set_fps(30)
    assert feed(ctrl, 34.0, n=1) == pytest.approx(30 / 34 / 0.85)
    assert 1 < ctrl.stride < 1.05
    assert feed(ctrl, 60.0, n=3) == 1


def test_no_wandering_with_noisy_capacity() -> None:
    """Capacity jittering by +-3 % around a value: the stride settles and stays."""
    ctrl = StrideController(max_stride=8)
    ctrl.set_fps(20)
    strides = [ctrl.set_capacity(10.0 * (1.03 if i % 2 else 0.97)) for i in range(400)]
    changes = sum(1 for a, b in itertools.pairwise(strides) if a != b)
    assert changes <= 2, strides[:20]


def test_unknown_fps_processes_everything_and_unknown_capacity_keeps_the_stride() -> None:
    ctrl = StrideController(max_stride=8)
    feed(ctrl, 1.0)
    assert ctrl.stride == 1
    ctrl.set_fps(30)
    assert ctrl.stride == 8
    ctrl.set_capacity(None)
    assert ctrl.stride == 8
    ctrl.set_fps(None)
    assert ctrl.stride == 1


def test_latency_over_target_raises_and_blocks_lowering() -> None:
    ctrl = StrideController(max_stride=8, patience=3, target_latency_s=0.5)
    ctrl.set_fps(30)
    feed(ctrl, 100.0)
    assert ctrl.stride == 1
    for _ in range(3):
        ctrl.observe_latency(1.5)
    assert ctrl.stride == pytest.approx(1.25)
    feed(ctrl, 100.0)  # capacity says 1 would do, but the latency is still high
    assert ctrl.stride == pytest.approx(1.25)
    for _ in range(30):
        ctrl.observe_latency(0.1)
    feed(ctrl, 100.0)
    assert ctrl.stride == 1


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="max_stride must be >= 1"):
        StrideController(max_stride=0)
    with pytest.raises(ValueError, match="headroom must be"):
        StrideController(headroom=0)
    with pytest.raises(ValueError, match="capacity must be"):
        StrideController().set_capacity(float("nan"))
    with pytest.raises(ValueError, match="capacity must be"):
        StrideController().set_capacity(0)
    with pytest.raises(ValueError, match="fps must be"):
        StrideController().set_fps(-1)
