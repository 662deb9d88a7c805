"""``actionstream model``: import the original app's checkpoint, inspect model files."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from service.cli.common import UsageError

log = logging.getLogger(__name__)

DEFAULT_SEED_OUTPUT = "seed_lstm.safetensors"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("model", help="import and inspect action model files")
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


def show_info(args: argparse.Namespace) -> int:
    from inference.model_file import ModelFileError, read_metadata  # noqa: PLC0415

    try:
        metadata = read_metadata(args.path)
    except ModelFileError as exc:
        raise UsageError(str(exc)) from exc
    print(json.dumps(metadata.to_dict(), indent=2, sort_keys=True))
    return 0
