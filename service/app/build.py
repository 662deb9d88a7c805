"""What the programs build from the configuration: the pose backend and action model factories
(called inside the thread that will use them) and the options of an offline analysis."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from inference.backends import create_video_backend
from inference.backends.base import PoseBackend
from inference.classifier import ActionClassifier
from service.config import EngineConfig, ModelConfig, PoseConfig
from service.engine.analyzer import BackendFactory, ClassifierFactory
from service.offline.analyze import AnalyzeOptions
from service.runtime.worker import DeviceBackendFactory

DEFAULT_MODEL = "default.safetensors"


def default_model_path() -> Path:
    """The action model shipped inside the package (see docs/MODEL.md)."""
    return Path(str(resources.files("inference") / "models" / DEFAULT_MODEL))


def pose_backend_factory(pose: PoseConfig, device: str | None = None) -> BackendFactory:
    """Builds the configured pose backend on ``device`` (None: the first configured device), set up to
    follow people through video, with the job's detection limits."""
    on = device or pose.primary_device

    def make() -> PoseBackend:
        return create_video_backend(
            pose.backend,
            device=on,
            max_people=pose.max_people,
            score_threshold=pose.score_threshold,
            input_size=pose.input_size,
            precision=None if pose.precision == "auto" else pose.precision,
        )

    return make


def device_backend_factory(pose: PoseConfig) -> DeviceBackendFactory:
    """What the pipeline's pose workers call: the configured backend on the worker's device."""

    def make(device: str) -> PoseBackend:
        return pose_backend_factory(pose, device)()

    return make


def action_classifier_factory(model: ModelConfig, pose: PoseConfig) -> ClassifierFactory:
    """Loads the configured action model (the shipped one by default)."""
    path = model.path or default_model_path()
    # The LSTM costs ~2 ms on a CPU; it goes to a GPU only when one is named explicitly.
    device = pose.primary_device if pose.primary_device.startswith("cuda") else "cpu"

    def make() -> ActionClassifier:
        return ActionClassifier.load(path, device=device)

    return make


def analyze_options(config: EngineConfig, *, stride: int) -> AnalyzeOptions:
    """The service's settings for a file (``analyze``, uploads), so it gets a camera's treatment."""
    return AnalyzeOptions(
        stride=stride,
        batch_size=config.pose.batch_size,
        lane=config.lane_options(),
        segments=config.segment_params(),
    )
