"""The Keypoint R-CNN backends' way onto a torch device (inference/backends/torch_device.py): inference
mode, autocast precision, uint8 uploads; and each backend using it (bf16 autocast on the CPU, the
Detectron2 resize on the device against DefaultPredictor's). The CUDA-only parts (stream, pinned
staging buffer) are tested where CUDA exists and skipped, saying so, where it does not."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from inference.backends import create_backend
from inference.backends.base import PoseBackend
from inference.backends.mediapipe_backend import MediaPipeBackend
from inference.backends.torch_device import TorchDevice, autocast_dtype
from inference.backends.torchvision_backend import TorchvisionBackend

torch = pytest.importorskip("torch", reason="torch not installed")
NO_CUDA = "no CUDA device on this machine (streams and pinned memory exist only there)"


def images(sizes: list[tuple[int, int]]) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]


def test_precision_names() -> None:
    assert autocast_dtype("auto", "cpu") is None
    assert autocast_dtype("auto", "cuda:1") is torch.float16
    assert autocast_dtype("fp32", "cuda") is None
    assert autocast_dtype("bf16", "cpu") is torch.bfloat16
    assert autocast_dtype("fp16", "cpu") is torch.float16
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, fp16, bf16"):
        autocast_dtype("int8", "cpu")


def test_cpu_runs_in_inference_mode_with_the_chosen_autocast() -> None:
    dev = TorchDevice("cpu", "bf16")
    assert dev.stream is None and dev.precision_name == "bf16"
    frames = images([(4, 6), (5, 3)])
    with dev.running():
        assert torch.is_inference_mode_enabled()
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        uploaded = dev.upload(frames)
    assert not torch.is_inference_mode_enabled()
    for tensor, frame in zip(uploaded, frames, strict=True):
        assert tensor.dtype == torch.uint8 and tuple(tensor.shape) == frame.shape
        assert np.array_equal(tensor.numpy(), frame)
    with TorchDevice("cpu", "auto").running():
        assert not torch.is_autocast_enabled("cpu"), "auto on a CPU is plain float32"


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_cuda_uploads_through_one_pinned_buffer_on_its_own_stream() -> None:
    dev = TorchDevice("cuda", "auto")
    assert dev.stream is not None and dev.precision_name == "fp16"
    same = images([(48, 64)] * 3)
    with dev.running():
        assert torch.cuda.current_stream() == dev.stream
        uploaded = dev.upload(same)
        staging = dev._staging
        again = dev.upload(same[:2])
    assert staging is not None and staging.is_pinned() and dev._staging is staging, "reused"
    for tensor, frame in zip([*uploaded, *again], [*same, *same[:2]], strict=True):
        assert tensor.is_cuda and np.array_equal(tensor.cpu().numpy(), frame)
    with dev.running():
        mixed = dev.upload(images([(48, 64), (30, 40)]))
    assert [tuple(t.shape) for t in mixed] == [(48, 64, 3), (30, 40, 3)]


# -- the backends on it --------------------------------------------------------------------------------


def _needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{module} is required in CI")
        pytest.skip(f"{module} is not installed here")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["torchvision", "detectron2"])
def test_a_batch_in_bf16_on_the_cpu(name: str) -> None:
    _needs(name)
    torch.manual_seed(0)
    extra = {"max_size": 320} if name == "torchvision" else {}
    with create_backend(
        name,
        device="cpu",
        weights=None,
        score_threshold=0.0,
        max_people=2,
        min_size=96,
        precision="bf16",
        **extra,
    ) as backend:
        assert backend.batches and backend.precision == "bf16"  # type: ignore[attr-defined]
        batch = images([(72, 96), (72, 96), (60, 120)])
        results = backend.infer(batch)
    assert len(results) == 3 and any(len(p) for p in results), "the keypoint head ran"
    for poses, image in zip(results, batch, strict=True):
        h, w = image.shape[:2]
        assert poses.keypoints.dtype == np.float32 and len(poses) <= 2
        assert np.all((poses.keypoints[..., 0] >= 0) & (poses.keypoints[..., 0] <= w - 1))
        assert np.all((poses.keypoints[..., 1] >= 0) & (poses.keypoints[..., 1] <= h - 1))


def test_video_options_carry_input_size_and_precision(caplog: pytest.LogCaptureFixture) -> None:
    """What ``create_video_backend`` passes: ``input_size`` as the Keypoint R-CNN ``min_size`` and the
    precision; MediaPipe (own input size, float32) leaves them out and says so."""
    options = TorchvisionBackend.video_options(
        max_people=2, score_threshold=0.4, input_size=96, precision="bf16"
    )
    assert options == {"score_threshold": 0.4, "max_people": 2, "min_size": 96, "precision": "bf16"}
    assert TorchvisionBackend.video_options(max_people=None, score_threshold=0.5) == {"score_threshold": 0.5}
    mp_options = MediaPipeBackend.video_options(
        max_people=1, score_threshold=0.5, input_size=96, precision="fp16"
    )
    assert "min_size" not in mp_options and "precision" not in mp_options
    assert "ignores input_size and precision" in caplog.text


@pytest.fixture(scope="module")
def detectron2_backend() -> Iterator[PoseBackend]:
    _needs("detectron2")
    backend = create_backend(
        "detectron2", device="cpu", weights=None, score_threshold=0.0, max_people=2, min_size=160
    )
    yield backend
    backend.close()


@pytest.mark.slow
@pytest.mark.parametrize("size", [(120, 160), (480, 640), (96, 200)])
def test_detectron2_resizes_on_the_device_as_default_predictor_does(
    detectron2_backend: PoseBackend, size: tuple[int, int]
) -> None:
    """Same output size as ``ResizeShortestEdge``; pixel values within a few grey levels of its PIL
    resize (bilinear; the device resize is antialiased when shrinking, as PIL is)."""
    from detectron2.data import transforms as T  # noqa: N812, PLC0415 - optional library

    rng = np.random.default_rng(1)  # a smooth picture: noise blurred, plus gradients
    h, w = size
    image = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 3)
    image = (image // 2 + np.linspace(0, 120, w, dtype=np.uint8)[None, :, None]).astype(np.uint8)
    ours = detectron2_backend._resized(torch.from_numpy(image))  # type: ignore[attr-defined]
    theirs = T.ResizeShortestEdge([160, 160], 1333).get_transform(image).apply_image(image)
    assert tuple(ours.shape) == (3, *theirs.shape[:2])
    diff = np.abs(ours.permute(1, 2, 0).numpy() - theirs.astype(np.float32))
    assert float(diff.mean()) < 4.0, float(diff.mean())
