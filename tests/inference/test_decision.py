"""The no-action decision: one rule, in order (incomplete, background, unsure), and the model file
and classifier that carry it (old files included)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from inference.classifier import ActionClassifier, LSTMClassifier
from inference.decision import NO_ACTION_LABEL, DecisionRule, Prediction, TrackEvidence, decide
from inference.model_file import METADATA_KEY, ModelMetadata, read_metadata, save_model
from inference.windows import Window
from tests.inference.test_model_file import random_state, write_raw

LABELS = ("A", "B", "C")


def test_each_reason_in_order() -> None:
    probs = np.array(
        [
            [0.9, 0.05, 0.05],  # sure: A
            [0.9, 0.05, 0.05],  # but its poses were mostly invented
            [0.3, 0.1, 0.05],  # background 0.55 beats every action
            [0.4, 0.35, 0.25],  # no background, best action below the threshold
        ]
    )
    bg = np.array([0.0, 0.0, 0.55, 0.0])
    out = decide(probs, LABELS, DecisionRule(0.5, 0.4), background=bg, missing_fraction=[0.0, 0.6, 0.1, 0.0])
    assert [p.label for p in out] == ["A", None, None, None]
    assert [p.reason for p in out] == ["action", "incomplete", "background", "unsure"]
    assert out[0].confidence == pytest.approx(0.9) and out[0].display_label == "A"
    assert out[3].display_label == NO_ACTION_LABEL and out[3].confidence == pytest.approx(0.4)
    assert out[2].background == pytest.approx(0.55) and out[2].as_dict()["A"] == pytest.approx(0.3)


def test_threshold_is_inclusive_and_no_background_means_none_given() -> None:
    out = decide(np.array([[0.5, 0.3, 0.2]]), LABELS, DecisionRule(0.5, 0.5))
    assert out[0].label == "A" and out[0].background == 0.0
    assert decide(np.zeros((0, 3)), LABELS, DecisionRule()) == []


def test_bad_inputs_are_explained() -> None:
    with pytest.raises(ValueError, match="shape \\(N, 3\\)"):
        decide(np.zeros((2, 4)), LABELS, DecisionRule())
    with pytest.raises(ValueError, match="missing_fraction must have shape"):
        decide(np.zeros((2, 3)), LABELS, DecisionRule(), missing_fraction=[0.1])
    with pytest.raises(ValueError, match="reject_threshold must be in"):
        DecisionRule(reject_threshold=1.5)
    with pytest.raises(ValueError, match="does not fit reason"):
        Prediction("A", (1.0, 0.0, 0.0), 0.0, "unsure", LABELS)


def _window(features: np.ndarray, missing: float = 0.0) -> Window:
    return Window(1, 0.0, 1.4, features.astype(np.float32), missing_fraction=missing, samples=32)


def test_background_model_round_trip_and_calibrated_probabilities(tmp_path: Path) -> None:
    meta = ModelMetadata(
        labels=LABELS, background=True, temperature=2.0, reject_threshold=0.6, max_missing_fraction=0.3
    )
    torch.manual_seed(0)
    net = LSTMClassifier.from_metadata(meta).eval()
    assert net.linear.out_features == 4  # three actions + background
    path = save_model(tmp_path / "bg.safetensors", net.state_dict(), meta)
    assert read_metadata(path) == meta and meta.rule == DecisionRule(0.6, 0.3)
    clf = ActionClassifier.load(path)
    x = np.random.default_rng(0).normal(0, 1, (5, 32, 34)).astype(np.float32)
    with torch.no_grad():
        want = torch.softmax(net(torch.from_numpy(x)) / 2.0, dim=1).numpy()
    probs, bg = clf.predict_outputs(x)
    assert bg is not None
    np.testing.assert_allclose(probs, want[:, :3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bg, want[:, 3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.predict(x).sum(axis=1), 1 - want[:, 3], rtol=1e-5)
    windows = [_window(f) for f in x] + [_window(x[0], missing=0.5)]
    preds = clf.classify(windows)
    assert len(preds) == 6 and preds[-1].reason == "incomplete"
    for p, row, b in zip(preds[:5], want[:, :3], want[:, 3], strict=True):
        expected = None if b > row.max() or row.max() < 0.6 else LABELS[int(row.argmax())]
        assert p.label == expected
    np.testing.assert_allclose(
        clf.predict_windows(windows), np.vstack([want[:, :3], want[:1, :3]]), rtol=1e-5
    )


def test_version_1_files_still_load_and_reject_by_threshold(tmp_path: Path) -> None:
    """A file written before the decision metadata existed (like the imported seed)."""
    meta = ModelMetadata(labels=LABELS)
    d = meta.to_dict()
    for key in ("background", "temperature", "reject_threshold", "max_missing_fraction", "input_features"):
        d.pop(key)
    d["format_version"] = 1
    path = write_raw(tmp_path / "v1.safetensors", random_state(meta), d)
    clf = ActionClassifier.load(path)
    assert not clf.metadata.background and clf.metadata.temperature == 1.0
    assert clf.rule == DecisionRule()  # the defaults
    x = np.random.default_rng(1).normal(0, 1, (8, 32, 34)).astype(np.float32)
    probs = clf.predict(x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    preds = clf.classify([_window(f) for f in x])
    assert [p.label is None for p in preds] == list(probs.max(axis=1) < 0.5)
    assert clf.metadata.format_version == 1


def test_version_2_files_load_with_every_window_alone(tmp_path: Path) -> None:
    """A file written before smoothing_s existed (the previous default) judges windows alone."""
    meta = ModelMetadata(labels=LABELS, background=True)
    d = meta.to_dict()
    d.pop("smoothing_s")
    d["format_version"] = 2
    clf = ActionClassifier.load(write_raw(tmp_path / "v2.safetensors", random_state(meta), d))
    assert clf.rule.smoothing_s == 0.0 and clf.new_evidence().smoothing_s == 0.0


def test_new_files_are_version_3(tmp_path: Path) -> None:
    meta = ModelMetadata(labels=LABELS, background=True, smoothing_s=1.0)
    path = save_model(tmp_path / "m.safetensors", random_state(meta), meta)
    from safetensors import safe_open  # noqa: PLC0415

    with safe_open(str(path), framework="pt") as f:
        stored = json.loads((f.metadata() or {})[METADATA_KEY])
    assert stored["format_version"] == 3 and stored["background"] is True
    assert stored["smoothing_s"] == 1.0 and read_metadata(path).rule.smoothing_s == 1.0
    with pytest.raises(ValueError, match="smoothing_s must be in"):
        ModelMetadata(labels=LABELS, smoothing_s=-1.0)


def test_motion_features_model(tmp_path: Path) -> None:
    meta = ModelMetadata(labels=LABELS, input_features="motion", input_size=72, hidden_size=8)
    path = save_model(tmp_path / "m.safetensors", random_state(meta), meta)
    clf = ActionClassifier.load(path)
    x = np.random.default_rng(2).normal(0, 1, (3, 32, 34)).astype(np.float32)
    assert clf.predict(x).shape == (3, 3)
    with pytest.raises(ValueError, match="input_size=34 does not fit"):
        ModelMetadata(labels=LABELS, input_features="motion")


def test_evidence_averages_a_persons_last_seconds() -> None:
    ev = TrackEvidence(1.0)
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(ev.smooth("p", 0.0, a), a)  # alone at first
    np.testing.assert_allclose(ev.smooth("p", 0.5, b), [0.5, 0.5])
    np.testing.assert_allclose(ev.smooth("q", 0.5, b), b)  # another person has their own history
    np.testing.assert_allclose(ev.smooth("p", 1.0, b), [1 / 3, 2 / 3])  # 0.0 is still within 1 s
    np.testing.assert_allclose(ev.smooth("p", 1.25, b), [0.0, 1.0])  # 0.0 has left the second
    np.testing.assert_allclose(ev.smooth("p", 0.2, a), a)  # time went back: a fresh history
    assert len(ev) == 2
    ev.drop("q")
    ev.drop_where(lambda key: key == "p")
    assert len(ev) == 0
    np.testing.assert_allclose(TrackEvidence(0.0).smooth("p", 0.0, a), a)
    with pytest.raises(ValueError, match="smoothing_s"):
        TrackEvidence(float("nan"))
    with pytest.raises(ValueError, match="smoothing_s must be in"):
        DecisionRule(smoothing_s=11.0)


def test_classify_with_evidence_decides_on_each_persons_recent_windows(tmp_path: Path) -> None:
    """One window that looks like an action among background ones names none; windows of two
    cameras with the same track id do not mix; without evidence every window stands alone."""
    meta = ModelMetadata(labels=LABELS, background=True, smoothing_s=1.0, hidden_size=4)
    state = random_state(meta)
    with torch.no_grad():  # outputs from the input's last step: feature 0 = action A, else background
        for tensor in state.values():
            tensor.zero_()
        state["linear.bias"][:] = torch.tensor([0.0, -9.0, -9.0, 2.0])
        state["lstm.weight_ih_l0"][3 * 4, 0] = 20.0  # output gate opens with feature 0
        state["lstm.weight_ih_l0"][2 * 4, 0] = 20.0  # cell candidate follows feature 0
        state["lstm.weight_ih_l0"][0, 0] = 20.0  # input gate too
        state["linear.weight"][0, 0] = 8.0
    clf = ActionClassifier.load(save_model(tmp_path / "m.safetensors", state, meta))
    act = np.zeros((32, 34), np.float32)
    act[-1, 0] = 1.0
    rest = np.zeros((32, 34), np.float32)
    alone = clf.classify([Window(1, 0.0, 1.4, act, 0.0, 32)])
    assert alone[0].label == "A"  # the window on its own looks like A
    ev = clf.new_evidence()
    stream = [(0.25 * i, f) for i, f in enumerate([rest, rest, rest, act])]
    got = clf.classify(
        [Window(1, t, t + 1.4, f, 0.0, 32) for t, f in stream]
        + [Window(1, 0.75, 2.15, act, 0.0, 32)],  # same track id, other camera: its first window
        ev,
        streams=["cam-a"] * 4 + ["cam-b"],
    )
    assert [p.label for p in got] == [None, None, None, None, "A"]
    assert got[3].reason == "background" and got[3].probabilities[0] < alone[0].probabilities[0]
    later = clf.classify([Window(1, 1.0 + 0.25 * i, 2.4 + 0.25 * i, act, 0.0, 32) for i in range(4)], ev,
                         streams=["cam-a"] * 4)  # fmt: skip
    assert later[-1].label == "A"  # kept up for a second, it is named
    with pytest.raises(ValueError, match="one stream per window"):
        clf.classify([Window(1, 0.0, 1.4, act, 0.0, 32)], ev, streams=[])
