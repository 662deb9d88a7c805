"""The backend registry: names, the `auto` choice, missing libraries, option checking, light imports."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference import backends
from inference.backends import (
    BACKEND_NAMES,
    BackendUnavailable,
    available_backends,
    choose_backend,
    create_backend,
    create_video_backend,
)
from inference.backends.base import boxes_from_keypoints, check_images

ROOT = Path(__file__).resolve().parents[2]


def pretend_installed(monkeypatch: pytest.MonkeyPatch, packages: set[str], cuda: bool) -> None:
    monkeypatch.setattr(backends, "_is_installed", lambda name: name in packages)
    monkeypatch.setattr(backends, "_cuda_available", lambda: cuda)


def test_names() -> None:
    assert BACKEND_NAMES == ("mediapipe", "torchvision", "detectron2", "auto")


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(
        ValueError, match="unknown pose backend 'openpose'; known backends: mediapipe, torchvision"
    ):
        create_backend("openpose")


def test_available_backends_follow_installed_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    pretend_installed(monkeypatch, {"mediapipe", "torch"}, cuda=False)
    assert available_backends() == ["mediapipe"]
    pretend_installed(monkeypatch, {"mediapipe", "torch", "torchvision", "detectron2"}, cuda=False)
    assert available_backends() == ["mediapipe", "torchvision", "detectron2"]


def test_auto_without_cuda_is_mediapipe_even_when_rcnn_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pretend_installed(monkeypatch, {"mediapipe", "torch", "torchvision", "detectron2"}, cuda=False)
    assert choose_backend("auto") == "mediapipe"
    assert choose_backend("cpu") == "mediapipe"


def test_auto_with_cuda_prefers_detectron2_then_torchvision(monkeypatch: pytest.MonkeyPatch) -> None:
    pretend_installed(monkeypatch, {"mediapipe", "torch", "torchvision", "detectron2"}, cuda=True)
    assert choose_backend("auto") == "detectron2"
    pretend_installed(monkeypatch, {"mediapipe", "torch", "torchvision"}, cuda=True)
    assert choose_backend("auto") == "torchvision"
    assert choose_backend("cpu") == "mediapipe"  # an explicit CPU device still gets the CPU backend
    pretend_installed(monkeypatch, {"mediapipe", "torch"}, cuda=True)
    assert choose_backend("auto") == "mediapipe"


def test_auto_on_cuda_device_with_only_mediapipe_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pretend_installed(monkeypatch, {"mediapipe"}, cuda=True)
    with pytest.raises(
        BackendUnavailable, match=r"no GPU pose backend is installed.*pip install 'torch==2\.15\.0'"
    ):
        choose_backend("cuda")


def test_auto_without_mediapipe_or_cuda_falls_back_to_rcnn_with_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pretend_installed(monkeypatch, {"torch", "torchvision"}, cuda=False)
    with caplog.at_level(logging.WARNING, logger="inference.backends"):
        assert choose_backend("auto") == "torchvision"
    assert "seconds per frame" in caplog.text


def test_auto_with_nothing_installed_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    pretend_installed(monkeypatch, set(), cuda=False)
    with pytest.raises(
        BackendUnavailable, match=r"no pose backend is installed.*pip install 'mediapipe==0\.10\.14'"
    ):
        create_backend("auto")


def test_auto_on_this_machine_picks_by_real_detection() -> None:
    pytest.importorskip("mediapipe", reason="mediapipe not installed")
    torch = pytest.importorskip("torch", reason="torch not installed")
    if torch.cuda.is_available():
        assert choose_backend("auto") in ("detectron2", "torchvision")
    else:
        assert choose_backend("auto") == "mediapipe"
        with create_backend("auto") as backend:
            assert backend.name == "mediapipe"
            assert backend.device == "cpu"


@pytest.mark.parametrize(
    ("name", "module", "hint"),
    [
        ("mediapipe", "mediapipe", r"pip install 'mediapipe==0\.10\.14'"),
        ("torchvision", "torchvision", r"pip install 'torch==2\.15\.0' 'torchvision==0\.29\.2'"),
        ("torchvision", "torch", r"pip install 'torch==2\.15\.0'"),
        ("detectron2", "detectron2", r"setuptools<81.*github\.com/facebookresearch/detectron2"),
    ],
)
def test_missing_library_is_backend_unavailable_with_install_hint(
    monkeypatch: pytest.MonkeyPatch, name: str, module: str, hint: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import <module>` fail, as if not installed
    with pytest.raises(BackendUnavailable, match=hint) as info:
        create_backend(name, device="cpu")
    assert f"'{module}'" in str(info.value)
    assert isinstance(info.value, RuntimeError)


def test_unknown_option_names_the_accepted_ones() -> None:
    pytest.importorskip("mediapipe", reason="mediapipe not installed")
    with pytest.raises(ValueError, match=r"has no option.*score_thresh.*its options are: .*max_people"):
        create_backend("mediapipe", score_thresh=0.5)


def test_auto_drops_options_the_chosen_backend_does_not_take(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("mediapipe", reason="mediapipe not installed")
    monkeypatch.setattr(backends, "_cuda_available", lambda: False)
    with (
        caplog.at_level(logging.WARNING, logger="inference.backends"),
        create_backend("auto", max_people=2, min_size=800) as backend,  # a Keypoint R-CNN option
    ):
        assert backend.name == "mediapipe"
    assert "ignores option(s) min_size" in caplog.text


def test_mediapipe_refuses_a_gpu_device() -> None:
    pytest.importorskip("mediapipe", reason="mediapipe not installed")
    with pytest.raises(ValueError, match=r"CPU only.*got 'cuda'"):
        create_backend("mediapipe", device="cuda")


def test_importing_inference_stays_light() -> None:
    code = (
        "import sys, inference, inference.backends, inference.backends.base, "
        "inference.backends.mediapipe_backend, inference.backends.torchvision_backend, "
        "inference.backends.detectron2_backend\n"
        "heavy = ('torch', 'torchvision', 'mediapipe', 'cv2', 'detectron2')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == ""


def test_check_images_names_the_bad_image() -> None:
    good = np.zeros((4, 4, 3), np.uint8)
    check_images([good, good])
    with pytest.raises(
        ValueError, match=r"images\[1\] must be a BGR uint8 array of shape \(H, W, 3\), got uint8 \(4, 4\)"
    ):
        check_images([good, np.zeros((4, 4), np.uint8)])
    with pytest.raises(ValueError, match=r"got float32 \(4, 4, 3\)"):
        check_images([good.astype(np.float32)])
    with pytest.raises(TypeError, match=r"single array of shape \(4, 4, 3\).*infer\(\[image\]\)"):
        check_images(good)


def test_boxes_from_keypoints_ignore_unconfident_joints() -> None:
    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, :, :2] = np.arange(34).reshape(17, 2)
    kp[0, :5, 2] = 0.9
    assert boxes_from_keypoints(kp, 0.5)[0].tolist() == [0, 1, 8, 9]
    kp[0, :, 2] = 0.1  # nobody confident: the box spans everything rather than nothing
    assert boxes_from_keypoints(kp, 0.5)[0].tolist() == [0, 1, 32, 33]


def test_video_backends_share_one_set_of_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """``create_video_backend``: max_people and score_threshold under one name for every backend,
    plus the backend's own video mode (MediaPipe follows one person in stream mode)."""
    pytest.importorskip("mediapipe", reason="mediapipe not installed")
    monkeypatch.setattr(backends, "_cuda_available", lambda: False)
    with create_video_backend("auto", score_threshold=0.4) as one:
        assert one.name == "mediapipe" and one.stateful and one.score_threshold == 0.4  # type: ignore[attr-defined]
    with create_video_backend("mediapipe", max_people=3) as several:
        assert not several.stateful and several.max_people == 3  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown pose backend 'nope'"):
        create_video_backend("nope")
