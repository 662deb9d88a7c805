"""The configuration: pydantic sections (:mod:`.sections`), each building the frozen options its
consumer takes, loaded once at the entry point from YAML, the environment and flags (:mod:`.loading`)."""

from service.config.loading import (
    ENV_PREFIX,
    ENV_SEPARATOR,
    ConfigError,
    format_validation_error,
    load_config,
    load_web_config,
)
from service.config.sections import (
    DEFAULT_CAMERA_ID,
    SLUG_PATTERN,
    AppConfig,
    CameraConfig,
    EngineConfig,
    HttpConfig,
    ModelConfig,
    PipelineConfig,
    PoseConfig,
    SegmentConfig,
    WebAppConfig,
    WebConfig,
    ZmqConfig,
    lane_options,
)

__all__ = [
    "DEFAULT_CAMERA_ID",
    "ENV_PREFIX",
    "ENV_SEPARATOR",
    "SLUG_PATTERN",
    "AppConfig",
    "CameraConfig",
    "ConfigError",
    "EngineConfig",
    "HttpConfig",
    "ModelConfig",
    "PipelineConfig",
    "PoseConfig",
    "SegmentConfig",
    "WebAppConfig",
    "WebConfig",
    "ZmqConfig",
    "format_validation_error",
    "lane_options",
    "load_config",
    "load_web_config",
]
