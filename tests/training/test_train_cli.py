"""`actionstream train` and `actionstream evaluate` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inference.classifier import ActionClassifier
from inference.decision import NO_ACTION_LABEL
from service import cli
from training.evaluate import markdown, score
from training.recipe import record_path
from training.synthetic import ACTIONS


@pytest.fixture(autouse=True)
def only_train_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    training = ("service.cli.train", "service.cli.evaluate", "service.cli.dataset")
    assert set(training) <= set(cli.COMMAND_MODULES)
    monkeypatch.setattr(cli, "COMMAND_MODULES", training)


@pytest.mark.slow
def test_train_then_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.safetensors"
    argv = ["train", "--synthetic", "4", "--windows-per-sequence", "2", "--epochs", "2", "--hidden", "16"]
    argv += ["--out", str(model), "--no-progress", "--seed", "1"]
    assert cli.main(argv) == 0
    assert "val_acc" in capsys.readouterr().out
    clf = ActionClassifier.load(model)
    assert (
        clf.labels == ACTIONS and clf.spec.normalisation == "body_centred" and clf.metadata.hidden_size == 16
    )
    meta = clf.metadata
    assert meta.source.startswith("actionstream train --synthetic 4 --windows-per-sequence 2 --idle none")
    assert "--seed 1" in meta.source and meta.metrics["epochs_run"] == 2 and "val_acc" in meta.metrics
    assert "synthetic kinematic sequences (4 per class" in meta.description
    record = json.loads(record_path(model).read_text())
    assert record["command"] == meta.source and len(record["history"]) == 2
    # standing people (4 sequences x 2 windows) and 2 sequences of each everyday motion: no label,
    # trained as the model's background output ("none of these actions")
    assert record["data"]["train_windows"]["(none of these)"] > 8
    assert meta.background and meta.temperature > 0 and "--background on --everyday 2" in meta.source
    assert clf.predict(np.zeros((3, 32, 34), np.float32)).sum(axis=1).max() < 1.0  # some goes to "none"

    out = tmp_path / "report"
    assert cli.main(["evaluate", str(model), "synthetic:2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| class | precision | recall | F1 | windows |" in printed
    report = json.loads((out / "synthetic_2.json").read_text())
    assert report["windows"] == 6 * 2 * 4 and 0.0 <= report["accuracy"] <= 1.0
    # the decisions are scored: "(no action)" is one more class (no support here: every window acts)
    assert set(report["per_class"]) == {*ACTIONS, NO_ACTION_LABEL}
    assert report["per_class"][NO_ACTION_LABEL]["support"] == 0
    summary = json.loads((out / "summary.json").read_text())["data"]["synthetic:2"]
    assert (
        0.0 <= summary["argmax_accuracy"] <= 1.0 and summary["accuracy"] <= summary["argmax_accuracy"] + 1e-9
    )
    for name in ("synthetic_2.md", "synthetic_2_confusion.png", "loss.png", "accuracy.png", "summary.json"):
        assert (out / name).stat().st_size > 100, name
    assert (
        meta.rule.smoothing_s == 1.0 and "--smoothing-s 1 " in meta.source
    )  # decisions weigh 1 s by default

    # An ensemble of it (with itself, as `model ensemble` writes it) evaluates too, with its members' curves.
    from inference.model_file import ensemble, load_model, save_model  # noqa: PLC0415

    both = tmp_path / "ens.safetensors"
    save_model(both, *ensemble([load_model(model), load_model(model)]))
    record_path(both).write_text(
        json.dumps({"command": "actionstream model ensemble", "members": [record, record]})
    )
    out2 = tmp_path / "report2"
    assert cli.main(["evaluate", str(both), "synthetic:1", "--out", str(out2)]) == 0
    assert (out2 / "member1" / "loss.png").stat().st_size > 100
    assert json.loads((out2 / "synthetic_1.json").read_text())["windows"] == 6 * 1 * 4


@pytest.mark.slow
def test_train_without_background_is_the_original_recipe(tmp_path: Path) -> None:
    model = tmp_path / "plain.safetensors"
    argv = ["train", "--synthetic", "3", "--windows-per-sequence", "1", "--epochs", "1", "--hidden", "8"]
    argv += ["--background", "off", "--no-calibrate", "--out", str(model), "--no-progress"]
    assert cli.main(argv) == 0
    clf = ActionClassifier.load(model)
    assert not clf.metadata.background and clf.metadata.temperature == 1.0
    np.testing.assert_allclose(clf.predict(np.zeros((2, 32, 34), np.float32)).sum(axis=1), 1.0, rtol=1e-5)


def test_train_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "m.safetensors")
    assert cli.main(["train", "--epochs", "1", "--out", out]) == 2
    assert "no training data" in capsys.readouterr().err
    assert cli.main(["train", "--synthetic", "2", "--out", str(tmp_path / "m.pt")]) == 2
    assert "ending in .safetensors" in capsys.readouterr().err
    assert cli.main(["train", "--windows", str(tmp_path / "absent.npz"), "--out", out]) == 2
    assert "dataset build" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "--synthetic", "0", "--out", out])


def test_evaluate_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(["evaluate", str(tmp_path / "absent.safetensors"), "synthetic:1", "--out", str(tmp_path)])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_scores_and_markdown() -> None:
    labels = ("A", "B", "C")
    report = score(np.array([0, 0, 1, 1, 1, 2]), np.array([0, 1, 1, 1, 0, 1]), labels)
    assert report.confusion.tolist() == [[1, 1, 0], [1, 2, 0], [0, 1, 0]]
    assert report.accuracy == pytest.approx(0.5)
    assert report.per_class["A"].precision == pytest.approx(0.5)
    assert report.per_class["B"].recall == pytest.approx(2 / 3)
    assert report.per_class["B"].f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert report.per_class["C"].f1 == 0.0 and report.per_class["C"].support == 1
    text = markdown(report, "t")
    assert "| C | — | 0.000 | 0.000 | 1 |" in text
    assert report.to_dict()["per_class"]["C"]["precision"] is None


def test_train_on_har2d_files(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The original app's data layout: X_train/Y_train for training, X_test/Y_test for validation."""
    window = (shared_data / "har2d" / "X_val.txt").read_text().strip() + "\n"
    data = tmp_path / "har2d"
    data.mkdir()
    for name, ids in (("train", [1, 3, 1, 3]), ("test", [1, 3])):
        (data / f"X_{name}.txt").write_text(window * len(ids))
        (data / f"Y_{name}.txt").write_text("".join(f"{i}\n" for i in ids))
    model = tmp_path / "har2d.safetensors"
    argv = [
        "train",
        "--har2d",
        str(data),
        "--normalisation",
        "raw_pixels",
        "--epochs",
        "1",
        "--background",
        "off",
    ]
    assert cli.main([*argv, "--out", str(model), "--no-progress"]) == 0
    clf = ActionClassifier.load(model)
    assert clf.labels == ACTIONS and clf.spec.normalisation == "raw_pixels"
    assert clf.metadata.metrics["train_windows"] == 4 and clf.metadata.metrics["val_windows"] == 2
    assert f"--har2d {data}" in clf.metadata.source
