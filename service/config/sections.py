"""The configuration's sections, one pydantic model each, and the runtime options each one builds.

A section whose consumer has a frozen options class (capture's ``SourceOptions`` and
``WatchdogOptions``, the engine's ``LaneOptions`` and ``SegmentParams``) takes its defaults from
that class and is checked by building it, so every default and bound is declared once, by the
consumer; the section adds the name users write and a description. Sections without such a
consumer declare their bounds here.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from capture.sources import TRANSPORTS, SourceOptions
from capture.thread import WatchdogOptions
from inference.backends import BACKEND_NAMES, DEFAULT_SCORE_THRESHOLD
from inference.hysteresis import SegmentParams
from service.engine.options import LaneOptions

DEFAULT_CAMERA_ID = "cam0"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
MIN_TOKEN_LENGTH = 16

Precision = Literal["auto", "fp32", "fp16", "bf16"]
if TYPE_CHECKING:
    Transport = str
    BackendName = str
else:  # the allowed values come from their owners: capture's transports, the backend registry
    Transport = Literal[TRANSPORTS]
    BackendName = Literal[BACKEND_NAMES]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _default(options: type[Any], name: str) -> Any:
    """The default of field ``name`` of the frozen options dataclass ``options``."""
    return next(f.default for f in dataclasses.fields(options) if f.name == name)


def _built(build: Any, renames: dict[str, str]) -> Any:
    """Build a consumer's options, its error in the config's words (``cls.field`` -> ``field``)."""
    try:
        return build()
    except ValueError as exc:
        message = str(exc)
        for inner, outer in renames.items():
            message = message.replace(inner, outer)
        raise ValueError(message) from None


# CameraConfig field -> WatchdogOptions field (the SourceOptions fields have the same names).
_WATCHDOG_FIELDS = {
    "stall_timeout_s": "stall_timeout_s",
    "backoff_initial_s": "initial_backoff_s",
    "backoff_max_s": "max_backoff_s",
}
_SOURCE_FIELDS = (
    "transport",
    "open_timeout_s",
    "read_timeout_s",
    "width",
    "height",
    "fps",
    "realtime",
    "loop",
)
_CAMERA_RENAMES = {
    **{f"SourceOptions.{n}": n for n in _SOURCE_FIELDS},
    **{f"WatchdogOptions.{inner}": outer for outer, inner in _WATCHDOG_FIELDS.items()},
    **{inner: outer for outer, inner in _WATCHDOG_FIELDS.items() if inner != outer},
}


def _source(name: str) -> Any:
    return _default(SourceOptions, name)


def _watchdog(name: str) -> Any:
    return _default(WatchdogOptions, _WATCHDOG_FIELDS[name])


class CameraConfig(_Section):
    """One video source and how to read it (bounds: ``SourceOptions`` and ``WatchdogOptions``)."""

    id: str = Field(
        description="Camera id used in topics (action.<id>), metrics and logs: lowercase letters, digits,"
        " '_' and '-', up to 63 characters.",
        pattern=SLUG_PATTERN,
    )
    source: str = Field(
        min_length=1,
        description="rtsp:// or http:// URL, webcam index (0), /dev/videoN, or a video file path.",
    )
    source_file: Path | None = Field(
        default=None,
        description="A file holding the source (a URL with a password: a Docker/Kubernetes secret); "
        "instead of source.",
    )
    transport: Transport = Field(
        default=_source("transport"),
        description="RTSP transport; tcp survives lossy networks and NAT better.",
    )
    open_timeout_s: float = Field(
        default=_source("open_timeout_s"), description="Give up opening the source after (at most 600)."
    )
    read_timeout_s: float = Field(
        default=_source("read_timeout_s"), description="Give up one read after (at most 600)."
    )
    stall_timeout_s: float | None = Field(
        default=_watchdog("stall_timeout_s"),
        description="No frame for this long: the source is stalled and reopened (unset: derived from the "
        "stream, 25 frame intervals, at least 3 s, at most read_timeout_s).",
    )
    backoff_initial_s: float = Field(
        default=_watchdog("backoff_initial_s"), description="First reconnect delay."
    )
    backoff_max_s: float = Field(
        default=_watchdog("backoff_max_s"),
        description="Reconnect delay cap (doubling); >= backoff_initial_s.",
    )
    queue_size: int = Field(
        default=4, ge=1, le=1024, description="Capture queue length; live sources drop the oldest when full."
    )
    width: int | None = Field(default=_source("width"), description="Webcam capture width (None: device).")
    height: int | None = Field(default=_source("height"), description="Webcam capture height (None: device).")
    fps: float | None = Field(
        default=_source("fps"), description="Webcam frame rate (None: device; at most 240)."
    )
    realtime: bool = Field(
        default=_source("realtime"),
        description="File sources: pace reading at the file's frame rate, like a live camera.",
    )
    loop: bool = Field(
        default=_source("loop"), description="File sources: start again at the end instead of ending."
    )
    enabled: bool = Field(default=True, description="Set false to keep a camera in the file but not run it.")

    @model_validator(mode="before")
    @classmethod
    def _source_from_file(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("source_file") in (None, ""):
            return data
        if data.get("source") not in (None, ""):
            raise ValueError("give source or source_file, not both")
        return {**data, "source": read_secret_file(Path(data["source_file"]), "source_file")}

    @field_validator("source", mode="before")
    @classmethod
    def _index_to_str(cls, value: Any) -> Any:
        # YAML reads `source: 0` as an int; a webcam index is a perfectly good source.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @model_validator(mode="after")
    def _check_options(self) -> CameraConfig:
        _built(self.source_options, _CAMERA_RENAMES)
        _built(self.watchdog_options, _CAMERA_RENAMES)
        return self

    def source_options(self) -> SourceOptions:
        """How capture opens this source."""
        return SourceOptions(**{name: getattr(self, name) for name in _SOURCE_FIELDS})

    def watchdog_options(self) -> WatchdogOptions:
        """When capture calls this source stalled, and how fast it retries."""
        return WatchdogOptions(**{inner: getattr(self, outer) for outer, inner in _WATCHDOG_FIELDS.items()})


class PoseConfig(_Section):
    """The pose backend, the devices it runs on, its batches and its detection limits."""

    backend: BackendName = Field(
        default="auto", description="auto: Keypoint R-CNN on a GPU when available, else MediaPipe on CPU."
    )
    device: str = Field(
        default="auto",
        pattern=r"^(auto|cpu|cuda(:\d+)?(\s*,\s*cuda(:\d+)?)*)$",
        description="auto, cpu, cuda or cuda:N; several GPUs separated by commas (cuda:0,cuda:1): "
        "pipeline.workers_per_device pose workers on each, cameras spread over all of them.",
    )
    max_people: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="People kept per frame (highest scores); None: the backend's own default "
        "(MediaPipe 1, following that person frame to frame; Keypoint R-CNN 20).",
    )
    score_threshold: float = Field(
        default=DEFAULT_SCORE_THRESHOLD, ge=0, le=1, description="Person detections below are ignored."
    )
    batch_size: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Most frames in one pose call (Keypoint R-CNN backends run them as one forward "
        "pass; MediaPipe takes one frame per call).",
    )
    batch_budget_s: float = Field(
        default=0.05,
        gt=0,
        le=10,
        description="A pose call gets only as many ready frames as the worker's measured cost says it "
        "runs in this time (at most batch_size): one frame when cameras are quiet, more under load.",
    )
    input_size: int | None = Field(
        default=None,
        ge=64,
        le=2048,
        description="Keypoint R-CNN backends: the shorter image side the model resizes frames to "
        "(None: 800, as the models were trained); 480 keeps 640x480 frames at their size (2.8x fewer "
        "pixels, faster; small people are found less well).",
    )
    precision: Precision = Field(
        default="auto",
        description="Keypoint R-CNN backends: autocast precision of the forward pass; auto: fp16 on "
        "CUDA, fp32 on the CPU.",
    )

    @model_validator(mode="after")
    def _check_devices(self) -> PoseConfig:
        devices = self.devices()
        if len(set(devices)) != len(devices):
            raise ValueError(f"device lists a GPU twice: {self.device!r}")
        if self.backend == "mediapipe" and (self.input_size is not None or self.precision != "auto"):
            raise ValueError(
                "input_size and precision apply to the Keypoint R-CNN backends (torchvision, detectron2); "
                "MediaPipe runs at its own input size in float32: remove them or pick another backend"
            )
        return self

    def devices(self) -> tuple[str, ...]:
        """The devices the pose workers run on (one unless a list of GPUs is given)."""
        return tuple(part.strip() for part in self.device.split(","))

    @property
    def primary_device(self) -> str:
        """The device of everything that runs once (the action model, an offline analysis)."""
        return self.devices()[0]


class ModelConfig(_Section):
    """The action classifier."""

    path: Path | None = Field(default=None, description="Model file; None: the default model shipped inside.")
    min_confidence: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description=(
            "Update events naming an action below this probability are not published (those naming no "
            "known action always are)."
        ),
    )

    @field_validator("path", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return None if value == "" else value


class PipelineConfig(_Section):
    """Workers, the adaptive frame-skip controller, tracking and the classification rate."""

    workers_per_device: int | None = Field(
        default=None,
        ge=1,
        le=32,
        description="Pose workers per device; None: one per CPU core on the CPU, two per GPU (each "
        "with its own CUDA stream).",
    )
    max_stride: int = Field(
        default=8, ge=1, le=120, description="Process at least one frame in max_stride, whatever the load."
    )
    target_latency_s: float = Field(
        default=0.5,
        gt=0,
        le=30,
        description="Latency budget: while capture-to-publish latency stays above it, the stride grows by a "
        "quarter.",
    )
    classify_hop_s: float = Field(
        default=_default(LaneOptions, "classify_hop_s"),
        description="Classify each track's window at most this often (0 to 30 s).",
    )
    track_max_age_s: float = Field(
        default=_default(LaneOptions, "track_max_age_s"),
        description="A track unseen for this long ends (its segment ends too; at most 60 s).",
    )

    @model_validator(mode="after")
    def _check_lane(self) -> PipelineConfig:
        _built(lambda: lane_options(PoseConfig(), self), {})
        return self


class SegmentConfig(_Section):
    """Hysteresis that turns noisy per-window classifications into start/end segments."""

    enter_threshold: float = Field(
        default=_default(SegmentParams, "enter_threshold"),
        description="A window counts for a label above this.",
    )
    exit_threshold: float = Field(
        default=_default(SegmentParams, "exit_threshold"),
        description="The running label's probability below this counts against it (<= enter_threshold).",
    )
    min_windows: int = Field(
        default=_default(SegmentParams, "min_windows"), description="Consecutive winning windows to start."
    )
    exit_windows: int = Field(
        default=_default(SegmentParams, "exit_windows"), description="Consecutive losing windows to end."
    )

    @model_validator(mode="after")
    def _check_params(self) -> SegmentConfig:
        _built(self.params, {})
        return self

    def params(self, update_min_confidence: float = 0.0) -> SegmentParams:
        """The segment tracker's knobs (``update_min_confidence`` comes from the model section)."""
        return SegmentParams(**self.model_dump(), update_min_confidence=update_min_confidence)


class ZmqConfig(_Section):
    """The ZeroMQ PUB socket events go out on."""

    bind: str = Field(
        default="tcp://127.0.0.1:5556",
        pattern=r"^(tcp|ipc|inproc)://\S+$",
        description="Endpoint to bind; tcp://0.0.0.0:5556 to accept subscribers from other hosts.",
    )
    sndhwm: int = Field(
        default=1000,
        ge=1,
        le=10_000_000,
        description="Messages queued per slow subscriber before ZeroMQ drops.",
    )
    queue_size: int = Field(
        default=10_000,
        ge=1,
        le=10_000_000,
        description="Events waiting for the publisher thread; drops beyond.",
    )
    publish_poses: bool = Field(
        default=False, description="Also publish keypoints per frame on pose.<camera>."
    )
    max_subscribers: int = Field(
        default=256, ge=1, le=10_000, description="Subscribers connected at once; more are refused."
    )
    curve_secret_key: SecretStr | None = Field(
        default=None,
        description="CURVE: the server's Z85 secret key (turns authentication and encryption on); "
        "or curve_secret_key_file.",
    )
    curve_secret_key_file: Path | None = Field(
        default=None, description="CURVE: a file with the server's secret key (server.key_secret)."
    )
    curve_client_keys: list[str] = Field(
        default_factory=list,
        description="CURVE: Z85 public keys of the subscribers let in (env: comma-separated).",
    )
    curve_client_keys_file: Path | None = Field(
        default=None,
        description="CURVE: an authorized-keys file (one public key per line) or a directory of *.key.",
    )

    @field_validator("curve_client_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("curve_secret_key_file", "curve_client_keys_file", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _check_curve(self) -> ZmqConfig:
        if self.curve_secret_key is not None and self.curve_secret_key_file is not None:
            raise ValueError("give curve_secret_key or curve_secret_key_file, not both")
        if not self.curve_enabled and (self.curve_client_keys or self.curve_client_keys_file):
            raise ValueError(
                "curve_client_keys need the server's key: set curve_secret_key_file "
                "(`actionstream keys DIR` writes server.key_secret)"
            )
        return self

    @property
    def curve_enabled(self) -> bool:
        """True when subscribers must authenticate with CURVE."""
        return self.curve_secret_key is not None or self.curve_secret_key_file is not None


class HttpConfig(_Section):
    """The HTTP server: /metrics, /livez, /readyz and the web UI, and who may use it."""

    host: str = Field(default="127.0.0.1", min_length=1, description="Address to listen on; 0.0.0.0 for all.")
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port; 0 picks a free one.")
    token: SecretStr | None = Field(
        default=None,
        description="Access token for the web UI, its API and the previews (Authorization: Bearer, "
        "or a login cookie); required when host is not loopback. Or token_file.",
    )
    token_file: Path | None = Field(default=None, description="A file holding the access token.")
    metrics_auth: bool = Field(
        default=False, description="Also require the token for /metrics (Prometheus: credentials_file)."
    )
    allowed_hosts: list[str] | None = Field(
        default=None,
        description="Host header values accepted ('*' any, '.example.com' a domain and its subdomains); "
        "None: loopback names when host is loopback, else any (env: comma-separated).",
    )
    max_connections: int = Field(
        default=100, ge=1, le=100_000, description="Open connections at most; requests beyond get 503."
    )
    header_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="A request's line and headers must arrive within this."
    )
    idle_timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="A request body or response that moves no byte for this long is cut.",
    )

    @model_validator(mode="before")
    @classmethod
    def _token_from_file(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("token_file") in (None, ""):
            return data
        if data.get("token") not in (None, ""):
            raise ValueError("give token or token_file, not both")
        return {**data, "token": read_secret_file(Path(data["token_file"]), "token_file")}

    @field_validator("token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"the token must be at least {MIN_TOKEN_LENGTH} characters "
                "(`actionstream keys DIR` writes a random one to DIR/http-token)"
            )
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        return None if value == "" else _split_list(value)


class WebConfig(_Section):
    """The web UI on the HTTP server: upload a video to analyse, and the live camera page."""

    enabled: bool = Field(default=True, description="Serve the upload page and the live page.")
    max_upload_mb: float = Field(
        default=500.0, gt=0, le=100_000, description="Largest accepted upload in MiB; larger gets 413."
    )
    jobs_dir: Path | None = Field(
        default=None,
        description="Where uploads and results are kept (one directory per job, survives restarts; one "
        "process per directory); None: $XDG_CACHE_HOME/actionstream/jobs/<http port>.",
    )
    job_ttl_s: float = Field(
        default=86_400.0,
        gt=0,
        le=30 * 86_400,
        description="A finished job (and its files) is deleted this long after it finished.",
    )
    max_concurrent_jobs: int = Field(
        default=1, ge=1, le=16, description="Analyses running at once; the others wait in the queue."
    )
    max_queued_jobs: int = Field(
        default=16, ge=0, le=1000, description="Uploads waiting to run; beyond that uploads get 429."
    )
    stride: int = Field(
        default=1, ge=1, le=100, description="Analyse every Nth frame of an upload (1: every frame)."
    )
    live_fps: float = Field(
        default=5.0, gt=0, le=30, description="Live preview (MJPEG) frames per second per viewer, at most."
    )
    live_events: int = Field(default=20, ge=1, le=1000, description="Latest events kept per camera.")

    @field_validator("jobs_dir", mode="before")
    @classmethod
    def _empty_is_temporary(cls, value: Any) -> Any:
        return None if value == "" else value


def read_secret_file(path: Path, field: str) -> str:
    """A secret kept in a file (a token, a camera URL): its text without surrounding whitespace.
    Errors name the file, never its content."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ValueError(f"{field}: file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{field}: cannot read {path}: {type(exc).__name__}") from None
    if not text:
        raise ValueError(f"{field}: {path} is empty")
    return text


def _split_list(value: Any) -> Any:
    """A list given as one string (an environment variable): split on commas and whitespace."""
    if isinstance(value, str):
        return [part for part in re.split(r"[,\s]+", value) if part]
    return value


def lane_options(pose: PoseConfig, pipeline: PipelineConfig, zmq: ZmqConfig | None = None) -> LaneOptions:
    """The engine's per-camera options: the one place ``serve`` (every camera) and ``analyze`` (a
    file, an upload) get them from, so a file gets the treatment a camera gets. Every field of
    :class:`LaneOptions` is taken from the section that has a field of that name (``max_people``
    from ``pose``, the tracking and hop fields from ``pipeline``, ``publish_poses`` from ``zmq``)."""
    sections = [section for section in (pose, pipeline, zmq) if section is not None]
    return LaneOptions(
        **{
            f.name: getattr(section, f.name)
            for f in dataclasses.fields(LaneOptions)
            for section in sections
            if f.name in type(section).model_fields
        }
    )


class EngineConfig(_Section):
    """The sections every command that runs the models reads."""

    pose: PoseConfig = Field(default_factory=PoseConfig, description="Pose backend.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="Action classifier.")
    pipeline: PipelineConfig = Field(
        default_factory=PipelineConfig, description="Workers, frame skipping, tracking, classification rate."
    )
    segments: SegmentConfig = Field(default_factory=SegmentConfig, description="Segment hysteresis.")

    def lane_options(self) -> LaneOptions:
        return lane_options(self.pose, self.pipeline)

    def segment_params(self) -> SegmentParams:
        return self.segments.params(update_min_confidence=self.model.min_confidence)


class WebAppConfig(EngineConfig):
    """``actionstream web``: the upload page alone, no cameras (the same file's sections apply)."""

    http: HttpConfig = Field(default_factory=HttpConfig, description="Health, metrics and the web UI.")
    web: WebConfig = Field(default_factory=WebConfig, description="Upload page and live page.")


class AppConfig(WebAppConfig):
    """The whole service: the web app's sections plus cameras and event publishing."""

    cameras: list[CameraConfig] = Field(min_length=1, description="Video sources, at least one.")
    zmq: ZmqConfig = Field(default_factory=ZmqConfig, description="Event publishing.")

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cameras: list[CameraConfig]) -> list[CameraConfig]:
        seen: set[str] = set()
        dupes: set[str] = set()
        for camera in cameras:
            (dupes if camera.id in seen else seen).add(camera.id)
        if dupes:
            raise ValueError(f"camera ids must be unique, repeated: {', '.join(sorted(set(dupes)))}")
        return cameras

    @property
    def enabled_cameras(self) -> list[CameraConfig]:
        return [c for c in self.cameras if c.enabled]

    def lane_options(self) -> LaneOptions:
        return lane_options(self.pose, self.pipeline, self.zmq)


# Sections of a service config that `actionstream web` does not use (so one file serves both).
SERVICE_ONLY = tuple(name for name in AppConfig.model_fields if name not in WebAppConfig.model_fields)
