"""Config: YAML + environment + CLI overrides, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from capture.sources import SourceOptions
from capture.thread import WatchdogOptions
from inference.backends import BACKEND_NAMES
from service import config
from service.app.build import analyze_options
from service.config import AppConfig, ConfigError, load_config, load_web_config
from service.engine.options import LaneOptions

GOOD = """
cameras:
  - id: front-door
    source: rtsp://user:secret@10.0.0.5/stream1
    transport: udp
  - id: webcam
    source: 0
    width: 640
    height: 480
pose:
  backend: mediapipe
zmq:
  bind: tcp://127.0.0.1:5599
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "actionstream.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_loads_with_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD), env={}, overrides={})
    assert isinstance(cfg, AppConfig)
    assert [c.id for c in cfg.cameras] == ["front-door", "webcam"]
    assert cfg.cameras[0].transport == "udp"
    assert cfg.cameras[1].source == "0"  # YAML int -> webcam index string
    assert cfg.pose.backend == "mediapipe"
    assert cfg.zmq.bind == "tcp://127.0.0.1:5599"
    assert cfg.http.host == "127.0.0.1" and cfg.http.port == 8080
    assert cfg.model.path is None
    assert cfg.segments.exit_threshold <= cfg.segments.enter_threshold


def test_env_overrides_with_type_coercion(tmp_path: Path) -> None:
    env = {
        "ACTIONSTREAM_ZMQ__BIND": "tcp://0.0.0.0:5556",
        "ACTIONSTREAM_ZMQ__SNDHWM": "50",
        "ACTIONSTREAM_HTTP__PORT": "9090",
        "ACTIONSTREAM_ZMQ__PUBLISH_POSES": "true",
        "ACTIONSTREAM_CAMERAS__1__FPS": "15",
        "UNRELATED": "x",
    }
    cfg = load_config(write(tmp_path, GOOD), env=env, overrides={})
    assert cfg.zmq.bind == "tcp://0.0.0.0:5556"
    assert cfg.zmq.sndhwm == 50
    assert cfg.http.port == 9090
    assert cfg.zmq.publish_poses is True
    assert cfg.cameras[1].fps == 15.0


def test_cli_source_shortcut_makes_cam0_and_wins_over_file(tmp_path: Path) -> None:
    cfg = load_config(None, env={}, overrides={"source": "video.mp4"})
    assert [(c.id, c.source) for c in cfg.cameras] == [("cam0", "video.mp4")]
    cfg = load_config(write(tmp_path, GOOD), env={}, overrides={"source": 2, "http": {"port": 0}})
    assert [(c.id, c.source) for c in cfg.cameras] == [("cam0", "2")]
    assert cfg.http.port == 0
    assert cfg.zmq.bind == "tcp://127.0.0.1:5599"  # the rest of the file still applies


def test_cli_overrides_beat_env(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, GOOD), env={"ACTIONSTREAM_HTTP__PORT": "9090"}, overrides={"http": {"port": 9191}}
    )
    assert cfg.http.port == 9191


def test_invalid_value_names_the_field(tmp_path: Path) -> None:
    text = GOOD.replace("transport: udp", "transport: quic")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={}, overrides={})
    msg = str(info.value)
    assert "cameras[0].transport" in msg
    assert "'tcp' or 'udp'" in msg
    assert "quic" in msg


def test_unknown_key_is_an_error_not_ignored(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"pose\.bakend: Extra inputs are not permitted"):
        load_config(write(tmp_path, GOOD + "  bakend: x\n".replace("  bakend", "pose:\n  bakend")), {}, {})


def test_several_errors_one_line_each(tmp_path: Path) -> None:
    text = GOOD.replace("bind: tcp://127.0.0.1:5599", "bind: 5599\n  sndhwm: 0")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={"ACTIONSTREAM_HTTP__PORT": "99999"}, overrides={})
    lines = str(info.value).splitlines()
    assert len(lines) == 3, lines
    assert any(line.startswith("zmq.bind:") for line in lines)
    assert any(line.startswith("zmq.sndhwm:") and "greater than or equal to 1" in line for line in lines)
    assert any(
        line.startswith("http.port:") and "[from ACTIONSTREAM_HTTP__PORT]" in line for line in lines
    ), lines


def test_duplicate_camera_ids(tmp_path: Path) -> None:
    text = GOOD.replace("id: webcam", "id: front-door")
    with pytest.raises(ConfigError, match=r"cameras: camera ids must be unique, repeated: front-door"):
        load_config(write(tmp_path, text), env={}, overrides={})


def test_bad_camera_id_and_secret_source_not_echoed(tmp_path: Path) -> None:
    text = GOOD.replace("id: front-door", "id: Front Door").replace(
        "transport: udp", "transport: udp\n    foo: 1"
    )
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={}, overrides={})
    msg = str(info.value)
    assert "cameras[0].id" in msg and "cameras[0].foo" in msg
    assert "secret" not in msg


def test_no_camera_says_what_to_do() -> None:
    with pytest.raises(ConfigError, match="give --source"):
        load_config(None, env={}, overrides={})


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml", env={}, overrides={})
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "cameras: [\n"), env={}, overrides={})
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"), env={}, overrides={})


def test_bad_env_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ACTIONSTREAM_CAMERAS__7__FPS: cameras has 2 entries"):
        load_config(write(tmp_path, GOOD), env={"ACTIONSTREAM_CAMERAS__7__FPS": "5"}, overrides={})
    with pytest.raises(
        ConfigError, match=r"nosuch: Extra inputs are not permitted \[from ACTIONSTREAM_NOSUCH__X\]"
    ):
        load_config(write(tmp_path, GOOD), env={"ACTIONSTREAM_NOSUCH__X": "5"}, overrides={})


def test_cross_field_checks(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"segments: exit_threshold .* must be <= enter_threshold"):
        load_config(
            write(tmp_path, GOOD + "segments:\n  enter_threshold: 0.3\n  exit_threshold: 0.5\n"), {}, {}
        )
    with pytest.raises(ConfigError, match=r"cameras\[0\]: backoff_max_s"):
        load_config(
            None, {}, {"source": "x.mp4", "cameras": [{"id": "a", "source": "x", "backoff_max_s": 0.1}]}
        )


def test_every_field_has_a_description() -> None:
    for model in (
        config.CameraConfig,
        config.PoseConfig,
        config.ModelConfig,
        config.PipelineConfig,
        config.SegmentConfig,
        config.ZmqConfig,
        config.HttpConfig,
        config.AppConfig,
    ):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_camera_sections_take_their_defaults_and_bounds_from_capture(tmp_path: Path) -> None:
    cam = load_config(write(tmp_path, GOOD), env={}, overrides={}).cameras[0]
    assert cam.source_options() == SourceOptions(transport="udp")
    assert cam.watchdog_options() == WatchdogOptions()
    with pytest.raises(ConfigError, match=r"cameras\[0\]: open_timeout_s must be in \(0, 600\]"):
        load_config(write(tmp_path, GOOD.replace("transport: udp", "open_timeout_s: 601")), {}, {})


def test_serve_and_analyze_get_the_same_engine_options(tmp_path: Path) -> None:
    text = GOOD + "pipeline:\n  track_max_age_s: 2.5\n  classify_hop_s: 0.5\nsegments:\n  min_windows: 4\n"
    path = write(tmp_path, text)
    serve = load_config(path, env={}, overrides={})
    web = load_web_config(path, env={}, overrides={})
    assert set(config.WebAppConfig.model_fields) < set(AppConfig.model_fields)  # shared sections
    assert serve.lane_options() == web.lane_options() == LaneOptions(track_max_age_s=2.5, classify_hop_s=0.5)
    assert serve.segment_params() == web.segment_params()
    assert serve.segment_params().min_windows == 4
    assert serve.segment_params().update_min_confidence == serve.model.min_confidence
    analyze = analyze_options(web, stride=2)  # what `analyze` and the upload page run with
    assert analyze.lane == serve.lane_options() and analyze.segments == serve.segment_params()
    with pytest.raises(ConfigError, match=r"pipeline: track_max_age_s must be in \(0, 60\]"):
        load_config(write(tmp_path, GOOD + "pipeline:\n  track_max_age_s: 0\n"), {}, {})


def test_backend_names_come_from_the_registry() -> None:
    assert set(config.PoseConfig.model_fields["backend"].annotation.__args__) == set(BACKEND_NAMES)  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r"pose\.backend: Input should be .*'mediapipe'"):
        load_config(None, {}, {"source": "x.mp4", "pose": {"backend": "openpose"}})


def test_pose_workers_devices_and_detection_limits(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path, GOOD.replace("  backend: mediapipe", "  backend: torchvision\n  device: cuda:0, cuda:1")
        ),
        env={"ACTIONSTREAM_POSE__INPUT_SIZE": "480", "ACTIONSTREAM_POSE__PRECISION": "bf16"},
        overrides={},
    )
    assert cfg.pose.devices() == ("cuda:0", "cuda:1") and cfg.pose.primary_device == "cuda:0"
    assert cfg.pose.input_size == 480 and cfg.pose.precision == "bf16"
    assert cfg.pipeline.workers_per_device is None, "none: one per core on a CPU, two per GPU"
    assert load_config(write(tmp_path, GOOD), env={}, overrides={}).pose.devices() == ("auto",)
    with pytest.raises(ConfigError, match=r"pose: device lists a GPU twice"):
        load_config(write(tmp_path, GOOD), env={"ACTIONSTREAM_POSE__DEVICE": "cuda:0,cuda:0"}, overrides={})
    with pytest.raises(ConfigError, match=r"pose\.device: String should match pattern"):
        load_config(write(tmp_path, GOOD), env={"ACTIONSTREAM_POSE__DEVICE": "cpu,cuda:0"}, overrides={})
    with pytest.raises(
        ConfigError, match=r"pose: input_size and precision apply to the Keypoint R-CNN backends"
    ):
        load_config(write(tmp_path, GOOD), env={"ACTIONSTREAM_POSE__INPUT_SIZE": "480"}, overrides={})
    with pytest.raises(ConfigError, match=r"pose\.batch_budget_s: Input should be greater than 0"):
        load_config(write(tmp_path, GOOD), env={"ACTIONSTREAM_POSE__BATCH_BUDGET_S": "0"}, overrides={})
