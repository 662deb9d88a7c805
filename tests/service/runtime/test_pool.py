"""What the pool can do: a worker's cost per batch size, the pool's capacity, fair shares. Pure logic."""

from __future__ import annotations

import pytest

from service.runtime.pool import BatchCost, PoolMeter, fair_shares


def test_a_batch_cost_learns_fixed_and_per_frame_parts() -> None:
    cost = BatchCost(alpha=0.2)
    for _ in range(20):  # a GPU: 20 ms per call plus 5 ms per frame
        for n in (1, 2, 4, 8):
            cost.observe(n, 0.020 + 0.005 * n)
    fixed, per_frame = cost.coefficients()  # type: ignore[misc]
    assert fixed == pytest.approx(0.020, rel=0.05)
    assert per_frame == pytest.approx(0.005, rel=0.05)
    assert cost.predict(10) == pytest.approx(0.070, rel=0.05)
    # 60 ms of budget: (0.060 - 0.020) / 0.005 = 8 frames; capped by the batch size.
    assert cost.frames_within(0.060, cap=64) == 8
    assert cost.frames_within(0.060, cap=4) == 4
    assert cost.frames_within(0.001, cap=64) == 1, "at least one frame, whatever the budget"


def test_one_batch_size_seen_is_all_per_frame() -> None:
    cost = BatchCost()
    assert cost.frames_within(1.0, cap=8) == 1, "nothing measured yet: one frame first"
    assert cost.seconds_per_frame is None and cost.predict(3) is None
    for _ in range(5):
        cost.observe(1, 0.030)
    assert cost.coefficients() == (0.0, pytest.approx(0.030))
    assert cost.frames_within(0.100, cap=8) == 3
    assert cost.seconds_per_frame == pytest.approx(0.030)


def test_the_cost_follows_a_slowdown() -> None:
    cost = BatchCost(alpha=0.3)
    for _ in range(10):
        cost.observe(1, 0.040)
    for _ in range(20):
        cost.observe(1, 0.080)  # another job now shares the CPU
    assert cost.seconds_per_frame == pytest.approx(0.080, rel=0.01)


def test_bad_observations_are_refused() -> None:
    with pytest.raises(ValueError, match="frames must be >= 1"):
        BatchCost().observe(0, 0.1)
    with pytest.raises(ValueError, match="seconds must be"):
        BatchCost().observe(1, float("inf"))


def test_pool_capacity_adds_the_workers_up() -> None:
    meter = PoolMeter()
    assert meter.capacity(["a", "b"]) is None
    for _ in range(5):
        meter.cost("a").observe(1, 0.050)  # 20 frames/s
        meter.cost("b").observe(4, 0.100)  # 40 frames/s in batches of 4
    assert meter.capacity(["a", "b"]) == pytest.approx(60.0)
    assert meter.capacity(["a"]) == pytest.approx(20.0), "a worker that left no longer counts"
    # A third worker that has not run yet counts at the others' mean rate.
    assert meter.capacity(["a", "b", "c"]) == pytest.approx(90.0)


def test_fair_shares_give_small_demands_what_they_need() -> None:
    assert fair_shares(60.0, [30.0, 30.0]) == [30.0, 30.0]
    assert fair_shares(100.0, [30.0, 5.0]) == [62.5, 37.5], "what is left over is split on top"
    assert fair_shares(30.0, [30.0, 30.0]) == [15.0, 15.0]
    assert fair_shares(30.0, [30.0, 5.0]) == [25.0, 5.0]
    # None: a file read as fast as possible takes whatever is left, sharing equally with the hungry.
    assert fair_shares(40.0, [10.0, None, 30.0]) == [10.0, 15.0, 15.0]
    assert fair_shares(10.0, []) == []
    with pytest.raises(ValueError, match="capacity must be >= 0"):
        fair_shares(-1.0, [1.0])
