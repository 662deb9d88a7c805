"""docker compose file, example config and Grafana provisioning: consistent with each other and
with the service's config loader (no Docker engine here, so nothing is started)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.app.security import ExposureError, check_http_exposure, check_zmq_exposure, zmq_curve
from service.cli import build_parser
from service.config import load_config
from tests.deploy.conftest import DEPLOY, ROOT

COMPOSE = DEPLOY / "compose.yaml"
EXAMPLE = DEPLOY / "config" / "config.example.yaml"
CREDENTIALS_IN_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]*@", re.IGNORECASE)
_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """docker compose's ${VAR}, ${VAR:-default} and ${VAR:?error} (enough for our file)."""

    def repl(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op and op.endswith("?"):
            raise KeyError(f"{name} is required: {arg}")
        return arg if op else ""

    return _INTERPOLATION.sub(repl, value)


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _host_path(volume: str) -> Path:
    return (DEPLOY / volume.split(":", maxsplit=1)[0]).resolve()


def test_compose_services_and_build() -> None:
    compose = _compose()
    assert set(compose["services"]) == {"keys", "actionstream", "prometheus", "grafana"}
    svc = compose["services"]["actionstream"]
    build = svc["build"]
    assert build["target"] == "cpu"
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"
    mounts = {v.split(":")[1]: _host_path(v) for v in svc["volumes"]}
    assert mounts["/config"] == DEPLOY / "config"
    assert mounts["/models"] == DEPLOY / "models"
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            if volume.startswith("./"):
                assert _host_path(volume).exists(), volume
    assert {"8080:8080", "5556:5556"} <= set(svc["ports"])


def _secrets_volume(svc: dict[str, Any]) -> tuple[str, str]:
    """(volume name, mount path) of the secrets volume of a compose service."""
    (mount,) = [v for v in svc["volumes"] if v.split(":")[0] == "actionstream-secrets"]
    return mount.split(":")[0], mount.split(":")[1]


def _service_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """What the actionstream container sees: its environment, with the secrets volume filled by
    the `keys` service (run here for real) at a temporary path instead of /secrets."""
    compose = _compose()
    svc, keys = compose["services"]["actionstream"], compose["services"]["keys"]
    _, mount = _secrets_volume(svc)
    secrets_dir = tmp_path / "secrets"
    args = build_parser().parse_args([*keys["command"][:-1], str(secrets_dir)])
    assert keys["command"][-1] == _secrets_volume(keys)[1] == mount
    assert args.handler(args) == 0
    dotenv = {
        "FRONT_DOOR_RTSP_URL": "rtsp://viewer:s3cret@192.168.1.20:554/stream1",
        "GRAFANA_ADMIN_PASSWORD": "x",
    }
    env = {
        name: interpolate(str(value), dotenv).replace(mount, str(secrets_dir))
        for name, value in svc["environment"].items()
    }
    return env, secrets_dir


def test_compose_env_and_example_config_load_in_the_service(tmp_path: Path) -> None:
    """What the container sees: the example config plus compose's environment, credentials from .env."""
    svc = _compose()["services"]["actionstream"]
    env, _ = _service_env(tmp_path)
    config_arg = interpolate(svc["command"][svc["command"].index("--config") + 1], {})
    assert config_arg.startswith("/config/")
    config_file = DEPLOY / "config" / config_arg.removeprefix("/config/")
    assert config_file == EXAMPLE
    config = load_config(config_file, env=env)
    assert config.cameras[0].source == "rtsp://viewer:s3cret@192.168.1.20:554/stream1"
    assert config.http.host == "0.0.0.0" and config.http.port == 8080
    assert config.zmq.bind == "tcp://0.0.0.0:5556"
    # Without the variable, compose refuses to start instead of running a placeholder camera.
    with pytest.raises(KeyError, match="FRONT_DOOR_RTSP_URL"):
        interpolate(str(svc["environment"]["ACTIONSTREAM_CAMERAS__0__SOURCE"]), {})


def test_compose_starts_with_authentication_on(tmp_path: Path) -> None:
    compose = _compose()
    svc, keys = compose["services"]["actionstream"], compose["services"]["keys"]
    assert svc["depends_on"]["keys"] == {"condition": "service_completed_successfully"}
    assert keys["image"] == svc["image"] and keys["build"] == svc["build"]
    assert svc["volumes"][-1].endswith(":ro"), "the service only reads the secrets"
    assert "actionstream-secrets" in compose["volumes"]
    env, secrets_dir = _service_env(tmp_path)
    config = load_config(EXAMPLE, env=env)
    assert config.http.token is not None
    assert config.http.token.get_secret_value() == (secrets_dir / "http-token").read_text().strip()
    curve = zmq_curve(config.zmq)
    assert curve is not None and len(curve.client_keys) == 1
    # Bound to 0.0.0.0 and published, so these must pass without --insecure...
    assert check_http_exposure(config.http, insecure=False) is None
    assert check_zmq_exposure(config.zmq.bind, config.zmq.curve_enabled, insecure=False) is None
    # ...and do so only because of the secrets: without them the service refuses to start.
    bare = load_config(EXAMPLE, env={k: v for k, v in env.items() if not k.endswith("_FILE")})
    with pytest.raises(ExposureError):
        check_http_exposure(bare.http, insecure=False)
    with pytest.raises(ExposureError):
        check_zmq_exposure(bare.zmq.bind, bare.zmq.curve_enabled, insecure=False)


def test_example_config_validates_and_holds_no_credentials() -> None:
    config = load_config(EXAMPLE, env={})
    assert [c.id for c in config.cameras] == ["front-door"]
    assert config.cameras[0].source.startswith("rtsp://")
    for path in (EXAMPLE, COMPOSE, DEPLOY / "prometheus" / "prometheus.yml"):
        # Comments may show the URL format; settings may not hold credentials.
        settings = "\n".join(line.split("#")[0] for line in path.read_text().splitlines())
        assert not CREDENTIALS_IN_URL.search(settings), f"credentials written in {path}"
    assert CREDENTIALS_IN_URL.search("rtsp://u:p@host/x")  # the check itself works


def test_gpu_variant_is_a_valid_compose_block_once_uncommented() -> None:
    lines = COMPOSE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "# deploy:")
    block = []
    for line in lines[start:]:
        if not line.strip().startswith("#"):
            break
        block.append(line.replace("# ", "", 1))
    gpu = yaml.safe_load("\n".join(block))
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}


def test_prometheus_scrapes_the_compose_service() -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in prom["scrape_configs"] if j["job_name"] == "actionstream"]
    assert job["static_configs"][0]["targets"] == ["actionstream:8080"]
    mounts = {
        v.split(":")[1]: _host_path(v)
        for v in _compose()["services"]["prometheus"]["volumes"]
        if v.startswith("./")
    }
    for rule_file in prom["rule_files"]:
        assert mounts[f"/etc/prometheus/{rule_file}"] == DEPLOY / "prometheus" / rule_file


def test_grafana_provisioning_matches_compose() -> None:
    grafana = _compose()["services"]["grafana"]
    mounts = {v.split(":")[1]: _host_path(v) for v in grafana["volumes"] if v.startswith("./")}
    provisioning = mounts["/etc/grafana/provisioning"]
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert datasources["apiVersion"] == 1
    (ds,) = datasources["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090" and ds["isDefault"]
    assert "9090:9090" in _compose()["services"]["prometheus"]["ports"]
    providers = yaml.safe_load((provisioning / "dashboards" / "actionstream.yml").read_text())
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert mounts[provider["options"]["path"]] == DEPLOY / "grafana" / "dashboards"
    assert "GF_SECURITY_ADMIN_PASSWORD" in grafana["environment"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith("${")


def test_env_example_names_every_variable_compose_requires() -> None:
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    example = (DEPLOY / ".env.example").read_text()
    defined = set(re.findall(r"^(\w+)=", example, re.MULTILINE))
    assert required and required <= defined


def test_example_config_leaves_the_stall_timeout_to_the_stream() -> None:
    camera = load_config(EXAMPLE, env={}).cameras[0]
    watchdog = camera.watchdog_options()
    assert watchdog.stall_timeout_s is None, "derived by capture from the stream's frame rate"
    assert watchdog.stall_timeout_for(1 / 25, camera.read_timeout_s) == 3.0
    assert watchdog.stall_timeout_for(1 / 5, camera.read_timeout_s) == camera.read_timeout_s == 5
