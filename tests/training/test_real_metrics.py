"""The judge's arithmetic: per-class pooling, macro over classes, the no-action outcome."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inference.decision import NO_ACTION_LABEL, DecisionRule, decide
from training.real_metrics import calibration_points, score_segment, segment_kind, summarise

LABELS = ("A", "B")


def preds(rows: list[list[float]], bg: list[float] | None = None) -> list:
    b = None if bg is None else np.asarray(bg)
    return decide(np.asarray(rows), LABELS, DecisionRule(0.5, 0.5), background=b)


def test_kinds() -> None:
    assert segment_kind("A", LABELS) == "action"
    assert segment_kind("none (walking)", LABELS) == "negative"
    assert segment_kind("idle (standing)", LABELS) == "negative"
    assert segment_kind("unlabelled (mixed)", LABELS) == "unlabelled"


def test_action_segment_counts_the_no_action_outcome_as_wrong() -> None:
    s = score_segment("A", LABELS, preds([[0.9, 0.1], [0.45, 0.4], [0.2, 0.8], [0.7, 0.3]]))
    assert s.kind == "action" and s.windows == 4
    assert s.predicted == {"A": 2, NO_ACTION_LABEL: 1, "B": 1}
    assert s.reasons == {"action": 3, "unsure": 1}
    assert s.accuracy == pytest.approx(0.5) and s.top_accuracy == pytest.approx(0.75)
    assert s.action_share is None and s.mean_label_probability == pytest.approx((0.9 + 0.45 + 0.2 + 0.7) / 4)


def test_negative_segment_share_naming_an_action() -> None:
    s = score_segment(
        "none (squats)", LABELS, preds([[0.3, 0.1], [0.6, 0.1], [0.1, 0.2]], bg=[0.6, 0.3, 0.7])
    )
    assert s.kind == "negative" and s.accuracy is None
    assert s.action_share == pytest.approx(1 / 3) and s.predicted == {NO_ACTION_LABEL: 2, "A": 1}


def test_summary_pools_windows_per_class_and_averages_classes() -> None:
    a1 = score_segment("A", LABELS, preds([[0.9, 0.1]] * 9 + [[0.1, 0.9]]))  # 0.9 of 10
    a2 = score_segment("A", LABELS, preds([[0.1, 0.9]] * 10))  # 0.0 of 10 -> A pooled 9/20
    b = score_segment("B", LABELS, preds([[0.1, 0.9]] * 4))  # 1.0 of 4
    n = score_segment("none (x)", LABELS, preds([[0.9, 0.1]] * 1 + [[0.4, 0.3]] * 3))
    u = score_segment("unlabelled (y)", LABELS, preds([[0.9, 0.1]] * 5))
    o = summarise([a1, a2, b, n, u], LABELS)
    assert o["per_class"] == {"A": pytest.approx(0.45), "B": pytest.approx(1.0)}
    assert o["macro_accuracy"] == pytest.approx((0.45 + 1.0) / 2)
    assert o["window_accuracy"] == pytest.approx(13 / 24) and o["windows"] == 24
    assert o["negative_action_share"] == pytest.approx(0.25) and o["negative_windows"] == 4
    assert o["negative_segments_with_actions"] == 1 and o["negative_segments"] == 1
    empty = summarise([u], LABELS)
    assert math.isnan(empty["macro_accuracy"]) and math.isnan(empty["negative_action_share"])  # type: ignore[arg-type]


def test_calibration_points() -> None:
    conf, ok = calibration_points("A", LABELS, preds([[0.8, 0.1], [0.2, 0.7]], bg=[0.1, 0.1]), True)
    np.testing.assert_allclose(conf, [0.8, 0.7])
    assert ok.tolist() == [True, False]
    conf, ok = calibration_points("none (x)", LABELS, preds([[0.2, 0.1], [0.6, 0.1]], bg=[0.7, 0.3]), True)
    np.testing.assert_allclose(conf, [0.7, 0.6])
    assert ok.tolist() == [True, False]
    assert len(calibration_points("none (x)", LABELS, preds([[0.6, 0.4]]), False)[0]) == 0
