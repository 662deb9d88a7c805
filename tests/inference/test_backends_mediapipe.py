"""MediaPipe BlazePose on real photos and video: people found, anatomy plausible, multi-person works.

All of it runs the real model shipped inside the mediapipe wheel (no download, no mocks). The only
test double is a person detector passed in through the constructor, to test crop -> frame mapping.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from inference.backends import create_backend
from inference.backends.base import PoseBackend
from inference.keypoints import COCO17_INDEX as J
from inference.poses import Poses
from tests.conftest import ROOT

pytest.importorskip("mediapipe", reason="mediapipe not installed (pip install 'mediapipe==0.10.14')")
cv2 = pytest.importorskip("cv2", reason="opencv not installed")

PHOTOS = ("000000000785", "000000040083", "000000196141", "000000197388")


@pytest.fixture(scope="module")
def single() -> Iterator[PoseBackend]:
    with create_backend("mediapipe") as backend:
        yield backend


@pytest.fixture(scope="module")
def multi() -> Iterator[PoseBackend]:
    with create_backend("mediapipe", max_people=6) as backend:
        yield backend


def photo(shared_data: Path, coco_id: str) -> np.ndarray:
    image = cv2.imread(str(shared_data / "images" / f"mmpose_coco_{coco_id}.jpg"))
    assert image is not None
    return image


def video_frames(path: Path, every: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    index = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index % every == 0:
            frames.append(frame)
        index += 1
    cap.release()
    assert frames, f"could not read {path}"
    return frames


def assert_valid(poses: Poses, image: np.ndarray) -> None:
    h, w = image.shape[:2]
    assert poses.keypoints.dtype == np.float32 and poses.boxes.dtype == np.float32
    assert np.all((poses.keypoints[..., 0] >= 0) & (poses.keypoints[..., 0] <= w - 1))
    assert np.all((poses.keypoints[..., 1] >= 0) & (poses.keypoints[..., 1] <= h - 1))
    assert np.all((poses.keypoints[..., 2] >= 0) & (poses.keypoints[..., 2] <= 1))
    assert np.all(poses.boxes[:, 2] >= poses.boxes[:, 0]) and np.all(poses.boxes[:, 3] >= poses.boxes[:, 1])
    assert np.all((poses.scores > 0) & (poses.scores <= 1))


def assert_upright_anatomy(kp: np.ndarray) -> None:
    """Image y grows downwards: head above shoulders above hips above ankles."""
    hips_y = kp[[J["left_hip"], J["right_hip"]], 1].mean()
    shoulders_y = kp[[J["left_shoulder"], J["right_shoulder"]], 1].mean()
    ankles_y = kp[[J["left_ankle"], J["right_ankle"]], 1].mean()
    assert kp[J["nose"], 1] < shoulders_y < hips_y
    assert hips_y < ankles_y or kp[[J["left_ankle"], J["right_ankle"]], 2].max() < 0.5


def box_contains(box: np.ndarray, x: float, y: float) -> bool:
    return bool(box[0] <= x <= box[2] and box[1] <= y <= box[3])


@pytest.mark.parametrize("coco_id", PHOTOS)
def test_single_person_on_real_photos(single: PoseBackend, shared_data: Path, coco_id: str) -> None:
    image = photo(shared_data, coco_id)
    [poses] = single.infer([image])
    assert len(poses) == 1
    assert_valid(poses, image)
    assert_upright_anatomy(poses.keypoints[0])
    assert poses.scores[0] > 0.5


def test_left_and_right_for_a_person_facing_the_camera(single: PoseBackend, shared_data: Path) -> None:
    # The skier in 785 faces the camera: her left side is on the image's right.
    [poses] = single.infer([photo(shared_data, "000000000785")])
    kp = poses.keypoints[0]
    for side in ("shoulder", "hip", "eye"):
        assert kp[J[f"left_{side}"], 0] > kp[J[f"right_{side}"], 0], side
    assert box_contains(poses.boxes[0], 390, 200)  # the skier, not the poles or the slope


def test_mirrored_photo_gives_mirrored_pose(single: PoseBackend, shared_data: Path) -> None:
    image = photo(shared_data, "000000000785")
    [a, b] = single.infer([image, np.ascontiguousarray(image[:, ::-1])])
    kp_a, kp_b = a.keypoints[0], b.keypoints[0]
    w = image.shape[1]
    for name in ("left_shoulder", "left_hip", "left_knee"):
        mirrored = kp_b[J[name.replace("left_", "right_")]]
        assert abs((w - 1 - mirrored[0]) - kp_a[J[name], 0]) < 15, name
        assert abs(mirrored[1] - kp_a[J[name], 1]) < 15, name


def test_blank_images_give_empty_poses(single: PoseBackend, multi: PoseBackend) -> None:
    blank = [np.zeros((480, 640, 3), np.uint8), np.full((240, 320, 3), 128, np.uint8)]
    for backend in (single, multi):
        results = backend.infer(blank)
        assert [len(p) for p in results] == [0, 0]
        assert results[0].keypoints.shape == (0, 17, 3)


def test_batch_gives_one_result_per_image_in_order(single: PoseBackend, shared_data: Path) -> None:
    blank = np.zeros((120, 160, 3), np.uint8)
    image = photo(shared_data, "000000000785")
    assert [len(p) for p in single.infer([blank, image, blank])] == [0, 1, 0]
    assert single.infer([]) == []


def test_stream_mode_tracks_one_person_through_a_video(shared_data: Path) -> None:
    frames = video_frames(shared_data / "videos" / "omkarnagarkar55_wave.mp4", every=2)[:40]
    with create_backend("mediapipe", stream_mode=True) as backend:
        results = backend.infer(frames)
    found = [len(p) for p in results]
    assert sum(found) >= 0.9 * len(frames), found
    for poses in results:
        if len(poses):
            assert_valid(poses, frames[0])


def test_stream_mode_and_multi_person_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="stream_mode=True tracks one person"):
        create_backend("mediapipe", stream_mode=True, max_people=3)
    with pytest.raises(ValueError, match="max_people must be >= 1, got 0"):
        create_backend("mediapipe", max_people=0)


def test_multi_person_four_skiers(multi: PoseBackend, shared_data: Path) -> None:
    # Measured: 3 distinct skiers found (front, blue-suited centre, far left); the two half-hidden
    # skiers at the back are missed. The brief's bar is >= 2.
    image = photo(shared_data, "000000197388")
    [poses] = multi.infer([image])
    assert len(poses) >= 3
    assert_valid(poses, image)
    centres = (poses.boxes[:, :2] + poses.boxes[:, 2:]) / 2
    for i in range(len(poses)):  # distinct people, not one person found twice
        for j in range(i + 1, len(poses)):
            assert np.hypot(*(centres[i] - centres[j])) > 50
    assert any(box_contains(b, 500, 300) for b in poses.boxes)  # the skier in front
    assert any(box_contains(b, 270, 200) for b in poses.boxes)  # the blue-suited skier


def test_multi_person_batter_and_catcher(multi: PoseBackend, shared_data: Path) -> None:
    image = photo(shared_data, "000000196141")
    [poses] = multi.infer([image])
    assert len(poses) >= 2
    assert_valid(poses, image)
    batter = [i for i, b in enumerate(poses.boxes) if box_contains(b, 335, 220)]
    catcher = [i for i, b in enumerate(poses.boxes) if box_contains(b, 545, 320)]
    assert batter and catcher and batter[0] != catcher[0]
    assert_upright_anatomy(poses.keypoints[batter[0]])


def test_multi_person_two_seated_men(multi: PoseBackend, shared_data: Path) -> None:
    # HOG finds neither (seated); BlazePose's full-frame scan finds one, then the other once the
    # first is greyed out.
    image = photo(shared_data, "000000040083")
    [poses] = multi.infer([image])
    assert len(poses) == 2
    assert_valid(poses, image)
    assert any(box_contains(b, 110, 200) for b in poses.boxes)  # the man on the left
    assert any(box_contains(b, 355, 220) for b in poses.boxes)  # the man on the right


def test_multi_person_does_not_duplicate_a_single_person(multi: PoseBackend, shared_data: Path) -> None:
    [poses] = multi.infer([photo(shared_data, "000000000785")])
    assert len(poses) == 1


def test_multi_person_max_people_caps_the_result(shared_data: Path) -> None:
    with create_backend("mediapipe", max_people=2) as backend:
        [poses] = backend.infer([photo(shared_data, "000000197388")])
    assert len(poses) == 2
    assert np.all(np.diff(poses.scores) <= 0)  # most confident first


def test_crop_landmarks_map_back_to_frame_pixels(single: PoseBackend, shared_data: Path) -> None:
    """Person detector test double: the crop path alone must put the skier where she is in the frame."""
    image = photo(shared_data, "000000000785")
    [reference] = single.infer([image])
    dx, dy = 300, 200
    canvas = np.full((image.shape[0] + 2 * dy, image.shape[1] + 2 * dx, 3), 200, np.uint8)
    canvas[dy : dy + image.shape[0], dx : dx + image.shape[1]] = image
    box = reference.boxes[0] + np.array([dx, dy, dx, dy], np.float32)
    calls: list[tuple[int, ...]] = []

    def detector(frame: np.ndarray) -> np.ndarray:
        calls.append(frame.shape)
        return box[None]

    with create_backend(
        "mediapipe", max_people=3, scan_full_frame=False, person_detector=detector
    ) as backend:
        [poses] = backend.infer([canvas])
    assert calls == [canvas.shape]
    assert len(poses) == 1
    ref = reference.keypoints[0]
    confident = (ref[:, 2] > 0.7) & (poses.keypoints[0, :, 2] > 0.7)
    assert confident.sum() >= 8
    dist = np.hypot(*(poses.keypoints[0, confident, :2] - ref[confident, :2] - (dx, dy)).T)
    assert np.median(dist) < 10, dist


@pytest.mark.slow
def test_multi_person_three_people_exercise_video(multi: PoseBackend, shared_data: Path) -> None:
    # Measured on all 393 frames: 342 (87 %) with 3 people, 39 with 2, 8 with 1, 4 with 0, none with more;
    # on every 8th frame (50 frames), as here: 45 with 3, 4 with 2, 1 with 1.
    frames = video_frames(shared_data / "videos" / "felixchenfy_exercise.avi", every=8)
    counts = np.array([len(multi.infer([frame])[0]) for frame in frames])
    assert counts.max() <= 3, counts  # never a duplicate or a phantom
    assert np.mean(counts == 3) >= 0.8, counts
    assert np.mean(counts >= 2) >= 0.95, counts


def test_start_up_noise_stays_off_the_console(shared_data: Path) -> None:
    """MediaPipe's C++ and protobuf chatter at a graph's first run never reaches stderr (a fresh process,
    since it comes once per process); it is in the DEBUG log instead."""
    code = (
        "import logging, sys, cv2; from inference.backends import create_backend; "
        "logging.basicConfig(level=logging.DEBUG if sys.argv[2] == 'debug' else logging.INFO); "
        "b = create_backend('mediapipe'); print(len(b.infer([cv2.imread(sys.argv[1])] * 2)[0])); b.close()"
    )
    image = str(shared_data / "images" / f"mmpose_coco_{PHOTOS[1]}.jpg")
    noise = ("absl::InitializeLog", "Feedback manager", "GetPrototype", "XNNPACK")
    for level in ("info", "debug"):
        done = subprocess.run(
            [sys.executable, "-c", code, image, level],
            capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "1", "the model still ran"
        lines = done.stderr.splitlines()
        if level == "info":
            assert not [line for line in lines if any(n in line for n in noise)], done.stderr
        else:
            native = [line for line in lines if "native: " in line]
            assert any("Feedback manager" in line for line in native), done.stderr
