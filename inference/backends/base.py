"""The one interface every pose backend implements, plus small helpers they share.

A backend turns BGR frames into :class:`~inference.poses.Poses` in the pixel coordinates of
the frame it was given. Library-specific types (MediaPipe landmarks, torchvision dicts,
Detectron2 ``Instances``) stay inside the adapter module that produces them.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType
from typing import Any, ClassVar

import numpy as np

from inference.keypoints import NUM_KEYPOINTS
from inference.poses import Poses


class BackendUnavailable(RuntimeError):  # noqa: N818 - the name is part of the interface spec
    """A backend cannot be built here: a library is missing or its weights cannot be found.

    The message always says what to install or where to put the weights file.
    """


class PoseBackend(ABC):
    """Frames in, people out.

    ``infer`` takes a batch so that GPU backends can run one forward pass for many frames;
    CPU backends simply loop. Instances are not thread-safe: build one per worker thread,
    inside that thread (models hold per-thread state such as CUDA streams or MediaPipe graphs).
    """

    name: ClassVar[str]
    device: str
    # True when results depend on the previous frames given (a tracking mode): such an instance
    # must see the frames of exactly one camera, in order.
    stateful: bool = False
    # True when one ``infer`` call runs its images together (one forward pass), so bigger batches pay;
    # False when it loops over them anyway (then a worker takes one frame at a time).
    batches: ClassVar[bool] = False

    @classmethod
    def video_options(
        cls,
        *,
        max_people: int | None,
        score_threshold: float,
        input_size: int | None = None,
        precision: str | None = None,
    ) -> dict[str, Any]:
        """The constructor options for following people through a video (what ``serve``, ``analyze``
        and training use): every backend takes ``max_people`` (None: its own default) and
        ``score_threshold`` (the person threshold); ``input_size`` (the shorter side the model
        resizes to, as ``min_size``) and ``precision`` are passed when set, for the backends that
        have them; a backend with a video mode turns it on here."""
        options: dict[str, Any] = {"score_threshold": score_threshold}
        if max_people is not None:
            options["max_people"] = max_people
        if input_size is not None:
            options["min_size"] = input_size
        if precision is not None:
            options["precision"] = precision
        return options

    @abstractmethod
    def infer(self, images: Sequence[np.ndarray]) -> list[Poses]:
        """One :class:`Poses` per image (BGR uint8 ``H x W x 3``), in that image's pixels."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing to free
        """Free the model; the backend must not be used afterwards."""

    def __enter__(self) -> PoseBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={self.device!r})"


def check_images(images: Sequence[np.ndarray]) -> None:
    """Reject anything that is not a sequence of BGR uint8 ``H x W x 3`` arrays, naming the culprit."""
    if isinstance(images, np.ndarray):
        raise TypeError(
            f"infer() takes a sequence of images, got a single array of shape {images.shape}; "
            "wrap it in a list: infer([image])"
        )
    for i, img in enumerate(images):
        if not isinstance(img, np.ndarray):
            raise TypeError(f"images[{i}] must be a numpy array, got {type(img).__name__}")
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 or 0 in img.shape:
            raise ValueError(
                f"images[{i}] must be a BGR uint8 array of shape (H, W, 3), got {img.dtype} {img.shape}"
            )


def boxes_from_keypoints(keypoints: np.ndarray, min_confidence: float = 0.5) -> np.ndarray:
    """Boxes ``(P, 4)`` spanning each person's joints with confidence >= ``min_confidence``.

    Falls back to all joints when fewer than two are that confident, so a box always exists.
    """
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.ndim != 3 or kp.shape[1:] != (NUM_KEYPOINTS, 3):
        raise ValueError(f"keypoints must have shape (P, {NUM_KEYPOINTS}, 3), got {kp.shape}")
    boxes = np.zeros((kp.shape[0], 4), np.float32)
    for i, person in enumerate(kp):
        confident = person[person[:, 2] >= min_confidence]
        pts = confident if len(confident) >= 2 else person
        boxes[i] = (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())
    return boxes


def clip_to_image(keypoints: np.ndarray, boxes: np.ndarray, height: int, width: int) -> None:
    """Clip x, y of keypoints ``(P, 17, 3)`` and boxes ``(P, 4)`` to the image, in place."""
    np.clip(keypoints[..., 0], 0, width - 1, out=keypoints[..., 0])
    np.clip(keypoints[..., 1], 0, height - 1, out=keypoints[..., 1])
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width - 1)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height - 1)


def resolve_torch_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is usable, else ``"cpu"``; other values pass through checked."""
    import torch  # noqa: PLC0415 - heavy, only for torch backends

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(
            f"device {device!r} asked for, but torch sees no CUDA GPU (torch {torch.__version__}); "
            "use device='cpu' (slow) or install the CUDA build of torch on a machine with a GPU"
        )
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    return device


def import_or_unavailable(module: str, *, backend: str, install: str) -> object:
    """Import ``module`` or raise :class:`BackendUnavailable` saying how to install it.

    Adapters call this inside their constructor, so ``import inference`` never pays for
    torch or MediaPipe and a missing library is reported when the backend is asked for.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailable(
            f"the {backend!r} pose backend needs the Python package {module!r}, which cannot be "
            f"imported here ({exc}); install it with: {install}"
        ) from exc
