"""The COCO-17 schema and its converters, checked joint by joint against the sources' own names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.keypoints import (
    COCO17_FLIP_PAIRS,
    COCO17_INDEX,
    COCO17_NAMES,
    COCO17_SKELETON,
    MEDIAPIPE33_TO_COCO17,
    NUM_KEYPOINTS,
    OPENPOSE18_NAMES,
    OPENPOSE18_TO_COCO17,
    SEED_OPENPOSE_REORDER,
    flip_keypoints,
    mediapipe33_to_coco17,
    openpose18_to_coco17,
    openpose_missing_mask,
)

# OpenPose's own part list for its COCO-18 body model (POSE_COCO_BODY_PARTS in OpenPose's
# poseParameters.cpp), written out here independently of inference.keypoints.
OPENPOSE_COCO18_PARTS = {
    0: "Nose", 1: "Neck", 2: "RShoulder", 3: "RElbow", 4: "RWrist", 5: "LShoulder", 6: "LElbow",
    7: "LWrist", 8: "RHip", 9: "RKnee", 10: "RAnkle", 11: "LHip", 12: "LKnee", 13: "LAnkle",
    14: "REye", 15: "LEye", 16: "REar", 17: "LEar",
}  # fmt: skip

# For every COCO-17 joint (the COCO dataset's keypoint names), the OpenPose part it must come from.
EXPECTED_OPENPOSE_SOURCE = {
    "nose": "Nose",
    "left_eye": "LEye",
    "right_eye": "REye",
    "left_ear": "LEar",
    "right_ear": "REar",
    "left_shoulder": "LShoulder",
    "right_shoulder": "RShoulder",
    "left_elbow": "LElbow",
    "right_elbow": "RElbow",
    "left_wrist": "LWrist",
    "right_wrist": "RWrist",
    "left_hip": "LHip",
    "right_hip": "RHip",
    "left_knee": "LKnee",
    "right_knee": "RKnee",
    "left_ankle": "LAnkle",
    "right_ankle": "RAnkle",
}


def seed_convert(row: list[float]) -> list[float]:
    """The original app's conversion of one 36-value OpenPose row, verbatim: drop the neck, reorder."""
    no_neck = row[:2] + row[4:]
    return [no_neck[i] for i in SEED_OPENPOSE_REORDER]


def test_coco17_names_are_the_coco_dataset_order() -> None:
    assert tuple(EXPECTED_OPENPOSE_SOURCE) == COCO17_NAMES
    assert NUM_KEYPOINTS == 17
    assert all(COCO17_NAMES[i] == name for name, i in COCO17_INDEX.items())


def test_skeleton_and_flip_pairs_use_valid_joints() -> None:
    for a, b in COCO17_SKELETON:
        assert 0 <= a < NUM_KEYPOINTS and 0 <= b < NUM_KEYPOINTS and a != b
    for a, b in COCO17_FLIP_PAIRS:
        left, right = COCO17_NAMES[a], COCO17_NAMES[b]
        assert left.startswith("left_") and right == "right_" + left.removeprefix("left_")


@pytest.mark.parametrize("coco_name", COCO17_NAMES)
def test_openpose18_to_coco17_joint_by_joint(coco_name: str) -> None:
    source = OPENPOSE18_TO_COCO17[COCO17_INDEX[coco_name]]
    assert OPENPOSE_COCO18_PARTS[source] == EXPECTED_OPENPOSE_SOURCE[coco_name]


def test_openpose18_names_match_openpose_part_list() -> None:
    def openpose_style(name: str) -> str:
        side, _, part = name.partition("_")
        return {"left": "L", "right": "R"}[side] + part.capitalize() if part else name.capitalize()

    assert [openpose_style(n) for n in OPENPOSE18_NAMES] == [OPENPOSE_COCO18_PARTS[i] for i in range(18)]


def test_neck_is_the_only_openpose_joint_dropped() -> None:
    assert sorted(OPENPOSE18_TO_COCO17) == [i for i in range(18) if OPENPOSE_COCO18_PARTS[i] != "Neck"]


def test_openpose18_to_coco17_equals_seed_flat_mapping_on_labelled_rows() -> None:
    # Distinct values per joint, so any mix-up of joints or of x and y shows.
    rows = np.arange(5 * 36, dtype=np.float64).reshape(5, 36)
    for row in rows:
        ours = openpose18_to_coco17(row.reshape(18, 2)).reshape(-1)
        assert ours.tolist() == seed_convert(row.tolist())


def test_openpose18_to_coco17_equals_seed_flat_mapping_on_real_window(shared_data: Path) -> None:
    rows = np.loadtxt(shared_data / "har2d" / "X_val.txt", delimiter=",")
    assert rows.shape == (32, 36)
    ours = openpose18_to_coco17(rows.reshape(32, 18, 2)).reshape(32, 34)
    seed = np.array([seed_convert(r.tolist()) for r in rows])
    np.testing.assert_array_equal(ours, seed)


def test_openpose_converter_keeps_batch_dims_and_confidence_channel() -> None:
    kp = np.random.default_rng(0).random((4, 6, 18, 3))
    out = openpose18_to_coco17(kp)
    assert out.shape == (4, 6, 17, 3)
    np.testing.assert_array_equal(out[..., COCO17_INDEX["left_wrist"], :], kp[..., 7, :])


def test_openpose_converter_rejects_wrong_joint_count() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 18, C\), got \(17, 2\)"):
        openpose18_to_coco17(np.zeros((17, 2)))


def test_openpose_missing_mask_marks_zero_zero_only() -> None:
    kp = np.array([[0.0, 0.0], [0.0, 5.0], [3.0, 0.0], [1.0, 1.0]])
    assert openpose_missing_mask(kp).tolist() == [True, False, False, False]


@pytest.mark.parametrize("coco_name", COCO17_NAMES)
def test_mediapipe33_to_coco17_joint_by_joint(coco_name: str) -> None:
    pose = pytest.importorskip("mediapipe.python.solutions.pose", reason="mediapipe not installed")
    landmark = pose.PoseLandmark(MEDIAPIPE33_TO_COCO17[COCO17_INDEX[coco_name]])
    assert landmark.name == coco_name.upper()


def test_mediapipe_converter_selects_and_rejects() -> None:
    lm = np.arange(33 * 3, dtype=np.float32).reshape(33, 3)
    out = mediapipe33_to_coco17(lm)
    assert out.shape == (17, 3)
    np.testing.assert_array_equal(out[COCO17_INDEX["left_hip"]], lm[23])
    with pytest.raises(ValueError, match=r"\(\.\.\., 33, C\), got \(17, 3\)"):
        mediapipe33_to_coco17(out)


def test_flip_mirrors_x_and_swaps_left_right() -> None:
    rng = np.random.default_rng(1)
    kp = np.concatenate([rng.random((2, 17, 2)) * 100, rng.random((2, 17, 1))], axis=-1)
    flipped = flip_keypoints(kp, width=100.0)
    ls, rs = COCO17_INDEX["left_shoulder"], COCO17_INDEX["right_shoulder"]
    nose = COCO17_INDEX["nose"]
    np.testing.assert_allclose(flipped[:, rs, 0], 100.0 - kp[:, ls, 0])
    np.testing.assert_allclose(flipped[:, rs, 1:], kp[:, ls, 1:])
    np.testing.assert_allclose(flipped[:, nose, 0], 100.0 - kp[:, nose, 0])
    np.testing.assert_allclose(flip_keypoints(flipped, width=100.0), kp)
    assert kp is not flipped and not np.shares_memory(kp, flipped)
