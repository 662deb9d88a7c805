"""The judge's event-level view: what a subscriber would have received on labelled real footage.

Window accuracy says how often the model is right; users feel *events*. Here every window of a
clip (all tracks, as the service builds them) gets the served decision, and each track's decisions
go through the service's one hysteresis rule (:class:`inference.hysteresis.Hysteresis`, the rule
behind the ``start``/``end`` events) to give the confirmed segments ``serve`` would publish. Then,
per labelled segment, frame by frame:

* ``right``: the share of its frames under a confirmed segment of its own label (action segments);
* ``wrong``: the share under a confirmed segment of another label;
* ``any``: the share under any confirmed segment (on non-action segments every such frame is a false
  event: someone walking past announced as JUMPING);
* ``events``: how many confirmed segments overlap it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inference.decision import Prediction
from inference.hysteresis import Ended, Hysteresis, SegmentParams
from inference.windows import SAME_INSTANT_S as _EPS_S
from inference.windows import Window


@dataclass(frozen=True, slots=True)
class Span:
    """One confirmed segment of one track: ``label`` over source time ``start_pts..end_pts``."""

    track_id: int
    label: str
    start_pts: float
    end_pts: float


def confirmed_spans(
    windows: Sequence[Window], predictions: Sequence[Prediction], params: SegmentParams | None = None
) -> list[Span]:
    """The confirmed segments of every track of one clip: each track's windows, in time order,
    through the served hysteresis (a track's running segment ends with its last window, as it does
    when the service's tracker drops the person)."""
    if len(windows) != len(predictions):
        raise ValueError(f"one prediction per window: {len(windows)} windows, {len(predictions)} predictions")
    rule = params if params is not None else SegmentParams()
    by_track: dict[int, list[tuple[Window, Prediction]]] = {}
    for w, p in zip(windows, predictions, strict=True):
        by_track.setdefault(w.track_id, []).append((w, p))
    spans: list[Span] = []
    for track_id in sorted(by_track):
        h = Hysteresis(rule)
        for w, p in sorted(by_track[track_id], key=lambda wp: wp[0].end_pts):
            for t in h.step(p, w.start_pts, w.end_pts):
                if isinstance(t, Ended):
                    spans.append(Span(track_id, t.label, t.start_pts, t.end_pts))
        done = h.finish()
        if done is not None:
            spans.append(Span(track_id, done.label, done.start_pts, done.end_pts))
    return sorted(spans, key=lambda s: (s.start_pts, s.track_id))


@dataclass(frozen=True)
class EventScore:
    """One labelled segment under the confirmed segments (see the module docstring); ``right`` is
    None on segments whose label is not one of the model's."""

    frames: int
    right: float | None
    wrong: float
    any: float
    events: int


def score_events(
    label: str, model_labels: Sequence[str], times: np.ndarray, spans: Sequence[Span]
) -> EventScore:
    """Score the frames at ``times`` (seconds, one per frame of the labelled segment)."""
    t = np.asarray(times, np.float64)
    under_right = np.zeros(len(t), bool)
    under_wrong = np.zeros(len(t), bool)
    events = 0
    lo, hi = (float(t.min()), float(t.max())) if len(t) else (0.0, -1.0)
    for s in spans:
        covered = (t >= s.start_pts - _EPS_S) & (t <= s.end_pts + _EPS_S)
        if s.end_pts + _EPS_S >= lo and s.start_pts - _EPS_S <= hi:
            events += 1
        if s.label == label:
            under_right |= covered
        else:
            under_wrong |= covered
    n = len(t)

    def share(mask: np.ndarray) -> float:
        return float(mask.mean()) if n else 0.0

    return EventScore(
        frames=n,
        right=share(under_right) if label in model_labels else None,
        wrong=share(under_wrong),
        any=share(under_right | under_wrong),
        events=events,
    )


def summarise_events(
    scored: Sequence[tuple[str, str, EventScore]], model_labels: Sequence[str]
) -> dict[str, object]:
    """One model's event-level numbers over ``(label, kind, score)`` of its segments. Keys (stable):
    ``right_coverage`` (macro over classes of the pooled share of action frames under a confirmed
    segment of the right label), ``per_class``, ``wrong_share`` (pooled share of action frames under
    a wrong-label segment), ``negative_event_share`` (pooled share of non-action frames under any
    confirmed segment), ``negative_events`` (confirmed segments overlapping non-action segments),
    ``negative_segments_with_events``."""
    right = {label: 0.0 for label in model_labels}
    seen = {label: 0 for label in model_labels}
    wrong = 0.0
    neg_frames, neg_under, neg_events, neg_with = 0, 0.0, 0, 0
    for label, kind, s in scored:
        if not s.frames:
            continue
        if kind == "action":
            seen[label] += s.frames
            right[label] += (s.right or 0.0) * s.frames
            wrong += s.wrong * s.frames
        elif kind == "negative":
            neg_frames += s.frames
            neg_under += s.any * s.frames
            neg_events += s.events
            neg_with += s.events > 0
    per_class = {label: right[label] / seen[label] for label in model_labels if seen[label]}
    acting = sum(seen.values())
    return {
        "right_coverage": float(np.mean(list(per_class.values()))) if per_class else float("nan"),
        "per_class": per_class,
        "wrong_share": wrong / acting if acting else float("nan"),
        "negative_event_share": neg_under / neg_frames if neg_frames else float("nan"),
        "negative_events": neg_events,
        "negative_segments_with_events": neg_with,
    }
