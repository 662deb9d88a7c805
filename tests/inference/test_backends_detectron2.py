"""Detectron2 Keypoint R-CNN adapter.

Detectron2 is not on PyPI and is not installed on the development machine, so the tests that run
the model skip there (they run where it is installed, e.g. the GPU image). What does not need
Detectron2 (the missing-library message, the cache path) runs everywhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from inference.backends import BackendUnavailable, create_backend
from inference.backends.detectron2_backend import CONFIG, _iopath_cache_path

NOT_INSTALLED = (
    "detectron2 is not installed (it is not on PyPI; see docs/BACKENDS.md to build it from source)"
)
ZOO_URL = "https://dl.fbaipublicfiles.com/detectron2/COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x/137849621/model_final_a6e10b.pkl"


@pytest.fixture
def detectron2() -> ModuleType:
    return pytest.importorskip("detectron2", reason=NOT_INSTALLED)


def test_config_is_the_original_apps_model() -> None:
    assert CONFIG == "COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x.yaml"


def test_missing_detectron2_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch", reason="torch not installed")
    monkeypatch.setitem(sys.modules, "detectron2", None)
    with pytest.raises(BackendUnavailable, match=r"pip install 'setuptools<81'.*detectron2\.git"):
        create_backend("detectron2", device="cpu")


def test_iopath_cache_path_follows_fvcore_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FVCORE_CACHE", str(tmp_path))
    expected = (
        tmp_path / "detectron2/COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x/137849621/model_final_a6e10b.pkl"
    )
    assert _iopath_cache_path(ZOO_URL) == str(expected)
    monkeypatch.delenv("FVCORE_CACHE")
    assert _iopath_cache_path(ZOO_URL).startswith(os.path.expanduser("~/.torch/iopath_cache/detectron2/"))


def test_model_zoo_url_is_the_expected_checkpoint(detectron2: ModuleType) -> None:
    model_zoo = pytest.importorskip("detectron2.model_zoo", reason="detectron2.model_zoo needs setuptools<81")
    assert model_zoo.get_checkpoint_url(CONFIG) == ZOO_URL


@pytest.mark.slow
def test_random_weights_batch_on_cpu(detectron2: ModuleType) -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(120, 160), (120, 160), (96, 200)]]
    with create_backend(
        "detectron2", device="cpu", weights=None, score_threshold=0.0, max_people=4, min_size=160
    ) as backend:
        results = backend.infer(images)
    assert len(results) == 3
    assert any(len(p) for p in results), "the keypoint head never ran"
    for poses, image in zip(results, images, strict=True):
        h, w = image.shape[:2]
        assert len(poses) <= 4
        assert poses.keypoints.dtype == np.float32 and poses.keypoints.shape[1:] == (17, 3)
        assert np.all((poses.keypoints[..., 0] >= 0) & (poses.keypoints[..., 0] <= w - 1))
        assert np.all((poses.keypoints[..., 1] >= 0) & (poses.keypoints[..., 1] <= h - 1))
        assert np.all((poses.keypoints[..., 2] >= 0) & (poses.keypoints[..., 2] <= 1))


def test_weights_path_missing(detectron2: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(
        BackendUnavailable, match=r"does not exist; download https://dl\.fbaipublicfiles\.com/"
    ):
        create_backend("detectron2", device="cpu", weights_path=tmp_path / "nope.pkl")
