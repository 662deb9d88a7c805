"""The ffmpeg child behind network and file sources: frames and pts, kill at any moment, no zombies,
no URL on its command line."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import capture.ffmpeg as ffmpeg_module
from capture.ffmpeg import FfmpegDecoder, ffconcat, live_children
from capture.sources import SourceError, SourceOptions, open_source
from tests.capture.conftest import PASSWORD, child_processes, write_video


def file_decoder(path: Path, cancel: threading.Event | None = None) -> FfmpegDecoder:
    decoder = FfmpegDecoder(["-nostdin", "-i", f"file:{path}"], cancel=cancel)
    decoder.start()
    return decoder


def test_decoder_reads_every_frame_with_pts_and_size(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", frames=30, fps=25.0, size=(64, 48))
    decoder = file_decoder(path)
    frames = []
    while (got := decoder.read_frame(timeout=10)) is not None:
        frames.append(got)
    decoder.close()
    assert [meta.index for meta, _ in frames] == list(range(30))
    assert [meta.pts_s for meta, _ in frames] == pytest.approx([i / 25 for i in range(30)], abs=1e-3)
    assert all(img.shape == (48, 64, 3) and img.dtype == np.uint8 for _, img in frames)
    levels = [float(np.median(img)) for _, img in frames]  # frame i has grey level 7 i
    assert all(abs(level - i * 7) <= 6 for i, level in enumerate(levels)), levels
    assert decoder.declared_fps == pytest.approx(25.0)
    assert decoder.returncode == 0
    assert decoder.cpu_seconds() > 0  # exact, from wait4 when it was reaped


def test_kill_from_another_thread_ends_a_blocked_read_at_once() -> None:
    # ffmpeg reading an endless live input from a TCP port that never sends anything: it blocks.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        decoder = FfmpegDecoder(["-f", "h264", "-i", f"tcp://127.0.0.1:{port}"])
        decoder.start()
        result: list[object] = []
        reader = threading.Thread(target=lambda: result.append(decoder.read_frame()))
        reader.start()
        time.sleep(0.5)
        assert reader.is_alive(), "the read is blocked"
        started = time.monotonic()
        decoder.kill()
        reader.join(2.0)
        took = time.monotonic() - started
        decoder.close()
    assert not reader.is_alive() and result == [None]
    assert took < 1.0
    assert decoder.returncode is not None and decoder.pid not in live_children()


def test_cancel_event_ends_a_wait_within_a_tick() -> None:
    cancel = threading.Event()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        decoder = FfmpegDecoder(["-f", "h264", "-i", f"tcp://127.0.0.1:{port}"], cancel=cancel)
        decoder.start()
        threading.Timer(0.3, cancel.set).start()
        started = time.monotonic()
        assert decoder.next_meta() is None
        assert time.monotonic() - started < 1.0
        decoder.close()


def test_closed_decoders_leave_no_process_and_no_zombie(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", frames=200)
    before = {p.pid for p in child_processes()}
    for _ in range(5):
        decoder = file_decoder(path)
        assert decoder.read_frame(timeout=10) is not None  # killed in the middle of the file
        decoder.close()
    assert live_children() == []
    left = [p for p in child_processes() if p.pid not in before]
    assert left == [], f"child processes left: {left}"


def test_ffconcat_quotes_the_url_and_refuses_line_breaks() -> None:
    text = ffconcat("rtsp://u:it's@h/x", {"rtsp_transport": "tcp"}).decode()
    assert text == "ffconcat version 1.0\nfile 'rtsp://u:it'\\''s@h/x'\noption rtsp_transport tcp\n"
    with pytest.raises(ValueError, match="line break"):
        ffconcat("rtsp://h/x\nfile '/etc/passwd'", {})


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a camera that hangs in the handshake)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_camera_password_is_not_on_the_ffmpeg_command_line(silent_server: int) -> None:
    url = f"rtsp://admin:{PASSWORD}@127.0.0.1:{silent_server}/stream?token={PASSWORD}x"
    source = open_source(url, camera_id="door", options=SourceOptions(open_timeout_s=3.0, read_timeout_s=2.0))
    seen: list[str] = []

    def watch() -> None:
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline and not seen:
            seen.extend(p.cmdline for p in child_processes() if p.comm == "ffmpeg")
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        source.open()
    took = time.monotonic() - started
    watcher.join()
    assert seen, "ffmpeg was started"
    assert not [c for c in seen if PASSWORD in c or "admin" in c], seen
    assert "pipe:0" in seen[0] and "concat" in seen[0]
    message = str(info.value)
    assert PASSWORD not in message and "admin" not in message and "127.0.0.1" in message
    assert took < 3.5, f"open gave up after {took:.1f} s (open timeout 3 s)"
    assert live_children() == []


def test_frames_without_their_showinfo_line_are_an_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If an ffmpeg version ever printed frame info differently, open() says so instead of waiting."""
    path = write_video(tmp_path / "v.mp4", frames=10)
    no_showinfo = tuple(a.replace("showinfo=checksum=0", "null") for a in ffmpeg_module.OUTPUT_ARGS)
    monkeypatch.setattr(ffmpeg_module, "OUTPUT_ARGS", no_showinfo)
    source = open_source(str(path), camera_id="c")
    with pytest.raises(SourceError, match="output is not understood"):
        source.open()
    assert live_children() == []
