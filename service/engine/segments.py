"""Turn a noisy stream of per-window classifications into start/update/end action segments.

Per (camera, track):

- every classification whose top probability reaches ``update_min_confidence`` is an ``update``;
- a label *starts* once it has been the top label with probability >= ``enter_threshold`` in
  ``min_windows`` consecutive windows;
- the running label *ends* after ``exit_windows`` consecutive windows that go against it: another
  label is on top, or its own probability is below ``exit_threshold``; a window that supports it
  again resets that count, so one noisy window never ends (or starts) a segment;
- it also ends when the track ends (person left, tracker dropped them) or the camera stops.

When another label ends the running one, and has already won its ``min_windows``, it starts in the
same step: the ``end`` event comes first. Pure logic: no clock, no I/O; returns the events to publish.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.outputs.events import ActionEvent


@dataclass(frozen=True)
class Classification:
    """One classified window of one track, with the frame it was made on."""

    camera: str
    track_id: int
    labels: tuple[str, ...]
    probabilities: tuple[float, ...]
    window_start_pts: float
    window_end_pts: float
    frame_seq: int
    pts: float
    capture_time: float | None = None

    def __post_init__(self) -> None:
        if len(self.labels) == 0 or len(self.labels) != len(self.probabilities):
            raise ValueError(
                f"Classification needs one probability per label: {len(self.labels)} labels, "
                f"{len(self.probabilities)} probabilities"
            )
        object.__setattr__(self, "probabilities", tuple(float(p) for p in self.probabilities))
        if any(not (math.isfinite(p) and 0.0 <= p <= 1.0) for p in self.probabilities):
            raise ValueError(f"Classification.probabilities must be in [0, 1], got {self.probabilities}")

    @property
    def top(self) -> tuple[str, float]:
        i = max(range(len(self.probabilities)), key=self.probabilities.__getitem__)
        return self.labels[i], self.probabilities[i]

    def probability(self, label: str) -> float:
        return self.probabilities[self.labels.index(label)] if label in self.labels else 0.0

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.labels, self.probabilities, strict=True))


@dataclass
class _Track:
    active: str | None = None
    segment_start_pts: float = 0.0
    segment_end_pts: float = 0.0
    segment_confidences: list[float] = field(default_factory=list)
    candidate: str | None = None
    candidate_count: int = 0
    candidate_start_pts: float = 0.0
    candidate_confidences: list[float] = field(default_factory=list)
    against: int = 0


MAX_WINDOWS = 1000


@dataclass(frozen=True)
class SegmentParams:
    """The hysteresis knobs, their defaults and bounds (``config.SegmentConfig`` offers the first
    four under the same names and is checked by building this)."""

    enter_threshold: float = 0.6
    exit_threshold: float = 0.4
    min_windows: int = 3
    exit_windows: int = 3
    update_min_confidence: float = 0.0

    def __post_init__(self) -> None:
        enter, exit_ = self.enter_threshold, self.exit_threshold
        if not (0.0 <= exit_ <= 1.0 and 0.0 <= enter <= 1.0):
            raise ValueError(f"enter_threshold and exit_threshold must be in [0, 1], got {enter}, {exit_}")
        if exit_ > enter:
            raise ValueError(
                f"exit_threshold ({exit_}) must be <= enter_threshold ({enter}) "
                "(need 0 <= exit_threshold <= enter_threshold <= 1)"
            )
        for name in ("min_windows", "exit_windows"):
            value = getattr(self, name)
            if not 1 <= value <= MAX_WINDOWS:
                raise ValueError(f"{name} must be in 1..{MAX_WINDOWS}, got {value}")
        if not 0.0 <= self.update_min_confidence <= 1.0:
            raise ValueError(f"update_min_confidence must be in [0, 1], got {self.update_min_confidence}")


class SegmentTracker:
    """Segment state of every (camera, track); feed it classifications and ended tracks."""

    def __init__(self, params: SegmentParams | None = None) -> None:
        self.params = params if params is not None else SegmentParams()
        self._tracks: dict[tuple[str, int], _Track] = {}

    def active_label(self, camera: str, track_id: int) -> str | None:
        t = self._tracks.get((camera, track_id))
        return t.active if t else None

    def observe(self, c: Classification) -> list[ActionEvent]:
        """Events caused by one classification, in publishing order (end, start, update)."""
        p = self.params
        t = self._tracks.setdefault((c.camera, c.track_id), _Track())
        label, conf = c.top
        events: list[ActionEvent] = []

        # Candidate streak: a label other than the running one winning clearly, window after window.
        if conf >= p.enter_threshold and label != t.active:
            if label == t.candidate:
                t.candidate_count += 1
            else:
                t.candidate, t.candidate_count, t.candidate_start_pts = label, 1, c.window_start_pts
                t.candidate_confidences = []
            t.candidate_confidences.append(conf)
        else:
            t.candidate, t.candidate_count, t.candidate_confidences = None, 0, []

        if t.active is not None:
            own = c.probability(t.active)
            if label == t.active and own >= p.exit_threshold:
                t.against = 0
                t.segment_end_pts = c.window_end_pts
                t.segment_confidences.append(own)
            else:
                t.against += 1
                if t.against >= p.exit_windows:
                    events.append(self._end_event(c, t))
                    t.active, t.against = None, 0

        if t.active is None and t.candidate is not None and t.candidate_count >= p.min_windows:
            t.active = t.candidate
            t.segment_start_pts = t.candidate_start_pts
            t.segment_end_pts = c.window_end_pts
            t.segment_confidences = list(t.candidate_confidences)
            t.against = 0
            events.append(
                ActionEvent(
                    type="start",
                    camera=c.camera,
                    track_id=c.track_id,
                    label=t.active,
                    confidence=conf,
                    probabilities=c.as_dict(),
                    window_start_pts=t.segment_start_pts,
                    window_end_pts=c.window_end_pts,
                    frame_seq=c.frame_seq,
                    pts=c.pts,
                    capture_time=c.capture_time,
                )
            )
            t.candidate, t.candidate_count, t.candidate_confidences = None, 0, []

        if conf >= p.update_min_confidence:
            events.append(
                ActionEvent(
                    type="update",
                    camera=c.camera,
                    track_id=c.track_id,
                    label=label,
                    confidence=conf,
                    probabilities=c.as_dict(),
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
        if t is None or t.active is None:
            return []
        return [self._final_end(camera, track_id, t, frame_seq=frame_seq, pts=pts, capture_time=capture_time)]

    def end_camera(
        self, camera: str, *, frame_seq: int, pts: float, capture_time: float | None = None
    ) -> list[ActionEvent]:
        """The camera stopped or ended: end every running segment on it."""
        events: list[ActionEvent] = []
        for cam, track_id in sorted(k for k in self._tracks if k[0] == camera):
            events += self.end_track(cam, track_id, frame_seq=frame_seq, pts=pts, capture_time=capture_time)
        return events

    def _end_event(self, c: Classification, t: _Track) -> ActionEvent:
        assert t.active is not None
        probs = c.as_dict()
        if t.active not in probs:
            probs = {}
        return ActionEvent(
            type="end",
            camera=c.camera,
            track_id=c.track_id,
            label=t.active,
            confidence=_mean(t.segment_confidences),
            probabilities=probs,
            window_start_pts=t.segment_start_pts,
            window_end_pts=max(t.segment_end_pts, t.segment_start_pts),
            frame_seq=c.frame_seq,
            pts=c.pts,
            capture_time=c.capture_time,
        )

    @staticmethod
    def _final_end(
        camera: str, track_id: int, t: _Track, *, frame_seq: int, pts: float, capture_time: float | None
    ) -> ActionEvent:
        assert t.active is not None
        return ActionEvent(
            type="end",
            camera=camera,
            track_id=track_id,
            label=t.active,
            confidence=_mean(t.segment_confidences),
            probabilities={},
            window_start_pts=t.segment_start_pts,
            window_end_pts=max(t.segment_end_pts, t.segment_start_pts),
            frame_seq=frame_seq,
            pts=pts,
            capture_time=capture_time,
        )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
