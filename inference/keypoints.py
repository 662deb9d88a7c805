"""The one keypoint schema of the project (COCO-17) and converters into it.

COCO-17 in the order Detectron2 and torchvision use. OpenPose-18 (the RNN-HAR-2D-Pose
database, the original app's training data) and MediaPipe-33 (BlazePose) convert into it.
"""

from __future__ import annotations

import numpy as np

COCO17_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
NUM_KEYPOINTS = len(COCO17_NAMES)
COCO17_INDEX: dict[str, int] = {name: i for i, name in enumerate(COCO17_NAMES)}

# Bones for drawing skeletons, as index pairs.
COCO17_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
    (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip

# Index pairs that swap under a horizontal mirror.
COCO17_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2),
    (3, 4),
    (5, 6),
    (7, 8),
    (9, 10),
    (11, 12),
    (13, 14),
    (15, 16),
)

# OpenPose-18 (COCO-18 body model): nose, neck, R-shoulder, R-elbow, R-wrist, L-shoulder, L-elbow,
# L-wrist, R-hip, R-knee, R-ankle, L-hip, L-knee, L-ankle, R-eye, L-eye, R-ear, L-ear.
OPENPOSE18_NAMES: tuple[str, ...] = (
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_eye",
    "left_eye",
    "right_ear",
    "left_ear",
)
# For each COCO-17 joint, the OpenPose-18 joint it comes from (the neck has no COCO counterpart).
OPENPOSE18_TO_COCO17: tuple[int, ...] = tuple(OPENPOSE18_NAMES.index(n) for n in COCO17_NAMES)

# The original app's flat mapping, kept verbatim so the equivalence can be tested: drop the neck
# (`row[:2] + row[4:]`), then reorder the remaining 34 values with this index list.
SEED_OPENPOSE_REORDER: tuple[int, ...] = (
    0, 1, 28, 29, 26, 27, 32, 33, 30, 31, 8, 9, 2, 3, 10, 11, 4, 5,
    12, 13, 6, 7, 20, 21, 14, 15, 22, 23, 16, 17, 24, 25, 18, 19,
)  # fmt: skip

# MediaPipe Pose / BlazePose 33 landmarks: the COCO-17 joints are a subset.
MEDIAPIPE33_TO_COCO17: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


def openpose18_to_coco17(keypoints: np.ndarray) -> np.ndarray:
    """Convert OpenPose-18 keypoints ``(..., 18, C)`` into COCO-17 ``(..., 17, C)``.

    OpenPose marks a missing joint as ``(0, 0)``; that marker is kept as is here, and the
    confidence channel (when ``C == 3``) is passed through. Use :func:`openpose_missing_mask`
    to find missing joints.
    """
    kp = np.asarray(keypoints)
    if kp.ndim < 2 or kp.shape[-2] != len(OPENPOSE18_NAMES):
        raise ValueError(f"expected OpenPose-18 keypoints of shape (..., 18, C), got {kp.shape}")
    return kp[..., list(OPENPOSE18_TO_COCO17), :]


def openpose_missing_mask(keypoints_xy: np.ndarray) -> np.ndarray:
    """True where a joint is OpenPose's ``(0, 0)`` missing marker; input ``(..., J, 2+)``."""
    kp = np.asarray(keypoints_xy)
    return np.all(kp[..., :2] == 0, axis=-1)


def mediapipe33_to_coco17(landmarks: np.ndarray) -> np.ndarray:
    """Select the COCO-17 joints from MediaPipe's 33 landmarks ``(..., 33, C)``."""
    lm = np.asarray(landmarks)
    if lm.ndim < 2 or lm.shape[-2] != 33:
        raise ValueError(f"expected MediaPipe-33 landmarks of shape (..., 33, C), got {lm.shape}")
    return lm[..., list(MEDIAPIPE33_TO_COCO17), :]


def flip_keypoints(keypoints: np.ndarray, width: float) -> np.ndarray:
    """Mirror COCO-17 keypoints ``(..., 17, C)`` horizontally in an image of ``width`` pixels."""
    kp = np.array(keypoints, copy=True)
    kp[..., 0] = width - kp[..., 0]
    perm = list(range(NUM_KEYPOINTS))
    for a, b in COCO17_FLIP_PAIRS:
        perm[a], perm[b] = b, a
    return kp[..., perm, :]
