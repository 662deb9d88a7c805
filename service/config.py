"""The service's configuration: pydantic models, one per section, loaded once at the entry point.

Precedence (lowest first): field defaults < YAML file < environment (``ACTIONSTREAM_<SECTION>__<FIELD>``)
< command-line overrides. Every model forbids unknown keys, so a typo is an error rather than a
silently ignored setting. Errors come out as one ``ConfigError`` with one line per problem, each
naming the field path (``cameras[0].transport``) and, for values from the environment, the variable.

Camera sources can carry credentials (``rtsp://user:pass@host``): nothing here logs or prints them,
and ``ConfigError`` never echoes a source's value.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_PREFIX = "ACTIONSTREAM_"
ENV_SEPARATOR = "__"
DEFAULT_CAMERA_ID = "cam0"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_SECRET_FIELDS = frozenset({"source"})


class ConfigError(ValueError):
    """The configuration is invalid; the message has one line per problem, naming the field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class CameraConfig(_Section):
    """One video source and how to read it."""

    id: str = Field(
        description="Camera id used in topics (action.<id>), metrics and logs: lowercase letters, digits,"
        " '_' and '-', up to 63 characters.",
        pattern=SLUG_PATTERN,
    )
    source: str = Field(
        min_length=1,
        description="rtsp:// or http:// URL, webcam index (0), /dev/videoN, or a video file path.",
    )
    transport: Literal["tcp", "udp"] = Field(
        default="tcp", description="RTSP transport; tcp survives lossy networks and NAT better."
    )
    open_timeout_s: float = Field(default=10.0, gt=0, le=300, description="Give up opening the source after.")
    read_timeout_s: float = Field(default=5.0, gt=0, le=120, description="Give up one read after.")
    stall_timeout_s: float | None = Field(
        default=None, gt=0, le=600, description="No frame for this long: stalled, reopened (unset: derived)."
    )
    backoff_initial_s: float = Field(default=0.5, gt=0, le=60, description="First reconnect delay.")
    backoff_max_s: float = Field(default=30.0, gt=0, le=3600, description="Reconnect delay cap (doubling).")
    queue_size: int = Field(
        default=4, ge=1, le=1024, description="Capture queue length; live sources drop the oldest when full."
    )
    width: int | None = Field(
        default=None, ge=16, le=8192, description="Webcam capture width (None: device)."
    )
    height: int | None = Field(
        default=None, ge=16, le=8192, description="Webcam capture height (None: device)."
    )
    fps: float | None = Field(default=None, gt=0, le=240, description="Webcam frame rate (None: device).")
    realtime: bool = Field(
        default=False, description="File sources: pace reading at the file's frame rate, like a live camera."
    )
    loop: bool = Field(default=False, description="File sources: start again at the end instead of ending.")
    enabled: bool = Field(default=True, description="Set false to keep a camera in the file but not run it.")

    @field_validator("source", mode="before")
    @classmethod
    def _index_to_str(cls, value: Any) -> Any:
        # YAML reads `source: 0` as an int; a webcam index is a perfectly good source.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @model_validator(mode="after")
    def _check_backoff(self) -> CameraConfig:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(
                f"backoff_max_s ({self.backoff_max_s}) must be >= "
                f"backoff_initial_s ({self.backoff_initial_s})"
            )
        return self


class PoseConfig(_Section):
    """The pose backend."""

    backend: Literal["auto", "mediapipe", "torchvision", "detectron2"] = Field(
        default="auto", description="auto: Keypoint R-CNN on a GPU when available, else MediaPipe on CPU."
    )
    device: str = Field(
        default="auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto, cpu, cuda or cuda:N."
    )
    max_people: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="People kept per frame (highest scores); None: the backend's own default "
        "(MediaPipe 1, following that person frame to frame; Keypoint R-CNN 20).",
    )
    score_threshold: float = Field(
        default=0.5, ge=0, le=1, description="Person detections below are ignored."
    )
    batch_size: int = Field(default=4, ge=1, le=64, description="Frames per pose call (GPU backends batch).")


class ModelConfig(_Section):
    """The action classifier."""

    path: Path | None = Field(default=None, description="Model file; None: the default model shipped inside.")
    min_confidence: float = Field(
        default=0.3, ge=0, le=1, description="Update events below this top probability are not published."
    )

    @field_validator("path", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return None if value == "" else value


class PipelineConfig(_Section):
    """Workers and the adaptive frame-skip controller."""

    workers_per_device: int = Field(default=1, ge=1, le=32, description="Inference workers per device.")
    max_stride: int = Field(
        default=8, ge=1, le=120, description="Never skip more than max_stride-1 frames in a row."
    )
    target_latency_s: float = Field(
        default=0.5,
        gt=0,
        le=30,
        description="Latency budget: while capture-to-publish latency stays above it, stride grows by one.",
    )
    classify_hop_s: float = Field(
        default=0.25, gt=0, le=30, description="Classify each track's window at most this often."
    )
    track_max_age_s: float = Field(
        default=1.0, gt=0, le=60, description="A track unseen for this long ends (its segment ends too)."
    )


class SegmentConfig(_Section):
    """Hysteresis that turns noisy per-window classifications into start/end segments."""

    enter_threshold: float = Field(
        default=0.6, ge=0, le=1, description="A window counts for a label above this."
    )
    exit_threshold: float = Field(
        default=0.4, ge=0, le=1, description="The running label's probability below this counts against it."
    )
    min_windows: int = Field(default=3, ge=1, le=1000, description="Consecutive winning windows to start.")
    exit_windows: int = Field(default=3, ge=1, le=1000, description="Consecutive losing windows to end.")

    @model_validator(mode="after")
    def _check_thresholds(self) -> SegmentConfig:
        if self.exit_threshold > self.enter_threshold:
            raise ValueError(
                f"exit_threshold ({self.exit_threshold}) must be <= enter_threshold ({self.enter_threshold})"
            )
        return self


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


class HttpConfig(_Section):
    """The HTTP server: /metrics, /livez, /readyz and the web UI."""

    host: str = Field(default="127.0.0.1", min_length=1, description="Address to listen on; 0.0.0.0 for all.")
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port; 0 picks a free one.")


class WebConfig(_Section):
    """The web UI on the HTTP server: upload a video to analyse, and the live camera page."""

    enabled: bool = Field(default=True, description="Serve the upload page and the live page.")
    max_upload_mb: float = Field(
        default=500.0, gt=0, le=100_000, description="Largest accepted upload in MiB; larger gets 413."
    )
    jobs_dir: Path | None = Field(
        default=None,
        description="Where uploads and results are kept (one directory per job, survives restarts); "
        "None: a temporary directory removed when the process exits.",
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


class AppConfig(_Section):
    """The whole service."""

    cameras: list[CameraConfig] = Field(min_length=1, description="Video sources, at least one.")
    pose: PoseConfig = Field(default_factory=PoseConfig, description="Pose backend.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="Action classifier.")
    pipeline: PipelineConfig = Field(
        default_factory=PipelineConfig, description="Workers and frame skipping."
    )
    segments: SegmentConfig = Field(default_factory=SegmentConfig, description="Segment hysteresis.")
    zmq: ZmqConfig = Field(default_factory=ZmqConfig, description="Event publishing.")
    http: HttpConfig = Field(default_factory=HttpConfig, description="Health, metrics and UI.")
    web: WebConfig = Field(default_factory=WebConfig, description="Upload page and live page.")

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


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AppConfig:
    """Build the config from a YAML file, environment overrides and command-line overrides.

    ``overrides`` is a nested dict merged last; its key ``source`` is a shortcut that replaces the
    camera list with one camera ``cam0`` reading that source (``actionstream serve --source ...``).
    Pass ``env=os.environ`` at the entry point; tests pass their own mapping.
    """
    data = _read_yaml(Path(path)) if path is not None else {}
    origins: dict[tuple[str | int, ...], str] = {}
    _apply_env(data, env or {}, origins)
    overrides = dict(overrides or {})
    source = overrides.pop("source", None)
    if source is not None:
        data["cameras"] = [{"id": DEFAULT_CAMERA_ID, "source": source}]
        origins[("cameras", 0, "source")] = "--source"
    _deep_merge(data, overrides)
    if not data.get("cameras"):
        raise ConfigError(
            "cameras: no camera configured; give --source (an RTSP URL, webcam index or video file) "
            "or a config file with a 'cameras:' list"
        )
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, origins)) from None


class WebAppConfig(_Section):
    """``actionstream web``: the upload page alone, no cameras (the same file's sections apply)."""

    pose: PoseConfig = Field(default_factory=PoseConfig, description="Pose backend.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="Action classifier.")
    pipeline: PipelineConfig = Field(
        default_factory=PipelineConfig, description="Tracking and classification rate."
    )
    segments: SegmentConfig = Field(default_factory=SegmentConfig, description="Segment hysteresis.")
    http: HttpConfig = Field(default_factory=HttpConfig, description="Where the page is served.")
    web: WebConfig = Field(default_factory=WebConfig, description="Uploads and jobs.")


# Sections of a service config that `actionstream web` does not use (so one file serves both).
_SERVICE_ONLY = ("cameras", "zmq")


def load_web_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> WebAppConfig:
    """Like :func:`load_config` for ``actionstream web``: no cameras needed, ``cameras``/``zmq`` ignored."""
    data = _read_yaml(Path(path)) if path is not None else {}
    for key in _SERVICE_ONLY:
        data.pop(key, None)
    env_web = {k: v for k, v in (env or {}).items() if not _is_service_only_env(k)}
    origins: dict[tuple[str | int, ...], str] = {}
    _apply_env(data, env_web, origins)
    _deep_merge(data, dict(overrides or {}))
    try:
        return WebAppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, origins)) from None


def _is_service_only_env(name: str) -> bool:
    return any(name.upper().startswith(f"{ENV_PREFIX}{key.upper()}{ENV_SEPARATOR}") for key in _SERVICE_ONLY)


def format_validation_error(
    exc: ValidationError, origins: Mapping[tuple[str | int, ...], str] | None = None
) -> str:
    """One human-readable line per error: ``path: problem (got value) [from ENV_VAR]``."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = _format_loc(loc)
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        line = f"{path}: {msg}" if path else msg
        value = err.get("input")
        if (
            loc
            and loc[-1] not in _SECRET_FIELDS
            and isinstance(value, str | int | float | bool)
            and value != ""
        ):
            shown = repr(value)
            if len(shown) <= 60 and err["type"] not in ("missing",):
                line += f" (got {shown})"
        origin = _origin(loc, origins or {})
        if origin:
            line += f" [from {origin}]"
        lines.append(line)
    return "\n".join(lines)


def _origin(loc: tuple[Any, ...], origins: Mapping[tuple[str | int, ...], str]) -> str | None:
    """The variable or option a failing value came from: exact path, else one set below it."""
    if loc in origins:
        return origins[loc]
    below = sorted(name for key, name in origins.items() if loc and key[: len(loc)] == loc)
    return ", ".join(below) or None


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"config file not found: {path} (give an existing YAML file, or leave --config out)"
        )
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(loaded).__name__}")
    return loaded


def _apply_env(
    data: dict[str, Any], env: Mapping[str, str], origins: dict[tuple[str | int, ...], str]
) -> None:
    """Apply ``ACTIONSTREAM_SECTION__FIELD`` (and ``ACTIONSTREAM_CAMERAS__<index>__FIELD``) variables."""
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or ENV_SEPARATOR not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split(ENV_SEPARATOR)]
        if any(not p for p in parts):
            raise ConfigError(
                f"{name}: empty part in the variable name (expected ACTIONSTREAM_SECTION__FIELD)"
            )
        loc: list[str | int] = []
        node: Any = data
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(
                        f"{name}: {_format_loc(tuple(loc))} has {len(node)} entries; "
                        f"'{part}' is not a valid index"
                    )
                key: str | int = int(part)
            else:
                key = part
            loc.append(key)
            if last:
                node[key] = env[name]
            else:
                if isinstance(node, dict) and key not in node:
                    node[key] = {}
                node = node[key]
                if not isinstance(node, dict | list):
                    raise ConfigError(f"{name}: {_format_loc(tuple(loc))} is a value, not a section")
        origins[tuple(loc)] = name


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
