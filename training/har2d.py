"""Reader for the RNN-HAR-2D-Pose database (the original app's training data).

``X_*.txt``: one frame per line, 36 comma-separated numbers = 18 OpenPose joints x, y in pixels
(``0, 0`` = joint not found); every 32 consecutive lines are one window. ``Y_*.txt``: one class
id per window, 1-based (1 = JUMPING ... 6 = CLAPPING_HANDS); returned 0-based here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from inference.keypoints import OPENPOSE18_NAMES, openpose18_to_coco17, openpose_missing_mask

HAR2D_STEPS = 32
HAR2D_JOINTS = len(OPENPOSE18_NAMES)
HAR2D_VALUES = 2 * HAR2D_JOINTS
HAR2D_NUM_CLASSES = 6


class Har2dFormatError(ValueError):
    """A database file that does not follow the format; the message names the file and line."""


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise Har2dFormatError(f"{path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise Har2dFormatError(f"{path}: not a text file ({exc})") from exc
    lines = text.splitlines()
    while lines and not lines[-1].strip():  # a trailing newline / blank lines at the end are fine
        lines.pop()
    return lines


def _parse_row(path: Path, number: int, line: str) -> list[float]:
    parts = line.split(",")
    if len(parts) != HAR2D_VALUES:
        raise Har2dFormatError(
            f"{path}: line {number}: expected {HAR2D_VALUES} comma-separated numbers "
            f"({HAR2D_JOINTS} OpenPose joints x, y), got {len(parts)}"
        )
    values = []
    for col, part in enumerate(parts, start=1):
        try:
            values.append(float(part))
        except ValueError:
            raise Har2dFormatError(
                f"{path}: line {number}: value {col} is not a number: {part.strip()!r}"
            ) from None
    if not np.all(np.isfinite(values)):
        raise Har2dFormatError(f"{path}: line {number}: values must be finite numbers")
    return values


def load_har2d_x(x_path: str | os.PathLike[str]) -> np.ndarray:
    """Windows ``(N, 32, 18, 2)`` float32 (OpenPose-18 pixels) from an ``X_*.txt`` file."""
    path = Path(x_path)
    lines = _read_lines(path)
    if not lines:
        raise Har2dFormatError(f"{path}: the file is empty; expected lines of {HAR2D_VALUES} numbers")
    # Fast path for large files: check the separators per line, then convert in one go.
    counts = [line.count(",") for line in lines]
    values: np.ndarray | None = None
    if all(c == HAR2D_VALUES - 1 for c in counts):
        try:
            values = np.array(",".join(lines).split(","), dtype=np.float32)
        except ValueError:
            values = None
        if values is not None and not np.all(np.isfinite(values)):
            values = None
    if values is None:  # find the first bad line and say what is wrong with it
        for number, line in enumerate(lines, start=1):
            _parse_row(path, number, line)
        raise AssertionError("unreachable: a bad value was not found line by line")  # pragma: no cover
    if len(lines) % HAR2D_STEPS:
        full = len(lines) - len(lines) % HAR2D_STEPS
        raise Har2dFormatError(
            f"{path}: {len(lines)} lines is not a multiple of {HAR2D_STEPS} (each window is {HAR2D_STEPS} "
            f"consecutive frames); the last window, from line {full + 1}, has only {len(lines) - full} lines"
        )
    return values.reshape(-1, HAR2D_STEPS, HAR2D_JOINTS, 2)


def load_har2d_y(y_path: str | os.PathLike[str], expected: int | None = None) -> np.ndarray:
    """0-based labels ``(N,)`` int64 from a ``Y_*.txt`` file (one 1-based class id per line)."""
    path = Path(y_path)
    lines = _read_lines(path)
    labels = np.empty(len(lines), np.int64)
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        try:
            value = int(text)
        except ValueError:
            raise Har2dFormatError(
                f"{path}: line {number}: expected one class id (1..6), got {text!r}"
            ) from None
        if not 1 <= value <= HAR2D_NUM_CLASSES:
            raise Har2dFormatError(
                f"{path}: line {number}: class id {value} is outside 1..{HAR2D_NUM_CLASSES}"
            )
        labels[number - 1] = value - 1
    if expected is not None and len(labels) != expected:
        raise Har2dFormatError(f"{path}: {len(labels)} labels, but the X file has {expected} windows")
    return labels


def load_har2d_windows(
    x_path: str | os.PathLike[str], y_path: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(windows (N, 32, 18, 2) OpenPose-18 pixels, labels (N,) 0-based or None)``."""
    windows = load_har2d_x(x_path)
    labels = None if y_path is None else load_har2d_y(y_path, expected=len(windows))
    return windows, labels


def har2d_to_coco17(windows: np.ndarray) -> np.ndarray:
    """OpenPose-18 windows ``(..., 18, 2)`` -> COCO-17 ``(..., 17, 3)`` with confidence 0 where the
    joint was OpenPose's ``(0, 0)`` missing marker and 1 elsewhere."""
    w = np.asarray(windows, dtype=np.float32)
    if w.ndim < 2 or w.shape[-2:] != (HAR2D_JOINTS, 2):
        raise ValueError(f"expected OpenPose-18 windows of shape (..., {HAR2D_JOINTS}, 2), got {w.shape}")
    conf = (~openpose_missing_mask(w)).astype(np.float32)[..., None]
    return openpose18_to_coco17(np.concatenate([w, conf], axis=-1)).astype(np.float32)
