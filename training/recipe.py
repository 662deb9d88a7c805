"""One training run end to end: gather windows from the chosen sources, fit, export, write a record.

``actionstream train`` is a thin layer over :func:`prepare_data` and :func:`train_and_export`.
Next to the model file goes ``<model>.train.json``: the exact command, the settings, the data
summary and the per-epoch history (``actionstream evaluate`` draws training curves from it).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inference.model_file import ModelMetadata
from inference.windows import WindowSpec
from training.datasets import (
    BACKGROUND,
    DatasetError,
    SyntheticConfig,
    WindowSet,
    background_windows,
    concat_sets,
    har2d_dir_windows,
    load_raw_windows,
    raw_windows_to_set,
    synthetic_windows,
)
from training.lightning import TrainConfig, TrainResult, export_model, fit
from training.windowset import mark_no_action

log = logging.getLogger(__name__)

VAL_SEED_OFFSET = 100_000  # synthetic validation sequences never coincide with training ones


@dataclass(frozen=True)
class DataPlan:
    """Where the training windows come from (any combination; labels are merged by name)."""

    synthetic_per_class: int = 0
    har2d_dir: Path | None = None
    windows_files: tuple[Path, ...] = ()
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    val_fraction: float = 0.2
    seed: int = 0
    workers: int = 1
    # Generated people doing none of the labels (standing still + everyday motion), per kind, for
    # models whose labels come from elsewhere (own videos); with --synthetic the synthetic
    # config's everyday_per_kind and idle say it.
    background_per_kind: int = 0

    def __post_init__(self) -> None:
        if not (self.synthetic_per_class or self.har2d_dir or self.windows_files):
            raise DatasetError("no training data: give --synthetic N, --har2d DIR and/or --windows FILE.npz")
        if self.synthetic_per_class < 0:
            raise DatasetError(
                f"--synthetic must be >= 1 sequences per class, got {self.synthetic_per_class}"
            )
        if not 0.0 < self.val_fraction < 1.0:
            raise DatasetError(f"validation fraction must be in (0, 1), got {self.val_fraction}")


@dataclass(frozen=True)
class PreparedData:
    train: WindowSet
    val: WindowSet
    summary: dict[str, Any]


def prepare_data(plan: DataPlan, spec: WindowSpec) -> PreparedData:
    """Train and validation windows from every source in the plan.

    Synthetic: a separate validation set drawn with another seed (a quarter as many sequences).
    RNN-HAR-2D-Pose: ``X_train``/``X_test`` when both exist, else a split. Own videos: split by
    video (so a clip is never on both sides)."""
    trains: list[WindowSet] = []
    vals: list[WindowSet] = []
    summary: dict[str, Any] = {}
    if plan.synthetic_per_class:
        n_val = max(plan.synthetic_per_class // 4, 5)
        cfg = plan.synthetic
        val_cfg = dataclasses.replace(cfg, everyday_per_kind=_quarter(cfg.everyday_per_kind))
        log.info(
            "generating synthetic windows: %d + %d sequences per class, %d + %d per everyday motion",
            plan.synthetic_per_class,
            n_val,
            cfg.everyday_per_kind,
            val_cfg.everyday_per_kind,
        )
        trains.append(
            synthetic_windows(
                plan.synthetic_per_class, spec, seed=plan.seed, config=cfg, workers=plan.workers
            )
        )
        vals.append(
            synthetic_windows(
                n_val, spec, seed=plan.seed + VAL_SEED_OFFSET, config=val_cfg, workers=plan.workers
            )
        )
        summary["synthetic"] = {
            "sequences_per_class": plan.synthetic_per_class,
            "val_sequences_per_class": n_val,
            "seed": plan.seed,
            "val_seed": plan.seed + VAL_SEED_OFFSET,
            "config": _jsonable(dataclasses.asdict(plan.synthetic)),
        }
    if plan.har2d_dir is not None:
        sets = har2d_dir_windows(plan.har2d_dir, spec)
        if "train" in sets and "test" in sets:
            trains.append(sets["train"])
            vals.append(sets["test"])
        else:
            tr, va = concat_sets(list(sets.values())).split(plan.val_fraction, plan.seed)
            trains.append(tr)
            vals.append(va)
        summary["har2d"] = {"dir": str(plan.har2d_dir), "files": sorted(sets)}
    if plan.windows_files:
        own = concat_sets([raw_windows_to_set(load_raw_windows(p), spec) for p in plan.windows_files])
        own = mark_no_action(own, concat_sets(trains).label_names if trains else ())
        tr, va = own.split(plan.val_fraction, plan.seed)
        trains.append(tr)
        vals.append(va)
        summary["windows"] = [str(p) for p in plan.windows_files]
    if plan.background_per_kind and not plan.synthetic_per_class:
        names = concat_sets(trains).label_names
        n, n_val = plan.background_per_kind, _quarter(plan.background_per_kind)
        log.info("generating background windows: %d + %d sequences per kind", n, n_val)
        kw = {"config": plan.synthetic, "workers": plan.workers}
        trains.append(background_windows(n, spec, names, seed=plan.seed, **kw))  # type: ignore[arg-type]
        vals.append(background_windows(n_val, spec, names, seed=plan.seed + VAL_SEED_OFFSET, **kw))  # type: ignore[arg-type]
        summary["background"] = {
            "sequences_per_kind": n,
            "val_sequences_per_kind": n_val,
            "kinds": list(BACKGROUND),
        }
    train, val = concat_sets(trains), concat_sets(vals)
    val = val.with_labels(train.label_names) if set(val.label_names) <= set(train.label_names) else val
    if val.label_names != train.label_names:
        missing = [n for n in val.label_names if n not in train.label_names]
        raise DatasetError(
            f"labels {missing} appear only in the validation windows; add training data for them"
        )
    if len(train) == 0 or len(val) == 0:
        raise DatasetError(f"need training and validation windows, got {len(train)} and {len(val)}")
    summary["train_windows"] = train.class_counts()
    summary["val_windows"] = val.class_counts()
    log.info("training windows %s; validation windows %s", summary["train_windows"], summary["val_windows"])
    return PreparedData(train, val, summary)


def _quarter(n: int) -> int:
    return max(n // 4, 2) if n else 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def record_path(model_path: str | os.PathLike[str]) -> Path:
    """``MODEL.train.json`` beside ``MODEL.safetensors``."""
    p = Path(model_path)
    return p.with_name(p.stem + ".train.json")


def describe(data: PreparedData) -> str:
    parts = []
    if "synthetic" in data.summary:
        s = data.summary["synthetic"]
        c = s["config"]
        idle = {"none": "standing people as 'none of these'", "class": "an IDLE class", "off": "no idle"}
        parts.append(
            f"synthetic kinematic sequences ({s['sequences_per_class']} per class, seed {s['seed']}, "
            f"fps {c['fps_range'][0]:g}-{c['fps_range'][1]:g}, "
            f"{'augmented' if c['augment'] else 'no augmentation'}, {idle[c['idle']]}, "
            f"{c['profile_p']:.0%} nearly in profile"
            + (
                f", {c['everyday_per_kind']} per everyday non-action motion as 'none of these'"
                if c.get("everyday_per_kind")
                else ""
            )
            + ")"
        )
    if "har2d" in data.summary:
        parts.append(f"RNN-HAR-2D-Pose ({data.summary['har2d']['dir']})")
    if "windows" in data.summary:
        parts.append(f"own video windows ({', '.join(Path(p).name for p in data.summary['windows'])})")
    if "background" in data.summary:
        b = data.summary["background"]
        parts.append(f"generated background ({b['sequences_per_kind']} sequences per kind of non-action)")
    return "; ".join(parts)


def train_and_export(
    data: PreparedData,
    config: TrainConfig,
    out: str | os.PathLike[str],
    *,
    command: str,
    progress_bar: bool = True,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> tuple[TrainResult, ModelMetadata]:
    """Fit, export the best epoch to ``out`` and write ``<out>.train.json``."""
    result = fit(data.train, data.val, config, progress_bar=progress_bar, checkpoint_dir=checkpoint_dir)
    metrics: dict[str, float | int | str] = dict(result.metrics)
    metrics["seed"] = config.seed
    spec = data.train.spec
    outputs = f"{len(data.train.label_names)}" + (" + background" if config.background else "")
    description = (
        f"LSTM {spec.steps}x34 ({config.input_features}) -> {config.hidden_size} x{config.num_layers} -> "
        f"{outputs}, {spec.normalisation} COCO-17 input at {spec.rate_hz:g} Hz, temperature "
        f"{result.temperature:.3g}; trained on {describe(data)}."
    )
    meta = export_model(
        result.module,
        out,
        metrics=metrics,
        description=description,
        source=command,
        temperature=result.temperature,
        config=config,
    )
    record = {
        "command": command,
        "model": str(out),
        "config": dataclasses.asdict(config),
        "spec": dataclasses.asdict(spec),
        "labels": list(data.train.label_names),
        "data": _jsonable(data.summary),
        "metrics": metrics,
        "history": result.history,
    }
    record_path(out).write_text(json.dumps(record, indent=2) + "\n")
    return result, meta
