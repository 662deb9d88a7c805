"""Pose results back in capture order: what several workers return in any order, released per camera
in ticket order (detectron2's ``AsyncPredictor`` pattern: results are put back by sequence number).

A ticket numbers a camera's admitted frames 0, 1, 2, ... without gaps (:mod:`service.runtime.admission`),
so the buffer always knows which one is next. A ticket whose result can never come (its worker died,
or hangs) is given up: its turn is passed over, and if its result turns up after all it is discarded.

Pure bookkeeping, no thread and no lock: the analysis stage owns it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from inference.poses import Poses
from service.runtime.admission import Ticket


@dataclass(frozen=True, slots=True)
class PoseOutcome:
    """What a pose worker made of one ticket: the people found, or None when the call failed (the
    worker has logged and counted the failure)."""

    ticket: Ticket
    poses: Poses | None


class _Camera:
    __slots__ = ("given_up", "next", "pending")

    def __init__(self) -> None:
        self.next = 0
        self.pending: dict[int, PoseOutcome] = {}
        self.given_up: set[int] = set()


class ReorderBuffer:
    """Per camera: outcomes in, in any order; out, in ticket order."""

    def __init__(self, camera_ids: Iterable[str]) -> None:
        self._cameras = {camera_id: _Camera() for camera_id in camera_ids}

    def add(self, outcome: PoseOutcome) -> bool:
        """Keep an outcome until its turn; False (and discarded) when its turn has passed."""
        cam = self._cameras[outcome.ticket.camera_id]
        index = outcome.ticket.index
        if index < cam.next or index in cam.given_up:
            return False
        if index in cam.pending:
            raise ValueError(f"ticket {outcome.ticket.camera_id}#{index} returned twice")
        cam.pending[index] = outcome
        return True

    def give_up(self, camera_id: str, index: int) -> bool:
        """Ticket ``index`` will never be returned: pass over it. True if it was still awaited."""
        cam = self._cameras[camera_id]
        if index < cam.next or index in cam.given_up or index in cam.pending:
            return False
        cam.given_up.add(index)
        return True

    def pop_ready(self) -> list[PoseOutcome]:
        """Every outcome whose turn has come, each camera's in ticket order (cameras one after another)."""
        out: list[PoseOutcome] = []
        for cam in self._cameras.values():
            while True:
                if cam.next in cam.pending:
                    out.append(cam.pending.pop(cam.next))
                elif cam.next in cam.given_up:
                    cam.given_up.discard(cam.next)
                else:
                    break
                cam.next += 1
        return out

    def released(self, camera_id: str) -> int:
        """How many of the camera's tickets have had their turn (released or passed over)."""
        return self._cameras[camera_id].next

    def waiting(self, camera_id: str) -> int:
        """Outcomes of the camera held back, waiting for an earlier one."""
        return len(self._cameras[camera_id].pending)
