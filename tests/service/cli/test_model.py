"""`actionstream model import-seed` and `model info` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service import cli


@pytest.fixture(autouse=True)
def only_model_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the CLI with just this command, so the test does not depend on the others."""
    assert "service.cli.model" in cli.COMMAND_MODULES
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("service.cli.model",))


def test_import_seed_then_info(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "models" / "seed.safetensors"
    ckpt = shared_data / "seed_checkpoint" / "saved_model.ckpt"
    assert cli.main(["model", "import-seed", str(ckpt), "-o", str(out)]) == 0
    assert out.is_file()
    assert "wrote" in capsys.readouterr().out
    assert cli.main(["model", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["labels"][0] == "JUMPING" and len(info["labels"]) == 6
    assert (info["steps"], info["rate_hz"], info["normalisation"]) == (32, 22.0, "raw_pixels")
    assert info["metrics"]["epoch"] == 392
    assert info["created"]


def test_bad_paths_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "missing.ckpt"
    assert cli.main(["model", "import-seed", str(missing), "-o", str(tmp_path / "o.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "missing.ckpt does not exist" in err and "saved_model.ckpt" in err
    junk = tmp_path / "junk.ckpt"
    junk.write_text("junk")
    assert cli.main(["model", "import-seed", str(junk)]) == 2
    assert "not a PyTorch checkpoint" in capsys.readouterr().err
    assert cli.main(["model", "info", str(junk)]) == 2
    assert "junk.ckpt is not a safetensors model file" in capsys.readouterr().err
    assert not (tmp_path / "seed_lstm.safetensors").exists()  # nothing written on failure


def test_output_is_a_directory(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = shared_data / "seed_checkpoint" / "saved_model.ckpt"
    assert cli.main(["model", "import-seed", str(ckpt), "-o", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
