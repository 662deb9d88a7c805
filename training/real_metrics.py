"""Scores of one model on labelled real segments, at the window level: what users feel.

A segment is one of three kinds for a given model:

* ``action``: its label is one of the model's labels; a window is right when the decision
  (:func:`inference.decision.decide`: an action or none) names that label;
* ``negative``: anything else (``none (...)`` rows, idle, a hug): nobody does one of the model's
  actions, so the right answer is *no action*; what counts is the share of windows that name one;
* ``unlabelled``: labels starting with ``unlabelled`` (mixed footage with no per-frame labels):
  shown, never scored.

Over a model's segments: accuracy per class (windows of all segments of that class pooled), the
macro mean over classes (every action class weighs the same, however much footage it has), the
pooled window accuracy, and on negative segments the pooled share of windows naming an action.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inference.decision import NO_ACTION_LABEL, Prediction

UNLABELLED_PREFIX = "unlabelled"
KINDS = ("action", "negative", "unlabelled")


def segment_kind(label: str, model_labels: Sequence[str]) -> str:
    """``action``, ``negative`` or ``unlabelled`` (see the module docstring)."""
    if label in model_labels:
        return "action"
    if label.lower().startswith(UNLABELLED_PREFIX):
        return "unlabelled"
    return "negative"


@dataclass(frozen=True)
class SegmentScore:
    """One model on one segment.

    ``predicted``: windows per decided label, :data:`~inference.decision.NO_ACTION_LABEL` for no
    action. ``reasons``: windows per decision reason (action, incomplete, background, unsure).
    ``accuracy`` (action segments): share of windows deciding the segment's label;
    ``top_accuracy``: the same for the most probable action, rejection ignored.
    ``action_share`` (negative segments): share of windows naming any action.
    """

    label: str
    kind: str
    windows: int
    predicted: dict[str, int]
    reasons: dict[str, int]
    accuracy: float | None
    top_accuracy: float | None
    action_share: float | None
    mean_label_probability: float | None
    mean_top_probability: float

    @property
    def is_action(self) -> bool:
        return self.kind == "action"


def score_segment(label: str, model_labels: Sequence[str], predictions: Sequence[Prediction]) -> SegmentScore:
    """Score the decisions of one model's windows inside one segment."""
    kind = segment_kind(label, model_labels)
    n = len(predictions)
    predicted = Counter(p.display_label for p in predictions)
    reasons = Counter(p.reason for p in predictions)
    top = np.array([max(p.probabilities) for p in predictions]) if n else np.zeros(0)
    accuracy = top_accuracy = action_share = label_p = None
    if kind == "action" and n:
        k = list(model_labels).index(label)
        accuracy = float(np.mean([p.label == label for p in predictions]))
        top_accuracy = float(np.mean([int(np.argmax(p.probabilities)) == k for p in predictions]))
        label_p = float(np.mean([p.probabilities[k] for p in predictions]))
    if kind == "negative" and n:
        action_share = float(np.mean([p.is_action for p in predictions]))
    return SegmentScore(
        label=label,
        kind=kind,
        windows=n,
        predicted=dict(predicted.most_common()),
        reasons=dict(reasons.most_common()),
        accuracy=accuracy,
        top_accuracy=top_accuracy,
        action_share=action_share,
        mean_label_probability=label_p,
        mean_top_probability=float(top.mean()) if n else float("nan"),
    )


def summarise(scores: Sequence[SegmentScore], model_labels: Sequence[str]) -> dict[str, object]:
    """One model's overall numbers over its segment scores (see the module docstring).

    Keys (stable, read by scripts): ``macro_accuracy``, ``per_class`` (label -> pooled window
    accuracy, classes without footage left out), ``window_accuracy``, ``windows`` (action windows),
    ``mean_segment_accuracy``, ``negative_action_share``, ``negative_windows``,
    ``negative_segments_with_actions`` (negative segments where at least one window names an action).
    """
    actions = [s for s in scores if s.kind == "action" and s.windows]
    negatives = [s for s in scores if s.kind == "negative" and s.windows]
    right = {label: 0 for label in model_labels}
    seen = {label: 0 for label in model_labels}
    for s in actions:
        seen[s.label] += s.windows
        right[s.label] += round((s.accuracy or 0.0) * s.windows)
    per_class = {label: right[label] / seen[label] for label in model_labels if seen[label]}
    n = sum(seen.values())
    neg_n = sum(s.windows for s in negatives)
    named = sum(round((s.action_share or 0.0) * s.windows) for s in negatives)
    return {
        "macro_accuracy": float(np.mean(list(per_class.values()))) if per_class else float("nan"),
        "per_class": per_class,
        "windows": n,
        "window_accuracy": sum(right.values()) / n if n else float("nan"),
        "mean_segment_accuracy": float(np.mean([s.accuracy for s in actions])) if actions else float("nan"),
        "negative_action_share": named / neg_n if neg_n else float("nan"),
        "negative_windows": neg_n,
        "negative_segments_with_actions": sum(1 for s in negatives if (s.action_share or 0.0) > 0),
        "negative_segments": len(negatives),
    }


def calibration_points(
    label: str, model_labels: Sequence[str], predictions: Sequence[Prediction], background: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(confidence, correct)`` per window for a reliability diagram: the probability of the most
    probable output (an action, or the background output) and whether it is the right one (the
    segment's label; on negative segments the background). Empty where it cannot be judged:
    unlabelled segments, and negative ones for models without a background output."""
    kind = segment_kind(label, model_labels)
    if kind == "unlabelled" or (kind == "negative" and not background) or not predictions:
        return np.zeros(0), np.zeros(0, bool)
    conf, ok = [], []
    for p in predictions:
        k = int(np.argmax(p.probabilities))
        top = p.probabilities[k]
        is_bg = background and p.background > top
        conf.append(p.background if is_bg else top)
        ok.append(is_bg if kind == "negative" else (not is_bg and model_labels[k] == label))
    return np.asarray(conf), np.asarray(ok, bool)


__all__ = [
    "KINDS",
    "NO_ACTION_LABEL",
    "SegmentScore",
    "calibration_points",
    "score_segment",
    "segment_kind",
    "summarise",
]
