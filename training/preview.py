"""Look at keypoint sequences: PNG contact sheets and MP4 previews drawn with OpenCV.

Used to check that synthetic motions look like real people (side by side with real poses),
and for the pictures in the model card.

    PYTHONPATH=. python -m training.preview --action WAVING_1HAND --seed 3 --out wave.png
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inference.keypoints import COCO17_SKELETON

logger = logging.getLogger(__name__)

# BGR colours: the person's left limbs blue, right limbs orange, the middle green.
_LEFT = {1, 3, 5, 7, 9, 11, 13, 15}
_RIGHT = {2, 4, 6, 8, 10, 12, 14, 16}


@dataclass(frozen=True)
class PreviewRow:
    """One sequence to show: frame times, keypoints ``(T, 17, 3)``, its image size and a title."""

    times: np.ndarray
    keypoints: np.ndarray
    image_size: tuple[int, int]
    title: str

    def __post_init__(self) -> None:
        if self.keypoints.ndim != 3 or self.keypoints.shape[1:] != (17, 3):
            raise ValueError(f"PreviewRow.keypoints must have shape (T, 17, 3), got {self.keypoints.shape}")
        if self.times.shape != (self.keypoints.shape[0],):
            raise ValueError(
                f"PreviewRow.times must have shape ({self.keypoints.shape[0]},), got {self.times.shape}"
            )


def _colour(a: int, b: int) -> tuple[int, int, int]:
    if a in _LEFT and b in _LEFT:
        return (230, 140, 40)
    if a in _RIGHT and b in _RIGHT:
        return (40, 140, 240)
    return (60, 200, 60)


def draw_skeleton(
    image: np.ndarray,
    keypoints: np.ndarray,
    min_conf: float = 0.3,
    *,
    scale: float = 1.0,
    offset: tuple[float, float] = (0.0, 0.0),
    thickness: int = 2,
) -> np.ndarray:
    """Draw one COCO-17 skeleton in place; joints under ``min_conf`` are drawn as grey rings,
    joints with confidence 0 (missing, e.g. OpenPose's ``(0, 0)``) are not drawn."""
    kp = np.asarray(keypoints, dtype=np.float64)
    pts = (kp[:, :2] - np.asarray(offset)) * scale
    ok = kp[:, 2] >= min_conf
    shown = (kp[:, 2] > 0) & np.all(np.isfinite(pts), axis=1)
    for a, b in COCO17_SKELETON:
        colour = _colour(a, b) if ok[a] and ok[b] else (150, 150, 150)
        width = thickness if ok[a] and ok[b] else 1
        if shown[a] and shown[b]:
            cv2.line(image, _pt(pts[a]), _pt(pts[b]), colour, width, cv2.LINE_AA)
    for j in range(kp.shape[0]):
        if shown[j]:
            radius = max(2, thickness + 1)
            if ok[j]:
                cv2.circle(image, _pt(pts[j]), radius, (0, 0, 230) if j in (9, 10) else (30, 30, 30), -1)
            else:
                cv2.circle(image, _pt(pts[j]), radius, (150, 150, 150), 1, cv2.LINE_AA)
    return image


def _pt(p: np.ndarray) -> tuple[int, int]:
    return round(float(p[0])), round(float(p[1]))


def _crop_box(keypoints: np.ndarray, image_size: tuple[int, int]) -> tuple[float, ...]:
    """A square box around everything the person does in the sequence (or the whole image)."""
    kp = keypoints.reshape(-1, 3)
    good = kp[(kp[:, 2] > 0) & np.all(np.isfinite(kp[:, :2]), axis=1)]
    if len(good) == 0:
        return (0.0, 0.0, float(image_size[0]), float(image_size[1]))
    lo = np.percentile(good[:, :2], 0.2, axis=0)
    hi = np.percentile(good[:, :2], 99.8, axis=0)
    centre, side = (lo + hi) / 2, float(np.max(hi - lo)) * 1.15 + 10
    return (centre[0] - side / 2, centre[1] - side / 2, side, side)


def contact_sheet(
    rows: Sequence[PreviewRow],
    n_cols: int = 8,
    cell: int = 150,
    crop: bool = True,
    min_conf: float = 0.3,
) -> np.ndarray:
    """A BGR image: one row per sequence, ``n_cols`` frames evenly spread over its duration.

    ``crop`` zooms each row to the person (same box for all its frames, so motion stays
    comparable); otherwise the whole camera image is shown, with the framing.
    """
    if not rows:
        raise ValueError("contact_sheet needs at least one PreviewRow")
    title_h = 18
    sheet = np.full((len(rows) * (cell + title_h), n_cols * cell, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        y0 = r * (cell + title_h)
        cv2.putText(sheet, row.title, (4, y0 + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        if crop:
            x, y, w, h = _crop_box(row.keypoints, row.image_size)
        else:
            x, y, w, h = 0.0, 0.0, float(row.image_size[0]), float(row.image_size[1])
        scale = cell / max(w, h)
        picks = np.linspace(row.times[0], row.times[-1], n_cols)
        for c, t in enumerate(picks):
            i = int(np.argmin(np.abs(row.times - t)))
            tile = np.full((cell, cell, 3), 245, np.uint8)
            if not crop:
                cv2.rectangle(tile, (0, 0), (int(w * scale) - 1, int(h * scale) - 1), (200, 200, 200), 1)
            draw_skeleton(
                tile, row.keypoints[i], min_conf, scale=scale, offset=(x, y), thickness=1 if cell < 120 else 2
            )
            label = f"{row.times[i] - row.times[0]:.2f}s"
            cv2.putText(
                tile, label, (3, cell - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (90, 90, 90), 1, cv2.LINE_AA
            )
            sheet[y0 + title_h : y0 + title_h + cell, c * cell : (c + 1) * cell] = tile
        cv2.line(
            sheet, (0, y0 + title_h + cell - 1), (sheet.shape[1], y0 + title_h + cell - 1), (210, 210, 210)
        )
    return sheet


def write_contact_sheet(path: str | Path, rows: Sequence[PreviewRow], **kwargs: object) -> Path:
    """Write :func:`contact_sheet` as PNG (or anything OpenCV can write from the suffix)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    image = contact_sheet(rows, **kwargs)  # type: ignore[arg-type]
    if not cv2.imwrite(str(out), image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"could not write {out}: check the directory exists and the suffix is an image type")
    return out


def write_video(path: str | Path, row: PreviewRow, fps: float | None = None, min_conf: float = 0.3) -> Path:
    """Write an MP4 of one sequence at its own image size (frames drawn at their timestamps)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    w, h = row.image_size
    rate = fps or float((len(row.times) - 1) / max(row.times[-1] - row.times[0], 1e-9))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), rate, (int(w), int(h)))
    if not writer.isOpened():
        raise OSError(f"could not open a video writer for {out} (mp4v codec at {w}x{h})")
    try:
        for i in range(len(row.times)):
            frame = np.full((int(h), int(w), 3), 245, np.uint8)
            draw_skeleton(frame, row.keypoints[i], min_conf)
            cv2.putText(frame, f"{row.title} {row.times[i]:.2f}s", (8, 20), 0, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
            writer.write(frame)
    finally:
        writer.release()
    return out


def _main(argv: Sequence[str] | None = None) -> int:
    from training.synthetic import ACTIONS, IDLE, generate_sequence  # noqa: PLC0415 (CLI only)

    parser = argparse.ArgumentParser(description="Preview synthetic keypoint sequences.")
    parser.add_argument("--action", action="append", choices=[*ACTIONS, IDLE], help="repeat for several rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=2, help="sequences per action")
    parser.add_argument("--fps", type=float, default=22.0)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--no-noise", action="store_true")
    parser.add_argument("--full-frame", action="store_true", help="show the camera framing, not a crop")
    parser.add_argument("--out", type=Path, required=True, help=".png contact sheet or .mp4 video")
    args = parser.parse_args(argv)
    rows: list[PreviewRow] = []
    for action in args.action or list(ACTIONS):
        for k in range(args.rows):
            rng = np.random.default_rng([args.seed, k, len(rows)])
            seq = generate_sequence(action, args.fps, args.duration, rng)
            if args.no_noise:
                seq = generate_sequence(action, args.fps, args.duration, rng, seq.params.without_noise())
            title = f"{action} {seq.params.motion.variant} yaw={np.degrees(seq.params.camera.yaw):.0f}"
            rows.append(PreviewRow(seq.times, seq.keypoints, seq.image_size, title))
    if args.out.suffix.lower() == ".mp4":
        write_video(args.out, rows[0])
    else:
        write_contact_sheet(args.out, rows, crop=not args.full_frame)
    logger.info("wrote %s", args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
