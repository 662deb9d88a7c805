"""The RNN-HAR-2D-Pose reader: real files, and errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.keypoints import SEED_OPENPOSE_REORDER
from training.har2d import Har2dFormatError, har2d_to_coco17, load_har2d_windows

ROW = ",".join(f"{v:.3f}" for v in np.arange(1, 37) * 10.0)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reads_the_real_window(shared_data: Path) -> None:
    x_path = shared_data / "har2d" / "X_val.txt"
    windows, labels = load_har2d_windows(x_path)
    assert windows.shape == (1, 32, 18, 2) and windows.dtype == np.float32 and labels is None
    first = [float(v) for v in x_path.read_text().splitlines()[0].split(",")]
    np.testing.assert_array_equal(windows[0, 0].reshape(36), np.array(first, np.float32))


def test_coco17_conversion_matches_the_seed_mapping(shared_data: Path) -> None:
    x_path = shared_data / "har2d" / "X_val.txt"
    windows, _ = load_har2d_windows(x_path)
    coco = har2d_to_coco17(windows)
    assert coco.shape == (1, 32, 17, 3) and coco.dtype == np.float32
    rows = [r.split(",") for r in x_path.read_text().splitlines()]
    seed = np.array([[float((r[:2] + r[4:])[i]) for i in SEED_OPENPOSE_REORDER] for r in rows], np.float32)
    np.testing.assert_array_equal(coco[0, :, :, :2].reshape(32, 34), seed)
    lost = np.all(coco[..., :2] == 0, axis=-1)
    assert lost.any()  # X_val has joints OpenPose did not find
    np.testing.assert_array_equal(coco[..., 2], np.where(lost, 0.0, 1.0))


def test_truncated_real_file_names_the_line(shared_data: Path) -> None:
    with pytest.raises(Har2dFormatError) as err:
        load_har2d_windows(shared_data / "har2d" / "X_val2.txt")
    message = str(err.value)
    assert "X_val2.txt: line 1: expected 36 comma-separated numbers" in message
    assert "got 25" in message


def test_not_a_number(tmp_path: Path) -> None:
    lines = [ROW] * 32
    lines[4] = ROW.replace("30.000", "abc", 1)
    with pytest.raises(Har2dFormatError, match=r"x.txt: line 5: value 3 is not a number: 'abc'"):
        load_har2d_windows(write(tmp_path / "x.txt", lines))


def test_line_count_not_a_multiple_of_32(tmp_path: Path) -> None:
    with pytest.raises(Har2dFormatError, match=r"33 lines is not a multiple of 32.*from line 33, has only 1"):
        load_har2d_windows(write(tmp_path / "x.txt", [ROW] * 33))
    with pytest.raises(Har2dFormatError, match="empty"):
        load_har2d_windows(write(tmp_path / "e.txt", []))
    with pytest.raises(Har2dFormatError, match="file not found"):
        load_har2d_windows(tmp_path / "absent.txt")


def test_labels_are_read_zero_based(tmp_path: Path) -> None:
    x = write(tmp_path / "x.txt", [ROW] * 64)
    windows, labels = load_har2d_windows(x, write(tmp_path / "y.txt", ["1", " 6"]))
    assert windows.shape == (2, 32, 18, 2)
    assert labels is not None and labels.tolist() == [0, 5]
    np.testing.assert_allclose(windows[1, 31, 17], [350.0, 360.0])
    with pytest.raises(Har2dFormatError, match=r"y\.txt: line 2: class id 7 is outside 1\.\.6"):
        load_har2d_windows(x, write(tmp_path / "y.txt", ["1", "7"]))
    with pytest.raises(Har2dFormatError, match="1 labels, but the X file has 2 windows"):
        load_har2d_windows(x, write(tmp_path / "y.txt", ["1"]))
    with pytest.raises(Har2dFormatError, match="line 1: expected one class id"):
        load_har2d_windows(x, write(tmp_path / "y.txt", ["one", "2"]))


def test_conversion_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 18, 2\)"):
        har2d_to_coco17(np.zeros((1, 32, 17, 2)))
