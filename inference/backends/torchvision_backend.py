"""torchvision Keypoint R-CNN (ResNet-50 FPN, COCO): multi-person poses, batched, for a CUDA GPU.

One forward pass takes the whole batch: the frames cross to the device as uint8 (on CUDA through a
pinned buffer, non-blocking, on this instance's own stream: :mod:`inference.backends.torch_device`);
colour order and float conversion happen there, and the model's own transform resizes each frame to
``min_size``/``max_size`` and normalises it on the device, then maps results back to input pixels.
``precision`` sets autocast (``auto``: fp16 on CUDA, fp32 on a CPU) under ``torch.inference_mode``.
On a CPU it works but takes seconds per frame at the default 800 px size.

Detection limits for the job: ``max_people`` caps the detections per frame (the keypoint head runs
on each of them), ``min_size`` is the shorter side frames are resized to (800: as trained; 480 keeps
640x480 frames as they are).

Weights, in order of preference:

* ``weights="DEFAULT"``: torchvision's COCO weights through the torch hub cache
  (``$TORCH_HOME/hub/checkpoints``, by default ``~/.cache/torch/hub/checkpoints``), downloaded on
  first use where a network exists. Offline with nothing cached -> :class:`BackendUnavailable`
  naming the URL and the path to put the file at.
* ``weights_path="model.pth"``: a local copy of the same state dict.
* ``weights=None``: RANDOM weights. Only for tests of the code path; the output means nothing.

Confidences: torchvision's ``keypoints_scores`` are raw heatmap logits; they are mapped to [0, 1]
with a sigmoid (0.5 = logit 0). Person scores are the box classifier's probabilities.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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

_OUTPUTS = ("boxes", "scores", "keypoints", "keypoints_scores")
INSTALL_HINT = (
    "pip install 'torch==2.15.0' 'torchvision==0.29.2'  (or: pip install -e '.[torchvision]'); "
    "torchvision from PyPI pairs with the CUDA build of torch"
)


class TorchvisionBackend(PoseBackend):
    """``torchvision.models.detection.keypointrcnn_resnet50_fpn`` behind the PoseBackend interface."""

    name = "torchvision"
    batches = True

    def __init__(
        self,
        *,
        device: str = "auto",
        weights: str | None = "DEFAULT",
        weights_path: str | os.PathLike[str] | None = None,
        score_threshold: float = 0.7,
        max_people: int = 20,
        min_size: int = 800,
        max_size: int = 1333,
        precision: str = "auto",
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        if max_people < 1:
            raise ValueError(f"max_people must be >= 1, got {max_people}")
        if weights not in ("DEFAULT", None):
            raise ValueError(f"weights must be 'DEFAULT' or None (random, for tests), got {weights!r}")
        import_or_unavailable("torch", backend=self.name, install=INSTALL_HINT)
        import_or_unavailable("torchvision", backend=self.name, install=INSTALL_HINT)
        import torch  # noqa: PLC0415 - heavy, imported only when this backend is built
        from torchvision.models.detection import (  # noqa: PLC0415
            KeypointRCNN_ResNet50_FPN_Weights,
            keypointrcnn_resnet50_fpn,
        )

        self._torch = torch
        self.device = resolve_torch_device(device)
        if self.device == "cpu":
            log.warning("torchvision Keypoint R-CNN on the CPU takes seconds per frame; use a CUDA GPU")
        self.score_threshold = score_threshold
        self._dev = TorchDevice(self.device, precision)
        self.precision = self._dev.precision_name
        # The model's own candidate threshold must not be above ours, or score_threshold=0 would not
        # mean "keep everything".
        model_options: dict[str, Any] = {
            "num_classes": 2,
            "num_keypoints": NUM_KEYPOINTS,
            "min_size": min_size,
            "max_size": max_size,
            "box_score_thresh": min(0.05, score_threshold),
            "box_detections_per_img": max_people,
        }
        if weights_path is not None:
            model = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None, **model_options)
            _load_local(model, Path(weights_path), torch)
            self.weights_source = str(weights_path)
        elif weights == "DEFAULT":
            model = _load_default(
                keypointrcnn_resnet50_fpn, KeypointRCNN_ResNet50_FPN_Weights.DEFAULT, model_options
            )
            self.weights_source = KeypointRCNN_ResNet50_FPN_Weights.DEFAULT.url
        else:
            log.warning("torchvision backend built with RANDOM weights: its poses mean nothing (tests only)")
            model = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None, **model_options)
            self.weights_source = "random"
        self._model: Any = model.eval().to(self.device)

    def infer(self, images: Sequence[np.ndarray]) -> list[Poses]:
        """All images in one forward pass (they may differ in size)."""
        check_images(images)
        if len(images) == 0:
            return []
        with self._dev.running():
            # uint8 crosses to the device, then BGR -> RGB float in [0, 1] there.
            tensors = [f.permute(2, 0, 1).flip(0).float().div_(255) for f in self._dev.upload(images)]
            outputs = [{k: out[k].float().cpu() for k in _OUTPUTS} for out in self._model(tensors)]
        return [
            self._to_poses(out, img.shape[0], img.shape[1]) for out, img in zip(outputs, images, strict=True)
        ]

    def close(self) -> None:
        self._model = None
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()

    def _to_poses(self, out: dict[str, Any], height: int, width: int) -> Poses:
        scores = out["scores"].numpy()
        keep = np.flatnonzero(scores >= self.score_threshold)
        if len(keep) == 0:
            return Poses.empty()
        kp = out["keypoints"].numpy()[keep]  # (P, 17, 3): x, y, visibility flag (always 1)
        logits = out["keypoints_scores"].numpy()[keep]  # (P, 17)
        kp[:, :, 2] = 1.0 / (1.0 + np.exp(-logits))
        boxes = out["boxes"].numpy()[keep]
        kp, boxes = kp.astype(np.float32), boxes.astype(np.float32)
        clip_to_image(kp, boxes, height, width)
        return Poses(keypoints=kp, boxes=boxes, scores=scores[keep].astype(np.float32))


def _load_default(builder: Any, weights: Any, model_options: dict[str, Any]) -> Any:
    """Build with torchvision's COCO weights from the hub cache; say where to put them when offline."""
    import torch  # noqa: PLC0415

    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    options = {k: v for k, v in model_options.items() if k not in ("num_classes", "num_keypoints")}
    try:
        return builder(weights=weights, progress=False, **options)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; a truncated file a RuntimeError
        if cached.exists():
            raise BackendUnavailable(
                f"the cached Keypoint R-CNN weights at {cached} cannot be loaded ({exc}); delete the file "
                f"and let it download again, or download {weights.url} there yourself"
            ) from exc
        raise BackendUnavailable(
            f"the Keypoint R-CNN weights are not in the torch hub cache and cannot be downloaded ({exc}). "
            f"Download {weights.url} on a machine with network access and put it at {cached} "
            "(set TORCH_HOME to move the cache), or pass weights_path=<file>"
        ) from exc


def _load_local(model: Any, path: Path, torch: Any) -> None:
    """Load a local torchvision Keypoint R-CNN state dict into ``model``, with errors that help."""
    if not path.is_file():
        raise BackendUnavailable(
            f"weights_path {path} does not exist; download "
            "https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-fc266e95.pth there, "
            "or leave weights_path unset to use the torch hub cache"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt or foreign file
        raise BackendUnavailable(f"cannot read the weights file {path}: {exc}") from exc
    # Built without pretrained weights the backbone uses BatchNorm2d instead of FrozenBatchNorm2d;
    # in eval mode they compute the same thing, only BatchNorm's step counters are absent from the file.
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise BackendUnavailable(
            f"{path} is not a torchvision keypointrcnn_resnet50_fpn state dict: "
            f"{len(missing)} missing keys (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})"
        )
