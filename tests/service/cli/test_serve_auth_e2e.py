"""`actionstream serve` with authentication on, as compose and Helm run it: the secrets made by
`actionstream keys`, HTTP and ZeroMQ bound to every interface. Without credentials the UI, its
API, the MJPEG preview and the event stream are refused; with them everything works; /metrics
stays open for Prometheus (real processes, MediaPipe, the waving clip read in a loop)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.prometheus_server import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Served:
    http: str
    zmq: str
    keys: Path
    token: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def served(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("serve-auth")
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    keys = tmp / "keys"
    subprocess.run([sys.executable, "-m", "service", "keys", str(keys)], env=env, check=True, timeout=60)
    http_port, zmq_port = free_port(), free_port()
    serve_env = env | {
        "ACTIONSTREAM_HTTP__TOKEN_FILE": str(keys / "http-token"),
        "ACTIONSTREAM_ZMQ__CURVE_SECRET_KEY_FILE": str(keys / "server.key_secret"),
        "ACTIONSTREAM_ZMQ__CURVE_CLIENT_KEYS_FILE": str(keys / "authorized_keys"),
        "ACTIONSTREAM_CAMERAS__0__REALTIME": "true",
        "ACTIONSTREAM_CAMERAS__0__LOOP": "true",
    }
    log = tmp / "serve.log"
    video = shared_data / "videos" / "omkarnagarkar55_wave.mp4"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--source", str(video),
             "--backend", "mediapipe", "--http-host", "0.0.0.0", "--http-port", str(http_port),
             "--zmq-bind", f"tcp://0.0.0.0:{zmq_port}"],
            cwd=ROOT, env=serve_env | {"ACTIONSTREAM_WEB__JOBS_DIR": str(tmp / "jobs")}, stderr=err,
        )  # fmt: skip
    http = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve exited:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(f"{http}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        proc.kill()
        raise AssertionError(f"serve never became ready:\n{log.read_text()[-3000:]}")
    try:
        yield Served(
            http, f"tcp://127.0.0.1:{zmq_port}", keys, (keys / "http-token").read_text().strip(), env
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        assert proc.returncode == 0, log.read_text()[-3000:]


def test_http_without_the_token_is_refused_and_with_it_works(served: Served) -> None:
    with httpx.Client(base_url=served.http, timeout=10, follow_redirects=False) as c:
        for path in ("/", "/live", "/api/jobs", "/api/cameras", "/api/config"):
            assert c.get(path).status_code == 401, path
        with c.stream("GET", "/api/cameras/cam0/mjpeg") as r:
            assert r.status_code == 401
        assert c.post("/api/jobs", files={"file": ("a.mp4", b"x")}).status_code == 401
        metrics = c.get("/metrics")
        assert metrics.status_code == 200 and "actionstream_events_dropped_total" in metrics.text
    auth = {"Authorization": f"Bearer {served.token}"}
    with httpx.Client(base_url=served.http, timeout=10, headers=auth) as c:
        assert c.get("/api/cameras").json()["cameras"][0]["state"] == "online"
        with c.stream("GET", "/api/cameras/cam0/mjpeg") as r:
            assert r.status_code == 200
            first = next(r.iter_bytes())
            assert first.startswith(b"--frame")


def _subscribe(served: Served, *keys: str, count: int, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", "subscribe", served.zmq, "--topic", "status", "--topic", "action",
         "--count", str(count), "--timeout", str(timeout), *keys],
        capture_output=True, text=True, env=served.env, timeout=timeout + 60, check=False,
    )  # fmt: skip


def test_events_only_for_an_authorized_key(served: Served) -> None:
    keyed = _subscribe(
        served,
        "--server-key", str(served.keys / "server.key"),
        "--client-key", str(served.keys / "subscriber.key_secret"),
        count=3,
        timeout=60,
    )  # fmt: skip
    assert keyed.returncode == 0, keyed.stderr
    assert len(keyed.stdout.splitlines()) == 3
    keyless = _subscribe(served, count=1, timeout=5)
    assert keyless.returncode == 1 and keyless.stdout == ""
    assert "the service requires CURVE" in keyless.stderr
