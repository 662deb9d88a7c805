"""Training with Lightning on CPU: the loss goes down, and the exported file serves the same outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from inference.classifier import ActionClassifier
from inference.model_file import read_metadata
from inference.windows import WindowSpec
from training.datasets import NO_ACTION, SyntheticConfig, WindowSet, synthetic_windows
from training.lightning import (
    ActionModule,
    TrainConfig,
    action_loss,
    evaluate_module,
    export_model,
    fit,
    predict_module,
)

SPEC = WindowSpec(normalisation="body_centred")


@pytest.fixture(scope="module")
def small_sets() -> tuple[WindowSet, WindowSet]:
    cfg = SyntheticConfig(windows_per_sequence=4, idle="none")
    return (
        synthetic_windows(12, SPEC, seed=0, config=cfg),
        synthetic_windows(4, SPEC, seed=99, config=cfg),
    )


@pytest.mark.slow
def test_training_lowers_the_loss_and_is_repeatable(
    small_sets: tuple[WindowSet, WindowSet], tmp_path: Path
) -> None:
    train, val = small_sets
    config = TrainConfig(max_epochs=6, batch_size=32, learning_rate=3e-3, seed=3)
    torch.set_num_threads(1)
    result = fit(train, val, config, progress_bar=False, checkpoint_dir=tmp_path / "ckpt")
    losses = [h["train_loss"] for h in result.history]
    assert len(losses) == 6
    assert losses[-1] < 0.8 * losses[0], losses
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    assert result.metrics["train_windows"] == len(train) and result.metrics["val_windows"] == len(val)
    assert Path(result.best_checkpoint).is_file()
    # the best epoch (lowest val_loss) is what the module holds now
    best = min(h["val_loss"] for h in result.history)
    assert result.metrics["val_loss"] == pytest.approx(best, abs=2e-3)
    again = fit(train, val, config, progress_bar=False)
    np.testing.assert_allclose(
        predict_module(again.module, val.features), predict_module(result.module, val.features), atol=1e-6
    )


def test_export_round_trip_serves_the_same_outputs(
    small_sets: tuple[WindowSet, WindowSet], tmp_path: Path
) -> None:
    _, val = small_sets
    torch.manual_seed(0)
    module = ActionModule.build(val.label_names, SPEC, TrainConfig(hidden_size=24, num_layers=2, dropout=0.2))
    path = tmp_path / "m.safetensors"
    meta = export_model(module, path, metrics={"val_acc": 0.5}, source="actionstream train --test")
    clf = ActionClassifier.load(path)
    assert clf.labels == val.label_names and clf.spec == SPEC
    assert (meta.hidden_size, meta.num_layers, meta.dropout) == (24, 2, 0.2)
    on_disk = read_metadata(path)
    assert on_disk.source == "actionstream train --test" and on_disk.metrics["val_acc"] == 0.5
    np.testing.assert_allclose(clf.predict(val.features), predict_module(module, val.features), atol=1e-6)


def test_no_action_windows_are_trained_towards_equal_probabilities() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 3.0, 0.0]])
    y = torch.tensor([0, NO_ACTION, NO_ACTION])
    loss = action_loss(logits, y)
    ce = torch.nn.functional.cross_entropy(logits[:1], y[:1])
    uniform = -torch.log_softmax(logits[1:], dim=1).mean(dim=1)
    assert float(loss) == pytest.approx(float((ce + uniform.sum()) / 3))
    # equal logits are the best answer for a no-action window: log(3)
    assert float(uniform[0]) == pytest.approx(np.log(3.0))


def test_evaluate_module_scores_only_labelled_windows(small_sets: tuple[WindowSet, WindowSet]) -> None:
    _, val = small_sets
    module = ActionModule.build(val.label_names, SPEC, TrainConfig())
    loss, acc = evaluate_module(module, val)
    assert np.isfinite(loss) and 0.0 <= acc <= 1.0
    assert (val.labels == NO_ACTION).any()


def test_train_config_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="hidden_size must be an int >= 1"):
        TrainConfig(hidden_size=0)
    with pytest.raises(ValueError, match="dropout must be in"):
        TrainConfig(dropout=1.0)


def test_background_loss_and_balanced_weights() -> None:
    from training.lightning import balanced_weights  # noqa: PLC0415

    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    y = torch.tensor([0, NO_ACTION])
    # with a background output, NO_ACTION is the last class
    want = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2]))
    assert action_loss(logits, y, background=True) == pytest.approx(float(want))
    feats = np.zeros((6, SPEC.steps, 34), np.float32)
    ws = WindowSet(feats, np.array([0, 0, 1, NO_ACTION, NO_ACTION, NO_ACTION]), ("A", "B"), SPEC)
    w = balanced_weights(ws, background=True)
    assert w == pytest.approx([1.0, 2.0, 2 / 3])  # 6 / (3 * counts 2, 1, 3)
    assert balanced_weights(ws, background=False) is None
    weighted = action_loss(logits, y, background=True, weight=torch.tensor(w, dtype=torch.float32))
    assert float(weighted) != pytest.approx(float(want))


@pytest.mark.slow
def test_background_model_is_calibrated_and_exported(
    small_sets: tuple[WindowSet, WindowSet], tmp_path: Path
) -> None:
    train, val = small_sets
    config = TrainConfig(
        max_epochs=2, batch_size=32, background=True, class_balance=True, reject_threshold=0.6
    )
    result = fit(train, val, config, progress_bar=False)
    assert result.module.model.linear.out_features == len(train.label_names) + 1
    assert 0.25 <= result.temperature <= 8.0 and result.metrics["temperature"] == pytest.approx(
        result.temperature, abs=1e-4
    )
    path = tmp_path / "bg.safetensors"
    meta = export_model(result.module, path, temperature=result.temperature, config=config)
    assert meta.background and meta.reject_threshold == 0.6 and meta.temperature == result.temperature
    clf = ActionClassifier.load(path)
    probs, background = clf.predict_outputs(val.features)
    assert background is not None
    full = predict_module(result.module, val.features, temperature=result.temperature)
    np.testing.assert_allclose(np.c_[probs, background], full, atol=1e-5)
