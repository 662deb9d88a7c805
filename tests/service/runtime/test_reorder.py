"""Results back in capture order: out-of-order in, in-order out; a ticket given up is passed over."""

from __future__ import annotations

import numpy as np
import pytest

from capture.frame import Frame
from inference.poses import Poses
from service.runtime.admission import Ticket
from service.runtime.reorder import PoseOutcome, ReorderBuffer

IMAGE = np.zeros((4, 4, 3), np.uint8)


def outcome(camera: str, index: int, failed: bool = False) -> PoseOutcome:
    frame = Frame(camera, seq=10 * index, pts=index / 30, capture_time=0.0, image=IMAGE)
    return PoseOutcome(Ticket(camera, index, frame), None if failed else Poses.empty())


def indices(outcomes: list[PoseOutcome]) -> list[tuple[str, int]]:
    return [(o.ticket.camera_id, o.ticket.index) for o in outcomes]


def test_out_of_order_results_leave_in_ticket_order_per_camera() -> None:
    buf = ReorderBuffer(["a", "b"])
    for camera, index in [("a", 1), ("b", 0), ("a", 2)]:
        assert buf.add(outcome(camera, index))
    assert indices(buf.pop_ready()) == [("b", 0)], "camera a waits for its ticket 0"
    assert buf.waiting("a") == 2
    assert buf.add(outcome("a", 0))
    assert indices(buf.pop_ready()) == [("a", 0), ("a", 1), ("a", 2)]
    assert buf.released("a") == 3 and buf.released("b") == 1 and buf.waiting("a") == 0


def test_a_failed_pose_call_still_takes_its_turn() -> None:
    buf = ReorderBuffer(["a"])
    buf.add(outcome("a", 1))
    buf.add(outcome("a", 0, failed=True))
    out = buf.pop_ready()
    assert indices(out) == [("a", 0), ("a", 1)] and out[0].poses is None


def test_a_ticket_given_up_is_passed_over_and_its_late_result_discarded() -> None:
    buf = ReorderBuffer(["a"])
    buf.add(outcome("a", 1))
    buf.add(outcome("a", 2))
    assert buf.give_up("a", 0)
    assert not buf.give_up("a", 0), "once"
    assert not buf.give_up("a", 1), "a result that is here is not given up"
    assert indices(buf.pop_ready()) == [("a", 1), ("a", 2)]
    assert buf.released("a") == 3
    assert not buf.add(outcome("a", 0)), "came after its turn"
    # Given up before anything after it arrived: passed over when its turn comes.
    assert buf.give_up("a", 3)
    buf.add(outcome("a", 4))
    assert indices(buf.pop_ready()) == [("a", 4)]
    assert not buf.add(outcome("a", 3))


def test_a_ticket_returned_twice_is_a_bug() -> None:
    buf = ReorderBuffer(["a"])
    buf.add(outcome("a", 1))
    with pytest.raises(ValueError, match="returned twice"):
        buf.add(outcome("a", 1))
