"""Poses: the boundary container is checked where it is made, with errors naming expected vs actual."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from inference.poses import Poses


def make(p: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros((p, 17, 3), np.float32), np.zeros((p, 4), np.float32), np.zeros((p,), np.float32)


def test_valid_poses_and_len() -> None:
    poses = Poses(*make(3))
    assert len(poses) == 3


def test_empty_has_the_right_shapes() -> None:
    empty = Poses.empty()
    assert len(empty) == 0
    assert empty.keypoints.shape == (0, 17, 3)
    assert empty.boxes.shape == (0, 4)
    assert empty.scores.shape == (0,)


def test_frozen() -> None:
    poses = Poses(*make())
    with pytest.raises(dataclasses.FrozenInstanceError):
        poses.scores = np.ones(2, np.float32)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("keypoints_shape", "message"),
    [
        ((2, 18, 3), r"keypoints must have shape \(P, 17, 3\), got \(2, 18, 3\)"),
        ((2, 17, 2), r"keypoints must have shape \(P, 17, 3\), got \(2, 17, 2\)"),
        ((17, 3), r"keypoints must have shape \(P, 17, 3\), got \(17, 3\)"),
    ],
)
def test_keypoint_shape_error_names_expected_and_actual(
    keypoints_shape: tuple[int, ...], message: str
) -> None:
    _, boxes, scores = make()
    with pytest.raises(ValueError, match=message):
        Poses(np.zeros(keypoints_shape, np.float32), boxes, scores)


def test_box_shape_error_names_expected_and_actual() -> None:
    kp, _, scores = make(2)
    with pytest.raises(ValueError, match=r"boxes must have shape \(2, 4\) to match keypoints, got \(3, 4\)"):
        Poses(kp, np.zeros((3, 4), np.float32), scores)


def test_score_shape_error_names_expected_and_actual() -> None:
    kp, boxes, _ = make(2)
    with pytest.raises(ValueError, match=r"scores must have shape \(2,\) to match keypoints, got \(2, 1\)"):
        Poses(kp, boxes, np.zeros((2, 1), np.float32))


def test_dtype_and_type_errors() -> None:
    kp, boxes, scores = make()
    with pytest.raises(ValueError, match="keypoints must be float32, got float64"):
        Poses(kp.astype(np.float64), boxes, scores)
    with pytest.raises(TypeError, match="scores must be a numpy array, got list"):
        Poses(kp, boxes, [0.0, 0.0])  # type: ignore[arg-type]


def test_from_keypoints_boxes_span_confident_joints() -> None:
    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, :, 0] = np.arange(17) + 10
    kp[0, :, 1] = np.arange(17) * 2 + 5
    kp[0, :, 2] = 1.0
    kp[0, 16] = (500, 500, 0.0)  # a joint with no confidence does not stretch the box
    poses = Poses.from_keypoints(kp)
    np.testing.assert_allclose(poses.boxes[0], (10, 5, 25, 35))
    assert poses.scores[0] == pytest.approx(16 / 17)
    assert poses.keypoints.dtype == np.float32


def test_from_keypoints_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"\(P, 17, 3\), got \(1, 33, 3\)"):
        Poses.from_keypoints(np.zeros((1, 33, 3)))


def test_select_keeps_people_aligned() -> None:
    kp, boxes, _ = make(3)
    kp[:, 0, 0] = (1, 2, 3)
    poses = Poses(kp, boxes, np.array([0.9, 0.2, 0.8], np.float32))
    chosen = poses.select(np.flatnonzero(poses.scores > 0.5))
    assert len(chosen) == 2
    assert chosen.keypoints[:, 0, 0].tolist() == [1, 3]
    assert len(poses.select([])) == 0
