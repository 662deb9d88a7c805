"""Drawing results onto frames: skeletons, track ids, and each person's current action.

Used by ``actionstream analyze`` (every frame of the output video) and by the live preview (only
when someone watches). Works on a copy unless told otherwise, because frames are shared by
reference with the rest of the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from inference.keypoints import COCO17_SKELETON
from inference.poses import TrackedPoses
from service.engine.analyzer import TrackAction

# Distinct, saturated BGR colours; a track keeps its colour for its whole life.
_PALETTE: tuple[tuple[int, int, int], ...] = (
    (255, 128, 0),
    (0, 200, 255),
    (60, 220, 60),
    (220, 60, 220),
    (0, 90, 255),
    (255, 220, 0),
    (160, 80, 255),
    (0, 255, 170),
)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def track_colour(track_id: int) -> tuple[int, int, int]:
    return _PALETTE[track_id % len(_PALETTE)]


NO_ACTION_CAPTION = "-"  # what a person doing none of the model's actions shows (ASCII: Hershey fonts)


def track_caption(track_id: int, action: TrackAction) -> str:
    """``#3 WAVING_2HANDS 87%``; ``#3 -`` when the window names no known action; ``#3 ...`` until
    the track's first window was classified."""
    if not action.classified or action.confidence is None:
        return f"#{track_id} ..."
    if action.label is None:
        return f"#{track_id} {NO_ACTION_CAPTION}"
    return f"#{track_id} {action.label} {round(100 * action.confidence)}%"


def annotate(
    image: np.ndarray,
    people: TrackedPoses,
    actions: Sequence[TrackAction],
    *,
    min_confidence: float = 0.3,
    caption: str | None = None,
    copy: bool = True,
) -> np.ndarray:
    """``image`` (BGR uint8) with every tracked person's skeleton and caption drawn (``actions`` row
    for row with ``people``); ``caption`` goes in the top-left corner (e.g. the time). Joints below
    ``min_confidence`` are not drawn."""
    out = image.copy() if copy else image
    h, w = out.shape[:2]
    scale = max(0.8, min(h, w) / 480.0)
    thick = max(1, round(1.5 * scale))
    for track_id, kp, box, action in zip(
        people.track_ids.tolist(), people.keypoints, people.boxes, actions, strict=True
    ):
        colour = track_colour(track_id)
        seen = kp[:, 2] >= min_confidence
        for a, b in COCO17_SKELETON:
            if seen[a] and seen[b]:
                pa = (round(float(kp[a, 0])), round(float(kp[a, 1])))
                pb = (round(float(kp[b, 0])), round(float(kp[b, 1])))
                cv2.line(out, pa, pb, colour, thick + 1, cv2.LINE_AA)
        for j in np.flatnonzero(seen):
            centre = (round(float(kp[j, 0])), round(float(kp[j, 1])))
            cv2.circle(out, centre, thick + 2, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(out, centre, thick + 1, colour, -1, cv2.LINE_AA)
        _tag(out, track_caption(track_id, action), _anchor(kp, box, seen, w, h), colour, scale)
    if caption:
        _tag(out, caption, (4, 4), (40, 40, 40), scale, below=True)
    return out


def _anchor(
    keypoints: np.ndarray, box: np.ndarray, seen: np.ndarray, width: int, height: int
) -> tuple[int, int]:
    """Where the caption sits: above the person (box top, else highest visible joint), in the image."""
    x1, y1 = float(box[0]), float(box[1])
    if seen.any():
        visible = keypoints[seen]
        x1 = min(x1, float(visible[:, 0].min())) if x1 > 0 else float(visible[:, 0].min())
        y1 = min(y1, float(visible[:, 1].min()))
    return int(np.clip(x1, 0, max(0, width - 1))), int(np.clip(y1, 0, max(0, height - 1)))


def _tag(
    image: np.ndarray,
    text: str,
    at: tuple[int, int],
    colour: tuple[int, int, int],
    scale: float,
    *,
    below: bool = False,
) -> None:
    """Text on a filled box of ``colour``; above ``at`` (or below it), kept inside the image."""
    h, w = image.shape[:2]
    font_scale = 0.5 * scale
    thick = max(1, round(scale))  # 1 px up to ~720p, then bolder
    (tw, th), base = cv2.getTextSize(text, _FONT, font_scale, thick)
    pad = max(2, round(3 * scale))
    box_w, box_h = tw + 2 * pad, th + base + 2 * pad
    x = int(min(max(0, at[0]), max(0, w - box_w)))
    y = at[1] if below else at[1] - box_h - 2
    y = int(min(max(0, y), max(0, h - box_h)))
    cv2.rectangle(image, (x, y), (x + box_w, y + box_h), colour, -1)
    luminance = 0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2]
    ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    cv2.putText(image, text, (x + pad, y + pad + th), _FONT, font_scale, ink, thick, cv2.LINE_AA)
