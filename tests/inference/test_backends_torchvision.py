"""torchvision Keypoint R-CNN: the full code path on the CPU with RANDOM weights (no weights can be
downloaded here), so these tests check shapes, types, batching and bounds, not pose quality."""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from inference.backends import BackendUnavailable, create_backend
from inference.backends.base import PoseBackend
from inference.keypoints import COCO17_NAMES

torch = pytest.importorskip("torch", reason="torch not installed")
pytest.importorskip("torchvision", reason="torchvision not installed (pip install -e '.[torchvision]')")

# Small images and a small model input size keep a CPU forward pass to a few seconds.
SMALL = {"min_size": 160, "max_size": 320}


def random_images(sizes: list[tuple[int, int]]) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]


@pytest.fixture(scope="module")
def random_weights_backend() -> Iterator[PoseBackend]:
    torch.manual_seed(0)
    # score_threshold=0 keeps every detection, so the keypoint head runs even on random weights.
    backend = create_backend(
        "torchvision", device="cpu", weights=None, score_threshold=0.0, max_people=4, **SMALL
    )
    yield backend
    backend.close()


def test_torchvision_keypoint_names_are_coco17() -> None:
    detection = pytest.importorskip("torchvision.models.detection")
    assert tuple(detection.KeypointRCNN_ResNet50_FPN_Weights.DEFAULT.meta["keypoint_names"]) == COCO17_NAMES


@pytest.mark.slow
def test_random_weights_batch_of_three_on_cpu(random_weights_backend: PoseBackend) -> None:
    images = random_images([(120, 160), (120, 160), (96, 200)])
    results = random_weights_backend.infer(images)
    assert len(results) == 3
    assert random_weights_backend.device == "cpu"
    assert any(len(p) > 0 for p in results), "the keypoint head never ran"
    for poses, image in zip(results, images, strict=True):
        h, w = image.shape[:2]
        p = len(poses)
        assert 1 <= p <= 4
        assert poses.keypoints.shape == (p, 17, 3) and poses.keypoints.dtype == np.float32
        assert poses.boxes.shape == (p, 4) and poses.boxes.dtype == np.float32
        assert poses.scores.shape == (p,) and poses.scores.dtype == np.float32
        assert np.all((poses.keypoints[..., 0] >= 0) & (poses.keypoints[..., 0] <= w - 1))
        assert np.all((poses.keypoints[..., 1] >= 0) & (poses.keypoints[..., 1] <= h - 1))
        assert np.all((poses.keypoints[..., 2] >= 0) & (poses.keypoints[..., 2] <= 1))
        assert np.all((poses.boxes[:, [0, 2]] >= 0) & (poses.boxes[:, [0, 2]] <= w - 1))
        assert np.all((poses.boxes[:, [1, 3]] >= 0) & (poses.boxes[:, [1, 3]] <= h - 1))
        assert np.all(poses.scores >= 0)
    assert random_weights_backend.infer([]) == []


@pytest.mark.slow
def test_random_weights_score_threshold_filters(random_weights_backend: PoseBackend) -> None:
    [poses] = random_weights_backend.infer(random_images([(120, 160)]))
    assert len(poses) > 0
    with create_backend("torchvision", device="cpu", weights=None, score_threshold=1.0, **SMALL) as strict:
        [none] = strict.infer(random_images([(120, 160)]))
    assert len(none) == 0  # no box scores 1.0: an empty Poses, not an error


@pytest.mark.slow
def test_weights_path_loads_a_torchvision_state_dict(
    random_weights_backend: PoseBackend, tmp_path: Path
) -> None:
    state = random_weights_backend._model.state_dict()  # the adapter's model, to write a weights file
    # torchvision's released file has FrozenBatchNorm2d buffers, i.e. no BatchNorm step counters.
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "keypointrcnn.pth"
    torch.save(state, path)
    images = random_images([(120, 160)])
    with create_backend(
        "torchvision", device="cpu", weights_path=path, score_threshold=0.0, max_people=4, **SMALL
    ) as loaded:
        [a] = loaded.infer(images)
    [b] = random_weights_backend.infer(images)
    np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


def test_weights_path_missing_or_foreign(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match=r"does not exist; download https://download\.pytorch\.org/"):
        create_backend("torchvision", device="cpu", weights_path=tmp_path / "nope.pth", **SMALL)
    foreign = tmp_path / "foreign.pth"
    torch.save({"linear.weight": torch.zeros(2, 2)}, foreign)
    with pytest.raises(BackendUnavailable, match="is not a torchvision keypointrcnn_resnet50_fpn state dict"):
        create_backend("torchvision", device="cpu", weights_path=foreign, **SMALL)


def test_offline_without_cached_weights_names_url_and_cache_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache

    def offline(url: str, *args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("network unreachable (simulated)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    expected_path = tmp_path / "hub" / "checkpoints" / "keypointrcnn_resnet50_fpn_coco-fc266e95.pth"
    with pytest.raises(BackendUnavailable) as info:
        create_backend("torchvision", device="cpu", **SMALL)
    message = str(info.value)
    assert "https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-fc266e95.pth" in message
    assert str(expected_path) in message
    assert "weights_path" in message


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="weights must be 'DEFAULT' or None"):
        create_backend("torchvision", device="cpu", weights="COCO_V2")
    with pytest.raises(ValueError, match=r"score_threshold must be in \[0, 1\], got 1.5"):
        create_backend("torchvision", device="cpu", score_threshold=1.5)
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailable, match="torch sees no CUDA GPU"):
            create_backend("torchvision", device="cuda", weights=None)
