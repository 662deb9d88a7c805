"""``actionstream model``: import the original app's checkpoint, combine models into an ensemble,
inspect model files."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import shlex
from pathlib import Path
from typing import Any

from inference.decision import MAX_SMOOTHING_S
from service.cli.common import UsageError, number

log = logging.getLogger(__name__)

DEFAULT_SEED_OUTPUT = "seed_lstm.safetensors"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("model", help="import, combine and inspect action model files")
    sub = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    imp = sub.add_parser(
        "import-seed",
        help="convert the original app's PyTorch-Lightning checkpoint into a safetensors model file",
        description=(
            "Read saved_model.ckpt of the original human-action-classification app without running "
            "code from it, and write weights + metadata as one safetensors file."
        ),
    )
    imp.add_argument("path", type=Path, help="the Lightning checkpoint (saved_model.ckpt)")
    imp.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path(DEFAULT_SEED_OUTPUT),
        help="model file to write (default: %(default)s)",
    )
    imp.set_defaults(handler=import_seed)

    ens = sub.add_parser(
        "ensemble",
        help="combine two or more trained models (same labels and window) into one ensemble model file",
        description=(
            "Write one model file whose output is the mean of the members' calibrated probabilities. "
            "The members must share labels, window and background output; their sizes may differ. "
            "The decision rule is the first member's unless given."
        ),
    )
    ens.add_argument(
        "members", type=Path, nargs="+", metavar="MODEL.safetensors", help="two or more model files"
    )
    ens.add_argument("-o", "--out", type=Path, required=True, metavar="OUT.safetensors", help="file to write")
    ens.add_argument(
        "--reject-threshold",
        type=number(float, ge=0, le=1, what="a probability"),
        help="no action below this probability (default: the first member's)",
    )
    ens.add_argument(
        "--max-missing",
        type=number(float, ge=0, le=1, what="a fraction"),
        help="no action above this share of missing joints (default: the first member's)",
    )
    ens.add_argument(
        "--smoothing-s",
        type=number(float, ge=0, le=MAX_SMOOTHING_S, what="a number of seconds"),
        help="seconds of a person's windows a decision weighs (default: the first member's)",
    )
    ens.set_defaults(handler=make_ensemble)

    info = sub.add_parser("info", help="print a model file's metadata as JSON")
    info.add_argument("path", type=Path, help="a .safetensors model file")
    info.set_defaults(handler=show_info)


def import_seed(args: argparse.Namespace) -> int:
    # Imported here so every other `actionstream` command does not pay for importing torch.
    from inference.model_file import save_model  # noqa: PLC0415
    from inference.seed import SeedCheckpointError, import_seed_checkpoint  # noqa: PLC0415

    try:
        state_dict, metadata = import_seed_checkpoint(args.path)
    except SeedCheckpointError as exc:
        raise UsageError(f"{exc}. Pass the original app's models/saved_model.ckpt.") from exc
    created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    metadata = dataclasses.replace(metadata, created=created)
    out = Path(args.output)
    if out.is_dir():
        raise UsageError(f"output {out} is a directory; give a file name such as {out / DEFAULT_SEED_OUTPUT}")
    try:
        save_model(out, state_dict, metadata)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc}") from exc
    print(f"wrote {out} ({', '.join(metadata.labels)}; {metadata.steps} steps at {metadata.rate_hz:g} Hz)")
    return 0


def make_ensemble(args: argparse.Namespace) -> int:
    from inference.decision import DecisionRule  # noqa: PLC0415
    from inference.model_file import ModelFileError, ensemble, load_model, save_model  # noqa: PLC0415
    from training.recipe import record_path  # noqa: PLC0415

    if len(args.members) < 2:
        raise UsageError(f"an ensemble needs two or more model files, got {len(args.members)}")
    loaded = []
    for path in args.members:
        try:
            loaded.append(load_model(path))
        except ModelFileError as exc:
            raise UsageError(str(exc)) from exc
    first = loaded[0][1].rule
    rule = DecisionRule(
        first.reject_threshold if args.reject_threshold is None else args.reject_threshold,
        first.max_missing_fraction if args.max_missing is None else args.max_missing,
        first.smoothing_s if args.smoothing_s is None else args.smoothing_s,
    )
    names = ", ".join(p.name for p in args.members)
    description = (
        f"Ensemble of {len(loaded)} models ({names}): the mean of their calibrated probabilities. "
        + (" | ".join(f"[{i}] {meta.description}" for i, (_, meta) in enumerate(loaded)))
    )
    command = shlex.join(
        [
            "actionstream",
            "model",
            "ensemble",
            *map(str, args.members),
            "--out",
            str(args.out),
            f"--reject-threshold={rule.reject_threshold:g}",
            f"--max-missing={rule.max_missing_fraction:g}",
            f"--smoothing-s={rule.smoothing_s:g}",
        ]
    )
    source = command + "".join(f" | [{i}] {meta.source}" for i, (_, meta) in enumerate(loaded))
    created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    try:
        state, meta = ensemble(loaded, rule=rule, description=description, source=source, created=created)
    except ModelFileError as exc:
        raise UsageError(f"cannot combine {names}: {exc}") from exc
    out = Path(args.out)
    if out.is_dir():
        raise UsageError(
            f"output {out} is a directory; give a file name such as {out / 'ensemble.safetensors'}"
        )
    # The record beside it: this command and each member's training record (None where it has none).
    members: list[object] = []
    for r in (record_path(p) for p in args.members):
        try:
            members.append(json.loads(r.read_text()) if r.is_file() else None)
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read the training record {r} ({exc}); fix or remove it") from exc
    record = {"command": command, "members": members}
    try:
        save_model(out, state, meta)
        record_path(out).write_text(json.dumps(record, indent=2) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc}") from exc
    sizes = ", ".join(f"LSTM {m.hidden_size}" for m in meta.members)
    print(
        f"wrote {out}: ensemble of {len(meta.members)} ({sizes}); {', '.join(meta.labels)}; "
        f"record {record_path(out)}"
    )
    return 0


def show_info(args: argparse.Namespace) -> int:
    from inference.model_file import ModelFileError, read_metadata  # noqa: PLC0415

    try:
        metadata = read_metadata(args.path)
    except ModelFileError as exc:
        raise UsageError(str(exc)) from exc
    print(json.dumps(metadata.to_dict(), indent=2, sort_keys=True))
    return 0
