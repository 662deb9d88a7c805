"""The command that reproduces a training run is spelled from the parser itself."""

from __future__ import annotations

import json
import shlex

from service.cli import build_parser
from service.cli.train import canonical_train_command
from tests.conftest import ROOT


def test_the_shipped_model_s_recorded_command_is_reproduced_exactly() -> None:
    record = json.loads((ROOT / "inference" / "models" / "default.train.json").read_text())
    argv = shlex.split(record["command"])
    assert argv[:2] == ["actionstream", "train"]
    args = build_parser().parse_args(argv[1:])
    assert canonical_train_command(args) == record["command"]


def test_source_settings_are_spelled_only_with_their_source_and_run_options_never() -> None:
    args = build_parser().parse_args(
        ["train", "--windows", "a.npz", "b.npz", "--workers", "2", "--no-progress", "--out", "m.safetensors"]
    )
    command = canonical_train_command(args)
    assert "--windows a.npz b.npz --val-fraction 0.2 --normalisation body_centred" in command
    assert "--synthetic" not in command and "--idle" not in command  # no synthetic data in this run
    assert "--workers" not in command and "--no-progress" not in command  # they do not change the model
    assert command.endswith("--seed 0 --reject-threshold 0.5 --max-missing 0.5 --out m.safetensors")
