"""Fixtures for capture tests: a real RTSP server (GStreamer) and small generated videos."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from capture.state import SourceState, StateChange
from tests.rtsp_server import RtspServer, unavailable_reason

PASSWORD = "Sup3rS3cretPw"  # put in URLs; must never show up in any output
# A webcam index with no /dev/videoN on this machine, for the missing-webcam errors.
ABSENT_WEBCAM = next(n for n in range(97, 1000) if not Path(f"/dev/video{n}").exists())


@dataclass(frozen=True)
class Proc:
    pid: int
    comm: str
    state: str  # R, S, D, Z (zombie), ...
    cmdline: str  # what every local user can read in /proc/PID/cmdline


def child_processes(parent: int | None = None) -> list[Proc]:
    """Processes whose parent is ``parent`` (default: this one), zombies included, read from /proc."""
    parent = os.getpid() if parent is None else parent
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent:
            out.append(Proc(int(entry.name), comm, fields[0], cmdline.strip()))
    return out


def capture_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("capture-")}


def wait_no_capture_threads(before: set[str], timeout: float = 15.0) -> set[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leaked = capture_threads() - before
        if not leaked:
            return leaked
        time.sleep(0.1)
    return capture_threads() - before


@pytest.fixture
def rtsp_server_factory(tmp_path: Path) -> Iterator[Callable[..., RtspServer]]:
    """Start RTSP servers (``RtspServer(**kwargs)``), all stopped at the end; skips without GStreamer."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    servers: list[RtspServer] = []

    def start(**kwargs: object) -> RtspServer:
        server = RtspServer(log_path=tmp_path / f"rtsp-server-{len(servers)}.log", **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def rtsp_server(rtsp_server_factory: Callable[..., RtspServer]) -> RtspServer:
    """A live 320x240 25 fps test pattern with a time overlay at ``rtsp_server.url``."""
    return rtsp_server_factory()


def write_video(path: Path, frames: int, fps: float = 25.0, size: tuple[int, int] = (64, 48)) -> Path:
    """A small real video whose frame i shows the number i in its pixels (mean brightness ~ i)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    assert writer.isOpened(), "cv2.VideoWriter could not open an mp4v writer"
    for i in range(frames):
        image = np.full((size[1], size[0], 3), (i * 7) % 256, dtype=np.uint8)
        cv2.putText(image, str(i), (2, size[1] - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        writer.write(image)
    writer.release()
    return path


def make_unreadable(tmp_path: Path, kind: str) -> Path:
    """Files a user may really hand us that are no readable video."""
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("these are my holiday notes, not a video\n")
    elif kind == "truncated":  # cv2's MP4 writer puts the index (moov) at the end: cut before it
        whole = write_video(tmp_path / "whole.mp4", frames=40).read_bytes()
        path.write_bytes(whole[: len(whole) * 6 // 10])
    elif kind == "audio_only":
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", "-y", str(path)],
            check=True, timeout=60,
        )  # fmt: skip
    return path


UNREADABLE = {
    "empty": "the file is empty (0 bytes)",
    "text": "FFmpeg does not recognise it as a video",
    "truncated": "the recording was cut off before it was finished",
    "audio_only": "the file has no video stream",
}


@pytest.fixture
def small_video(tmp_path: Path) -> Path:
    """40 frames, 25 fps, 64x48, written with cv2.VideoWriter."""
    return write_video(tmp_path / "small.mp4", frames=40)


class StateLog:
    """Collects StateChange events from the capture thread; tests wait on it."""

    def __init__(self) -> None:
        self.changes: list[StateChange] = []
        self._cond = threading.Condition()

    def __call__(self, change: StateChange) -> None:
        with self._cond:
            self.changes.append(change)
            self._cond.notify_all()

    def states(self) -> list[SourceState]:
        with self._cond:
            return [c.state for c in self.changes]

    def wait_for(self, state: SourceState, timeout: float, after: int = 0) -> StateChange:
        """The first change to ``state`` at index >= ``after``; fails the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for change in self.changes[after:]:
                    if change.state is state:
                        return change
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(c.state.value, c.reason) for c in self.changes]
                    raise AssertionError(f"no {state.value} within {timeout} s; states so far: {seen}")
                self._cond.wait(remaining)


@pytest.fixture
def state_log() -> StateLog:
    return StateLog()
