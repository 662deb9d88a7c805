"""The command that reproduces a training run is spelled from the parser itself."""

from __future__ import annotations

import json
import shlex

from service.cli import build_parser
from service.cli.train import canonical_train_command
from tests.conftest import ROOT


def test_the_shipped_model_s_recorded_commands_are_reproduced_exactly() -> None:
    """The default model is an ensemble: its record holds the `model ensemble` command and each
    member's training record, whose command the parser spells back exactly."""
    record = json.loads((ROOT / "inference" / "models" / "default.train.json").read_text())
    argv = shlex.split(record["command"])
    assert argv[:3] == ["actionstream", "model", "ensemble"]
    ensemble = build_parser().parse_args(argv[1:])
    assert len(ensemble.members) == len(record["members"]) >= 2
    for path, member in zip(ensemble.members, record["members"], strict=True):
        train = shlex.split(member["command"])
        assert train[:2] == ["actionstream", "train"]
        args = build_parser().parse_args(train[1:])
        assert canonical_train_command(args) == member["command"]
        assert args.out == path, "the ensemble combines the files these commands write"


def test_source_settings_are_spelled_only_with_their_source_and_run_options_never() -> None:
    args = build_parser().parse_args(
        ["train", "--windows", "a.npz", "b.npz", "--workers", "2", "--no-progress", "--out", "m.safetensors"]
    )
    command = canonical_train_command(args)
    assert "--windows a.npz b.npz --val-fraction 0.2 --normalisation body_centred" in command
    assert "--synthetic" not in command and "--idle" not in command  # no synthetic data in this run
    assert "--workers" not in command and "--no-progress" not in command  # they do not change the model
    assert command.endswith(
        "--seed 0 --reject-threshold 0.5 --max-missing 0.5 --smoothing-s 1 --out m.safetensors"
    )
