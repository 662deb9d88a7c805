"""Scores of a model on labelled windows: accuracy, per-class precision/recall/F1, confusion matrix,
written as JSON + a markdown table + PNGs (and training curves for models ``actionstream train`` made).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inference.classifier import ActionClassifier
from inference.decision import NO_ACTION_LABEL
from training.windowset import NO_ACTION, WindowSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class EvalReport:
    """``confusion[i, j]``: windows of true class ``labels[i]`` predicted as ``labels[j]``."""

    labels: tuple[str, ...]
    confusion: np.ndarray
    per_class: dict[str, ClassScores]

    @property
    def total(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / self.total) if self.total else float("nan")

    @property
    def macro_f1(self) -> float:
        scored = [s.f1 for s in self.per_class.values() if s.support]
        return float(np.mean(scored)) if scored else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "windows": self.total,
            "accuracy": _finite(self.accuracy),
            "macro_f1": _finite(self.macro_f1),
            "labels": list(self.labels),
            "per_class": {
                k: {
                    "precision": _finite(v.precision),
                    "recall": _finite(v.recall),
                    "f1": _finite(v.f1),
                    "support": v.support,
                }
                for k, v in self.per_class.items()
            },
            "confusion": self.confusion.tolist(),
        }


def _finite(x: float) -> float | None:
    return None if not math.isfinite(x) else round(float(x), 6)


def score(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> EvalReport:
    """Confusion matrix and per-class scores of predictions ``y_pred`` (indices into ``labels``)."""
    yt, yp = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    if yt.shape != yp.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {yt.shape} and {yp.shape}")
    k = len(labels)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (yt, yp), 1)
    per_class: dict[str, ClassScores] = {}
    for i, name in enumerate(labels):
        tp = confusion[i, i]
        predicted, support = confusion[:, i].sum(), confusion[i].sum()
        precision = tp / predicted if predicted else float("nan")
        recall = tp / support if support else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if predicted and support and tp else 0.0
        if not support:
            f1 = float("nan")
        per_class[name] = ClassScores(float(precision), float(recall), float(f1), int(support))
    return EvalReport(tuple(labels), confusion, per_class)


def score_decisions(clf: ActionClassifier, windows: WindowSet) -> tuple[EvalReport, float | None]:
    """Score the model's *decisions* (as served: an action, or none) on labelled windows: the
    confusion has one more class, :data:`~inference.decision.NO_ACTION_LABEL`, as truth for the
    set's no-action windows and as the prediction of every window the model declines. Also the
    accuracy of the plain argmax over the actions on the action windows (None without any), to see
    what declining costs."""
    k = len(clf.labels)
    preds = clf.decide_features(windows.features)
    y_true = np.where(windows.labels == NO_ACTION, k, windows.labels)
    y_pred = np.array([clf.labels.index(p.label) if p.label is not None else k for p in preds], np.int64)
    report = score(y_true, y_pred, (*clf.labels, NO_ACTION_LABEL))
    acting = windows.labels != NO_ACTION
    argmax = None
    if acting.any():
        top = np.array([int(np.argmax(p.probabilities)) for p in preds], np.int64)
        argmax = round(float(np.mean(top[acting] == windows.labels[acting])), 6)
    return report, argmax


def markdown(report: EvalReport, title: str = "") -> str:
    def f(x: float) -> str:
        return "—" if not math.isfinite(x) else f"{x:.3f}"

    lines = [f"## {title}", ""] if title else []
    lines += [
        f"Windows: {report.total}; accuracy **{f(report.accuracy)}**; macro F1 {f(report.macro_f1)}",
        "",
        "| class | precision | recall | F1 | windows |",
        "|---|---|---|---|---|",
    ]
    for name, s in report.per_class.items():
        lines.append(f"| {name} | {f(s.precision)} | {f(s.recall)} | {f(s.f1)} | {s.support} |")
    return "\n".join(lines) + "\n"


def plot_confusion(report: EvalReport, path: str | os.PathLike[str], title: str = "") -> Path:
    """Row-normalised confusion matrix with counts, as a PNG."""
    import matplotlib  # noqa: PLC0415 - only plotting needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    cm = report.confusion.astype(float)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    k = len(report.labels)
    fig, ax = plt.subplots(figsize=(1.1 * k + 2.5, 1.0 * k + 2))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), report.labels, rotation=40, ha="right")
    ax.set_yticks(range(k), report.labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                colour = "white" if norm[i, j] > 0.6 else "black"
                ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", color=colour, fontsize=9)
    ax.set_title(title or f"accuracy {report.accuracy:.3f} over {report.total} windows")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_history(history: Sequence[Mapping[str, float]], out_dir: str | os.PathLike[str]) -> list[Path]:
    """``loss.png`` and ``accuracy.png``: train and validation per epoch."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    epochs = [int(h["epoch"]) for h in history]
    for metric in ("loss", "acc"):
        fig, ax = plt.subplots(figsize=(6, 4))
        for stage in ("train", "val"):
            key = f"{stage}_{metric}"
            pts = [(e, h[key]) for e, h in zip(epochs, history, strict=True) if key in h]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", markersize=3, label=stage)
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy" if metric == "loss" else "accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out / ("loss.png" if metric == "loss" else "accuracy.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def write_report(
    report: EvalReport, out_dir: str | os.PathLike[str], name: str, title: str = ""
) -> list[Path]:
    """``<name>.json``, ``<name>.md`` and ``<name>_confusion.png`` under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    js = out / f"{name}.json"
    js.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    md = out / f"{name}.md"
    md.write_text(markdown(report, title or name))
    png = plot_confusion(report, out / f"{name}_confusion.png", title)
    return [js, md, png]
