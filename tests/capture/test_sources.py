"""Sources: spec parsing, options, clear errors, and files read losslessly (real videos, real ffmpeg)."""

from __future__ import annotations

import itertools
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from capture.clock import LiveClock
from capture.sources import (
    FileSource,
    RtspSource,
    SourceError,
    SourceOptions,
    SourceUnreachableError,
    WebcamSource,
    open_source,
)
from tests.capture.conftest import ABSENT_WEBCAM, UNREADABLE, make_unreadable, write_video
from tests.rtsp_server import free_port

OPTS = SourceOptions()


# -- spec parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        (0, WebcamSource),
        ("2", WebcamSource),
        (" 1 ", WebcamSource),
        ("/dev/video3", WebcamSource),
        ("rtsp://admin:pw@192.168.1.10:554/Streaming/Channels/101", RtspSource),
        ("rtsps://cam.local/live", RtspSource),
        ("http://cam.local/mjpg/video.mjpg", RtspSource),
    ],
)
def test_open_source_picks_the_kind(spec: str | int, kind: type) -> None:
    source = open_source(spec, camera_id="c", options=OPTS)
    assert type(source) is kind
    assert source.is_live


def test_webcam_spec_is_parsed_to_device() -> None:
    assert open_source("2", camera_id="c").describe() == "camera 'c': webcam /dev/video2"  # type: ignore[arg-type]
    assert open_source(0, camera_id="c", options=OPTS).device == 0  # type: ignore[attr-defined]
    assert open_source("/dev/video5", camera_id="c", options=OPTS).device == "/dev/video5"  # type: ignore[attr-defined]


def test_file_spec_and_file_url(small_video: Path) -> None:
    for spec in (str(small_video), f"file://{small_video}"):
        source = open_source(spec, camera_id="f", options=OPTS)
        assert isinstance(source, FileSource) and not source.is_live
        assert source.path == small_video


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "source is empty"),
        (-1, "webcam index must be >= 0"),
        ("ftp://user:pw@host/video", "unsupported source scheme 'ftp'"),
        ("rtsp:///stream", "has no host"),
        ("rtsp://user:pw@host:99999/x", "malformed URL"),
        ("/no/such/video.mp4", "video file not found: /no/such/video.mp4"),
    ],
)
def test_bad_specs_raise_clear_masked_errors(spec: str | int, message: str) -> None:
    with pytest.raises(SourceError, match=message) as info:
        open_source(spec, camera_id="c", options=OPTS)
    assert "pw" not in str(info.value)


def test_directory_is_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is not a file"):
        open_source(str(tmp_path), camera_id="c", options=OPTS)


def test_source_options_validated() -> None:
    with pytest.raises(ValueError, match=r"transport must be one of \('tcp', 'udp'\), got 'sctp'"):
        SourceOptions(transport="sctp")
    with pytest.raises(ValueError, match="open_timeout_s"):
        SourceOptions(open_timeout_s=0)
    with pytest.raises(ValueError, match="width"):
        SourceOptions(width=0)
    with pytest.raises(ValueError, match="fps"):
        SourceOptions(fps=-5.0)
    assert SourceOptions(transport="udp", width=1280, height=720, fps=30).height == 720


def test_rtsp_describe_and_repr_are_masked() -> None:
    source = open_source(
        "rtsp://admin:hunter2@10.1.2.3:8554/cam?password=xyz", camera_id="door", options=OPTS
    )
    for text in (source.describe(), repr(source)):
        assert "hunter2" not in text and "xyz" not in text and "admin" not in text
        assert "10.1.2.3:8554/cam" in text and "door" in text


# -- webcams (no camera exists on this machine) -----------------------------------------------------


def test_missing_webcam_gives_clear_error() -> None:
    device = f"/dev/video{ABSENT_WEBCAM}"
    for spec in (ABSENT_WEBCAM, device):
        source = open_source(spec, camera_id="cam", options=SourceOptions(width=640, height=480, fps=30))
        with pytest.raises(SourceError, match=rf"webcam {device} does not exist.*ls /dev/video\*"):
            source.open()
        source.release()  # safe after a failed open


# -- files ------------------------------------------------------------------------------------------


def read_all(source: FileSource, limit: int = 100_000) -> list[tuple[float, np.ndarray]]:
    source.open()
    out = []
    try:
        while len(out) < limit and (got := source.read()) is not None:
            out.append(got)
    finally:
        source.release()
    return out


def test_file_every_frame_once_in_order(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", frames=40, fps=25.0)
    frames = read_all(FileSource(path, "f", OPTS))
    capture = cv2.VideoCapture(str(path))
    expected = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    assert len(frames) == expected == 40
    pts = [p for p, _ in frames]
    assert pts[0] == pytest.approx(0.0, abs=1e-6)
    assert np.allclose(np.diff(pts), 1 / 25, atol=1e-3)
    # Frame i was written with grey level (7 i) mod 256: the order and the absence of repeats show up in it.
    levels = [float(np.median(img)) for _, img in frames]
    assert all(abs(level - (i * 7) % 256) <= 6 for i, level in enumerate(levels)), levels
    assert all(img.dtype == np.uint8 and img.shape == (48, 64, 3) for _, img in frames)


def test_real_wave_video_has_125_frames(shared_data: Path, ffprobe: str) -> None:
    path = shared_data / "videos" / "omkarnagarkar55_wave.mp4"
    source = open_source(str(path), camera_id="wave", options=OPTS)
    assert isinstance(source, FileSource)
    frames = read_all(source)
    assert len(frames) == 125
    assert source.fps == pytest.approx(10.0)
    pts = [p for p, _ in frames]
    assert all(b > a for a, b in itertools.pairwise(pts))
    assert frames[0][1].shape == (420, 420, 3)
    counted = subprocess.run(
        [ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    assert int(counted) == 125


def test_corrupt_file_gives_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "camera.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    source = open_source(str(bad), camera_id="c", options=OPTS)
    with pytest.raises(SourceError, match="corrupt, truncated or not a video"):
        source.open()


@pytest.mark.parametrize("kind", sorted(UNREADABLE))
def test_unreadable_files_fail_to_open_with_what_is_wrong(tmp_path: Path, kind: str) -> None:
    path = make_unreadable(tmp_path, kind)
    source = open_source(str(path), camera_id="c", options=OPTS)
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        source.open()
    assert time.monotonic() - started < OPTS.open_timeout_s  # an answer, not a timeout
    message = str(info.value)
    assert f"cannot read {path} as a video" in message and UNREADABLE[kind] in message, message
    source.release()


def test_refused_connection_says_refused_not_timeout() -> None:
    port = free_port()
    source = open_source(f"rtsp://127.0.0.1:{port}/cam", camera_id="c", options=OPTS)
    started = time.monotonic()
    with pytest.raises(SourceUnreachableError) as info:
        source.open()
    took = time.monotonic() - started
    message = str(info.value)
    assert f"connection to 127.0.0.1:{port} refused after 0.0" in message, message
    assert "timeout" not in message and took < 1.0


def test_unknown_host_says_so() -> None:
    source = open_source("rtsp://user:pw@camera.invalid/stream", camera_id="c", options=OPTS)
    expected = r"cannot resolve the host name 'camera\.invalid'"
    with pytest.raises(SourceUnreachableError, match=expected) as info:
        source.open()
    assert "pw" not in str(info.value)


def test_file_deleted_after_parsing_gives_clear_error(small_video: Path) -> None:
    source = open_source(str(small_video), camera_id="c", options=OPTS)
    small_video.unlink()
    with pytest.raises(SourceError, match="video file not found"):
        source.open()


def test_file_loop_keeps_pts_increasing(tmp_path: Path) -> None:
    path = write_video(tmp_path / "loop.mp4", frames=10, fps=25.0)
    frames = read_all(FileSource(path, "f", SourceOptions(loop=True)), limit=35)
    assert len(frames) == 35
    pts = [p for p, _ in frames]
    assert np.allclose(np.diff(pts), 1 / 25, atol=1e-3)  # one frame interval across each wrap too
    assert float(np.median(frames[0][1])) == pytest.approx(float(np.median(frames[10][1])), abs=3)


def test_file_realtime_pacing(tmp_path: Path) -> None:
    path = write_video(tmp_path / "paced.mp4", frames=11, fps=25.0)
    started = time.monotonic()
    frames = read_all(FileSource(path, "f", SourceOptions(realtime=True)))
    elapsed = time.monotonic() - started
    assert len(frames) == 11
    assert elapsed >= 0.35, f"11 frames at 25 fps need >= 0.4 s when paced, took {elapsed:.2f} s"


def test_read_before_open_is_a_programming_error(small_video: Path) -> None:
    with pytest.raises(RuntimeError, match="before open"):
        FileSource(small_video, "f", OPTS).read()


# -- live timestamps --------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_live_clock_uses_stream_spacing_and_stays_continuous() -> None:
    clock = FakeClock()
    live = LiveClock(max_drift_s=2.0, clock=clock)
    live.new_session()
    first = live.pts(5.0)  # stream time 5 s at monotonic 100 s
    assert first == 100.0
    clock.now = 100.001  # a burst of buffered frames arrives at once: stream spacing is kept
    assert live.pts(5.04) == pytest.approx(100.04)
    assert live.pts(5.08) == pytest.approx(100.08)
    clock.now = 100.2
    assert live.pts(5.08) == pytest.approx(100.2)  # not increasing -> monotonic clock
    clock.now = 110.0
    assert live.pts(5.12) == pytest.approx(110.0)  # 10 s gap on the same connection -> re-anchored
    live.new_session()  # reconnect: stream time restarts at 0, pts continue
    clock.now = 109.0
    pts = live.pts(0.0)
    assert pts > 110.0
    clock.now = 109.5
    assert live.pts(0.04) == pytest.approx(pts + 0.04)


def test_live_clock_without_stream_time_is_monotonic() -> None:
    clock = FakeClock()
    live = LiveClock(clock=clock)
    values = []
    for i in range(5):
        clock.now = 100.0 + i * 0.033
        values.append(live.pts(None if i % 2 else 0.0))
    assert values == pytest.approx([100.0 + i * 0.033 for i in range(5)])


def test_reopening_a_file_starts_again_at_pts_zero(small_video: Path) -> None:
    source = FileSource(small_video, "f", OPTS)
    first, second = read_all(source), read_all(source)
    assert len(first) == len(second) == 40
    assert [p for p, _ in first] == [p for p, _ in second]
