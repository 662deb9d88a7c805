"""A video's action timeline per person, from the engine's classifications.

Two views of the same run, both in frame numbers (inclusive) and seconds:

- ``segments``: what the model said, all along. Each classified window speaks for the frames since
  the track's previous window (a track's first window for its whole span); consecutive windows with
  the same decision form one segment, whose confidence is the mean probability of that label over
  its windows. Windows that name no known action form segments too, with label None (JSON
  ``null``; CSV :data:`~inference.decision.NO_ACTION_LABEL`) and as confidence the mean of one minus
  the best action's probability. Uncertain stretches show up as such (low confidence, labels that
  alternate).
- ``confirmed``: the service's hysteresis segments (a label must win ``min_windows`` windows in a
  row above ``enter_threshold``): exactly the ``start``/``end`` events ``serve`` would publish.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from inference.windows import SAME_INSTANT_S as _EPS_S
from service.engine.segments import Classification
from service.outputs.events import ActionEvent


@dataclass(frozen=True, slots=True)
class Segment:
    """One action of one person (label None: no known action), when (frames inclusive, seconds),
    mean confidence."""

    track_id: int
    label: str | None
    start_s: float
    end_s: float
    start_frame: int
    end_frame: int
    confidence: float
    windows: int = 0

    def __post_init__(self) -> None:
        if self.end_frame < self.start_frame:
            raise ValueError(f"Segment ends (frame {self.end_frame}) before it starts ({self.start_frame})")


@dataclass
class _Run:
    label: str | None
    start: int
    end: int
    probabilities: list[float]


def label_segments(
    classifications: Sequence[Classification],
    pts: Sequence[float],
    last_seen: Mapping[int, int],
    *,
    max_gap_s: float,
) -> tuple[Segment, ...]:
    """Runs of the decided label (None: no action) per track. ``classifications[i].frame_seq``
    indexes ``pts`` (the pts of every frame of the video); ``last_seen`` maps track id -> last
    frame the person was seen in, so a track's last run reaches it (when within ``max_gap_s``); a
    longer gap between two windows of a track starts afresh from the later window's own start."""
    by_track: dict[int, list[Classification]] = {}
    for c in classifications:
        by_track.setdefault(c.track_id, []).append(c)
    out: list[Segment] = []
    for track_id in sorted(by_track):
        runs: list[_Run] = []
        prev: Classification | None = None
        for c in sorted(by_track[track_id], key=lambda c: c.frame_seq):
            if prev is None or c.pts - prev.pts > max_gap_s + _EPS_S:
                start = frame_at(pts, c.window_start_pts)
            else:
                start = prev.frame_seq + 1
            label = c.label
            sure = c.probability(label) if label is not None else 1.0 - c.confidence
            end = max(start, c.frame_seq)
            if runs and runs[-1].label == label and runs[-1].end + 1 >= start:
                runs[-1].end = end
                runs[-1].probabilities.append(sure)
            else:
                runs.append(_Run(label, start, end, [sure]))
            prev = c
        if prev is not None and runs:
            seen = last_seen.get(track_id, prev.frame_seq)
            if seen > runs[-1].end and pts[seen] - prev.pts <= max_gap_s + _EPS_S:
                runs[-1].end = seen
        out += [
            Segment(
                track_id=track_id,
                label=r.label,
                start_s=round(float(pts[r.start]), 3),
                end_s=round(float(pts[r.end]), 3),
                start_frame=r.start,
                end_frame=r.end,
                confidence=round(float(np.mean(r.probabilities)), 4),
                windows=len(r.probabilities),
            )
            for r in runs
        ]
    return tuple(sorted(out, key=lambda s: (s.start_frame, s.track_id)))


def confirmed_segments(events: Sequence[ActionEvent], pts: Sequence[float]) -> tuple[Segment, ...]:
    """The hysteresis segments: one per ``end`` event (the camera's end closes the running ones)."""
    out = []
    last = len(pts) - 1
    for e in events:
        if e.type != "end" or last < 0:
            continue
        start = frame_at(pts, e.window_start_pts)
        end = max(start, min(bisect.bisect_right(pts, e.window_end_pts + _EPS_S) - 1, last))
        out.append(
            Segment(
                track_id=e.track_id,
                label=e.label,
                start_s=round(float(pts[start]), 3),
                end_s=round(float(pts[end]), 3),
                start_frame=start,
                end_frame=end,
                confidence=round(float(e.confidence), 4),
            )
        )
    return tuple(sorted(out, key=lambda s: (s.start_frame, s.track_id)))


def frame_at(pts: Sequence[float], t: float) -> int:
    """The first frame at or after ``t`` (clamped to the video)."""
    return max(0, min(bisect.bisect_left(pts, t - _EPS_S), len(pts) - 1))


def coverage(segments: Sequence[Segment], frames: int) -> float:
    """The share of ``frames`` inside at least one segment."""
    covered = np.zeros(max(0, frames), bool)
    for s in segments:
        covered[s.start_frame : s.end_frame + 1] = True
    return float(covered.mean()) if frames > 0 else 0.0
