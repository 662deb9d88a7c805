"""Synthetic COCO-17 people for tests: a standing skeleton that can wave, walk and be scaled."""

from __future__ import annotations

import numpy as np

from inference.keypoints import COCO17_INDEX
from inference.poses import Poses

# A standing person, origin at mid-hip, units of body height, y down. Symmetric left/right.
TEMPLATE = np.array(
    [
        (0.00, -0.45),  # nose
        (0.02, -0.47),  # left_eye
        (-0.02, -0.47),  # right_eye
        (0.04, -0.46),  # left_ear
        (-0.04, -0.46),  # right_ear
        (0.10, -0.33),  # left_shoulder
        (-0.10, -0.33),  # right_shoulder
        (0.14, -0.18),  # left_elbow
        (-0.14, -0.18),  # right_elbow
        (0.16, -0.05),  # left_wrist
        (-0.16, -0.05),  # right_wrist
        (0.06, 0.00),  # left_hip
        (-0.06, 0.00),  # right_hip
        (0.07, 0.25),  # left_knee
        (-0.07, 0.25),  # right_knee
        (0.07, 0.50),  # left_ankle
        (-0.07, 0.50),  # right_ankle
    ]
)
LEFT_WRIST = COCO17_INDEX["left_wrist"]
LEFT_ELBOW = COCO17_INDEX["left_elbow"]


def person(
    t: float,
    *,
    cx: float = 320.0,
    cy: float = 300.0,
    height: float = 300.0,
    wave_hz: float = 1.5,
    wave_amp: float = 0.1,
) -> np.ndarray:
    """Keypoints ``(17, 3)`` (confidence 1) of a person at time ``t`` waving the left hand."""
    xy = TEMPLATE.copy()
    if wave_amp:
        phase = 2 * np.pi * wave_hz * t
        xy[LEFT_ELBOW] = (0.20, -0.42)
        xy[LEFT_WRIST] = (0.20 + wave_amp * np.sin(phase), -0.58 + 0.2 * wave_amp * np.cos(phase))
    kp = np.ones((17, 3), np.float32)
    kp[:, 0] = cx + xy[:, 0] * height
    kp[:, 1] = cy + xy[:, 1] * height
    return kp


def sequence(times: np.ndarray, **kwargs: float) -> np.ndarray:
    """``(T, 17, 3)`` for :func:`person` at each time."""
    return np.stack([person(float(t), **kwargs) for t in times])


def frame_poses(people: list[np.ndarray]) -> Poses:
    """One frame's Poses from a list of ``(17, 3)`` people."""
    if not people:
        return Poses.empty()
    return Poses.from_keypoints(np.stack(people).astype(np.float32))
