"""The live page: the preview store costs nothing until someone watches; the MJPEG stream and the
camera API on a real server; and in headless Chromium, a camera served by GStreamer's RTSP server
through `actionstream serve` (MediaPipe, the shipped model) shows up with skeletons and status."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from capture.frame import Frame
from inference.poses import TrackedPoses
from service.engine.analyzer import FrameResult, TrackAction
from service.outputs.events import ActionEvent, StatusEvent
from service.web.live import LivePreviews
from tests.rtsp_server import RtspServer, free_port, unavailable_reason
from tests.service.web.webtools import FakeRunner, chromium_page, serve_web, wait_until

ROOT = Path(__file__).resolve().parents[3]


def _frame(seq: int, width: int = 160, height: int = 120) -> Frame:
    return Frame("cam0", seq, seq / 10, time.monotonic(), np.full((height, width, 3), 90, np.uint8))


def _result(frame: Frame, track_id: int = 1) -> FrameResult:
    """Two people on ``frame``: ``track_id`` boxing, the next one doing none of the model's actions."""
    kp = np.zeros((2, 17, 3), np.float32)
    kp[:, :, 0] = np.linspace(40, 120, 17)
    kp[:, :, 1] = np.linspace(10, 110, 17)
    kp[:, :, 2] = 0.9
    people = TrackedPoses(
        kp,
        np.array([[40, 10, 120, 110]] * 2, np.float32),
        np.array([0.9, 0.9], np.float32),
        np.array([track_id, track_id + 1], np.int64),
    )
    actions = (TrackAction("BOXING", 0.8, "BOXING", "action"), TrackAction(None, 0.2, None, "background"))
    return FrameResult(frame, people, actions)


def _action(kind: str) -> ActionEvent:
    probs = {"BOXING": 0.8, "JUMPING": 0.2}
    return ActionEvent(
        type=kind,  # type: ignore[arg-type]
        camera="cam0", track_id=1, label="BOXING", confidence=0.8, probabilities=probs,
        window_start_pts=0.0, window_end_pts=1.0, frame_seq=3, pts=1.0,
    )  # fmt: skip


def test_previews_keep_references_and_encode_only_on_demand_once_per_frame() -> None:
    previews = LivePreviews(["cam0"], max_events=3)
    frame = _frame(1)
    for _ in range(100):
        previews.update(_result(frame))
    snap = previews.latest("cam0")
    assert snap is not None and snap.frame is frame and snap.frame.image is frame.image  # no copy
    assert previews.encodes == 0, "nothing is drawn or encoded while nobody watches"
    first = previews.jpeg("cam0")
    again = previews.jpeg("cam0")
    assert first is not None and again is first and previews.encodes == 1
    image = cv2.imdecode(np.frombuffer(first[1], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (120, 160, 3)
    assert (np.abs(image.astype(int) - 90).max(axis=2) > 60).sum() > 100, "the skeleton is drawn"
    assert (frame.image == 90).all(), "drawing never touches the shared frame"
    other = Frame("unknown", 1, 0.1, time.monotonic(), frame.image)
    previews.update(FrameResult(other))  # ignored, no error
    assert previews.latest("unknown") is None


def test_previews_keep_the_latest_segment_and_status_events() -> None:
    previews = LivePreviews(["cam0"], max_events=3)
    previews.record(StatusEvent(camera="cam0", state="online"))
    for kind in ("update", "start", "update", "end", "start"):
        previews.record(_action(kind))
    events = previews.events("cam0")
    assert [e["type"] for e in events] == ["start", "end", "start"]  # newest first, updates left out
    assert events[0]["label"] == "BOXING" and events[0]["track_id"] == 1


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, LivePreviews, threading.Event]]:
    previews = LivePreviews(["cam0"])
    previews.record(StatusEvent(camera="cam0", state="online"))
    stop = threading.Event()

    def camera() -> None:  # a camera producing processed frames at 20 fps
        seq = 0
        while not stop.wait(0.05):
            seq += 1
            previews.update(_result(_frame(seq)))

    feeder = threading.Thread(target=camera, daemon=True)
    feeder.start()
    deadline = time.monotonic() + 10
    while previews.latest("cam0") is None and time.monotonic() < deadline:  # the first frame is in
        time.sleep(0.02)
    with serve_web(
        tmp_path / "jobs",
        FakeRunner(),
        previews=previews,
        camera_states=lambda: {"cam0": "online"},
        live_fps=10,
    ) as served:
        yield served.url, previews, stop
    stop.set()
    feeder.join(5)


def test_mjpeg_stream_sends_annotated_jpegs_at_a_limited_rate(
    live_server: tuple[str, LivePreviews, threading.Event],
) -> None:
    url, previews, _ = live_server
    parts: list[bytes] = []
    t0 = time.monotonic()
    with httpx.stream("GET", f"{url}/api/cameras/cam0/mjpeg", timeout=10) as r:
        assert r.headers["content-type"] == "multipart/x-mixed-replace; boundary=frame"
        buf = b""
        for chunk in r.iter_bytes():
            buf += chunk
            while b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                if len(rest) < length + 2:
                    break
                parts.append(rest[:length])
                buf = rest[length + 2 :]
            if len(parts) >= 10:
                break
    elapsed = time.monotonic() - t0
    assert len(parts) == 10
    assert elapsed >= 0.8, f"10 frames in {elapsed:.2f} s: faster than live_fps=10"
    image = cv2.imdecode(np.frombuffer(parts[-1], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (120, 160, 3)
    assert previews.encodes <= 12, "one encode per frame sent, not one per frame processed (20/s)"


def test_camera_api_reports_state_people_and_events(
    live_server: tuple[str, LivePreviews, threading.Event],
) -> None:
    url, _, _ = live_server
    cams = httpx.get(f"{url}/api/cameras").json()["cameras"]
    assert len(cams) == 1
    cam = cams[0]
    assert cam["id"] == "cam0" and cam["state"] == "online"
    assert cam["frame"]["width"] == 160 and cam["people"][0]["label"] == "BOXING"
    assert cam["people"][0]["segment"] == "BOXING" and cam["people"][0]["reason"] == "action"
    nobody = cam["people"][1]  # no known action: label null, with the reason
    assert (nobody["label"], nobody["reason"], nobody["segment"]) == (None, "background", None)
    assert cam["events"][0]["state"] == "online"
    assert httpx.get(f"{url}/api/cameras/nope/mjpeg").status_code == 404


def test_without_cameras_the_live_api_is_empty(tmp_path: Path) -> None:
    with serve_web(tmp_path / "jobs", FakeRunner()) as s:
        assert httpx.get(f"{s.url}/api/cameras").json() == {"cameras": []}
        assert httpx.get(f"{s.url}/api/cameras/cam0/mjpeg").status_code == 404
        page = httpx.get(f"{s.url}/live")
        assert page.status_code == 200 and "No cameras on this server" in page.text


@pytest.mark.slow
@pytest.mark.rtsp
def test_live_page_shows_the_rtsp_camera_in_chromium(
    shared_data: Path, tmp_path: Path, artifacts_dir: Path
) -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    rtsp = RtspServer(
        source=str(shared_data / "videos/omkarnagarkar55_wave.mp4"), log_path=tmp_path / "rtsp.log"
    )
    rtsp.start()
    port = free_port()
    log = tmp_path / "serve.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--source", rtsp.url, "--backend", "mediapipe",
             "--http-port", str(port), "--zmq-bind", f"tcp://127.0.0.1:{free_port()}"],
            cwd=ROOT, env=env, stderr=err,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        with chromium_page(tmp_path / "profile") as page:
            page.goto(f"{url}/live")
            wait_until(
                page,
                "() => { const i = document.querySelector('img[data-camera=\"cam0\"]'); "
                "return i && i.complete && i.naturalWidth > 0; }",
                timeout_ms=60_000,
            )
            size = page.evaluate(
                "() => { const i = document.querySelector('img[data-camera=\"cam0\"]'); "
                "return [i.naturalWidth, i.naturalHeight]; }"
            )
            assert size == [420, 420], "the camera's own frames (420x420), not a placeholder"
            wait_until(
                page,
                "() => document.querySelector('section[data-camera=\"cam0\"] [data-role=state]')"
                ".textContent === 'online'",
            )
            # The people line names what the model sees once a window (~1.5 s) has been classified.
            wait_until(
                page,
                "() => document.querySelector('section[data-camera=\"cam0\"] .people .chip') !== null",
                timeout_ms=60_000,
            )
            assert "online" in page.inner_text('section[data-camera="cam0"] ul.events').lower()
            time.sleep(1.0)  # let a few more frames arrive for the screenshot
            page.screenshot(path=str(artifacts_dir / "web-live.png"), full_page=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        rtsp.stop()
    assert proc.returncode == 0, log.read_text()[-3000:]
