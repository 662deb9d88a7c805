"""What the network reads, derived from a window's features inside the model.

Every window is ``(steps, 34)``: x, y of the 17 COCO joints after normalisation
(:mod:`inference.windows`), the one contract between serving and training. A model may read those
as they are (``xy``, the original's input) or through a fixed transform computed in its forward
pass, so serving and training cannot drift apart and no window format changes:

``motion`` (72 per step): each joint relative to that instant's mid-hip (34: posture, whatever
the person's path through the picture), each joint's velocity (34: how the body moves, in torso
lengths per second / :data:`VELOCITY_SCALE`), and the mid-hip's position and velocity (2 + 2:
where the whole body goes: jumps, walking, sitting down).
"""

from __future__ import annotations

import torch

from inference.keypoints import COCO17_INDEX, NUM_KEYPOINTS

INPUT_FEATURES: tuple[str, ...] = ("xy", "motion")
_XY = 2 * NUM_KEYPOINTS
_HIPS = (COCO17_INDEX["left_hip"], COCO17_INDEX["right_hip"])
# Body-centred joints move at up to ~10 torso lengths/s (a punch); dividing keeps inputs near 1.
VELOCITY_SCALE = 4.0


def input_size(kind: str, keypoint_features: int = _XY) -> int:
    """Size of one step of the network's input for a feature kind."""
    if kind == "xy":
        return keypoint_features
    if kind == "motion":
        return 2 * keypoint_features + 4
    raise ValueError(f"unknown input features {kind!r}; expected one of {', '.join(INPUT_FEATURES)}")


def transform(x: torch.Tensor, kind: str, rate_hz: float) -> torch.Tensor:
    """``(N, steps, 34)`` window features -> ``(N, steps, input_size(kind))`` network input."""
    if kind == "xy":
        return x
    if kind != "motion":
        raise ValueError(f"unknown input features {kind!r}; expected one of {', '.join(INPUT_FEATURES)}")
    n, t, f = x.shape
    pos = x.reshape(n, t, f // 2, 2)
    root = pos[:, :, list(_HIPS)].mean(dim=2, keepdim=True)  # (N, T, 1, 2)
    local = (pos - root).reshape(n, t, f)
    step = float(rate_hz) / VELOCITY_SCALE

    def velocity(v: torch.Tensor) -> torch.Tensor:
        d = (v[:, 1:] - v[:, :-1]) * step
        return torch.cat([torch.zeros_like(v[:, :1]), d], dim=1)

    root2 = root.reshape(n, t, 2)
    return torch.cat([local, velocity(x), root2, velocity(root2)], dim=2)
