"""Import the original app's trained LSTM (a PyTorch-Lightning 1.3.3 checkpoint) as a model file.

A Lightning checkpoint is a pickle. Unpickling runs code named in the file, so it is loaded with
``torch.load(weights_only=True)``: only tensors and plain containers are built. The checkpoint
also names two Lightning callback classes (as dict keys of its ``callbacks`` entry); those two
names, and only those, are mapped to empty stand-in classes here, so neither Lightning nor any
other code is needed or run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from inference.labels import ORIGINAL_ACTIONS
from inference.model_file import ModelFileError, ModelMetadata, check_state_dict

log = logging.getLogger(__name__)

SEED_LABELS: tuple[str, ...] = ORIGINAL_ACTIONS
SEED_STEPS = 32
# The RNN-HAR-2D-Pose database: OpenPose on Berkeley MHAD video, which was recorded at about 22 Hz.
SEED_RATE_HZ = 22.0
# Reported by the original project for this checkpoint (its README / training notebook).
SEED_DOCUMENTED_VAL_ACC = 0.913
SEED_SOURCE = (
    "bibinss/human-action-classification-using-detectron-and-lstm @ d49fbc1d : models/saved_model.ckpt "
    "(MIT); trained on the RNN-HAR-2D-Pose database (OpenPose on Berkeley MHAD)"
)


class SeedCheckpointError(ValueError):
    """The file is not the expected Lightning checkpoint; the message says why."""


class _EarlyStoppingStandIn:
    """Stands in for ``pytorch_lightning.callbacks.early_stopping.EarlyStopping`` (never built)."""


class _ModelCheckpointStandIn:
    """Stands in for ``pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint`` (never built)."""


_ALLOWED_GLOBALS: list[Any] = [
    (_EarlyStoppingStandIn, "pytorch_lightning.callbacks.early_stopping.EarlyStopping"),
    (_ModelCheckpointStandIn, "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint"),
]


def _load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SeedCheckpointError(f"checkpoint {path} does not exist (or is not a file)")
    if not zipfile.is_zipfile(path):
        raise SeedCheckpointError(
            f"{path} is not a PyTorch checkpoint (not a torch.save zip archive); expected the original "
            "app's saved_model.ckpt"
        )
    try:
        with torch.serialization.safe_globals(_ALLOWED_GLOBALS):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise SeedCheckpointError(
            f"refusing to load {path}: it needs objects beyond tensors and the two allow-listed Lightning "
            f"callback names ({str(exc).splitlines()[0]})"
        ) from exc
    except (RuntimeError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise SeedCheckpointError(f"{path} could not be read as a PyTorch checkpoint: {exc}") from exc
    if not isinstance(ckpt, dict):
        raise SeedCheckpointError(f"{path} holds a {type(ckpt).__name__}, not a Lightning checkpoint dict")
    return ckpt


def _metrics(ckpt: dict[str, Any]) -> dict[str, float | int | str]:
    metrics: dict[str, float | int | str] = {"val_acc_documented": SEED_DOCUMENTED_VAL_ACC}
    for key in ("epoch", "global_step"):
        if isinstance(ckpt.get(key), int):
            metrics[key] = int(ckpt[key])
    if isinstance(ckpt.get("pytorch-lightning_version"), str):
        metrics["pytorch_lightning_version"] = ckpt["pytorch-lightning_version"]
    callbacks = ckpt.get("callbacks")
    if isinstance(callbacks, dict):
        for cls, state in callbacks.items():
            if not isinstance(state, dict):
                continue
            if cls is _ModelCheckpointStandIn and torch.is_tensor(state.get("best_model_score")):
                monitor = state.get("monitor") or "monitored"
                metrics[f"best_{monitor}"] = round(float(state["best_model_score"]), 6)
            if cls is _EarlyStoppingStandIn and torch.is_tensor(state.get("best_score")):
                metrics["early_stopping_best_score"] = round(float(state["best_score"]), 6)
    return metrics


def import_seed_checkpoint(
    ckpt_path: str | os.PathLike[str],
) -> tuple[dict[str, torch.Tensor], ModelMetadata]:
    """Read the original app's checkpoint: ``(state_dict, metadata)`` ready for ``save_model``.

    The model sees 32 raw-pixel COCO-17 poses at about 22 Hz and names one of six actions.
    Raises :class:`SeedCheckpointError` for anything that is not such a checkpoint.
    """
    path = Path(ckpt_path)
    ckpt = _load_checkpoint(path)
    state = ckpt.get("state_dict")
    if not isinstance(state, dict) or not state:
        raise SeedCheckpointError(
            f"{path} has no 'state_dict' (keys: {sorted(map(str, ckpt))}); is it a Lightning checkpoint?"
        )
    state_dict = {
        str(k): v.detach().to(torch.float32).contiguous() for k, v in state.items() if torch.is_tensor(v)
    }
    hparams = ckpt.get("hyper_parameters") or {}
    input_size = int(hparams.get("input_features", 34))
    hidden = int(hparams.get("hidden_dim", state_dict.get("lstm.weight_hh_l0", torch.empty(0, 50)).shape[1]))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        metadata = ModelMetadata(
            labels=SEED_LABELS,
            steps=SEED_STEPS,
            rate_hz=SEED_RATE_HZ,
            normalisation="raw_pixels",
            keypoint_schema="coco17",
            architecture="lstm",
            input_size=input_size,
            hidden_size=hidden,
            num_layers=1,
            dropout=0.0,
            metrics=_metrics(ckpt),
            description=(
                "The original app's LSTM (34 -> 50 -> 6): 32 COCO-17 poses as raw pixel x, y, "
                "trained on the RNN-HAR-2D-Pose database (OpenPose-18 converted to COCO-17)."
            ),
            source=f"{SEED_SOURCE}; imported from {path.name} sha256:{digest}",
        )
        check_state_dict(state_dict, metadata)
    except ModelFileError as exc:
        raise SeedCheckpointError(f"{path} is not the expected seed model: {exc}") from exc
    log.info("imported seed checkpoint %s (%s)", path, metadata.metrics)
    return state_dict, metadata
