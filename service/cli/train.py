"""``actionstream train``: make a model (the work is in :mod:`training`).

The handler turns arguments into :mod:`training`'s calls and its errors into usage errors (exit
code 2); torch and Lightning are imported only inside it. The command that reproduces a run is
spelled from the parser itself (:class:`Recipe`), so a new option appears in it without more code.
"""

from __future__ import annotations

import argparse
import logging
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inference.decision import MAX_SMOOTHING_S, TRAINED_SMOOTHING_S
from service.cli.common import UsageError, number

log = logging.getLogger(__name__)

_COUNT = number(int, ge=1)


class Recipe:
    """The options that decide what a run trains, in the order the reproducing command spells them.

    Each group has a source option (its options are spelled only when the source is given, e.g. the
    synthetic settings with ``--synthetic``) or none (always spelled, defaults included). Options
    that do not change the model (workers, threads, progress bar) are not added."""

    def __init__(self) -> None:
        self.groups: list[tuple[str | None, list[argparse.Action]]] = []

    def add(self, source: str | None, actions: Sequence[argparse.Action]) -> None:
        self.groups.append((source, list(actions)))

    def command(self, args: argparse.Namespace) -> str:
        argv = ["actionstream", "train"]
        for source, actions in self.groups:
            if source is not None and not getattr(args, source):
                continue
            for action in actions:
                argv += _spelled(action, getattr(args, action.dest))
        return shlex.join(argv)


def _spelled(action: argparse.Action, value: Any) -> list[str]:
    flag = action.option_strings[-1]
    if action.nargs == 0:  # a switch
        return [flag] if value else []
    if value is None or value == []:
        return []
    values = value if isinstance(value, list) else [value]
    return [flag, *(f"{v:g}" if isinstance(v, float) else str(v) for v in values)]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train an action model (synthetic, RNN-HAR-2D-Pose and/or own video windows)",
        description=(
            "Train the LSTM action classifier with PyTorch Lightning and export the best epoch (lowest "
            "validation loss) as a model file. Sources may be combined (at least one); labels are "
            "merged by name."
        ),
    )
    recipe = Recipe()
    g = p.add_argument_group("synthetic data")
    recipe.add(
        "synthetic",
        [
            g.add_argument(
                "--synthetic", type=_COUNT, metavar="N_PER_CLASS", help="synthetic sequences per action"
            ),
            g.add_argument(
                "--windows-per-sequence",
                type=_COUNT,
                default=4,
                help="synthetic windows cut per sequence (default: 4)",
            ),
            g.add_argument(
                "--idle",
                choices=["none", "class", "off"],
                default="none",
                help=(
                    "synthetic people standing still: trained towards equal probabilities for every label so "
                    "the model is unsure when nobody acts (none, the default), an IDLE class (class), or "
                    "unused (off)"
                ),
            ),
            g.add_argument(
                "--profile-share",
                type=float,
                default=0.15,
                help="synthetic: share of people turned 65-95 degrees, nearly in profile (default: 0.15)",
            ),
            g.add_argument(
                "--no-augment", action="store_true", help="synthetic: no camera/detector augmentation"
            ),
        ],
    )
    g = p.add_argument_group("no known action")
    recipe.add(
        None,
        [
            g.add_argument(
                "--background",
                choices=["on", "off"],
                default="on",
                help=(
                    "on (default): the model gets a 'none of these actions' output, trained on generated "
                    "people standing still and doing everyday motion (walking, squats, gestures, "
                    "stretching, ...) and on own windows labelled none; off: no such output (no-action "
                    "windows trained towards equal probabilities, as before)"
                ),
            ),
            g.add_argument(
                "--everyday",
                type=number(int, ge=0),
                metavar="N_PER_KIND",
                help="generated sequences per kind of everyday non-action motion (default: --synthetic / 6, "
                "or 100)",
            ),
        ],
    )
    g = p.add_argument_group("RNN-HAR-2D-Pose data")
    recipe.add(
        "har2d",
        [
            g.add_argument(
                "--har2d", type=Path, metavar="DIR", help="folder with X_train.txt, Y_train.txt, ..."
            )
        ],
    )
    g = p.add_argument_group("own video windows")
    recipe.add(
        "windows",
        [
            g.add_argument(
                "--windows",
                type=Path,
                nargs="+",
                default=[],
                metavar="FILE.npz",
                help="files from `dataset build`",
            ),
            g.add_argument(
                "--val-fraction",
                type=number(float, gt=0, lt=1, what="a fraction"),
                default=0.2,
                help="share of videos for validation (default: 0.2)",
            ),
        ],
    )
    g = p.add_argument_group("window")
    recipe.add(
        None,
        [
            g.add_argument(
                "--normalisation",
                choices=["body_centred", "raw_pixels"],
                default="body_centred",
                help="feature normalisation (default: %(default)s; raw_pixels depends on framing and "
                "distance)",
            ),
            g.add_argument("--steps", type=_COUNT, default=32, help="poses per window (default: 32)"),
            g.add_argument(
                "--rate-hz", type=number(float, gt=0), default=22.0, help="window sample rate (default: 22)"
            ),
        ],
    )
    g = p.add_argument_group("model and optimisation")
    recipe.add(
        None,
        [
            g.add_argument(
                "--input-features",
                choices=["xy", "motion"],
                default="xy",
                help="what the LSTM reads: the window's joints (xy, the original's) or posture + velocities "
                "(motion)",
            ),
            g.add_argument("--hidden", type=_COUNT, default=50, help="LSTM hidden size (default: 50)"),
            g.add_argument("--layers", type=_COUNT, default=1, help="LSTM layers (default: 1)"),
            g.add_argument("--dropout", type=float, default=0.0, help="dropout (default: 0)"),
            g.add_argument("--epochs", type=_COUNT, default=30, help="maximum epochs (default: 30)"),
            g.add_argument(
                "--patience", type=_COUNT, default=8, help="early-stopping patience in epochs (default: 8)"
            ),
            g.add_argument(
                "--lr", type=number(float, gt=0), default=1e-3, help="Adam learning rate (default: 0.001)"
            ),
            g.add_argument("--batch-size", type=_COUNT, default=128, help="default: 128"),
            g.add_argument(
                "--feature-noise",
                type=float,
                default=0.0,
                help="Gaussian noise on training features (default: 0)",
            ),
            g.add_argument(
                "--seed", type=number(int, ge=0), default=0, help="seed for data and training (default: 0)"
            ),
            g.add_argument(
                "--reject-threshold",
                type=number(float, ge=0, le=1, what="a probability"),
                default=0.5,
                help="a window names no action below this calibrated probability (default: 0.5)",
            ),
            g.add_argument(
                "--max-missing",
                type=number(float, ge=0, le=1, what="a fraction"),
                default=0.5,
                help="a window with more than this share of missing joints names no action (default: 0.5)",
            ),
            g.add_argument(
                "--smoothing-s",
                type=number(float, ge=0, le=MAX_SMOOTHING_S, what="a number of seconds"),
                default=TRAINED_SMOOTHING_S,
                help="a person's decision weighs the mean output of their windows of the last this many "
                "seconds, the current one included (default: %(default)s; 0: every window alone)",
            ),
            g.add_argument("--no-calibrate", action="store_true", help="keep temperature 1 (no calibration)"),
            g.add_argument(
                "--balance",
                action="store_true",
                help="weigh every class (the background too) the same in the loss, whatever its window count",
            ),
        ],
    )
    g = p.add_argument_group("output")
    recipe.add(
        None,
        [
            g.add_argument(
                "--out", type=Path, required=True, metavar="MODEL.safetensors", help="model file to write"
            )
        ],
    )
    g = p.add_argument_group("run (does not change the model)")
    g.add_argument(
        "--workers", type=_COUNT, default=1, help="processes generating synthetic data (default: 1)"
    )
    g.add_argument(
        "--threads", type=_COUNT, default=1, help="torch CPU threads (default: 1; the LSTM is tiny)"
    )
    g.add_argument(
        "--checkpoint-dir", type=Path, help="keep Lightning checkpoints here (default: a temporary folder)"
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=train, recipe=recipe)


def canonical_train_command(args: argparse.Namespace) -> str:
    """The full command that reproduces this run (every setting spelled out)."""
    recipe: Recipe = args.recipe
    resolved = argparse.Namespace(**vars(args))
    resolved.everyday = _everyday(args) if args.background == "on" else None
    return recipe.command(resolved)


def _everyday(args: argparse.Namespace) -> int:
    """Sequences per everyday motion kind: as asked, else a sixth of --synthetic (or 100)."""
    if args.everyday is not None:
        return int(args.everyday)
    return max(args.synthetic // 6, 2) if args.synthetic else 100


def train(args: argparse.Namespace) -> int:
    import torch  # noqa: PLC0415 - heavy; only this command needs it

    out = Path(args.out)
    if out.is_dir() or out.suffix != ".safetensors":
        raise UsageError(f"--out must be a file name ending in .safetensors, got {out}")
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _train(args, out)
    finally:
        torch.set_num_threads(threads)


def _train(args: argparse.Namespace, out: Path) -> int:
    from inference.windows import WindowSpec  # noqa: PLC0415
    from training.augment import AugmentConfig  # noqa: PLC0415
    from training.datasets import DatasetError, SyntheticConfig  # noqa: PLC0415
    from training.har2d import Har2dFormatError  # noqa: PLC0415
    from training.lightning import TrainConfig  # noqa: PLC0415
    from training.recipe import DataPlan, prepare_data, record_path, train_and_export  # noqa: PLC0415

    try:
        spec = WindowSpec(steps=args.steps, rate_hz=args.rate_hz, normalisation=args.normalisation)
        config = TrainConfig(
            hidden_size=args.hidden,
            num_layers=args.layers,
            dropout=args.dropout,
            learning_rate=args.lr,
            batch_size=args.batch_size,
            max_epochs=args.epochs,
            early_stopping_patience=args.patience,
            feature_noise=args.feature_noise,
            seed=args.seed,
            background=args.background == "on",
            class_balance=args.balance,
            input_features=args.input_features,
            calibrate=not args.no_calibrate,
            reject_threshold=args.reject_threshold,
            max_missing_fraction=args.max_missing,
            smoothing_s=args.smoothing_s,
        )
        everyday = _everyday(args) if args.background == "on" else 0
        synthetic = SyntheticConfig(
            windows_per_sequence=args.windows_per_sequence,
            augment=None if args.no_augment else AugmentConfig(),
            idle=args.idle,
            profile_p=args.profile_share,
            everyday_per_kind=everyday,
        )
        plan = DataPlan(
            synthetic_per_class=args.synthetic or 0,
            har2d_dir=args.har2d,
            windows_files=tuple(args.windows),
            synthetic=synthetic,
            val_fraction=args.val_fraction,
            seed=args.seed,
            workers=args.workers,
            background_per_kind=everyday,
        )
        data = prepare_data(plan, spec)
    except (DatasetError, Har2dFormatError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    command = canonical_train_command(args)
    result, meta = train_and_export(
        data,
        config,
        out,
        command=command,
        progress_bar=not args.no_progress,
        checkpoint_dir=args.checkpoint_dir,
    )
    m = result.metrics
    print(
        f"wrote {out} ({', '.join(meta.labels)}; {spec.normalisation}, {spec.steps} steps at "
        f"{spec.rate_hz:g} Hz): val_acc {m['val_acc']:.3f}, val_loss {m['val_loss']:.3f} at epoch "
        f"{m['best_epoch']} of {m['epochs_run']}; record {record_path(out)}"
    )
    return 0
