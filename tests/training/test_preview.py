"""The preview renderer writes contact sheets and videos that OpenCV can read back."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from training.preview import PreviewRow, contact_sheet, draw_skeleton, write_contact_sheet, write_video
from training.synthetic import generate_sequence


def _row(action: str = "JUMPING_JACKS") -> PreviewRow:
    seq = generate_sequence(action, 15.0, 1.0, np.random.default_rng(0))
    return PreviewRow(seq.times, seq.keypoints, seq.image_size, action)


def test_contact_sheet_size_and_content() -> None:
    sheet = contact_sheet([_row(), _row("BOXING")], n_cols=5, cell=80)
    assert sheet.shape == (2 * (80 + 18), 5 * 80, 3) and sheet.dtype == np.uint8
    assert (sheet < 200).any(axis=2).mean() > 0.01, "skeletons were drawn"
    full = contact_sheet([_row()], n_cols=3, cell=60, crop=False)
    assert full.shape == (78, 180, 3)


def test_draw_skeleton_marks_pixels() -> None:
    image = np.full((100, 100, 3), 255, np.uint8)
    kp = np.zeros((17, 3), np.float32)
    kp[:, 0], kp[:, 1], kp[:, 2] = np.linspace(10, 90, 17), np.linspace(10, 90, 17), 1.0
    draw_skeleton(image, kp)
    assert (image < 255).any()


def test_writes_png_and_mp4(tmp_path: Path) -> None:
    png = write_contact_sheet(tmp_path / "sheet.png", [_row()], n_cols=4, cell=64)
    assert cv2.imread(str(png)) is not None
    row = _row()
    mp4 = write_video(tmp_path / "seq.mp4", row)
    cap = cv2.VideoCapture(str(mp4))
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    assert frames == len(row.times)


def test_rows_are_validated() -> None:
    with pytest.raises(ValueError, match=r"\(T, 17, 3\)"):
        PreviewRow(np.zeros(3), np.zeros((3, 18, 3)), (10, 10), "x")
    with pytest.raises(ValueError, match="at least one"):
        contact_sheet([])
