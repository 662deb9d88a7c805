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


def test_ensemble_command_writes_one_model_and_explains_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from inference.classifier import ActionClassifier, LSTMClassifier  # noqa: PLC0415
    from inference.model_file import ModelMetadata, save_model  # noqa: PLC0415

    def model(name: str, labels: tuple[str, ...] = ("A", "B"), hidden: int = 8) -> Path:
        meta = ModelMetadata(labels=labels, background=True, hidden_size=hidden, smoothing_s=0.5)
        return save_model(tmp_path / name, LSTMClassifier.from_metadata(meta).state_dict(), meta)

    a, b, out = model("a.safetensors"), model("b.safetensors", hidden=16), tmp_path / "ens.safetensors"
    assert cli.main(["model", "ensemble", str(a), str(b), "--out", str(out), "--smoothing-s", "1"]) == 0
    assert "ensemble of 2 (LSTM 8, LSTM 16)" in capsys.readouterr().out
    clf = ActionClassifier.load(out)
    assert clf.metadata.is_ensemble and clf.rule.smoothing_s == 1.0 and clf.rule.reject_threshold == 0.5
    assert (
        clf.metadata.source.startswith("actionstream model ensemble ")
        and "--smoothing-s=1" in clf.metadata.source
    )
    record = json.loads((tmp_path / "ens.train.json").read_text())  # members without a training record
    assert record["command"].startswith("actionstream model ensemble ") and record["members"] == [None, None]

    (tmp_path / "a.train.json").write_text("{not json")
    assert cli.main(["model", "ensemble", str(a), str(b), "--out", str(out)]) == 2
    assert "cannot read the training record" in capsys.readouterr().err
    (tmp_path / "a.train.json").unlink()
    assert cli.main(["model", "ensemble", str(a), "--out", str(out)]) == 2
    assert "two or more model files" in capsys.readouterr().err
    c = model("c.safetensors", labels=("A", "C"))
    assert cli.main(["model", "ensemble", str(a), str(c), "--out", str(out)]) == 2
    assert "must share labels" in capsys.readouterr().err
    assert cli.main(["model", "ensemble", str(a), str(tmp_path / "nope.safetensors"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad:
        cli.main(["model", "ensemble", str(a), str(b), "--out", str(out), "--smoothing-s", "-1"])
    assert bad.value.code == 2 and "expected a number of seconds" in capsys.readouterr().err
