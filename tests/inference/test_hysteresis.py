"""The one segment rule (inference.hysteresis), fed decisions directly."""

from __future__ import annotations

import numpy as np
import pytest

from inference.decision import DecisionRule, Prediction, decide
from inference.hysteresis import Ended, Hysteresis, SegmentParams, Started, supports

LABELS = ("BOXING", "CLAPPING_HANDS", "WAVING_1HAND")


def said(label: str | None, p: float, *, background: float | None = None, missing: float = 0.0) -> Prediction:
    rest = (1.0 - p) / (len(LABELS) - 1)
    probs = np.array([p if x == label else rest for x in LABELS] if label else [1 / 3] * 3)
    bg = None
    if background is not None:
        probs, bg = probs * (1.0 - background), np.array([background])
    return decide(probs[None], LABELS, DecisionRule(), background=bg, missing_fraction=[missing])[0]


def feed(h: Hysteresis, seq: list[Prediction]) -> list[tuple[int, Started | Ended]]:
    return [(i, t) for i, p in enumerate(seq) for t in h.step(p, i * 0.25, i * 0.25 + 1.45)]


def test_a_label_starts_after_min_windows_and_ends_after_exit_windows() -> None:
    h = Hysteresis(SegmentParams(min_windows=3, exit_windows=2))
    out = feed(h, [said("BOXING", 0.9)] * 4 + [said("CLAPPING_HANDS", 0.9)] * 2)
    assert [(i, type(t).__name__, t.label) for i, t in out] == [
        (2, "Started", "BOXING"),
        (5, "Ended", "BOXING"),
    ]
    start, end = out[0][1], out[1][1]
    assert start.start_pts == 0.0 and start.confidence == pytest.approx(0.9)
    assert end.start_pts == 0.0 and end.end_pts == pytest.approx(
        3 * 0.25 + 1.45
    )  # the last supporting window
    assert end.confidence == pytest.approx(0.9)
    assert h.active is None and h.finish() is None


def test_unsure_windows_in_the_band_keep_a_segment_but_never_start_one() -> None:
    """Below the reject threshold (0.5) the window names no action; above exit (0.4) with the
    running label on top it still supports it. The same windows alone start nothing."""
    band = said("BOXING", 0.45)
    assert band.label is None and band.reason == "unsure"
    assert supports(band, "BOXING", 0.4) and not supports(band, "BOXING", 0.5)
    h = Hysteresis(SegmentParams(min_windows=2, exit_windows=2))
    assert [type(t).__name__ for _, t in feed(h, [said("BOXING", 0.9)] * 2 + [band] * 10)] == ["Started"]
    assert h.active == "BOXING"
    assert feed(Hysteresis(SegmentParams(min_windows=1, enter_threshold=0.4)), [band] * 10) == []


def test_background_and_incomplete_windows_go_against_and_never_start() -> None:
    bg = said("BOXING", 0.9, background=0.6)
    gone = said("BOXING", 0.95, missing=0.9)
    assert (bg.reason, gone.reason) == ("background", "incomplete")
    assert not supports(bg, "BOXING", 0.0) and not supports(gone, "BOXING", 0.0)
    for against in (bg, gone):
        h = Hysteresis(SegmentParams(min_windows=1, exit_windows=2))
        out = feed(h, [said("BOXING", 0.9), against, against, against])
        assert [type(t).__name__ for _, t in out] == ["Started", "Ended"]
        assert feed(Hysteresis(SegmentParams(min_windows=1)), [against] * 5) == []


def test_finish_ends_the_running_segment_once() -> None:
    h = Hysteresis(SegmentParams(min_windows=1))
    feed(h, [said("WAVING_1HAND", 0.8)] * 3)
    done = h.finish()
    assert isinstance(done, Ended) and done.label == "WAVING_1HAND"
    assert done.confidence == pytest.approx(0.8) and done.end_pts == pytest.approx(2 * 0.25 + 1.45)
    assert h.finish() is None
