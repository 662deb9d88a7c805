"""Training windows from the three sources, and the window set they all end in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.windows import WindowSpec, make_features
from training.datasets import (
    HAR2D_LABELS,
    NO_ACTION,
    NO_ACTION_NAME,
    DatasetError,
    RawWindows,
    SyntheticConfig,
    WindowSet,
    concat_sets,
    cut_track_windows,
    har2d_windows,
    load_labelled_windows,
    load_raw_windows,
    raw_windows_to_set,
    read_segments,
    save_raw_windows,
    synthetic_windows,
)
from training.har2d import Har2dFormatError, har2d_to_coco17, load_har2d_windows
from training.synthetic import ACTIONS
from training.video_poses import TrackSequence

SPEC = WindowSpec(normalisation="body_centred")


def test_har2d_val_file_is_one_window_through_make_features(shared_data: Path) -> None:
    x = shared_data / "har2d" / "X_val.txt"
    ws = har2d_windows(x, None, SPEC)
    assert ws.features.shape == (1, 32, 34) and ws.features.dtype == np.float32
    assert ws.label_names == HAR2D_LABELS
    coco = har2d_to_coco17(load_har2d_windows(x)[0])[0]
    np.testing.assert_array_equal(ws.features[0], make_features(np.arange(32) / 22.0, coco, SPEC))
    # body-centred: the hips' mean over the window is the origin, the torso about one unit long
    xy = ws.features[0].reshape(32, 17, 2)
    np.testing.assert_allclose(xy[:, 11:13].mean(axis=(0, 1)), 0.0, atol=1e-5)


def test_har2d_truncated_file_is_a_clear_error(shared_data: Path) -> None:
    with pytest.raises(Har2dFormatError, match=r"X_val2.txt: line 1: expected 36"):
        har2d_windows(shared_data / "har2d" / "X_val2.txt", None, SPEC)


def test_har2d_text_needs_its_labels_to_be_scored(shared_data: Path, tmp_path: Path) -> None:
    x = tmp_path / "X_val.txt"
    x.write_text((shared_data / "har2d" / "X_val.txt").read_text())
    with pytest.raises(DatasetError, match=r"Y_val.txt must be beside it"):
        load_labelled_windows(str(x), SPEC)
    (tmp_path / "Y_val.txt").write_text("1\n")
    ws = load_labelled_windows(str(x), SPEC)
    assert ws.labels.tolist() == [0] and ws.label_names[0] == "JUMPING"
    assert len(load_labelled_windows(str(tmp_path), SPEC)) == 1  # a folder of X_/Y_ pairs


def test_synthetic_windows_are_reproducible_and_grouped_by_sequence() -> None:
    cfg = SyntheticConfig(windows_per_sequence=3)
    a = synthetic_windows(2, SPEC, seed=5, config=cfg)
    b = synthetic_windows(2, SPEC, seed=5, config=cfg)
    assert a.features.shape == (6 * 2 * 3, 32, 34)
    assert a.label_names == ACTIONS
    assert a.class_counts() == dict.fromkeys(ACTIONS, 6)
    np.testing.assert_array_equal(a.features, b.features)
    assert len(np.unique(a.groups)) == 12  # one group per sequence
    assert np.isfinite(a.features).all()
    c = synthetic_windows(2, SPEC, seed=6, config=cfg)
    assert not np.allclose(a.features, c.features)


def test_synthetic_idle_as_no_action_or_as_a_class() -> None:
    none = synthetic_windows(1, SPEC, config=SyntheticConfig(windows_per_sequence=2, idle="none"))
    assert none.label_names == ACTIONS
    assert int(np.sum(none.labels == NO_ACTION)) == 2
    cls = synthetic_windows(1, SPEC, config=SyntheticConfig(windows_per_sequence=2, idle="class"))
    assert cls.label_names == (*ACTIONS, "IDLE")
    assert cls.class_counts()["IDLE"] == 2
    with pytest.raises(ValueError, match="idle must be one of"):
        SyntheticConfig(idle="maybe")


def _set(labels: list[int], groups: list[int], names: tuple[str, ...] = ("A", "B")) -> WindowSet:
    n = len(labels)
    feats = np.arange(n, dtype=np.float32)[:, None, None] * np.ones((1, 32, 34), np.float32)
    return WindowSet(feats, np.array(labels), names, SPEC, np.array(groups))


def test_split_keeps_each_group_on_one_side() -> None:
    ws = _set([0] * 10 + [1] * 10, [i // 2 for i in range(20)])
    train, val = ws.split(0.2, seed=1)
    assert len(train) + len(val) == 20 and len(val) > 0
    assert not set(train.groups.tolist()) & set(val.groups.tolist())
    assert set(val.labels.tolist()) == {0, 1}
    # one recording per class: validate on its last windows
    single = _set([0] * 5 + [1] * 5, [0] * 5 + [1] * 5)
    train, val = single.split(0.2)
    assert sorted(val.features[:, 0, 0].tolist()) == [4.0, 9.0]


def test_concat_merges_labels_by_name() -> None:
    a = _set([0, 1], [0, 1], ("A", "B"))
    b = _set([0, 1, NO_ACTION], [0, 1, 2], ("C", "A"))
    both = concat_sets([a, b])
    assert both.label_names == ("A", "B", "C")
    assert both.labels.tolist() == [0, 1, 2, 0, NO_ACTION]
    assert len(set(both.groups.tolist())) == 5
    with pytest.raises(DatasetError, match="not among"):
        b.with_labels(("A", "B"))


def test_window_set_checks_shapes() -> None:
    with pytest.raises(ValueError, match=r"features must be float32 of shape \(2, 32, 34\)"):
        WindowSet(np.zeros((2, 31, 34), np.float32), np.zeros(2, np.int64), ("A",), SPEC)
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.0"):
        WindowSet(np.zeros((1, 32, 34), np.float32), np.array([3]), ("A",), SPEC)


def test_cut_track_windows_hops_and_never_spans_a_gap() -> None:
    times = np.concatenate([np.arange(0, 3.0, 0.1), np.arange(4.0, 5.01, 0.1)])
    track = TrackSequence(1, np.arange(len(times)), times, np.zeros((len(times), 17, 3), np.float32))
    cuts = cut_track_windows(track, window_s=1.5, hop_s=0.5, max_gap_s=0.5)
    ends = [round(float(times[b]), 3) for _, b in cuts]
    assert ends == [1.5, 2.0, 2.5]  # nothing from the 1-second run after the gap
    for a, b in cuts:
        assert times[b] - times[a] == pytest.approx(1.5)


def test_raw_windows_round_trip_and_features(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n, t = 3, 20
    times = np.tile(np.arange(t) / 10.0, (n, 1))
    kp = rng.uniform(100, 300, (n, t, 17, 3)).astype(np.float32)
    kp[..., 2] = 0.9
    valid = np.ones((n, t), bool)
    valid[0, :4] = False  # a shorter window, padded at the front
    raw = RawWindows(
        times=times,
        keypoints=kp,
        valid=valid,
        labels=np.array([0, 1, 1]),
        label_names=("SIT", "WAVE"),
        videos=("a.mp4", "b.mp4"),
        video_index=np.array([0, 1, 1]),
        frame_range=np.array([[4, 19], [0, 19], [0, 19]]),
        track_id=np.array([1, 1, 2]),
        window_s=1.9,
        info={"backend": "test"},
    )
    path = save_raw_windows(tmp_path / "w.npz", raw)
    back = load_raw_windows(path)
    assert back.label_names == ("SIT", "WAVE") and back.window_s == 1.9 and back.info["backend"] == "test"
    np.testing.assert_array_equal(back.keypoints, kp)
    t0, k0 = back.window(0)
    assert k0.shape == (16, 17, 3)
    assert len(t0) == 16 and t0[0] == pytest.approx(0.4)
    ws = raw_windows_to_set(back, WindowSpec(steps=16, rate_hz=10.0, normalisation="body_centred"))
    assert ws.features.shape == (3, 16, 34) and ws.groups.tolist() == [0, 1, 1]
    with pytest.raises(DatasetError, match="--window-s"):
        raw_windows_to_set(back, WindowSpec(steps=32, rate_hz=10.0))
    with pytest.raises(DatasetError, match="dataset build"):
        load_raw_windows(tmp_path / "absent.npz")


def test_segment_file(tmp_path: Path) -> None:
    csv = tmp_path / "clip.csv"
    csv.write_text("start_frame,end_frame,label\n0,40,\n50,90,SIT\n")
    segs = read_segments(csv, "WAVE")
    assert [(s.label, s.first, s.last) for s in segs] == [("WAVE", 0, 40), ("SIT", 50, 90)]
    csv.write_text("from,to\n1,2\n")
    with pytest.raises(DatasetError, match="start_frame,end_frame,label"):
        read_segments(csv, "WAVE")
    csv.write_text("start_frame,end_frame,label\n9,3,X\n")
    with pytest.raises(DatasetError, match="line 2"):
        read_segments(csv, "WAVE")


def test_unknown_sources_say_what_is_expected(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="synthetic:N"):
        load_labelled_windows("synthetic:x", SPEC)
    with pytest.raises(DatasetError, match="not a file or folder"):
        load_labelled_windows(str(tmp_path / "nothing.npz"), SPEC)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match="unknown kind of data"):
        load_labelled_windows(str(tmp_path / "notes.txt"), SPEC)


def test_everyday_motion_is_no_action_and_reproducible() -> None:
    from training.datasets import background_windows  # noqa: PLC0415
    from training.synthetic import BACKGROUND, EVERYDAY  # noqa: PLC0415

    spec = WindowSpec(normalisation="body_centred")
    cfg = SyntheticConfig(windows_per_sequence=1, idle="none", everyday_per_kind=1)
    ws = synthetic_windows(1, spec, seed=4, config=cfg)
    assert ws.label_names == ACTIONS
    counts = ws.class_counts()
    assert all(counts[a] == 1 for a in ACTIONS)
    # one standing person and one of each everyday motion (a walker may leave the picture: no window)
    assert len(EVERYDAY) - 1 <= counts[NO_ACTION_NAME] - 1 <= len(EVERYDAY)
    again = synthetic_windows(1, spec, seed=4, config=cfg)
    np.testing.assert_array_equal(ws.features, again.features)
    # the same people for a model whose labels come from elsewhere (own videos)
    bg = background_windows(1, spec, ("sit", "stand"), seed=4, config=cfg)
    assert bg.label_names == ("sit", "stand") and np.all(bg.labels == NO_ACTION)
    assert len(bg) >= len(BACKGROUND) - 1
    with pytest.raises(ValueError, match="background kinds"):
        background_windows(1, spec, ("x",), kinds=("FLYING",))


def test_own_none_labels_become_no_action() -> None:
    from training.windowset import is_no_action_label, mark_no_action  # noqa: PLC0415

    assert is_no_action_label("none") and is_no_action_label("None (walking)")
    assert is_no_action_label("(no action)") and not is_no_action_label("nonetheless")
    spec = WindowSpec()
    f = np.zeros((3, spec.steps, 34), np.float32)
    ws = WindowSet(f, np.array([0, 1, 1]), ("WAVE", "none (walking)"), spec)
    out = mark_no_action(ws)
    assert out.label_names == ("WAVE",) and out.labels.tolist() == [0, NO_ACTION, NO_ACTION]
    only = WindowSet(f, np.array([0, 0, 0]), ("none (walking)",), spec)
    assert mark_no_action(only, ("A", "B")).label_names == ("A", "B")
    with pytest.raises(DatasetError, match="only no-action labels"):
        mark_no_action(only)
