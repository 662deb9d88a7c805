"""Per-window decisions become ``update`` events and debounced ``start``/``end`` action segments.

Per (camera, track), every classified window is an ``update`` (also when it names no action:
``label`` null and a ``reason``); its segments follow the one hysteresis rule of
:mod:`inference.hysteresis` (a label starts after ``min_windows`` windows that name it above
``enter_threshold``, ends after ``exit_windows`` windows against it, or with the track or camera).
"No action" never starts a segment. Pure logic: no clock, no I/O; returns the events to publish.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.decision import Prediction
from inference.hysteresis import Ended, Hysteresis, SegmentParams, Started
from service.outputs.events import ActionEvent

__all__ = ["Classification", "SegmentParams", "SegmentTracker"]


@dataclass(frozen=True)
class Classification:
    """One classified window of one track (the model's decision on it), with the frame it was made on."""

    camera: str
    track_id: int
    prediction: Prediction
    window_start_pts: float
    window_end_pts: float
    frame_seq: int
    pts: float
    capture_time: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.prediction, Prediction) or not self.prediction.labels:
            raise ValueError(
                f"Classification.prediction must be a Prediction with labels, got {self.prediction!r}"
            )

    @property
    def labels(self) -> tuple[str, ...]:
        return self.prediction.labels

    @property
    def probabilities(self) -> tuple[float, ...]:
        return self.prediction.probabilities

    @property
    def label(self) -> str | None:
        """The action the window names, None for no known action."""
        return self.prediction.label

    @property
    def confidence(self) -> float:
        return self.prediction.confidence

    def probability(self, label: str) -> float:
        return self.probabilities[self.labels.index(label)] if label in self.labels else 0.0

    def as_dict(self) -> dict[str, float]:
        return self.prediction.as_dict()


class SegmentTracker:
    """Segment state of every (camera, track); feed it classifications and ended tracks."""

    def __init__(self, params: SegmentParams | None = None) -> None:
        self.params = params if params is not None else SegmentParams()
        self._tracks: dict[tuple[str, int], Hysteresis] = {}

    def active_label(self, camera: str, track_id: int) -> str | None:
        t = self._tracks.get((camera, track_id))
        return t.active if t else None

    def observe(self, c: Classification) -> list[ActionEvent]:
        """Events caused by one classification, in publishing order (end, start, update)."""
        t = self._tracks.setdefault((c.camera, c.track_id), Hysteresis(self.params))
        events = [self._boundary(c, s) for s in t.step(c.prediction, c.window_start_pts, c.window_end_pts)]
        p = c.prediction
        if p.label is None or p.confidence >= self.params.update_min_confidence:
            events.append(
                ActionEvent(
                    type="update",
                    camera=c.camera,
                    track_id=c.track_id,
                    label=p.label,
                    reason=p.reason,
                    confidence=p.confidence,
                    probabilities=c.as_dict(),
                    background=p.background,
                    window_start_pts=c.window_start_pts,
                    window_end_pts=c.window_end_pts,
                    frame_seq=c.frame_seq,
                    pts=c.pts,
                    capture_time=c.capture_time,
                )
            )
        return events

    def end_track(
        self, camera: str, track_id: int, *, frame_seq: int, pts: float, capture_time: float | None = None
    ) -> list[ActionEvent]:
        """The track is gone: end its segment (if one runs) and forget it."""
        t = self._tracks.pop((camera, track_id), None)
        done = t.finish() if t is not None else None
        if done is None:
            return []
        return [
            _event(
                "end",
                camera,
                track_id,
                done,
                probabilities={},
                background=None,
                frame_seq=frame_seq,
                pts=pts,
                capture_time=capture_time,
            )
        ]

    def end_camera(
        self, camera: str, *, frame_seq: int, pts: float, capture_time: float | None = None
    ) -> list[ActionEvent]:
        """The camera stopped or ended: end every running segment on it."""
        events: list[ActionEvent] = []
        for cam, track_id in sorted(k for k in self._tracks if k[0] == camera):
            events += self.end_track(cam, track_id, frame_seq=frame_seq, pts=pts, capture_time=capture_time)
        return events

    @staticmethod
    def _boundary(c: Classification, s: Started | Ended) -> ActionEvent:
        kind = "start" if isinstance(s, Started) else "end"
        probs = c.as_dict() if s.label in c.labels else {}
        return _event(
            kind,
            c.camera,
            c.track_id,
            s,
            probabilities=probs,
            background=c.prediction.background if probs else None,
            frame_seq=c.frame_seq,
            pts=c.pts,
            capture_time=c.capture_time,
        )


def _event(
    kind: str,
    camera: str,
    track_id: int,
    s: Started | Ended,
    *,
    probabilities: dict[str, float],
    background: float | None,
    frame_seq: int,
    pts: float,
    capture_time: float | None,
) -> ActionEvent:
    """A ``start``/``end`` event: the segment's span (for ``start`` the windows that started it)."""
    return ActionEvent(
        type="start" if kind == "start" else "end",
        camera=camera,
        track_id=track_id,
        label=s.label,
        reason="action",
        confidence=s.confidence,
        probabilities=probabilities,
        background=background,
        window_start_pts=s.start_pts,
        window_end_pts=s.end_pts,
        frame_seq=frame_seq,
        pts=pts,
        capture_time=capture_time,
    )
