"""Training with PyTorch Lightning: the LSTM of :mod:`inference.classifier`, and export to a model file.

The recipe follows the original app (Adam, ``ReduceLROnPlateau`` on ``val_loss`` with factor 0.5,
early stopping, keep the best checkpoint), with seeds fixed and deterministic kernels so a run
can be repeated. The module wraps :class:`inference.classifier.LSTMClassifier` itself, so the
exported weights are exactly what :class:`inference.classifier.ActionClassifier` serves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from pytorch_lightning.callbacks import Callback, EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from inference.classifier import LSTMClassifier
from inference.decision import (
    DEFAULT_MAX_MISSING_FRACTION,
    DEFAULT_REJECT_THRESHOLD,
    DEFAULT_SMOOTHING_S,
    MAX_SMOOTHING_S,
    TRAINED_SMOOTHING_S,
)
from inference.features import INPUT_FEATURES, input_size
from inference.model_file import ModelMetadata, save_model
from inference.windows import FEATURE_SIZE, WindowSpec
from training.calibration import fit_temperature
from training.windowset import NO_ACTION, WindowSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Network size and optimisation settings (defaults: the original's 34 -> 50 -> 6 LSTM).

    ``feature_noise``: std of Gaussian noise added to the training features each batch (in
    feature units; body-centred features are in torso lengths), a cheap regulariser.
    ``background``: one more output, "none of these actions", trained on the :data:`NO_ACTION`
    windows (without it they are trained towards equal probabilities). ``class_balance``: weigh
    each output's windows by the inverse of its share (the background usually has several times
    the windows of one action), so every class counts the same in the loss. ``input_features``: what the
    network reads (:mod:`inference.features`). ``calibrate``: fit the softmax temperature on the
    validation windows after training. ``reject_threshold``/``max_missing_fraction``/``smoothing_s``:
    the decision rule written into the model file (:mod:`inference.decision`).
    """

    hidden_size: int = 50
    num_layers: int = 1
    dropout: float = 0.0
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 128
    max_epochs: int = 30
    early_stopping_patience: int = 8
    lr_patience: int = 3
    lr_factor: float = 0.5
    label_smoothing: float = 0.0
    feature_noise: float = 0.0
    seed: int = 0
    background: bool = False
    class_balance: bool = False
    input_features: str = "xy"
    calibrate: bool = True
    reject_threshold: float = DEFAULT_REJECT_THRESHOLD
    max_missing_fraction: float = DEFAULT_MAX_MISSING_FRACTION
    smoothing_s: float = TRAINED_SMOOTHING_S

    def __post_init__(self) -> None:
        positive = ("hidden_size", "num_layers", "batch_size", "max_epochs", "early_stopping_patience")
        for name in positive:
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be an int >= 1, got {getattr(self, name)!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"TrainConfig.dropout must be in [0, 1), got {self.dropout}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"TrainConfig.learning_rate must be > 0, got {self.learning_rate}")
        if not 0.0 < self.lr_factor < 1.0:
            raise ValueError(f"TrainConfig.lr_factor must be in (0, 1), got {self.lr_factor}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"TrainConfig.label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.weight_decay < 0 or self.feature_noise < 0 or self.lr_patience < 0:
            raise ValueError("TrainConfig.weight_decay, feature_noise and lr_patience must be >= 0")
        if self.input_features not in INPUT_FEATURES:
            raise ValueError(
                f"TrainConfig.input_features must be one of {INPUT_FEATURES}, got {self.input_features!r}"
            )
        for name in ("reject_threshold", "max_missing_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"TrainConfig.{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.smoothing_s <= MAX_SMOOTHING_S:
            raise ValueError(
                f"TrainConfig.smoothing_s must be in [0, {MAX_SMOOTHING_S:g}] seconds, got {self.smoothing_s}"
            )


def action_loss(
    logits: torch.Tensor,
    y: torch.Tensor,
    label_smoothing: float = 0.0,
    background: bool = False,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy; a :data:`NO_ACTION` window's target is the background output (the last one)
    when the model has one, else equal probabilities for every label (so the model learns to be
    unsure when nobody does one of its actions). ``weight`` (per output, background models only)
    weighs each class's windows."""
    if background:
        target = torch.where(y == NO_ACTION, torch.full_like(y, logits.shape[1] - 1), y)
        return F.cross_entropy(logits, target, weight=weight, label_smoothing=label_smoothing)
    labelled = y != NO_ACTION
    per_window = torch.empty(len(y), dtype=logits.dtype, device=logits.device)
    if labelled.any():
        per_window[labelled] = F.cross_entropy(
            logits[labelled], y[labelled], reduction="none", label_smoothing=label_smoothing
        )
    if (~labelled).any():
        per_window[~labelled] = -F.log_softmax(logits[~labelled], dim=1).mean(dim=1)
    return per_window.mean()


class ActionModule(pl.LightningModule):
    """An :class:`LSTMClassifier` plus what training needs (loss, metrics, optimiser)."""

    def __init__(
        self,
        labels: tuple[str, ...] | list[str],
        *,
        steps: int = 32,
        rate_hz: float = 22.0,
        normalisation: str = "body_centred",
        min_confidence: float = 0.3,
        hidden_size: int = 50,
        num_layers: int = 1,
        dropout: float = 0.0,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        lr_patience: int = 3,
        lr_factor: float = 0.5,
        label_smoothing: float = 0.0,
        feature_noise: float = 0.0,
        background: bool = False,
        input_features: str = "xy",
        class_weights: list[float] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.labels = tuple(labels)
        self.background = bool(background)
        self.class_weights = (
            None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
        )
        self.spec = WindowSpec(
            steps=steps, rate_hz=rate_hz, normalisation=normalisation, min_confidence=min_confidence
        )
        self.model = LSTMClassifier(
            input_size=input_size(input_features, FEATURE_SIZE),
            hidden_size=hidden_size,
            num_layers=num_layers,
            num_classes=len(self.labels) + int(self.background),
            dropout=dropout,
            input_features=input_features,
            rate_hz=rate_hz,
        )

    @classmethod
    def build(
        cls,
        labels: tuple[str, ...],
        spec: WindowSpec,
        config: TrainConfig,
        class_weights: list[float] | None = None,
    ) -> ActionModule:
        return cls(
            labels=list(labels),
            steps=spec.steps,
            rate_hz=spec.rate_hz,
            normalisation=spec.normalisation,
            min_confidence=spec.min_confidence,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout,
            learning_rate=config.learning_rate,
            weight_decay=config.weight_decay,
            lr_patience=config.lr_patience,
            lr_factor=config.lr_factor,
            label_smoothing=config.label_smoothing,
            feature_noise=config.feature_noise,
            background=config.background,
            input_features=config.input_features,
            class_weights=class_weights,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, y = batch
        if stage == "train" and self.hparams["feature_noise"] > 0:
            x = x + torch.randn_like(x) * self.hparams["feature_noise"]
        logits = self(x)
        smoothing = self.hparams["label_smoothing"] if stage == "train" else 0.0
        w = None if self.class_weights is None else self.class_weights.to(logits.device)
        loss = action_loss(logits, y, smoothing, self.background, w)
        labelled = y != NO_ACTION
        on_step = stage == "train"
        self.log(f"{stage}_loss", loss, on_step=on_step, on_epoch=True, prog_bar=True, batch_size=len(y))
        if labelled.any():
            acc = (logits[labelled].argmax(dim=1) == y[labelled]).float().mean()
            n = int(labelled.sum())
            self.log(f"{stage}_acc", acc, on_step=False, on_epoch=True, prog_bar=True, batch_size=n)
        return loss

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.Adam(
            self.parameters(), lr=self.hparams["learning_rate"], weight_decay=self.hparams["weight_decay"]
        )
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=self.hparams["lr_factor"], patience=self.hparams["lr_patience"]
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch", "monitor": "val_loss"},
        }

    def metadata(
        self,
        metrics: Mapping[str, float | int | str] | None = None,
        *,
        description: str = "",
        source: str = "",
        temperature: float = 1.0,
        reject_threshold: float = DEFAULT_REJECT_THRESHOLD,
        max_missing_fraction: float = DEFAULT_MAX_MISSING_FRACTION,
        smoothing_s: float = DEFAULT_SMOOTHING_S,
    ) -> ModelMetadata:
        """What the exported file says about these weights."""
        hp = self.hparams
        features = str(hp.get("input_features", "xy"))
        return ModelMetadata(
            labels=self.labels,
            steps=self.spec.steps,
            rate_hz=self.spec.rate_hz,
            normalisation=self.spec.normalisation,
            min_confidence=self.spec.min_confidence,
            input_size=input_size(features, FEATURE_SIZE),
            input_features=features,
            background=self.background,
            temperature=float(temperature),
            reject_threshold=float(reject_threshold),
            max_missing_fraction=float(max_missing_fraction),
            smoothing_s=float(smoothing_s),
            hidden_size=int(hp["hidden_size"]),
            num_layers=int(hp["num_layers"]),
            dropout=float(hp["dropout"]),
            metrics=dict(metrics or {}),
            description=description,
            source=source,
            created=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        )


class WindowDataModule(pl.LightningDataModule):
    """Train and validation :class:`WindowSet` s as tensors; shuffling is seeded."""

    def __init__(self, train: WindowSet, val: WindowSet, batch_size: int = 128, seed: int = 0) -> None:
        super().__init__()
        if train.label_names != val.label_names or train.spec != val.spec:
            raise ValueError(
                "train and validation windows must have the same labels and spec, got "
                f"{train.label_names} / {val.label_names} and {train.spec} / {val.spec}"
            )
        if len(train) == 0 or len(val) == 0:
            raise ValueError(f"need training and validation windows, got {len(train)} and {len(val)}")
        self.train_set, self.val_set = train, val
        self.batch_size = batch_size
        self.seed = seed

    @staticmethod
    def _tensors(ws: WindowSet) -> TensorDataset:
        return TensorDataset(torch.from_numpy(ws.features), torch.from_numpy(ws.labels))

    def train_dataloader(self) -> DataLoader:
        g = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            self._tensors(self.train_set), batch_size=self.batch_size, shuffle=True, generator=g
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self._tensors(self.val_set), batch_size=max(self.batch_size, 512), shuffle=False)


class History(Callback):
    """Per-epoch metrics (train/val loss and accuracy, learning rate) for curves and the model card."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        row: dict[str, float] = {"epoch": float(trainer.current_epoch)}
        for key in ("train_loss_epoch", "train_acc", "val_loss", "val_acc"):
            value = trainer.callback_metrics.get(key)
            if value is not None:
                row[key.removesuffix("_epoch")] = float(value)
        row["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        self.epochs.append(row)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # train metrics are final only now (validation runs before the epoch's end hook)
        if self.epochs and self.epochs[-1]["epoch"] == trainer.current_epoch:
            for key in ("train_loss_epoch", "train_acc"):
                value = trainer.callback_metrics.get(key)
                if value is not None:
                    self.epochs[-1][key.removesuffix("_epoch")] = float(value)


@dataclass(frozen=True)
class TrainResult:
    """The trained module (best checkpoint loaded), per-epoch history and summary metrics."""

    module: ActionModule
    history: list[dict[str, float]]
    metrics: dict[str, float | int]
    best_checkpoint: str
    temperature: float = 1.0


def fit(
    train: WindowSet,
    val: WindowSet,
    config: TrainConfig,
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    progress_bar: bool = True,
    accelerator: str = "cpu",
) -> TrainResult:
    """Train on ``train``, early-stop and pick the best epoch on ``val`` (lowest ``val_loss``)."""
    pl.seed_everything(config.seed, workers=True, verbose=False)
    weights = balanced_weights(train, config.background) if config.class_balance else None
    module = ActionModule.build(train.label_names, train.spec, config, weights)
    data = WindowDataModule(train, val, config.batch_size, config.seed)
    history = History()
    with tempfile.TemporaryDirectory(prefix="actionstream-train-") as tmp:
        ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else Path(tmp)
        checkpoint = ModelCheckpoint(
            dirpath=ckpt_dir, filename="best-{epoch:03d}-{val_loss:.4f}", monitor="val_loss", save_top_k=1
        )
        trainer = pl.Trainer(
            accelerator=accelerator,
            devices=1,
            max_epochs=config.max_epochs,
            deterministic=True,
            logger=False,
            callbacks=[
                EarlyStopping(monitor="val_loss", patience=config.early_stopping_patience),
                checkpoint,
                history,
            ],
            enable_progress_bar=progress_bar,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            log_every_n_steps=10,
        )
        with warnings.catch_warnings():
            # Lightning 2.6 trips over its own pytree deprecation; nothing a user can act on.
            warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")
            trainer.fit(module, datamodule=data)
        best = checkpoint.best_model_path
        if best:
            state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
            module.load_state_dict(state)
        module = module.cpu().eval()
        val_loss, val_acc = evaluate_module(module, val)
        temperature = 1.0
        if config.calibrate:
            temperature = fit_temperature(logits_module(module, val.features), val.labels, module.background)
    best_epoch = int(np.argmin([h.get("val_loss", np.inf) for h in history.epochs])) if history.epochs else 0
    metrics: dict[str, float | int] = {
        "val_loss": round(val_loss, 6),
        "val_acc": round(val_acc, 6),
        "best_epoch": best_epoch,
        "epochs_run": len(history.epochs),
        "train_windows": len(train),
        "val_windows": len(val),
        "temperature": round(temperature, 4),
    }
    if history.epochs and "train_acc" in history.epochs[best_epoch]:
        metrics["train_acc"] = round(history.epochs[best_epoch]["train_acc"], 6)
    return TrainResult(
        module, history.epochs, metrics, best if checkpoint_dir is not None else "", temperature
    )


def balanced_weights(windows: WindowSet, background: bool) -> list[float] | None:
    """Per-output weights ``N / (outputs * count)`` (1 for an output without windows); None for
    models without a background output (their no-action windows have no class to weigh)."""
    if not background:
        return None
    k = len(windows.label_names) + 1
    y = np.where(windows.labels == NO_ACTION, k - 1, windows.labels)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    w = np.where(counts > 0, len(y) / (k * np.maximum(counts, 1)), 1.0)
    return [round(float(x), 6) for x in w]


@torch.inference_mode()
def logits_module(module: ActionModule, features: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Logits ``(N, outputs)`` of the module (eval mode) for ``features (N, steps, 34)``."""
    module.eval()
    out = []
    for i in range(0, len(features), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(features[i : i + batch_size], dtype=np.float32))
        out.append(module(x.to(module.device)).float().cpu().numpy())
    if not out:
        return np.zeros((0, len(module.labels) + int(module.background)), np.float32)
    return np.concatenate(out).astype(np.float32)


def predict_module(module: ActionModule, features: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax probabilities ``(N, outputs)`` of the module for ``features (N, steps, 34)``."""
    logits = torch.from_numpy(logits_module(module, features)) / float(temperature)
    return torch.softmax(logits, dim=1).numpy().astype(np.float32)


def evaluate_module(module: ActionModule, windows: WindowSet) -> tuple[float, float]:
    """``(loss as trained, accuracy on the labelled windows)`` of the module on ``windows``."""
    probs = predict_module(module, windows.features)
    if len(probs) == 0:
        return float("nan"), float("nan")
    y = torch.from_numpy(windows.labels)
    logp = torch.from_numpy(np.log(np.clip(probs, 1e-12, 1.0)))
    loss = float(action_loss(logp, y, background=module.background))
    labelled = windows.labels != NO_ACTION
    acc = (
        float(np.mean(probs[labelled].argmax(1) == windows.labels[labelled]))
        if labelled.any()
        else float("nan")
    )
    return loss, acc


def export_model(
    module: ActionModule,
    path: str | os.PathLike[str],
    *,
    metrics: Mapping[str, float | int | str] | None = None,
    description: str = "",
    source: str = "",
    temperature: float = 1.0,
    config: TrainConfig | None = None,
) -> ModelMetadata:
    """Write the module's :class:`LSTMClassifier` weights + metadata (with the calibrated
    ``temperature`` and ``config``'s decision rule) as one model file."""
    cfg = config or TrainConfig()
    meta = module.metadata(
        metrics,
        description=description,
        source=source,
        temperature=temperature,
        reject_threshold=cfg.reject_threshold,
        max_missing_fraction=cfg.max_missing_fraction,
        smoothing_s=cfg.smoothing_s,
    )
    state = {k: v.detach().cpu().float() for k, v in module.model.state_dict().items()}
    save_model(path, state, meta)
    return meta


def config_summary(config: TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)
