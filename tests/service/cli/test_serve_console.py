"""What a user sees in the console when running `actionstream serve` on a file: the segments it
publishes (checked against a real SUB socket), each state change once, a summary at exit, nothing
from third-party libraries; and nothing at all with --quiet."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import pytest
import zmq

from service.cli import build_parser
from tests.prometheus_server import free_port

# Our log format (service/cli configure_logging): a line that does not match came from elsewhere.
LOG_LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) +(?P<logger>[a-z_][\w.]*): (?P<message>.*)"
)
CONSOLE = "service.runtime.console"


def _serve(
    cli_argv: list[str], cli_env: dict[str, str], *args: str
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run serve to the end of its file with a SUB socket connected before it binds; every event."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVHWM, 100_000)
    # Connected first: ZeroMQ joins as soon as serve binds, before its first event (after the model).
    sub.connect(endpoint)
    try:
        done = subprocess.run(
            [*cli_argv, *args, "--zmq-bind", endpoint, "--http-port", str(free_port())],
            capture_output=True, text=True, timeout=240, env=cli_env, check=False,
        )  # fmt: skip
        events = []
        while sub.poll(1000):
            _topic, payload = sub.recv_multipart()
            events.append(json.loads(payload))
    finally:
        sub.close(linger=0)
        ctx.term()
    return done, events


def _parsed(stderr: str) -> list[re.Match[str]]:
    lines = stderr.splitlines()
    foreign = [line for line in lines if not LOG_LINE.fullmatch(line)]
    assert not foreign, f"lines that are not ours: {foreign}"
    matches = [LOG_LINE.fullmatch(line) for line in lines]
    return [m for m in matches if m is not None]


def _segment_line(e: dict[str, Any]) -> str:
    who = f"{e['camera']} person {e['track_id']}: {e['label']}"
    if e["type"] == "start":
        return f"{who} started at {e['window_start_pts']:.1f} s ({e['confidence']:.2f})"
    span = e["window_end_pts"] - e["window_start_pts"]
    return f"{who} ended at {e['window_end_pts']:.1f} s after {span:.1f} s (mean {e['confidence']:.2f})"


@pytest.mark.slow
def test_serve_on_the_waving_clip_tells_what_it_publishes(
    shared_data: Path, cli_argv: list[str], cli_env: dict[str, str]
) -> None:
    clip = shared_data / "videos" / "omkarnagarkar55_wave.mp4"
    done, events = _serve(cli_argv, cli_env, "serve", "--source", str(clip), "--backend", "mediapipe")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == ""
    lines = _parsed(done.stderr)
    # Nothing from MediaPipe, absl, protobuf or torch, and no warning of ours either.
    assert {m["logger"].split(".")[0] for m in lines} <= {"service", "inference", "capture"}
    assert [m.string for m in lines if m["level"] != "INFO"] == []
    assert all(m.string.count("cam0") <= 1 for m in lines), "a camera id said twice in one line"

    console = [m["message"] for m in lines if m["logger"] == CONSOLE]
    states = [s for s in console if re.fullmatch(r"cam0 [a-z]+(: .*)?", s)]
    assert states == [
        "cam0 connecting: opening",
        "cam0 online: receiving 420x420 at 10.0 fps",
        "cam0 ended: end of file after 125 frames",
    ]
    assert [e["state"] for e in events if e["type"] == "status"] == ["connecting", "online", "ended"]

    segments = [e for e in events if e["type"] in ("start", "end")]
    told = [s for s in console if " started at " in s or " ended at " in s]
    assert told == [_segment_line(e) for e in segments]
    assert {e["label"] for e in segments} & {"WAVING_1HAND", "WAVING_2HANDS"}, told

    kinds = Counter(e["type"] for e in events)
    detail = ", ".join(f"{kinds[k]} {k}" for k in ("start", "end", "update", "status") if kinds[k])
    assert console[-1] == (
        f"cam0: 125 frames captured, 125 processed, 0 skipped, 0 dropped; "
        f"{len(events)} events published ({detail})"
    )


@pytest.mark.slow
def test_quiet_serve_prints_nothing_and_still_publishes(
    shared_data: Path, cli_argv: list[str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    # Three seconds of the waving clip: enough for windows to be classified and segments to start.
    reader = cv2.VideoCapture(str(shared_data / "videos" / "omkarnagarkar55_wave.mp4"))
    clip = tmp_path / "wave_3s.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (420, 420))
    for _ in range(30):
        ok, image = reader.read()
        assert ok
        writer.write(image)
    writer.release()
    reader.release()
    done, events = _serve(
        cli_argv, cli_env, "--quiet", "serve", "--source", str(clip), "--backend", "mediapipe"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (done.stdout, done.stderr) == ("", "")
    assert [e["state"] for e in events if e["type"] == "status"] == ["connecting", "online", "ended"]
    assert any(e["type"] == "start" for e in events), "segments were found, only not told"


def test_quiet_is_log_level_warning_and_excludes_log_level() -> None:
    parser = build_parser()
    assert parser.parse_args(["--quiet", "probe", "x.mp4"]).log_level == "WARNING"
    assert parser.parse_args(["-q", "probe", "x.mp4"]).log_level == "WARNING"
    assert parser.parse_args(["probe", "x.mp4"]).log_level == "INFO"
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--quiet", "--log-level", "DEBUG", "probe", "x.mp4"])
    assert exit_.value.code == 2
