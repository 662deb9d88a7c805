"""The judge's event-level view: the served hysteresis over whole clips, scored per labelled segment."""

from __future__ import annotations

import numpy as np
import pytest

from inference.decision import DecisionRule, Prediction, decide
from inference.hysteresis import SegmentParams
from inference.windows import Window
from training.real_events import Span, confirmed_spans, score_events, summarise_events

LABELS = ("BOXING", "JUMPING")


def window(track: int, i: int) -> Window:
    """Window i of a track: 0.25 s hop, 1.0 s long."""
    return Window(
        track_id=track, start_pts=i * 0.25, end_pts=i * 0.25 + 1.0, features=np.zeros((2, 34), np.float32)
    )


PROBS = {"BOXING": [0.9, 0.1], "JUMPING": [0.1, 0.9], None: [0.45, 0.55]}  # None: unsure, JUMPING on top


def said(label: str | None) -> Prediction:
    return decide(np.array([PROBS[label]]), LABELS, DecisionRule(reject_threshold=0.6))[0]


def test_confirmed_spans_follow_the_served_rule_per_track() -> None:
    # Track 1 boxes for windows 0-9 then stops; track 2 never settles (no span); order mixed up on purpose.
    ws = [window(1, i) for i in range(14)] + [window(2, i) for i in range(14)]
    preds = [said("BOXING" if i < 10 else None) for i in range(14)]
    preds += [said("JUMPING" if i % 2 else "BOXING") for i in range(14)]
    order = np.random.default_rng(0).permutation(len(ws))
    spans = confirmed_spans([ws[i] for i in order], [preds[i] for i in order], SegmentParams())
    assert spans == [Span(1, "BOXING", 0.0, 9 * 0.25 + 1.0)]
    # a segment still running when the track's windows end is closed there
    spans = confirmed_spans(ws[:8], preds[:8])
    assert spans == [Span(1, "BOXING", 0.0, 7 * 0.25 + 1.0)]
    with pytest.raises(ValueError, match="one prediction per window"):
        confirmed_spans(ws, preds[:3])


def test_score_events_counts_frames_under_right_wrong_and_any() -> None:
    times = np.arange(100) / 10.0  # a labelled segment of 100 frames, 0-9.9 s
    spans = [Span(1, "BOXING", 0.0, 4.95), Span(1, "JUMPING", 7.0, 7.95), Span(2, "JUMPING", 20.0, 21.0)]
    s = score_events("BOXING", LABELS, times, spans)
    assert (s.frames, s.right, s.wrong, s.any, s.events) == (100, 0.5, 0.1, 0.6, 2)
    neg = score_events("none (walking)", LABELS, times, spans)
    assert neg.right is None and neg.any == pytest.approx(0.6) and neg.events == 2
    quiet = score_events("none (standing)", LABELS, times, [])
    assert (quiet.any, quiet.events) == (0.0, 0)
    summary = summarise_events(
        [
            ("BOXING", "action", s),
            ("none (walking)", "negative", neg),
            ("none (standing)", "negative", quiet),
        ],
        LABELS,
    )
    assert summary["right_coverage"] == pytest.approx(0.5) and summary["per_class"] == {"BOXING": 0.5}
    assert summary["wrong_share"] == pytest.approx(0.1)
    assert summary["negative_event_share"] == pytest.approx(0.3)  # 60 of 200 frames
    assert (summary["negative_events"], summary["negative_segments_with_events"]) == (2, 1)
