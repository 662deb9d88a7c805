"""Temperature scaling finds the temperature that made the data; reliability bins add up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.calibration import fit_temperature, plot_reliability, reliability
from training.windowset import NO_ACTION


def test_fit_temperature_recovers_overconfidence() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 1.5, (4000, 4))
    p = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(4, p=row) for row in p])
    # A network 2.5x too sure of itself: its logits are the true ones times 2.5.
    t = fit_temperature(true_logits * 2.5, labels, background=False)
    assert t == pytest.approx(2.5, rel=0.1)
    # The last output as background: NO_ACTION windows are its class.
    bg_labels = np.where(labels == 3, NO_ACTION, labels)
    assert fit_temperature(true_logits * 2.5, bg_labels, background=True) == pytest.approx(2.5, rel=0.1)
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, np.int64), background=False) == 1.0


def test_reliability_bins_and_plot(tmp_path: Path) -> None:
    conf = np.array([0.05, 0.15, 0.95, 0.95, 0.85, 0.55])
    ok = np.array([False, False, True, False, True, True])
    r = reliability(conf, ok, bins=10)
    assert r.counts.sum() == 6 and r.counts[9] == 2 and r.accuracy[9] == pytest.approx(0.5)
    # ECE: |0.05-0|/6 + |0.15-0|/6 + 2*|0.95-0.5|/6 + |0.85-1|/6 + |0.55-1|/6
    assert r.ece == pytest.approx((0.05 + 0.15 + 0.9 + 0.15 + 0.45) / 6)
    out = plot_reliability({"m": r}, tmp_path / "rel.png", "test")
    assert out.stat().st_size > 1000
