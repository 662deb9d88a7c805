"""Calibrated confidences: temperature scaling fitted on held-out windows, and reliability diagrams.

A network trained with cross-entropy is usually over-confident: windows it calls with 0.99 are
right less often than that. Dividing the logits by one temperature ``T`` (fitted to minimise the
negative log-likelihood on windows not trained on) fixes most of that without changing any
decision's order (Guo et al., 2017, "On Calibration of Modern Neural Networks"). The model file
stores ``T``; :class:`inference.classifier.ActionClassifier` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from training.windowset import NO_ACTION

TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(8.0), 241))  # the grid searched


def _nll(logits: torch.Tensor, target: torch.Tensor, uniform: torch.Tensor) -> float:
    logp = torch.log_softmax(logits, dim=1)
    labelled = ~uniform
    total = 0.0
    if labelled.any():
        total += float(-logp[labelled].gather(1, target[labelled, None]).sum())
    if uniform.any():
        total += float(-logp[uniform].mean(dim=1).sum())
    return total / max(len(target), 1)


def fit_temperature(logits: np.ndarray, labels: np.ndarray, background: bool) -> float:
    """The temperature (from :data:`TEMPERATURES`) with the lowest NLL of ``labels`` given
    ``logits (N, outputs)``. :data:`NO_ACTION` windows count as the background output (the last)
    when there is one, else as "equal probabilities" (as they were trained)."""
    if len(labels) == 0:
        return 1.0
    x = torch.from_numpy(np.asarray(logits, np.float64))
    y = torch.from_numpy(np.asarray(labels, np.int64))
    none = y == NO_ACTION
    target = torch.where(none, torch.full_like(y, x.shape[1] - 1 if background else 0), y)
    uniform = none if not background else torch.zeros_like(none)
    losses = [_nll(x / float(t), target, uniform) for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


@dataclass(frozen=True)
class Reliability:
    """Per confidence bin: mean confidence, accuracy and window count; ``ece`` the expected
    calibration error (count-weighted mean gap between confidence and accuracy)."""

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray

    @property
    def ece(self) -> float:
        n = self.counts.sum()
        if n == 0:
            return float("nan")
        gap = np.nan_to_num(np.abs(self.confidence - self.accuracy))
        return float((gap * self.counts).sum() / n)


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> Reliability:
    """Bin windows by their confidence and compare with how often they were right."""
    c = np.asarray(confidence, np.float64)
    ok = np.asarray(correct, bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(c, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(idx, weights=c, minlength=bins) / counts
        acc = np.bincount(idx, weights=ok.astype(np.float64), minlength=bins) / counts
    return Reliability(edges, conf, acc, counts)


def plot_reliability(curves: dict[str, Reliability], path: str | Path, title: str) -> Path:
    """A reliability diagram (accuracy against confidence, one line per curve, counts below)."""
    import matplotlib  # noqa: PLC0415 - plotting only here

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, (ax, axn) = plt.subplots(2, 1, figsize=(5.2, 6.0), height_ratios=(3, 1), sharex=True)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfectly calibrated")
    width = 1.0 / max(len(curves), 1)
    for k, (name, r) in enumerate(curves.items()):
        ok = r.counts > 0
        ax.plot(r.confidence[ok], r.accuracy[ok], marker="o", label=f"{name} (ECE {r.ece:.3f})")
        centres = (r.edges[:-1] + r.edges[1:]) / 2
        bar_w = (r.edges[1] - r.edges[0]) * width
        axn.bar(
            centres - (r.edges[1] - r.edges[0]) / 2 + (k + 0.5) * bar_w, r.counts, width=bar_w, label=name
        )
    ax.set_ylabel("accuracy of the decision")
    ax.set_title(title, fontsize=10)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left")
    axn.set_xlabel("confidence (probability of the decided outcome)")
    axn.set_ylabel("windows")
    axn.set_yscale("log")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
