"""``actionstream train``, ``evaluate``, ``evaluate-real`` and ``dataset build``: make and judge models.

The work is in :mod:`training`; these handlers turn arguments into its calls and its errors into
usage errors (exit code 2). torch, Lightning and MediaPipe are imported only inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from inference.backends import BACKEND_NAMES
from service.cli.common import UsageError
from service.engine.options import LaneOptions

log = logging.getLogger(__name__)

# ../shared/data beside the checkout, like the tests; ACTIONSTREAM_TEST_DATA points elsewhere.
DEFAULT_DATA = Path(
    os.environ.get("ACTIONSTREAM_TEST_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "inference" / "models" / "default.safetensors"
POSE_CACHE = Path(".cache") / "poses"
HOP_S = LaneOptions().classify_hop_s  # windows as often as the service classifies them


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value}")
    return value


def _fraction(text: str) -> float:
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {value}")
    return value


def register(subparsers: Any) -> None:
    _register_train(subparsers)
    _register_evaluate(subparsers)
    _register_evaluate_real(subparsers)
    _register_dataset(subparsers)


# -- train ------------------------------------------------------------------------------------


def _register_train(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train an action model (synthetic, RNN-HAR-2D-Pose and/or own video windows)",
        description=(
            "Train the LSTM action classifier with PyTorch Lightning and export the best epoch (lowest "
            "validation loss) as a model file. Sources may be combined; labels are merged by name."
        ),
    )
    src = p.add_argument_group("data (at least one)")
    src.add_argument(
        "--synthetic", type=_positive_int, metavar="N_PER_CLASS", help="synthetic sequences per action"
    )
    src.add_argument(
        "--har2d", type=Path, metavar="DIR", help="RNN-HAR-2D-Pose folder (X_train.txt, Y_train.txt, ...)"
    )
    src.add_argument(
        "--windows", type=Path, nargs="+", default=[], metavar="FILE.npz", help="files from `dataset build`"
    )
    src.add_argument(
        "--idle",
        choices=["none", "class", "off"],
        default="none",
        help=(
            "synthetic people standing still: trained towards equal probabilities for every label so "
            "the model is unsure when nobody acts (none, the default), an IDLE class (class), or unused (off)"
        ),
    )
    src.add_argument("--no-augment", action="store_true", help="synthetic: no camera/detector augmentation")
    src.add_argument(
        "--profile-share",
        type=float,
        default=0.15,
        help="synthetic: share of people turned 65-95 degrees, nearly in profile (default: 0.15)",
    )
    src.add_argument(
        "--windows-per-sequence",
        type=_positive_int,
        default=4,
        help="synthetic windows cut per sequence (default: 4)",
    )
    src.add_argument(
        "--val-fraction", type=_fraction, default=0.2, help="share of videos for validation (default: 0.2)"
    )
    w = p.add_argument_group("window")
    w.add_argument(
        "--normalisation",
        choices=["body_centred", "raw_pixels"],
        default="body_centred",
        help="feature normalisation (default: %(default)s; raw_pixels depends on framing and distance)",
    )
    w.add_argument("--steps", type=_positive_int, default=32, help="poses per window (default: 32)")
    w.add_argument("--rate-hz", type=_positive_float, default=22.0, help="window sample rate (default: 22)")
    m = p.add_argument_group("model and optimisation")
    m.add_argument("--hidden", type=_positive_int, default=50, help="LSTM hidden size (default: 50)")
    m.add_argument("--layers", type=_positive_int, default=1, help="LSTM layers (default: 1)")
    m.add_argument("--dropout", type=float, default=0.0, help="dropout (default: 0)")
    m.add_argument("--epochs", type=_positive_int, default=30, help="maximum epochs (default: 30)")
    m.add_argument(
        "--patience", type=_positive_int, default=8, help="early-stopping patience in epochs (default: 8)"
    )
    m.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam learning rate (default: 0.001)")
    m.add_argument("--batch-size", type=_positive_int, default=128, help="default: 128")
    m.add_argument(
        "--feature-noise", type=float, default=0.0, help="Gaussian noise on training features (default: 0)"
    )
    m.add_argument(
        "--seed", type=_non_negative_int, default=0, help="seed for data and training (default: 0)"
    )
    r = p.add_argument_group("run")
    r.add_argument("--out", type=Path, required=True, metavar="MODEL.safetensors", help="model file to write")
    r.add_argument(
        "--workers", type=_positive_int, default=1, help="processes generating synthetic data (default: 1)"
    )
    r.add_argument(
        "--threads", type=_positive_int, default=1, help="torch CPU threads (default: 1; the LSTM is tiny)"
    )
    r.add_argument(
        "--checkpoint-dir", type=Path, help="keep Lightning checkpoints here (default: a temporary folder)"
    )
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=train)


def canonical_train_command(args: argparse.Namespace) -> str:
    """The full command that reproduces this run (every setting spelled out)."""
    argv = ["actionstream", "train"]
    if args.synthetic:
        argv += ["--synthetic", str(args.synthetic), "--windows-per-sequence", str(args.windows_per_sequence)]
        argv += ["--idle", args.idle, "--profile-share", f"{args.profile_share:g}"]
        argv += ["--no-augment"] if args.no_augment else []
    if args.har2d:
        argv += ["--har2d", str(args.har2d)]
    if args.windows:
        argv += ["--windows", *map(str, args.windows), "--val-fraction", f"{args.val_fraction:g}"]
    argv += [
        "--normalisation",
        args.normalisation,
        "--steps",
        str(args.steps),
        "--rate-hz",
        f"{args.rate_hz:g}",
    ]
    argv += ["--hidden", str(args.hidden), "--layers", str(args.layers), "--dropout", f"{args.dropout:g}"]
    argv += ["--epochs", str(args.epochs), "--patience", str(args.patience), "--lr", f"{args.lr:g}"]
    argv += ["--batch-size", str(args.batch_size), "--feature-noise", f"{args.feature_noise:g}"]
    argv += ["--seed", str(args.seed), "--out", str(args.out)]
    return shlex.join(argv)


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
        )
        synthetic = SyntheticConfig(
            windows_per_sequence=args.windows_per_sequence,
            augment=None if args.no_augment else AugmentConfig(),
            idle=args.idle,
            profile_p=args.profile_share,
        )
        plan = DataPlan(
            synthetic_per_class=args.synthetic or 0,
            har2d_dir=args.har2d,
            windows_files=tuple(args.windows),
            synthetic=synthetic,
            val_fraction=args.val_fraction,
            seed=args.seed,
            workers=args.workers,
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


# -- evaluate ---------------------------------------------------------------------------------


def _register_evaluate(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score a model on labelled windows: accuracy, per-class P/R/F1, confusion matrix, curves",
        description=(
            "Score MODEL on each DATA (FILE.npz from `dataset build`, X_<name>.txt with Y_<name>.txt "
            "beside it, an RNN-HAR-2D-Pose folder, or synthetic:N[:SEED]). Writes <data>.json, .md and "
            "_confusion.png per DATA into --out; loss.png/accuracy.png when MODEL has a .train.json record."
        ),
    )
    p.add_argument("model", type=Path, help="a .safetensors model file")
    p.add_argument("data", nargs="+", help="labelled data (see above)")
    p.add_argument("--out", type=Path, required=True, help="folder for the reports")
    p.add_argument(
        "--workers", type=_positive_int, default=1, help="processes for synthetic data (default: 1)"
    )
    p.set_defaults(handler=evaluate)


def _data_name(source: str) -> str:
    name = source.replace("synthetic:", "synthetic_").replace(":", "_")
    return Path(name.rstrip("/")).stem or "data"


def evaluate(args: argparse.Namespace) -> int:
    from inference.classifier import ActionClassifier  # noqa: PLC0415
    from inference.model_file import ModelFileError  # noqa: PLC0415
    from training.datasets import DatasetError, load_labelled_windows  # noqa: PLC0415
    from training.evaluate import markdown, plot_history, score, write_report  # noqa: PLC0415
    from training.har2d import Har2dFormatError  # noqa: PLC0415
    from training.recipe import record_path  # noqa: PLC0415

    try:
        clf = ActionClassifier.load(args.model)
    except ModelFileError as exc:
        raise UsageError(str(exc)) from exc
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"model": str(args.model), "labels": list(clf.labels), "data": {}}
    for source in args.data:
        try:
            ws = load_labelled_windows(source, clf.spec, workers=args.workers)
            unknown = [n for n in ws.label_names if n not in clf.labels]
            if unknown:
                raise DatasetError(
                    f"{source} has labels {unknown} that the model does not know "
                    f"(it knows {list(clf.labels)})"
                )
            ws = ws.with_labels(clf.labels)
        except (DatasetError, Har2dFormatError) as exc:
            raise UsageError(str(exc)) from exc
        probs = clf.predict(ws.features)
        report = score(ws.labels, probs.argmax(axis=1), clf.labels)
        name = _data_name(source)
        write_report(report, out, name, title=f"{Path(args.model).name} on {source}")
        summary["data"][source] = {
            "name": name,
            "windows": report.total,
            "accuracy": report.to_dict()["accuracy"],
        }
        print(markdown(report, f"{Path(args.model).name} on {source}"))
    record = record_path(args.model)
    if record.is_file():
        history = json.loads(record.read_text()).get("history", [])
        if history:
            written = plot_history(history, out)
            summary["curves"] = [str(p) for p in written]
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"reports in {out}")
    return 0


# -- evaluate-real ----------------------------------------------------------------------------


def _register_evaluate_real(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate-real",
        help="window accuracy of models on the labelled real videos (MediaPipe + tracker, as served)",
        description=(
            "Run the labelled segments of VIDEOS/labels.csv (and the non-action segments of the shared "
            "data) through MediaPipe in stream mode and the tracker, build windows as the service does, and "
            "tabulate each model's window accuracy per segment. The original app's checkpoint is included "
            "as 'seed' when found."
        ),
    )
    p.add_argument("models", nargs="*", type=Path, help=f"model files (default: {DEFAULT_MODEL.name})")
    p.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="the shared test data folder (default: ../shared/data)",
    )
    p.add_argument(
        "--seed-checkpoint",
        type=Path,
        help="the original app's saved_model.ckpt (default: DATA/seed_checkpoint/saved_model.ckpt)",
    )
    p.add_argument("--no-seed", action="store_true", help="do not include the original app's model")
    p.add_argument(
        "--hop-s",
        type=_positive_float,
        default=HOP_S,
        help="seconds between windows (default: %(default)s, the service's classify_hop_s)",
    )
    p.add_argument("--cache-dir", type=Path, default=POSE_CACHE, help="pose cache (default: %(default)s)")
    p.add_argument("--out", type=Path, required=True, help="folder for real_eval.json and real_eval.md")
    p.set_defaults(handler=evaluate_real)


def evaluate_real(args: argparse.Namespace) -> int:
    from inference.classifier import ActionClassifier  # noqa: PLC0415
    from inference.model_file import ModelFileError  # noqa: PLC0415
    from inference.seed import SeedCheckpointError, import_seed_checkpoint  # noqa: PLC0415
    from service.cli.video_poses import pose_source  # noqa: PLC0415
    from training.real_eval import (  # noqa: PLC0415
        evaluate_models_on_segments,
        load_real_segments,
        markdown_table,
        to_json,
    )

    videos = Path(args.data) / "videos"
    try:
        segments = load_real_segments(videos)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(f"{exc}; pass --data pointing at the shared data folder") from exc
    models: dict[str, ActionClassifier] = {}
    ckpt = args.seed_checkpoint or Path(args.data) / "seed_checkpoint" / "saved_model.ckpt"
    if not args.no_seed:
        if ckpt.is_file():
            try:
                models["seed"] = ActionClassifier.from_state_dict(*import_seed_checkpoint(ckpt))
            except SeedCheckpointError as exc:
                raise UsageError(str(exc)) from exc
        elif args.seed_checkpoint:
            raise UsageError(f"seed checkpoint {ckpt} does not exist")
    for path in args.models or [DEFAULT_MODEL]:
        name = Path(path).stem
        while name in models:
            name += "'"
        try:
            models[name] = ActionClassifier.load(path)
        except ModelFileError as exc:
            raise UsageError(str(exc)) from exc
    ev = evaluate_models_on_segments(
        models, segments, videos, poses=pose_source("mediapipe"), cache_dir=args.cache_dir, hop_s=args.hop_s
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(ev)
    (out / "real_eval.md").write_text(table)
    (out / "real_eval.json").write_text(json.dumps(to_json(ev), indent=2, allow_nan=False) + "\n")
    print(table)
    return 0


# -- dataset build ----------------------------------------------------------------------------


def _register_dataset(subparsers: Any) -> None:
    p = subparsers.add_parser("dataset", help="build training windows from your own labelled videos")
    sub = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    b = sub.add_parser(
        "build",
        help="run the pose backend + tracker over DIR/<label>/*.mp4 and store raw keypoint windows",
        description=(
            "DIR holds one folder per label (any names: custom actions are first-class), each with videos. "
            "A <video>.csv beside a video (header start_frame,end_frame,label) labels only those frames. "
            "Windows keep raw time-stamped keypoints, so normalisation and steps are chosen when training."
        ),
    )
    b.add_argument("dir", type=Path, help="folder with one sub-folder of videos per label")
    b.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUT.npz", help="windows file to write"
    )
    b.add_argument(
        "--backend", choices=BACKEND_NAMES, default="mediapipe", help="pose backend (default: %(default)s)"
    )
    b.add_argument(
        "--hop-s",
        type=_positive_float,
        default=HOP_S,
        help="seconds between windows (default: %(default)s, the service's classify_hop_s)",
    )
    b.add_argument(
        "--window-s", type=_positive_float, default=1.5, help="seconds of poses per window (default: 1.5)"
    )
    b.add_argument("--cache-dir", type=Path, help="cache extracted poses here (default: none)")
    b.set_defaults(handler=dataset_build)


def dataset_build(args: argparse.Namespace) -> int:
    from inference.backends import BackendUnavailable  # noqa: PLC0415
    from service.cli.video_poses import pose_source  # noqa: PLC0415
    from training.datasets import DatasetError, build_video_dataset, save_raw_windows  # noqa: PLC0415
    from training.video_poses import VideoReadError  # noqa: PLC0415

    if Path(args.output).suffix != ".npz":
        raise UsageError(f"output must end in .npz, got {args.output}")

    def progress(name: str, done: int, total: int) -> None:
        print(f"\r{name}: {done}/{total} frames", end="", file=sys.stderr, flush=True)

    try:
        raw = build_video_dataset(
            args.dir,
            poses=pose_source(args.backend),
            hop_s=args.hop_s,
            window_s=args.window_s,
            cache_dir=args.cache_dir,
            progress=progress,
        )
    except (DatasetError, VideoReadError, BackendUnavailable) as exc:
        raise UsageError(str(exc)) from exc
    finally:
        print(file=sys.stderr)
    save_raw_windows(args.output, raw)
    counts = ", ".join(f"{k} {v}" for k, v in raw.class_counts().items())
    print(f"wrote {args.output}: {len(raw)} windows from {len(raw.videos)} video(s) ({counts})")
    return 0
