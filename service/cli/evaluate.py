"""``actionstream evaluate`` (a model on labelled windows) and ``evaluate-real`` (models on the
labelled real videos, read as the service reads them). The work is in :mod:`training`; torch and
MediaPipe are imported only inside the handlers."""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

from service.cli.common import UsageError, add_hop_argument, number

log = logging.getLogger(__name__)

# ../shared/data beside the checkout, like the tests; ACTIONSTREAM_TEST_DATA points elsewhere.
DEFAULT_DATA = Path(
    os.environ.get("ACTIONSTREAM_TEST_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)
POSE_CACHE = Path(".cache") / "poses"


def register(subparsers: Any) -> None:
    _register_evaluate(subparsers)
    _register_evaluate_real(subparsers)


# -- evaluate ---------------------------------------------------------------------------------


def _register_evaluate(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score a model on labelled windows: accuracy, per-class P/R/F1, confusion matrix, curves",
        description=(
            "Score MODEL on each DATA (FILE.npz from `dataset build`, X_<name>.txt with Y_<name>.txt "
            "beside it, an RNN-HAR-2D-Pose folder, or synthetic:N[:SEED]). Writes <data>.json, .md and "
            "_confusion.png per DATA into --out; loss.png/accuracy.png when MODEL has a .train.json record "
            "(member<i>/ for each member of an ensemble)."
        ),
    )
    p.add_argument("model", type=Path, help="a .safetensors model file")
    p.add_argument("data", nargs="+", help="labelled data (see above)")
    p.add_argument("--out", type=Path, required=True, help="folder for the reports")
    p.add_argument(
        "--workers", type=number(int, ge=1), default=1, help="processes for synthetic data (default: 1)"
    )
    p.set_defaults(handler=evaluate)


def _data_name(source: str) -> str:
    name = source.replace("synthetic:", "synthetic_").replace(":", "_")
    return Path(name.rstrip("/")).stem or "data"


def evaluate(args: argparse.Namespace) -> int:
    from inference.classifier import ActionClassifier  # noqa: PLC0415
    from inference.model_file import ModelFileError  # noqa: PLC0415
    from training.datasets import DatasetError, load_labelled_windows  # noqa: PLC0415
    from training.evaluate import markdown, plot_history, score_decisions, write_report  # noqa: PLC0415
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
        report, argmax_accuracy = score_decisions(clf, ws)
        name = _data_name(source)
        write_report(report, out, name, title=f"{Path(args.model).name} on {source}")
        summary["data"][source] = {
            "name": name,
            "windows": report.total,
            "accuracy": report.to_dict()["accuracy"],
            "argmax_accuracy": argmax_accuracy,
        }
        print(markdown(report, f"{Path(args.model).name} on {source}"))
    record = record_path(args.model)
    if record.is_file():
        kept = json.loads(record.read_text())
        # an ensemble's record holds one training record per member: curves per member
        runs = [("", kept)] + [(f"member{i}", m) for i, m in enumerate(kept.get("members", []))]
        written = [p for sub, r in runs if r.get("history") for p in plot_history(r["history"], out / sub)]
        if written:
            summary["curves"] = [str(p) for p in written]
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"reports in {out}")
    return 0


# -- evaluate-real ----------------------------------------------------------------------------


def _register_evaluate_real(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate-real",
        help="window accuracy of models on labelled real videos (MediaPipe + tracker, as served)",
        description=(
            "Run the labelled segments of a labels.csv (columns file,label,frame_start,frame_end,notes; in "
            "DATA or DATA/videos) through MediaPipe in stream mode and the tracker, build windows as the "
            "service does, and score each model's decisions: window accuracy per segment, per class and "
            "macro over classes; on segments whose label is not one of the model's (e.g. 'none (...)') the "
            "share of windows naming an action. Then, as served: each clip's decisions through the service's "
            "segment hysteresis (the start/end events), and per segment the share of its frames under a "
            "confirmed segment of the right label, of a wrong one, or (non-action segments) of any. The "
            "original app's checkpoint is included as 'seed' when found."
        ),
    )
    p.add_argument("models", nargs="*", type=Path, help="model files (default: the shipped model)")
    p.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="folder with labels.csv and the videos, or with videos/labels.csv (default: ../shared/data)",
    )
    p.add_argument(
        "--seed-checkpoint",
        type=Path,
        help="the original app's saved_model.ckpt (default: DATA/seed_checkpoint/saved_model.ckpt)",
    )
    p.add_argument("--no-seed", action="store_true", help="do not include the original app's model")
    add_hop_argument(p)
    p.add_argument("--cache-dir", type=Path, default=POSE_CACHE, help="pose cache (default: %(default)s)")
    p.add_argument("--out", type=Path, required=True, help="folder for real_eval.json and real_eval.md")
    p.set_defaults(handler=evaluate_real)


def evaluate_real(args: argparse.Namespace) -> int:
    from inference.classifier import ActionClassifier  # noqa: PLC0415
    from inference.model_file import ModelFileError  # noqa: PLC0415
    from inference.seed import SeedCheckpointError, import_seed_checkpoint  # noqa: PLC0415
    from service.app.build import default_model_path  # noqa: PLC0415
    from service.cli.video_poses import pose_source  # noqa: PLC0415
    from training.calibration import plot_reliability, reliability  # noqa: PLC0415
    from training.real_eval import (  # noqa: PLC0415
        evaluate_models_on_segments,
        load_real_segments,
        markdown_table,
        to_json,
    )

    data = Path(args.data)
    videos = data if (data / "labels.csv").is_file() else data / "videos"
    try:
        segments = load_real_segments(videos)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(f"{exc}; pass --data pointing at a folder with labels.csv") from exc
    if not segments:
        raise UsageError(f"none of the videos named in {videos / 'labels.csv'} is in {videos}")
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
    for path in args.models or [default_model_path()]:
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
    curves = {m: reliability(*ev.calibration[m]) for m in ev.models if len(ev.calibration[m][0])}
    if curves:
        plot_reliability(curves, out / "reliability.png", f"real footage ({videos})")
    print(table)
    return 0
