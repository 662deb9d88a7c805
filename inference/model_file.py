"""The action model artifact: one safetensors file with the weights and a JSON description.

safetensors stores raw tensors plus a string-to-string ``__metadata__`` header, so a model file
loads without executing any code (no pickle). The JSON under :data:`METADATA_KEY` says everything
needed to use the weights correctly: labels in output order, the window (steps, rate,
normalisation), the keypoint schema and the architecture. :func:`load_model` refuses files whose
weights do not match what the metadata declares, and says what is wrong.

A file may hold an **ensemble** (``architecture: "lstm-ensemble"``): several LSTMs trained
separately on the same labels and window, each with its own size and temperature (``members``);
the model's output is the mean of their calibrated probabilities. :func:`ensemble` makes one from
model files (``actionstream model ensemble``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from inference.decision import (
    DEFAULT_MAX_MISSING_FRACTION,
    DEFAULT_REJECT_THRESHOLD,
    DEFAULT_SMOOTHING_S,
    MAX_SMOOTHING_S,
    DecisionRule,
)
from inference.features import INPUT_FEATURES
from inference.features import input_size as features_input_size
from inference.keypoints import NUM_KEYPOINTS
from inference.windows import NORMALISATIONS, WindowSpec

FORMAT_NAME = "actionstream.action-model"
# 2: background output, temperature, reject_threshold, max_missing_fraction, input_features
# (version 1 files load with their defaults: no background, temperature 1, the default rule).
# 3: smoothing_s (older files load with 0: every window judged alone); the lstm-ensemble architecture.
FORMAT_VERSION = 3
METADATA_KEY = "actionstream.metadata"
KEYPOINT_SCHEMAS: dict[str, int] = {"coco17": NUM_KEYPOINTS}
ARCHITECTURES: tuple[str, ...] = ("lstm", "lstm-ensemble")
ENSEMBLE = "lstm-ensemble"
MEMBER_KEYS = ("hidden_size", "num_layers", "input_features", "temperature")

MetricValue = float | int | str


class ModelFileError(ValueError):
    """A model file that cannot be used; the message says which file and what is wrong."""


@dataclass(frozen=True)
class MemberSpec:
    """One network of an ensemble: its LSTM's size, what it reads and its softmax temperature."""

    hidden_size: int
    num_layers: int = 1
    input_features: str = "xy"
    temperature: float = 1.0

    def problems(self, where: str) -> list[str]:
        p: list[str] = []
        for name in ("hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                p.append(f"{where}.{name} must be an int >= 1, got {value!r}")
        if self.input_features not in INPUT_FEATURES:
            p.append(
                f"{where}.input_features must be one of {', '.join(INPUT_FEATURES)}, "
                f"got {self.input_features!r}"
            )
        if not isinstance(self.temperature, int | float) or not (
            math.isfinite(self.temperature) and self.temperature > 0
        ):
            p.append(f"{where}.temperature must be a positive number, got {self.temperature!r}")
        return p


@dataclass(frozen=True)
class ModelMetadata:
    """What a model file declares about its weights (all of it is stored as JSON in the file).

    ``labels``: class names in output order. ``steps``/``rate_hz``/``normalisation``/
    ``min_confidence``: the window the model was trained on (see :class:`WindowSpec`).
    ``metrics``: training results (e.g. ``val_acc``), numbers or short strings.
    ``background``: the network has one more output after the labels, "none of these actions"
    (trained on everyday motion and standing still); it is never a label. ``temperature``: the
    logits are divided by it before the softmax (calibrated on held-out windows).
    ``reject_threshold``/``max_missing_fraction``/``smoothing_s``: the no-action rule and how many
    seconds of a person's windows a decision weighs (:mod:`inference.decision`).
    ``input_features``: what the network reads from the window (:mod:`inference.features`).
    ``members``: for ``architecture="lstm-ensemble"`` (two or more), each network's size, input and
    temperature; the top-level network keys then describe member 0 and ``temperature`` is 1.
    """

    labels: tuple[str, ...]
    steps: int = 32
    rate_hz: float = 22.0
    normalisation: str = "raw_pixels"
    min_confidence: float = 0.3
    keypoint_schema: str = "coco17"
    architecture: str = "lstm"
    input_size: int = 2 * NUM_KEYPOINTS
    hidden_size: int = 50
    num_layers: int = 1
    dropout: float = 0.0
    background: bool = False
    temperature: float = 1.0
    reject_threshold: float = DEFAULT_REJECT_THRESHOLD
    max_missing_fraction: float = DEFAULT_MAX_MISSING_FRACTION
    smoothing_s: float = DEFAULT_SMOOTHING_S
    input_features: str = "xy"
    members: tuple[MemberSpec, ...] = ()
    metrics: Mapping[str, MetricValue] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    description: str = ""
    source: str = ""
    created: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "metrics", dict(self.metrics))
        object.__setattr__(
            self,
            "members",
            tuple(MemberSpec(**m) if isinstance(m, Mapping) else m for m in self.members),
        )
        problems = self._problems()
        if problems:
            raise ModelFileError("invalid model metadata: " + "; ".join(problems))

    def _problems(self) -> list[str]:  # noqa: PLR0912 - one flat list of checks reads best
        p: list[str] = []
        if not isinstance(self.format_version, int) or not 1 <= self.format_version <= FORMAT_VERSION:
            p.append(f"format_version must be an int in 1..{FORMAT_VERSION}, got {self.format_version!r}")
        if not self.labels or not all(isinstance(x, str) and x for x in self.labels):
            p.append(f"labels must be a non-empty list of non-empty strings, got {list(self.labels)!r}")
        elif len(set(self.labels)) != len(self.labels):
            p.append(f"labels must be unique, got {list(self.labels)!r}")
        if not isinstance(self.steps, int) or self.steps < 2:
            p.append(f"steps must be an int >= 2, got {self.steps!r}")
        if not isinstance(self.rate_hz, int | float) or not (
            math.isfinite(self.rate_hz) and self.rate_hz > 0
        ):
            p.append(f"rate_hz must be a positive number, got {self.rate_hz!r}")
        if self.normalisation not in NORMALISATIONS:
            p.append(f"normalisation must be one of {', '.join(NORMALISATIONS)}, got {self.normalisation!r}")
        if not isinstance(self.min_confidence, int | float) or not 0 <= self.min_confidence <= 1:
            p.append(f"min_confidence must be in [0, 1], got {self.min_confidence!r}")
        if self.keypoint_schema not in KEYPOINT_SCHEMAS:
            p.append(
                f"keypoint_schema {self.keypoint_schema!r} is not supported (expected one of "
                f"{', '.join(KEYPOINT_SCHEMAS)})"
            )
        elif self.input_features not in INPUT_FEATURES:
            p.append(
                f"input_features must be one of {', '.join(INPUT_FEATURES)}, got {self.input_features!r}"
            )
        elif self.input_size != (
            want := features_input_size(self.input_features, 2 * KEYPOINT_SCHEMAS[self.keypoint_schema])
        ):
            p.append(
                f"input_size={self.input_size!r} does not fit keypoint_schema {self.keypoint_schema!r} "
                f"with input_features {self.input_features!r} (expected {want})"
            )
        if self.architecture not in ARCHITECTURES:
            p.append(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {self.architecture!r}")
        elif self.architecture == ENSEMBLE:
            if len(self.members) < 2:
                p.append(f"an {ENSEMBLE} needs two or more members, got {len(self.members)}")
            if self.temperature != 1.0:
                p.append(
                    f"an {ENSEMBLE} has temperature 1 (each member has its own), got {self.temperature!r}"
                )
            for i, m in enumerate(self.members):
                p += (
                    m.problems(f"members[{i}]")
                    if isinstance(m, MemberSpec)
                    else [f"members[{i}] is not an object"]
                )
        elif self.members:
            p.append(f"members are only for architecture {ENSEMBLE!r}, not {self.architecture!r}")
        for name in ("hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                p.append(f"{name} must be an int >= 1, got {value!r}")
        if not isinstance(self.dropout, int | float) or not 0 <= self.dropout < 1:
            p.append(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.background, bool):
            p.append(f"background must be true or false, got {self.background!r}")
        if not isinstance(self.temperature, int | float) or not (
            math.isfinite(self.temperature) and self.temperature > 0
        ):
            p.append(f"temperature must be a positive number, got {self.temperature!r}")
        for name in ("reject_threshold", "max_missing_fraction"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                p.append(f"{name} must be in [0, 1], got {value!r}")
        if not isinstance(self.smoothing_s, int | float) or not 0 <= self.smoothing_s <= MAX_SMOOTHING_S:
            p.append(f"smoothing_s must be in [0, {MAX_SMOOTHING_S:g}] seconds, got {self.smoothing_s!r}")
        for key, value in self.metrics.items():
            ok = isinstance(value, str) or (
                isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            )
            if not isinstance(key, str) or not ok:
                p.append(f"metrics[{key!r}] must be a finite number or a string, got {value!r}")
        for name in ("description", "source", "created"):
            if not isinstance(getattr(self, name), str):
                p.append(f"{name} must be a string, got {getattr(self, name)!r}")
        return p

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def num_outputs(self) -> int:
        """Network outputs: one per label, plus the background output when there is one."""
        return len(self.labels) + int(self.background)

    @property
    def is_ensemble(self) -> bool:
        return self.architecture == ENSEMBLE

    @property
    def networks(self) -> tuple[MemberSpec, ...]:
        """Every network of the file: the members of an ensemble, else the one the top level declares."""
        if self.is_ensemble:
            return self.members
        return (MemberSpec(self.hidden_size, self.num_layers, self.input_features, float(self.temperature)),)

    @property
    def rule(self) -> DecisionRule:
        """When a window of this model names no action (:func:`inference.decision.decide`)."""
        return DecisionRule(
            float(self.reject_threshold), float(self.max_missing_fraction), float(self.smoothing_s)
        )

    @property
    def spec(self) -> WindowSpec:
        """The window this model expects; build features with exactly this."""
        return WindowSpec(
            steps=self.steps,
            rate_hz=float(self.rate_hz),
            normalisation=self.normalisation,
            min_confidence=float(self.min_confidence),
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels"] = list(self.labels)
        d["metrics"] = dict(self.metrics)
        d["members"] = [asdict(m) for m in self.members]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelMetadata:
        """Build from a JSON object, refusing unknown or missing keys (with their names)."""
        if not isinstance(data, Mapping):
            raise ModelFileError(f"model metadata must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelFileError(f"model metadata has unknown keys {unknown} (known: {sorted(known)})")
        if "labels" not in data:
            raise ModelFileError("model metadata has no 'labels'")
        version = data.get("format_version")
        if not isinstance(version, int):
            raise ModelFileError(f"model metadata has no integer 'format_version' (got {version!r})")
        if version > FORMAT_VERSION:
            raise ModelFileError(
                f"model file format version {version} is newer than this actionstream supports "
                f"({FORMAT_VERSION}); upgrade actionstream to use it"
            )
        members = data.get("members", [])
        if not isinstance(members, list) or not all(isinstance(m, Mapping) for m in members):
            raise ModelFileError(f"model metadata 'members' must be a list of objects, got {members!r:.80}")
        for i, m in enumerate(members):
            unknown_m = sorted(set(m) - set(MEMBER_KEYS))
            if unknown_m or "hidden_size" not in m:
                raise ModelFileError(
                    f"model metadata members[{i}] must have hidden_size and only {list(MEMBER_KEYS)}, "
                    f"got {sorted(m)}"
                )
        return cls(**{**data, "members": tuple(MemberSpec(**m) for m in members)})


def _lstm_shapes(prefix: str, net: MemberSpec, input_size: int, outputs: int) -> dict[str, tuple[int, ...]]:
    h, gates = net.hidden_size, 4 * net.hidden_size
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(net.num_layers):
        in_size = input_size if layer == 0 else h
        shapes[f"{prefix}lstm.weight_ih_l{layer}"] = (gates, in_size)
        shapes[f"{prefix}lstm.weight_hh_l{layer}"] = (gates, h)
        shapes[f"{prefix}lstm.bias_ih_l{layer}"] = (gates,)
        shapes[f"{prefix}lstm.bias_hh_l{layer}"] = (gates,)
    shapes[f"{prefix}linear.weight"] = (outputs, h)
    shapes[f"{prefix}linear.bias"] = (outputs,)
    return shapes


def member_prefix(index: int) -> str:
    """Where member ``index``'s tensors live in an ensemble's state dict."""
    return f"members.{index}."


def expected_shapes(meta: ModelMetadata) -> dict[str, tuple[int, ...]]:
    """Every tensor name the declared architecture has, with its shape (PyTorch LSTM layout)."""
    raw = 2 * KEYPOINT_SCHEMAS[meta.keypoint_schema]
    shapes: dict[str, tuple[int, ...]] = {}
    for i, m in enumerate(meta.networks):
        prefix = member_prefix(i) if meta.is_ensemble else ""
        shapes |= _lstm_shapes(prefix, m, features_input_size(m.input_features, raw), meta.num_outputs)
    return shapes


def check_state_dict(state_dict: Mapping[str, torch.Tensor], meta: ModelMetadata) -> None:
    """Raise :class:`ModelFileError` unless the weights are exactly what ``meta`` declares."""
    want = expected_shapes(meta)
    if meta.is_ensemble:
        sizes = ", ".join(f"{m.hidden_size}x{m.num_layers} {m.input_features}" for m in meta.members)
        arch = f"an ensemble of {len(meta.members)} LSTMs ({sizes}), {meta.num_classes} labels"
    else:
        arch = (
            f"input_size={meta.input_size}, hidden_size={meta.hidden_size}, num_layers={meta.num_layers}, "
            f"{meta.num_classes} labels"
        )
    arch += " + background" if meta.background else ""
    missing = sorted(set(want) - set(state_dict))
    extra = sorted(set(state_dict) - set(want))
    if missing or extra:
        raise ModelFileError(
            f"weights do not match the declared architecture ({arch}): missing {missing or 'none'}, "
            f"unexpected {extra or 'none'}"
        )
    for name, shape in want.items():
        tensor = state_dict[name]
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            raise ModelFileError(f"weights {name} must be a floating-point tensor, got {tensor!r:.60}")
        if tuple(tensor.shape) != shape:
            raise ModelFileError(
                f"weights {name} has shape {tuple(tensor.shape)} but metadata says {arch} (expected {shape})"
            )


def save_model(
    path: str | os.PathLike[str], state_dict: Mapping[str, torch.Tensor], metadata: ModelMetadata
) -> Path:
    """Write weights + metadata to ``path`` (atomically: a reader never sees half a file)."""
    check_state_dict(state_dict, metadata)
    path = Path(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    header = {"format": FORMAT_NAME, METADATA_KEY: metadata.to_json()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=header)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a model file is meant to be shared (e.g. mounted)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_metadata(path: str | os.PathLike[str]) -> ModelMetadata:
    """Just the metadata of a model file (no tensors are read)."""
    return _open(Path(path), with_tensors=False)[1]


def load_model(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], ModelMetadata]:
    """Read a model file: ``(state_dict on CPU, metadata)``, checked against each other."""
    return _open(Path(path), with_tensors=True)


def _open(path: Path, with_tensors: bool) -> tuple[dict[str, torch.Tensor], ModelMetadata]:
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist (or is not a file)")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            header = f.metadata() or {}
            names = list(f.keys())
            if with_tensors:
                tensors = {k: f.get_tensor(k) for k in names}
            else:  # shapes are still checked, from the header alone
                tensors = {k: torch.empty(f.get_slice(k).get_shape(), device="meta") for k in names}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"{path} is not a safetensors model file ({exc}); expected a file written by "
            "`actionstream model import-seed` or by training export"
        ) from exc
    if header.get("format") != FORMAT_NAME or METADATA_KEY not in header:
        raise ModelFileError(
            f"{path} is a safetensors file but has no actionstream metadata (header keys: "
            f"{sorted(header) or 'none'}); it needs '{METADATA_KEY}' describing labels, window and "
            "architecture. Re-export the model with actionstream's tools"
        )
    try:
        data = json.loads(header[METADATA_KEY])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: metadata is not valid JSON ({exc})") from exc
    try:
        meta = ModelMetadata.from_dict(data)
        check_state_dict(tensors, meta)
    except (ModelFileError, TypeError) as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
    return tensors, meta


# What the members of an ensemble must share: the labels, the window and the outputs.
_SHARED = ("labels", "steps", "rate_hz", "normalisation", "min_confidence", "keypoint_schema", "background")


def ensemble(
    members: Sequence[tuple[Mapping[str, torch.Tensor], ModelMetadata]],
    *,
    rule: DecisionRule | None = None,
    description: str = "",
    source: str = "",
    created: str = "",
) -> tuple[dict[str, torch.Tensor], ModelMetadata]:
    """One ensemble model from two or more single models (state dict, metadata) with the same labels,
    window and background output: their tensors under ``members.<i>.``, their sizes and
    temperatures in ``members``, and the decision ``rule`` (default: the first member's). Raises
    :class:`ModelFileError` naming what differs."""
    if len(members) < 2:
        raise ModelFileError(f"an ensemble needs two or more models, got {len(members)}")
    first = members[0][1]
    state: dict[str, torch.Tensor] = {}
    specs: list[MemberSpec] = []
    metrics: dict[str, MetricValue] = {"members": len(members)}
    for i, (tensors, meta) in enumerate(members):
        if meta.is_ensemble:
            raise ModelFileError(f"member {i} is itself an ensemble; combine its single models instead")
        for key in _SHARED:
            if getattr(meta, key) != getattr(first, key):
                raise ModelFileError(
                    f"member {i} has {key}={getattr(meta, key)!r} but member 0 has {getattr(first, key)!r}: "
                    "an ensemble's models must share labels, window and background output"
                )
        check_state_dict(tensors, meta)
        state |= {member_prefix(i) + k: v for k, v in tensors.items()}
        specs.append(meta.networks[0])
        for k, v in meta.metrics.items():
            if k in ("val_acc", "val_loss", "temperature", "best_epoch", "seed"):
                metrics[f"member{i}_{k}"] = v
    r = rule if rule is not None else first.rule
    meta = dataclasses.replace(
        first,
        architecture=ENSEMBLE,
        members=tuple(specs),
        temperature=1.0,
        reject_threshold=r.reject_threshold,
        max_missing_fraction=r.max_missing_fraction,
        smoothing_s=r.smoothing_s,
        metrics=metrics,
        format_version=FORMAT_VERSION,
        description=description,
        source=source,
        created=created,
    )
    check_state_dict(state, meta)
    return state, meta
