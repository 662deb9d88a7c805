"""``actionstream probe``: the command users run to check a camera before serving it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.capture.conftest import ABSENT_WEBCAM
from tests.conftest import ROOT
from tests.rtsp_server import RtspServer


def probe(*args: str, timeout: float = 60.0) -> tuple[int, list[dict[str, Any]], str]:
    """Run the real CLI in a child process (it configures logging and OpenCV process-wide)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "service", "probe", *args],
        check=False, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env,
    )  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, lines, done.stderr


def test_probe_file(small_video: Path) -> None:
    code, lines, stderr = probe(str(small_video), "--seconds", "20")
    assert code == 0, stderr
    states = [line["state"] for line in lines if line["event"] == "state"]
    assert states == ["connecting", "online", "ended"]
    summary = lines[-1]
    assert summary["event"] == "summary"
    assert summary["frames"] == 40 and summary["dropped"] == 0
    assert (summary["width"], summary["height"]) == (64, 48)
    assert summary["fps"] == pytest.approx(25.0, rel=0.01) and summary["fps_declared"] == pytest.approx(25.0)
    assert summary["kind"] == "file" and summary["state"] == "ended"
    assert summary["stall_timeout_s"] is None, "a file read as fast as we go never stalls"


def test_probe_missing_file_exits_2_with_clear_message(tmp_path: Path) -> None:
    code, lines, stderr = probe(str(tmp_path / "nope.mp4"))
    assert code == 2
    assert lines == []
    assert "actionstream probe: error: video file not found" in stderr
    assert "Traceback" not in stderr


def test_probe_corrupt_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(os.urandom(20_000))
    code, _, stderr = probe(str(bad))
    assert code == 2
    assert "corrupt, truncated or not a video" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://h/x"], "unsupported source scheme"),
        ([f"/dev/video{ABSENT_WEBCAM}"], f"webcam /dev/video{ABSENT_WEBCAM} does not exist"),
        (["clip.mp4", "--seconds", "-1"], "expected seconds in"),
        (["rtsp://h/x", "--transport", "sctp"], "invalid choice"),
    ],
)
def test_probe_bad_arguments_exit_2(args: list[str], message: str) -> None:
    code, _, stderr = probe(*args)
    assert code == 2 and message in stderr


@pytest.mark.slow
def test_probe_unreachable_camera_exits_1_masked() -> None:
    code, lines, stderr = probe("rtsp://cam:Pw0rd123@127.0.0.1:9/x", "--seconds", "2", "--open-timeout", "1")
    assert code == 1
    assert lines[-1]["frames"] == 0 and lines[-1]["state"] == "offline"
    assert "Pw0rd123" not in stderr + json.dumps(lines)


@pytest.mark.slow
@pytest.mark.rtsp
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_probe_rtsp(rtsp_server: RtspServer, transport: str) -> None:
    code, lines, stderr = probe(rtsp_server.url, "--seconds", "4", "--transport", transport)
    assert code == 0, stderr
    summary = lines[-1]
    assert summary["kind"] == "rtsp" and summary["state"] == "online"
    assert summary["frames"] > 30 and (summary["width"], summary["height"]) == (320, 240)
    assert summary["fps"] == pytest.approx(25.0, rel=0.25)
    assert transport in summary["source"]
    # No --stall-timeout: derived from the stream, 25 frame intervals of 25 fps but at least 3 s.
    assert summary["stall_timeout_s"] == 3.0
