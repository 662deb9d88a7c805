"""Detectron2 Keypoint R-CNN (``COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x.yaml``, the original app's model).

Batched: the model is built with ``build_model(cfg)`` and called once per batch with a list of
``{"image": CHW float32 BGR tensor, "height", "width"}`` dicts, each image resized to the size
``ResizeShortestEdge(INPUT.MIN_SIZE_TEST, INPUT.MAX_SIZE_TEST)`` gives, as ``DefaultPredictor``
does (which would run one frame per call); ``height``/``width`` make the model return
coordinates in input pixels. The frames cross to the device as uint8 (on CUDA through a pinned
buffer, non-blocking, on this instance's own stream: :mod:`inference.backends.torch_device`) and are
resized there (bilinear, antialiased when shrinking, rounded to whole pixel values like the PIL
resize ``DefaultPredictor`` runs on the CPU); the model normalises them on the device. The forward
pass runs under ``torch.inference_mode`` and autocast (``precision``; ``auto``: fp16 on CUDA).

Detection limits for the job: ``max_people`` (``TEST.DETECTIONS_PER_IMAGE``) caps the people per
frame the keypoint head runs on; ``min_size`` (``INPUT.MIN_SIZE_TEST``, 800 by default) is the
shorter side frames are resized to.

Weights: ``weights="DEFAULT"`` loads ``model_zoo.get_checkpoint_url(...)`` through
``DetectionCheckpointer`` (iopath cache: ``$FVCORE_CACHE`` or ``~/.torch/iopath_cache``);
``weights_path`` a local copy; ``weights=None`` RANDOM weights for tests (then ``PIXEL_STD`` is
set to ImageNet values so activations stay sane).

Confidences: ``pred_keypoints[..., 2]`` is Detectron2's keypoint score, a spatial-softmax
probability normalised over the 56x56 heatmap: positive, usually well below 1 (its own visualiser
treats > 0.05 as visible). It is clipped to [0, 1] and NOT rescaled, so thresholds tuned for
MediaPipe visibilities do not transfer.

Detectron2 is not on PyPI; install it from source (see ``INSTALL_HINT``). ``detectron2.model_zoo``
imports ``pkg_resources``, which setuptools >= 81 no longer ships: pin ``setuptools<81``.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from inference.backends.base import (
    BackendUnavailable,
    PoseBackend,
    check_images,
    clip_to_image,
    import_or_unavailable,
    resolve_torch_device,
)
from inference.backends.torch_device import TorchDevice
from inference.keypoints import NUM_KEYPOINTS
from inference.poses import Poses

log = logging.getLogger(__name__)

CONFIG = "COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x.yaml"
INSTALL_HINT = (
    "pip install 'setuptools<81' && pip install --no-build-isolation "
    "'git+https://github.com/facebookresearch/detectron2.git'  (Detectron2 is not on PyPI; it builds "
    "against the installed torch, with CUDA kernels when CUDA is present or FORCE_CUDA=1)"
)
# Chatter of Detectron2 on current torch and setuptools: harmless, and nothing a user can act on.
_HARMLESS_WARNINGS = (
    "pkg_resources is deprecated",  # model_zoo's import; setuptools<81 still ships it
    "`torch.jit.script` is deprecated",
    "torch.meshgrid: in an upcoming release",
)
_HARMLESS_TORCH_LOG = "is_fx_tracing will return true"


def _drop_harmless_torch_log(record: logging.LogRecord) -> bool:
    return _HARMLESS_TORCH_LOG not in record.getMessage()


# ImageNet std in BGR order on the 0-255 scale: only for random weights (the zoo model uses 1.0).
_IMAGENET_STD_BGR = [57.375, 57.120, 58.395]


class Detectron2Backend(PoseBackend):
    """Detectron2's Keypoint R-CNN R50-FPN 3x behind the PoseBackend interface."""

    name = "detectron2"
    batches = True

    def __init__(
        self,
        *,
        device: str = "auto",
        weights: str | None = "DEFAULT",
        weights_path: str | os.PathLike[str] | None = None,
        score_threshold: float = 0.7,
        max_people: int = 20,
        min_size: int | None = None,
        precision: str = "auto",
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        if max_people < 1:
            raise ValueError(f"max_people must be >= 1, got {max_people}")
        if weights not in ("DEFAULT", None):
            raise ValueError(f"weights must be 'DEFAULT' or None (random, for tests), got {weights!r}")
        import_or_unavailable("torch", backend=self.name, install="pip install 'torch==2.15.0'")
        import_or_unavailable("detectron2", backend=self.name, install=INSTALL_HINT)
        for message in _HARMLESS_WARNINGS:
            warnings.filterwarnings("ignore", message=re.escape(message))
        logging.getLogger("torch.fx._symbolic_trace").addFilter(_drop_harmless_torch_log)
        import torch  # noqa: PLC0415 - heavy, imported only when this backend is built

        try:
            from detectron2 import model_zoo  # noqa: PLC0415 - imports pkg_resources
        except ImportError as exc:
            raise BackendUnavailable(
                f"detectron2.model_zoo cannot be imported ({exc}); it needs pkg_resources, which "
                "setuptools >= 81 no longer ships: pip install 'setuptools<81'"
            ) from exc
        from detectron2.checkpoint import DetectionCheckpointer  # noqa: PLC0415
        from detectron2.config import get_cfg  # noqa: PLC0415
        from detectron2.data import transforms as T  # noqa: PLC0415, N812
        from detectron2.modeling import build_model  # noqa: PLC0415
        from torch.nn import functional as F  # noqa: PLC0415, N812

        self._torch = torch
        self._interpolate = F.interpolate
        self.device = resolve_torch_device(device)
        if self.device == "cpu":
            log.warning("Detectron2 Keypoint R-CNN on the CPU takes seconds per frame; use a CUDA GPU")
        self.score_threshold = score_threshold
        random_weights = weights is None and weights_path is None
        cfg = get_cfg()
        cfg.merge_from_file(model_zoo.get_config_file(CONFIG))
        cfg.MODEL.DEVICE = self.device
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = score_threshold
        cfg.TEST.DETECTIONS_PER_IMAGE = max_people
        if min_size is not None:
            cfg.INPUT.MIN_SIZE_TEST = min_size
        if random_weights:
            log.warning("detectron2 backend built with RANDOM weights: its poses mean nothing (tests only)")
            cfg.MODEL.PIXEL_STD = _IMAGENET_STD_BGR
        cfg.freeze()
        self._input_format: str = cfg.INPUT.FORMAT
        self._min_size: int = cfg.INPUT.MIN_SIZE_TEST
        self._max_size: int = cfg.INPUT.MAX_SIZE_TEST
        self._output_shape = T.ResizeShortestEdge.get_output_shape
        self._dev = TorchDevice(self.device, precision)
        self.precision = self._dev.precision_name
        model = build_model(cfg)
        model.eval()
        self.weights_source = "random"
        if not random_weights:
            self.weights_source = _load_weights(
                DetectionCheckpointer(model), model_zoo.get_checkpoint_url(CONFIG), weights_path
            )
        self._model: Any = model

    def infer(self, images: Sequence[np.ndarray]) -> list[Poses]:
        """All images in one forward pass, resized like DefaultPredictor, results in input pixels."""
        check_images(images)
        if len(images) == 0:
            return []
        with self._dev.running():
            inputs = [
                {"image": self._resized(frame), "height": img.shape[0], "width": img.shape[1]}
                for frame, img in zip(self._dev.upload(images), images, strict=True)
            ]
            instances = [out["instances"].to("cpu") for out in self._model(inputs)]
        return [
            self._to_poses(inst, img.shape[0], img.shape[1])
            for inst, img in zip(instances, images, strict=True)
        ]

    def _resized(self, frame: Any) -> Any:
        """A uint8 ``H x W x 3`` BGR frame on the device -> CHW float in the model's colour order, its
        shorter side resized to ``INPUT.MIN_SIZE_TEST`` (longer side at most ``MAX_SIZE_TEST``)."""
        height, width = frame.shape[:2]
        new_h, new_w = self._output_shape(height, width, self._min_size, self._max_size)
        chw = frame.permute(2, 0, 1)
        if self._input_format != "BGR":
            chw = chw.flip(0)
        x = chw.float()
        if (new_h, new_w) != (height, width):
            x = self._interpolate(
                x[None], size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=new_h < height
            )[0]
            x = x.round_().clamp_(0, 255)
        return x

    def close(self) -> None:
        self._model = None
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()

    def _to_poses(self, inst: Any, height: int, width: int) -> Poses:
        """Detectron2 ``Instances`` (on the CPU) -> Poses; the Instances never leave this module."""
        if len(inst) == 0 or not inst.has("pred_keypoints"):
            return Poses.empty()
        scores = inst.scores.float().numpy()
        keep = np.flatnonzero(scores >= self.score_threshold)
        if len(keep) == 0:
            return Poses.empty()
        kp = inst.pred_keypoints.float().numpy()[keep].astype(np.float32)  # (P, 17, 3): x, y, score
        if kp.shape[1:] != (NUM_KEYPOINTS, 3):
            raise RuntimeError(f"expected Detectron2 pred_keypoints of shape (P, 17, 3), got {kp.shape}")
        np.clip(kp[:, :, 2], 0.0, 1.0, out=kp[:, :, 2])
        boxes = inst.pred_boxes.tensor.float().numpy()[keep].astype(np.float32)
        clip_to_image(kp, boxes, height, width)
        return Poses(keypoints=kp, boxes=boxes, scores=scores[keep].astype(np.float32))


def _iopath_cache_path(url: str) -> str:
    """Where iopath's HTTP handler caches ``url``: ``$FVCORE_CACHE``/``~/.torch/iopath_cache`` + URL path."""
    cache = os.path.expanduser(os.getenv("FVCORE_CACHE", "~/.torch/iopath_cache"))
    return os.path.join(cache, urlparse(url).path.lstrip("/"))


def _load_weights(checkpointer: Any, url: str, weights_path: str | os.PathLike[str] | None) -> str:
    """Load ``weights_path`` if given, else the model-zoo ``url`` (iopath cache); return the source."""
    if weights_path is None:
        what_to_do = (
            f"Without network access, download {url} elsewhere and put it at {_iopath_cache_path(url)}, "
            "or pass weights_path=<file>"
        )
        _load_checkpoint(checkpointer, url, what_to_do)
        return url
    path = Path(weights_path)
    if not path.is_file():
        raise BackendUnavailable(
            f"weights_path {path} does not exist; download {url} there, "
            "or leave weights_path unset to use the iopath cache"
        )
    _load_checkpoint(checkpointer, str(path), f"check that {path} is a Detectron2 checkpoint of {CONFIG}")
    return str(path)


def _load_checkpoint(checkpointer: Any, source: str, what_to_do: str) -> None:
    try:
        checkpointer.load(source)
    except Exception as exc:  # iopath/fvcore raise URLError, AssertionError, pickle errors...
        raise BackendUnavailable(
            f"cannot load the Detectron2 Keypoint R-CNN weights from {source} ({type(exc).__name__}: {exc}). "
            f"{what_to_do}"
        ) from exc
