"""HTTP endpoints on a real uvicorn server (free port), read with urllib."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.outputs.http import HttpServer, HttpServerError, create_app, readiness
from service.outputs.metrics import Metrics


class FakeHealth:
    """A HealthSource whose answers the test sets."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.states: dict[str, str] = {"cam0": "connecting", "cam1": "connecting"}
        self.loaded = False

    def camera_states(self) -> Mapping[str, str]:
        with self.lock:
            return dict(self.states)

    def model_loaded(self) -> bool:
        return self.loaded


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


@pytest.fixture
def served() -> Iterator[tuple[HttpServer, FakeHealth, Metrics, dict[str, bool]]]:
    metrics = Metrics()
    health = FakeHealth()
    live = {"ok": True}
    server = HttpServer(create_app(metrics, health, live=lambda: live["ok"]), "127.0.0.1", 0)
    server.start()
    yield server, health, metrics, live
    server.stop()
    assert server.join(10), "uvicorn thread did not stop"


def test_readyz_goes_from_503_to_200(served: Any) -> None:
    server, health, _, _ = served
    status, ctype, body = get(server.url + "/readyz")
    assert status == 503 and ctype.startswith("application/json")
    report = json.loads(body)
    assert report["ready"] is False
    assert report["not_ready"] == {
        "cameras": {"cam0": "connecting", "cam1": "connecting"},
        "model": "not loaded",
    }

    health.loaded = True
    health.states["cam0"] = "online"
    status, _, body = get(server.url + "/readyz")
    assert status == 503 and json.loads(body)["not_ready"] == {"cameras": {"cam1": "connecting"}}

    health.states["cam1"] = "online"
    status, _, body = get(server.url + "/readyz")
    assert status == 200 and json.loads(body) == {
        "ready": True,
        "cameras": {"cam0": "online", "cam1": "online"},
        "model_loaded": True,
    }

    health.states["cam1"] = "reconnecting"
    assert get(server.url + "/readyz")[0] == 503


def test_livez(served: Any) -> None:
    server, _, _, live = served
    assert get(server.url + "/livez")[0] == 200
    live["ok"] = False
    status, _, body = get(server.url + "/livez")
    assert status == 503 and json.loads(body) == {"alive": False}


def test_metrics_endpoint_serves_the_registry(served: Any) -> None:
    server, _, metrics, _ = served
    metrics.init_camera("cam0")
    metrics.frames_captured.labels(camera="cam0").inc(7)
    metrics.stage_latency.labels(stage="pose").observe(0.02)
    status, ctype, body = get(server.url + "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    captured = families["actionstream_frames_captured"].samples
    assert any(s.labels == {"camera": "cam0"} and s.value == 7 for s in captured)
    assert "actionstream_stage_latency_seconds" in families


def test_busy_port_is_a_clear_error(served: Any) -> None:
    server, health, metrics, _ = served
    other = HttpServer(create_app(metrics, health), "127.0.0.1", server.bound_port)
    with pytest.raises(HttpServerError, match=f"127.0.0.1:{server.bound_port}: the port is already in use"):
        other.start()


def test_unknown_host_is_a_clear_error() -> None:
    server = HttpServer(create_app(Metrics(), FakeHealth()), "no-such-host.invalid", 0)
    with pytest.raises(HttpServerError, match="unknown address"):
        server.start()


def test_no_camera_is_not_ready() -> None:
    health = FakeHealth()
    health.states = {}
    health.loaded = True
    ready, body = readiness(health)
    assert not ready and body["not_ready"] == {"cameras": "no camera configured"}
