"""Pose backends behind one interface, chosen by name.

``create_backend("mediapipe" | "torchvision" | "detectron2" | "auto", device=..., **options)``, or
``create_video_backend(name, device=..., max_people=..., score_threshold=...)`` for a backend set up
to follow people through a video, the way ``serve``, ``analyze`` and training all run it.
The registry below is the complete list, and the only one: the config, the command line and
``auto`` take their names from it. Each entry imports its adapter (and through it the heavy library)
only when that backend is asked for, so ``import inference.backends`` stays light. Adding a backend:
an adapter module (a :class:`PoseBackend`) and one line in each table below.

``auto`` picks by what is installed and whether CUDA is usable: with a GPU, Detectron2, then
torchvision Keypoint R-CNN, then MediaPipe; without one, MediaPipe (Keypoint R-CNN on a CPU takes
seconds per frame), falling back to a Keypoint R-CNN on the CPU with a warning only when MediaPipe
is not installed.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
from collections.abc import Callable
from typing import Any

from inference.backends.base import BackendUnavailable, PoseBackend

__all__ = [
    "BACKEND_NAMES",
    "BackendUnavailable",
    "PoseBackend",
    "available_backends",
    "choose_backend",
    "create_backend",
    "create_video_backend",
]

log = logging.getLogger(__name__)


def _mediapipe() -> type[PoseBackend]:
    from inference.backends.mediapipe_backend import MediaPipeBackend  # noqa: PLC0415

    return MediaPipeBackend


def _torchvision() -> type[PoseBackend]:
    from inference.backends.torchvision_backend import TorchvisionBackend  # noqa: PLC0415

    return TorchvisionBackend


def _detectron2() -> type[PoseBackend]:
    from inference.backends.detectron2_backend import Detectron2Backend  # noqa: PLC0415

    return Detectron2Backend


# name -> factory returning the adapter class (the adapter module is imported only here).
_REGISTRY: dict[str, Callable[[], type[PoseBackend]]] = {
    "mediapipe": _mediapipe,
    "torchvision": _torchvision,
    "detectron2": _detectron2,
}
# The top-level packages each backend imports; used to tell what is installed without importing it.
_REQUIRES: dict[str, tuple[str, ...]] = {
    "mediapipe": ("mediapipe",),
    "torchvision": ("torch", "torchvision"),
    "detectron2": ("torch", "detectron2"),
}
BACKEND_NAMES: tuple[str, ...] = (*_REGISTRY, "auto")
# The order ``auto`` tries them in, with and without a GPU.
_GPU_PREFERENCE = ("detectron2", "torchvision", "mediapipe")
_CPU_PREFERENCE = ("mediapipe", "torchvision", "detectron2")
DEFAULT_SCORE_THRESHOLD = 0.5  # people below are ignored, whatever the backend


def _is_installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a parent package that fails, or a module with no spec
        return False


def _cuda_available() -> bool:
    if not _is_installed("torch"):
        return False
    import torch  # noqa: PLC0415 - only when a backend is being chosen

    return bool(torch.cuda.is_available())


def available_backends() -> list[str]:
    """The concrete backends whose libraries are installed here (nothing is imported to find out).

    Installed does not guarantee usable: weights may still be missing, which ``create_backend``
    reports. ``"auto"`` is always accepted by :func:`create_backend` and is not listed.
    """
    return [name for name, packages in _REQUIRES.items() if all(_is_installed(p) for p in packages)]


def choose_backend(device: str = "auto") -> str:
    """The backend ``"auto"`` resolves to for ``device`` ("auto", "cpu", "cuda", "cuda:N")."""
    installed = available_backends()
    wants_gpu = device.startswith("cuda") or (device == "auto" and _cuda_available())
    if wants_gpu:
        for name in _GPU_PREFERENCE:
            if name in installed and (name != "mediapipe" or device == "auto"):
                return name
        raise BackendUnavailable(
            f"no GPU pose backend is installed for device={device!r}; install one: "
            "pip install 'torch==2.15.0' 'torchvision==0.29.2' (or Detectron2 from its source)"
        )
    for name in _CPU_PREFERENCE:
        if name in installed:
            if name != "mediapipe":
                log.warning(
                    "no CUDA GPU and MediaPipe is not installed: using %s Keypoint R-CNN on the CPU, which "
                    "takes seconds per frame; pip install 'mediapipe==0.10.14' for real-time CPU poses",
                    name,
                )
            return name
    raise BackendUnavailable(
        "no pose backend is installed; for the CPU: pip install 'mediapipe==0.10.14'; for a CUDA GPU: "
        "pip install 'torch==2.15.0' 'torchvision==0.29.2'"
    )


def create_backend(name: str, *, device: str = "auto", **options: Any) -> PoseBackend:
    """Build the backend called ``name`` on ``device`` with its ``options`` (keyword arguments).

    Raises ``ValueError`` for an unknown name or option, :class:`BackendUnavailable` when the
    library or the weights are missing (the message says what to install or where to put them).
    """
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown pose backend {name!r}; known backends: {', '.join(BACKEND_NAMES)}")
    chosen = choose_backend(device) if name == "auto" else name
    cls: Any = _REGISTRY[chosen]()
    accepted = {p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "device")}
    unknown = sorted(set(options) - accepted)
    if unknown and name == "auto":
        log.warning("auto chose the %s backend, which ignores option(s) %s", chosen, ", ".join(unknown))
        options = {k: v for k, v in options.items() if k in accepted}
    elif unknown:
        raise ValueError(
            f"the {chosen!r} pose backend has no option(s) {', '.join(unknown)}; "
            f"its options are: {', '.join(sorted(accepted))}"
        )
    backend = cls(device=device, **options)
    if name == "auto":
        log.info("pose backend auto -> %s on %s", chosen, backend.device)
    return backend


def create_video_backend(
    name: str,
    *,
    device: str = "auto",
    max_people: int | None = None,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    input_size: int | None = None,
    precision: str | None = None,
) -> PoseBackend:
    """A backend that follows people through a video: ``max_people`` (None: the backend's default)
    and the person ``score_threshold`` under one name for every backend, the Keypoint R-CNN
    backends' ``input_size`` and ``precision`` when set, plus whatever mode the backend has for
    video (:meth:`PoseBackend.video_options`). ``auto`` is resolved first."""
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown pose backend {name!r}; known backends: {', '.join(BACKEND_NAMES)}")
    chosen = choose_backend(device) if name == "auto" else name
    options = _REGISTRY[chosen]().video_options(
        max_people=max_people, score_threshold=score_threshold, input_size=input_size, precision=precision
    )
    backend = create_backend(chosen, device=device, **options)
    if name == "auto":
        log.info("pose backend auto -> %s on %s", chosen, backend.device)
    return backend
