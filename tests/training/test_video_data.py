"""Real video through the real MediaPipe backend and tracker: `dataset build`, and the real-footage judge."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inference.classifier import ActionClassifier
from inference.seed import import_seed_checkpoint
from inference.windows import WindowSpec
from service import cli
from service.cli.video_poses import pose_source
from training.datasets import load_raw_windows, raw_windows_to_set
from training.real_eval import (
    NON_ACTION_SEGMENTS,
    RealSegment,
    evaluate_models_on_segments,
    inside,
    load_real_segments,
    markdown_table,
    service_windows,
    to_json,
)
from training.recipe import record_path
from training.synthetic import ACTIONS
from training.video_poses import TrackSequence, VideoPoses, load_video_poses, save_video_poses

WAVE = "omkarnagarkar55_wave.mp4"
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "inference" / "models" / "default.safetensors"


@pytest.fixture(scope="module")
def pose_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pose cache for the module: MediaPipe runs over the wave clip once."""
    return tmp_path_factory.mktemp("poses")


@pytest.fixture(autouse=True)
def only_train_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    training = ("service.cli.train", "service.cli.evaluate", "service.cli.dataset")
    assert set(training) <= set(cli.COMMAND_MODULES)
    monkeypatch.setattr(cli, "COMMAND_MODULES", training)


@pytest.mark.slow
def test_dataset_build_on_a_labelled_folder(
    shared_data: Path, tmp_path: Path, pose_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "clips"
    (root / "WAVING").mkdir(parents=True)
    (root / "WAVING" / WAVE).symlink_to(shared_data / "videos" / WAVE)
    (root / "WAVING" / "notes.txt").write_text("not a video")
    out = tmp_path / "wave.npz"
    argv = ["dataset", "build", str(root), "-o", str(out), "--hop-s", "0.5", "--cache-dir", str(pose_cache)]
    assert cli.main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    raw = load_raw_windows(out)
    assert raw.label_names == ("WAVING",) and len(raw) >= 15  # 12.5 s at 10 fps, 1.5 s windows, 0.5 s apart
    assert raw.videos == (str(root / "WAVING" / WAVE),)
    assert raw.info["backend"] == "mediapipe" and raw.window_s == 1.5
    assert np.all((raw.frame_range >= 0) & (raw.frame_range <= 124))
    for i in range(len(raw)):
        t, kp = raw.window(i)
        assert np.all(np.diff(t) > 0) and t[-1] - t[0] == pytest.approx(1.5)
        assert kp[:, :, 2].mean() > 0.5  # a person was seen
    ends = raw.frame_range[:, 1]
    assert np.all(np.diff(ends) == 5)  # 0.5 s hop at 10 fps

    # A segment file labels parts only (custom names); the poses come from the cache this time.
    (root / "WAVING" / f"{WAVE}.csv").write_text(
        "start_frame,end_frame,label\n0,45,one_hand\n48,124,both_hands\n"
    )
    assert cli.main(argv) == 0
    raw = load_raw_windows(out)
    assert raw.label_names == ("both_hands", "one_hand")
    counts = raw.class_counts()
    assert counts["one_hand"] >= 5 and counts["both_hands"] >= 10
    one = raw.labels == raw.label_names.index("one_hand")
    assert raw.frame_range[one, 1].max() <= 45 and raw.frame_range[~one, 0].min() >= 48
    ws = raw_windows_to_set(raw, WindowSpec(normalisation="body_centred"))
    assert ws.features.shape == (len(raw), 32, 34) and np.isfinite(ws.features).all()

    # Custom labels train with the no-action outcome without asking: generated background people.
    model = tmp_path / "custom.safetensors"
    argv = ["train", "--windows", str(out), "--everyday", "2", "--epochs", "1", "--hidden", "8"]
    assert cli.main([*argv, "--out", str(model), "--no-progress"]) == 0
    clf = ActionClassifier.load(model)
    assert clf.labels == ("both_hands", "one_hand") and clf.metadata.background
    probs, background = clf.predict_outputs(ws.features)
    assert background is not None and probs.shape == (len(ws), 2)
    np.testing.assert_allclose(probs.sum(axis=1) + background, 1.0, rtol=1e-5)


def test_dataset_build_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["dataset", "build", str(tmp_path / "absent"), "-o", str(tmp_path / "o.npz")]) == 2
    assert "expected DIR/<label>/<video>.mp4" in capsys.readouterr().err
    (tmp_path / "SIT").mkdir()
    assert cli.main(["dataset", "build", str(tmp_path), "-o", str(tmp_path / "o.npz")]) == 2
    assert "no videos under" in capsys.readouterr().err
    assert cli.main(["dataset", "build", str(tmp_path), "-o", str(tmp_path / "o.csv")]) == 2
    assert "must end in .npz" in capsys.readouterr().err


@pytest.mark.slow
def test_real_judge_on_the_wave_clip(shared_data: Path, pose_cache: Path) -> None:
    segments = [s for s in load_real_segments(shared_data / "videos") if s.video == WAVE]
    assert [s.label for s in segments] == ["WAVING_1HAND", "WAVING_2HANDS"]
    seed = ActionClassifier.from_state_dict(
        *import_seed_checkpoint(shared_data / "seed_checkpoint" / "saved_model.ckpt")
    )
    default = ActionClassifier.load(DEFAULT_MODEL)
    models = {"seed": seed, "default": default}
    ev = evaluate_models_on_segments(
        models, segments, shared_data / "videos", poses=pose_source("mediapipe"), cache_dir=pose_cache
    )
    one, two = (ev.result(s, "seed") for s in segments)
    # 0-45 at 10 fps holds 4.5 s: windows of 1.41 s every 0.25 s fit about 12 times
    assert 9 <= one.windows <= 13 and 18 <= two.windows <= 23
    # the seed model gets the one-handed wave right (one window falls below its 0.5 threshold) ...
    assert one.score.top_accuracy == 1.0 and (one.accuracy or 0.0) >= 0.9
    assert two.accuracy is not None and two.accuracy < 0.5  # ... and mostly calls both hands BOXING
    # The shipped model (docs/MODEL.md) gets both right.
    for seg in segments:
        assert (ev.result(seg, "default").accuracy or 0.0) >= 0.9, seg
    table = markdown_table(ev)
    assert "| omkarnagarkar55_wave.mp4 | 0-45 | WAVING_1HAND | 11 | 0.91 (1.00; " in table
    assert "| **WAVING_2HANDS** |" in table and "| **macro over classes** | | | 32 |" in table
    js = to_json(ev)
    overall = js["overall"]
    assert overall["seed"]["windows"] == one.windows + two.windows  # type: ignore[index]
    assert overall["default"]["window_accuracy"] >= 0.9  # type: ignore[index]
    # the stable keys scripts read; no non-action segment was asked for here
    assert overall["default"]["macro_accuracy"] >= 0.9  # type: ignore[index]
    assert overall["default"]["negative_action_share"] is None  # type: ignore[index]
    assert set(js["segments"][0]["predicted"]) <= {*default.labels, "(no action)"}  # type: ignore[index]


def test_judge_uses_the_labels_file_and_the_readme_non_actions(shared_data: Path) -> None:
    segments = load_real_segments(shared_data / "videos")
    labels = {s.label for s in segments}
    assert {"WAVING_1HAND", "WAVING_2HANDS", "CLAPPING_HANDS"} <= labels
    assert set(NON_ACTION_SEGMENTS) <= set(segments)


def test_service_windows_lie_inside_segments(tmp_path: Path) -> None:
    fps = 10.0
    frames = np.arange(0, 60)
    kp = np.zeros((60, 17, 3), np.float32)
    kp[:, :, 0] = 100 + np.arange(17)
    kp[:, :, 1] = 50 + 10 * np.arange(17)
    kp[:, :, 2] = 0.9
    track = TrackSequence(1, frames, frames / fps, kp)
    poses = VideoPoses("v.mp4", fps, (320, 240), 60, "test", (track,), frames / fps)
    save_video_poses(tmp_path / "p.npz", poses)
    poses = load_video_poses(tmp_path / "p.npz")
    ws = service_windows(poses, WindowSpec(), hop_s=0.5)
    # the first window ends once 31/22 s of poses exist (frame 15), then one every 0.5 s
    assert [round(w.end_pts * fps) for w in ws] == [15, 20, 25, 30, 35, 40, 45, 50, 55]
    seg = RealSegment("v.mp4", "X", 10, 40)
    kept = inside(ws, poses, seg)
    assert [round(w.end_pts * fps) for w in kept] == [25, 30, 35, 40]


@pytest.mark.slow
def test_dataset_build_from_a_labels_csv_takes_real_negatives(
    shared_data: Path, tmp_path: Path, pose_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "footage"
    folder.mkdir()
    for name in ("omkarnagarkar55_stand.mp4", WAVE):
        (folder / name).symlink_to(shared_data / "videos" / name)
    (folder / "labels.csv").write_text(
        "file,label,frame_start,frame_end,notes\n"
        f"{WAVE},WAVING_1HAND,0,45,\n"
        "omkarnagarkar55_stand.mp4,none (standing idle),0,105,hands in pockets\n"
        "absent.mp4,none (walking),0,10,not in the folder: skipped\n"
    )
    out = tmp_path / "negatives.npz"
    argv = ["dataset", "build", str(folder), "-o", str(out), "--cache-dir", str(pose_cache)]
    assert cli.main([*argv, "--only-no-action"]) == 0
    raw = load_raw_windows(out)
    assert raw.label_names == ("none (standing idle)",) and len(raw) >= 30  # 10.6 s, 0.25 s apart
    assert cli.main(argv) == 0  # every row
    assert load_raw_windows(out).label_names == ("WAVING_1HAND", "none (standing idle)")
    capsys.readouterr()
    assert cli.main(["dataset", "build", str(tmp_path), "-o", str(out), "--only-no-action"]) == 2
    assert "needs a labels.csv" in capsys.readouterr().err

    # Real negatives beside synthetic actions: they count as the background, never as a label.
    assert (
        cli.main(
            [
                "dataset",
                "build",
                str(folder),
                "-o",
                str(out),
                "--only-no-action",
                "--cache-dir",
                str(pose_cache),
            ]
        )
        == 0
    )
    model = tmp_path / "m.safetensors"
    train = [
        "train",
        "--synthetic",
        "2",
        "--windows-per-sequence",
        "1",
        "--everyday",
        "1",
        "--windows",
        str(out),
    ]
    assert cli.main([*train, "--epochs", "1", "--hidden", "8", "--out", str(model), "--no-progress"]) == 0
    record = json.loads(record_path(model).read_text())
    clf = ActionClassifier.load(model)
    assert clf.labels == ACTIONS and clf.metadata.background
    none = (
        record["data"]["train_windows"]["(none of these)"] + record["data"]["val_windows"]["(none of these)"]
    )
    assert none >= 30 + 2  # the real standing windows + generated ones
