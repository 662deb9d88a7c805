"""`actionstream proxy` in front of two running `actionstream serve` processes: one subscriber
sees both cameras' events through the proxy's single endpoint (real processes, real sockets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.prometheus_server import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def _cli(*args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "service", *args], cwd=ROOT, env=env, **kwargs)  # type: ignore[call-overload]


def test_proxy_forwards_two_services_to_one_subscriber(shared_data: Path, tmp_path: Path) -> None:
    video = shared_data / "videos" / "omkarnagarkar55_wave.mp4"
    procs: list[subprocess.Popen[bytes]] = []
    upstreams = []
    try:
        for camera in ("left", "right"):
            endpoint = f"tcp://127.0.0.1:{free_port()}"
            upstreams += ["--upstream", endpoint]
            config = {
                "cameras": [{"id": camera, "source": str(video), "realtime": True, "loop": True}],
                "pose": {"backend": "mediapipe"},
                "zmq": {"bind": endpoint, "publish_poses": True},
                "http": {"port": free_port()},
            }
            path = tmp_path / f"{camera}.yaml"
            path.write_text(yaml.safe_dump(config))
            procs.append(_cli("serve", "--config", str(path), stderr=open(tmp_path / f"{camera}.log", "wb")))  # noqa: SIM115
        front = f"tcp://127.0.0.1:{free_port()}"
        procs.append(_cli("proxy", "--bind", front, *upstreams))
        sub = _cli(
            "subscribe",
            front,
            "--topic",
            "pose",
            "--count",
            "200",
            "--timeout",
            "120",
            stdout=subprocess.PIPE,
        )
        procs.append(sub)
        out, _ = sub.communicate(timeout=150)
        assert sub.returncode == 0, [p.read_text()[-2000:] for p in tmp_path.glob("*.log")]
        cameras = {json.loads(line)["camera"] for line in out.decode().splitlines()}
        assert cameras == {"left", "right"}
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
