"""Detectron2 Keypoint R-CNN adapter, on the real model-zoo architecture.

Detectron2 is not on PyPI: ``make venv-detectron2`` (a step of ``make test``) builds it from its
official source. The pretrained weights cannot be downloaded here, so the model tests run the real
``keypoint_rcnn_R_50_FPN_3x`` network from the model-zoo config with RANDOM weights, on the CPU, through
the same code a GPU user runs (the device is the only difference), with a small input size to keep
CPU time low. Loading weights is tested offline through the same iopath cache a user's download fills.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from inference.backends import BackendUnavailable, create_backend
from inference.backends.base import PoseBackend
from inference.backends.detectron2_backend import CONFIG, _iopath_cache_path
from inference.poses import Poses

NOT_INSTALLED = (
    "detectron2 is not installed (it is not on PyPI): make venv-detectron2 builds it from source "
    "(docs/BACKENDS.md)"
)
ZOO_URL = "https://dl.fbaipublicfiles.com/detectron2/COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x/137849621/model_final_a6e10b.pkl"
# Shortest side fed to the network (the zoo config says 800): a CPU forward pass stays ~1 s per image.
SMALL = 192


@pytest.fixture(scope="module")
def detectron2() -> ModuleType:
    return pytest.importorskip("detectron2", reason=NOT_INSTALLED)


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> list[np.ndarray]:
    """The four COCO photos of the shared data (three sizes), as BGR frames."""
    images = [cv2.imread(str(p)) for p in sorted((shared_data / "images").glob("mmpose_coco_*.jpg"))]
    assert len(images) == 4 and all(img is not None for img in images)
    return images


@pytest.fixture(scope="module")
def random_weights(detectron2: ModuleType) -> Iterator[PoseBackend]:
    import torch  # noqa: PLC0415

    torch.manual_seed(0)
    # score_threshold=0 keeps every box, so the keypoint head runs even though random weights score low.
    with create_backend(
        "detectron2", device="cpu", weights=None, score_threshold=0.0, max_people=4, min_size=SMALL
    ) as backend:
        yield backend


@pytest.fixture
def empty_iopath_cache(detectron2: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """``$FVCORE_CACHE`` at an empty folder, and iopath's memory of earlier downloads in this process gone."""
    from detectron2.utils.file_io import PathManager  # noqa: PLC0415
    from iopath.common.file_io import HTTPURLHandler  # noqa: PLC0415

    monkeypatch.setenv("FVCORE_CACHE", str(tmp_path))
    for handler in PathManager._path_handlers.values():
        if isinstance(handler, HTTPURLHandler):
            monkeypatch.setattr(handler, "cache_map", {})
    return tmp_path


def assert_valid(poses: Poses, image: np.ndarray, max_people: int) -> None:
    h, w = image.shape[:2]
    p = len(poses)
    assert 1 <= p <= max_people
    assert poses.keypoints.shape == (p, 17, 3) and poses.keypoints.dtype == np.float32
    assert poses.boxes.shape == (p, 4) and poses.boxes.dtype == np.float32
    assert poses.scores.shape == (p,) and poses.scores.dtype == np.float32
    assert np.all((poses.keypoints[..., 0] >= 0) & (poses.keypoints[..., 0] <= w - 1))
    assert np.all((poses.keypoints[..., 1] >= 0) & (poses.keypoints[..., 1] <= h - 1))
    assert np.all((poses.keypoints[..., 2] >= 0) & (poses.keypoints[..., 2] <= 1))
    assert np.all((poses.boxes[:, [0, 2]] >= 0) & (poses.boxes[:, [0, 2]] <= w - 1))
    assert np.all((poses.boxes[:, [1, 3]] >= 0) & (poses.boxes[:, [1, 3]] <= h - 1))
    assert np.all(np.diff(poses.scores) <= 0), "people sorted by score, best first"


def test_config_is_the_original_apps_model() -> None:
    assert CONFIG == "COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x.yaml"


def test_missing_detectron2_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
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


def test_mediapipe_and_detectron2_work_in_one_environment(
    detectron2: ModuleType, random_weights: PoseBackend, photos: list[np.ndarray]
) -> None:
    """The pins in constraints.txt (protobuf < 5, setuptools < 81) keep both backends usable together."""
    from detectron2 import model_zoo  # noqa: PLC0415 - imports pkg_resources (setuptools < 81)

    assert model_zoo.get_checkpoint_url(CONFIG) == ZOO_URL
    with create_backend("mediapipe") as mediapipe:  # protobuf >= 5 breaks it at graph creation
        [blaze] = mediapipe.infer(photos[1:2])
    [rcnn] = random_weights.infer(photos[1:2])
    assert len(blaze) == 1 and len(rcnn) >= 1


@pytest.mark.slow
def test_random_weights_real_architecture_batch_of_real_frames_on_cpu(
    random_weights: PoseBackend, photos: list[np.ndarray]
) -> None:
    assert random_weights.device == "cpu"
    model = random_weights._model  # the adapter's model: check it is the zoo architecture
    assert type(model).__name__ == "GeneralizedRCNN"
    assert type(model.roi_heads.keypoint_head).__name__ == "KRCNNConvDeconvUpsampleHead"
    assert model.roi_heads.keypoint_head.score_lowres.out_channels == 17
    assert sum(p.numel() for p in model.parameters()) > 50_000_000  # R50-FPN + box + keypoint heads

    results = random_weights.infer(photos)  # one forward pass, images of three different sizes
    assert len(results) == len(photos)
    for poses, image in zip(results, photos, strict=True):
        assert_valid(poses, image, max_people=4)
    # Each image of the batch is mapped back to its own pixels: alone, the second photo gives the same
    # best box. (Only the best: the batch is zero-padded to its largest image, which shifts the random
    # network's weaker proposals.)
    [alone] = random_weights.infer(photos[1:2])
    np.testing.assert_allclose(alone.boxes[0], results[1].boxes[0], atol=2.0)
    assert random_weights.infer([]) == []


@pytest.mark.slow
def test_zoo_weights_load_offline_from_the_iopath_cache(
    random_weights: PoseBackend, photos: list[np.ndarray], empty_iopath_cache: Path
) -> None:
    """weights="DEFAULT" as a user runs it, with the file already where the download would put it.

    The file has the model zoo's own format (a pickle of numpy arrays, ``__author__``); the weights
    are the random model's, so the loaded model must hold exactly those numbers.
    """
    state = {k: v.detach().cpu().numpy() for k, v in random_weights._model.state_dict().items()}
    cached = Path(_iopath_cache_path(ZOO_URL))
    cached.parent.mkdir(parents=True)
    with open(cached, "wb") as f:
        pickle.dump({"model": state, "__author__": "Detectron2 Model Zoo"}, f)
    with create_backend("detectron2", device="cpu", max_people=2, min_size=SMALL) as loaded:
        assert loaded.weights_source == ZOO_URL
        loaded_state = loaded._model.state_dict()
        for name in ("backbone.bottom_up.stem.conv1.weight", "roi_heads.keypoint_head.score_lowres.weight"):
            np.testing.assert_array_equal(loaded_state[name].numpy(), state[name])
        assert len(loaded.infer(photos[:1])) == 1


def test_offline_without_cached_weights_names_url_and_cache_path(
    empty_iopath_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iopath.common import file_io  # noqa: PLC0415 - a Detectron2 dependency

    def offline(url: str, *args: object, **kwargs: object) -> None:
        raise OSError("network unreachable (simulated)")

    monkeypatch.setattr(file_io, "download", offline)
    with pytest.raises(BackendUnavailable) as info:
        create_backend("detectron2", device="cpu", min_size=SMALL)
    message = str(info.value)
    assert ZOO_URL in message and _iopath_cache_path(ZOO_URL) in message and "weights_path" in message


def test_weights_path_missing(detectron2: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(
        BackendUnavailable, match=r"does not exist; download https://dl\.fbaipublicfiles\.com/"
    ):
        create_backend("detectron2", device="cpu", weights_path=tmp_path / "nope.pkl")
