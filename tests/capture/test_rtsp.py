"""CaptureThread against a real RTSP server (GStreamer): rate, drops, outages, freezes, clean stop,
SIGTERM while the server is frozen, and no thread or ffmpeg process left behind."""

from __future__ import annotations

import itertools
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from capture.ffmpeg import live_children
from capture.frame import Frame
from capture.queue import FrameQueue
from capture.sources import SourceOptions, open_source
from capture.state import SourceState
from capture.thread import CaptureThread, WatchdogOptions
from tests.capture.conftest import (
    PASSWORD,
    StateLog,
    capture_threads,
    child_processes,
    wait_no_capture_threads,
)
from tests.conftest import ROOT
from tests.rtsp_server import RtspServer

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]

# healthy_after_s 1: a camera online for a second counts as healthy, so losing it means quick retries.
FAST_WATCHDOG = WatchdogOptions(
    stall_timeout_s=2.0, initial_backoff_s=0.25, max_backoff_s=1.0, healthy_after_s=1.0
)
# read_timeout 3 s: ffmpeg gives up a frozen read after 3 s, so the 2 s watchdog must be what sees it.
OPTIONS = SourceOptions(open_timeout_s=4.0, read_timeout_s=3.0)


class Consumer:
    """Takes frames off the queue in a thread, optionally slowly, and remembers them."""

    def __init__(self, queue: FrameQueue, delay: float = 0.0) -> None:
        self.queue = queue
        self.delay = delay
        self.frames: list[Frame] = []
        self.max_qsize = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-consumer", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.max_qsize = max(self.max_qsize, self.queue.qsize())
            frame = self.queue.get(timeout=0.1)
            if frame is not None:
                self.frames.append(frame)
                if self.delay:
                    time.sleep(self.delay)

    def __enter__(self) -> Consumer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def count(self) -> int:
        return len(self.frames)


def start_capture(
    url: str,
    state_log: StateLog,
    *,
    maxsize: int = 4,
    watchdog: WatchdogOptions = FAST_WATCHDOG,
    options: SourceOptions | None = OPTIONS,
) -> tuple[CaptureThread, FrameQueue]:
    source = open_source(url, camera_id="cam", options=options)
    queue = FrameQueue(maxsize=maxsize, lossless=False)
    capture = CaptureThread(source, queue, threading.Event(), on_state=state_log, watchdog=watchdog)
    capture.start()
    return capture, queue


def stop_capture(capture: CaptureThread) -> None:
    capture.stop()
    assert capture.join(3.0), f"capture did not stop: {capture.threads_alive()}"


def ffmpeg_children() -> list[str]:
    """ffmpeg processes of this test process, zombies included (state Z)."""
    return [f"{p.pid} {p.state}" for p in child_processes() if p.comm == "ffmpeg"]


def test_frames_arrive_at_source_rate(rtsp_server: RtspServer, state_log: StateLog) -> None:
    capture, queue = start_capture(rtsp_server.url, state_log)
    with Consumer(queue) as consumer:
        state_log.wait_for(SourceState.ONLINE, timeout=20)
        time.sleep(1.0)  # let the burst FFmpeg buffers while probing the stream pass
        n0, t0 = capture.frames_captured, time.monotonic()
        time.sleep(3.0)
        rate = (capture.frames_captured - n0) / (time.monotonic() - t0)
    stop_capture(capture)
    frames = consumer.frames
    assert 15 <= rate <= 35, f"source sends 25 fps, captured {rate:.1f}/s"
    assert capture.fps == pytest.approx(25.0, rel=0.2)
    assert all(b.pts > a.pts for a, b in itertools.pairwise(frames))
    assert all(b.seq > a.seq for a, b in itertools.pairwise(frames))
    assert (frames[0].width, frames[0].height) == (320, 240)
    assert queue.peak <= 4 and consumer.max_qsize <= 4


def test_slow_consumer_drops_are_counted(rtsp_server: RtspServer, state_log: StateLog) -> None:
    capture, queue = start_capture(rtsp_server.url, state_log, maxsize=2)
    with Consumer(queue, delay=0.2) as consumer:
        state_log.wait_for(SourceState.ONLINE, timeout=20)
        time.sleep(3.0)
    stop_capture(capture)
    dropped = capture.frames_dropped.get("queue_full", 0)
    assert dropped > 20 and dropped == queue.dropped
    assert queue.peak <= 2
    assert capture.frames_captured == consumer.count() + dropped + queue.qsize()
    seqs = [f.seq for f in consumer.frames]
    assert seqs == sorted(seqs) and seqs[-1] - seqs[0] > len(seqs)  # newest frames kept, gaps between


def test_server_restarted_three_times(
    rtsp_server: RtspServer,
    state_log: StateLog,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    before = threading.enumerate()
    capture, queue = start_capture(rtsp_server.url_with_credentials("viewer", PASSWORD), state_log)
    resumed_after: list[float] = []
    with Consumer(queue) as consumer:
        state_log.wait_for(SourceState.ONLINE, timeout=20)
        for _ in range(3):
            time.sleep(1.2)  # online long enough to count as healthy
            mark = len(state_log.changes)
            rtsp_server.kill()
            outage = state_log.wait_for(SourceState.RECONNECTING, timeout=15, after=mark)
            assert outage.previous is SourceState.ONLINE
            time.sleep(1.0)  # the camera stays away a moment
            frames_before = consumer.count()
            rtsp_server.start()
            back = time.monotonic()
            online = state_log.wait_for(SourceState.ONLINE, timeout=20, after=mark)
            resumed_after.append(online.at - back)
            deadline = time.monotonic() + 10
            while consumer.count() <= frames_before and time.monotonic() < deadline:
                time.sleep(0.05)
            assert consumer.count() > frames_before, "frames flow again"
    stop_capture(capture)
    # Each camera was healthy (online > 1 s), so it was retried every 0.25 s while the port refused:
    # back as soon as the server answers (~0.5 s of ffmpeg start and RTSP setup), no backoff wait.
    assert all(r < 3.0 for r in resumed_after), f"resumed {resumed_after} s after each server return"
    assert capture.reconnects >= 3
    frames = consumer.frames
    assert all(b.pts > a.pts and b.seq > a.seq for a, b in itertools.pairwise(frames))
    # No thread left behind: readers of the dead connections and the capture thread all ended.
    assert wait_no_capture_threads({t.name for t in before}) == set()
    assert {t for t in threading.enumerate() if t.is_alive()} <= set(before) | {threading.current_thread()}
    # No ffmpeg left behind either, not even a zombie.
    assert live_children() == [] and ffmpeg_children() == []
    # Credentials never left the URL: not in logs, state reasons, reprs, nor OpenCV's own stderr.
    out, err = capfd.readouterr()
    texts = [r.getMessage() for r in caplog.records] + [c.reason for c in state_log.changes]
    texts += [repr(capture), capture.source.describe(), out, err]
    assert not [t for t in texts if PASSWORD in t or "viewer" in t]
    assert any("***:***@127.0.0.1" in t for t in texts)


def test_frozen_server_stalls_then_recovers(rtsp_server: RtspServer, state_log: StateLog) -> None:
    capture, queue = start_capture(rtsp_server.url, state_log)
    with Consumer(queue) as consumer:
        state_log.wait_for(SourceState.ONLINE, timeout=20)
        time.sleep(1.0)
        mark = len(state_log.changes)
        rtsp_server.freeze()
        frozen_at = time.monotonic()
        try:
            stalled = state_log.wait_for(SourceState.STALLED, timeout=15, after=mark)
            silence = stalled.at - frozen_at
            time.sleep(1.0)
        finally:
            rtsp_server.thaw()
        thawed = time.monotonic()
        online = state_log.wait_for(SourceState.ONLINE, timeout=30, after=mark)
        frames_at_online = consumer.count()
        time.sleep(1.0)
        assert consumer.count() > frames_at_online
    stop_capture(capture)
    # Detected by the watchdog (2 s), before ffmpeg's own read gives up (3 s).
    # (The last real frame may have left the server a moment before the freeze.)
    assert 1.5 <= silence <= 3.0, f"stall seen {silence:.2f} s after the freeze"
    assert stalled.reason.startswith("no frame for 2.") and "stall timeout 2 s" in stalled.reason
    assert online.at - thawed < 20.0
    assert state_log.states()[mark:][:2] == [SourceState.STALLED, SourceState.RECONNECTING], state_log.changes


def test_stop_returns_while_a_read_is_blocked(rtsp_server: RtspServer, state_log: StateLog) -> None:
    before = capture_threads()
    slow_watchdog = WatchdogOptions(stall_timeout_s=30.0)  # the watchdog must not be what ends it
    capture, queue = start_capture(rtsp_server.url, state_log, watchdog=slow_watchdog)
    with Consumer(queue):
        state_log.wait_for(SourceState.ONLINE, timeout=20)
        rtsp_server.freeze()
        try:
            time.sleep(1.5)  # buffered frames are gone; the reader waits for ffmpeg's next frame
            readers = [name for name in capture.threads_alive() if "reader" in name]
            started = time.monotonic()
            capture.stop()
            assert capture.join(2.5)
            stopped_in = time.monotonic() - started
        finally:
            rtsp_server.thaw()
    assert stopped_in < 2.5
    assert readers, "a reader thread was running"
    # The reader waited in poll(): it saw the stop within a tick and killed and reaped its ffmpeg.
    assert wait_no_capture_threads(before, timeout=1.0) == set()
    assert live_children() == [] and ffmpeg_children() == []


def test_looping_file_server_for_service_tests(
    rtsp_server_factory: Callable[..., RtspServer], shared_data: Path, state_log: StateLog
) -> None:
    server = rtsp_server_factory(source=str(shared_data / "videos" / "omkarnagarkar55_wave.mp4"))
    capture, queue = start_capture(server.url, state_log, maxsize=64)
    with Consumer(queue) as consumer:
        state_log.wait_for(SourceState.ONLINE, timeout=30)
        time.sleep(3.0)
    stop_capture(capture)
    assert consumer.frames[0].image.shape == (420, 420, 3)
    assert capture.fps == pytest.approx(10.0, rel=0.2)


def test_frozen_server_with_default_settings(rtsp_server: RtspServer, state_log: StateLog) -> None:
    """Default options and watchdog: stalled within 5 s of the freeze, back soon after the thaw."""
    capture, queue = start_capture(rtsp_server.url, state_log, watchdog=WatchdogOptions(), options=None)
    with Consumer(queue):
        state_log.wait_for(SourceState.ONLINE, timeout=20)
        time.sleep(6.0)  # healthy (online longer than healthy_after_s = 5 s)
        assert capture.stall_timeout_s == 3.0  # 25 fps: 25 frame intervals = 1 s, raised to the 3 s floor
        mark = len(state_log.changes)
        rtsp_server.freeze()
        frozen_at = time.monotonic()
        try:
            stalled = state_log.wait_for(SourceState.STALLED, timeout=10, after=mark)
            time.sleep(2.0)
        finally:
            rtsp_server.thaw()
        thawed = time.monotonic()
        online = state_log.wait_for(SourceState.ONLINE, timeout=20, after=mark)
    stop_capture(capture)
    silence, back = stalled.at - frozen_at, online.at - thawed
    assert silence <= 5.0, f"stalled {silence:.2f} s after the freeze"
    # The reopen attempt was already waiting on the frozen server: it is answered on the thaw.
    assert back < 3.0, f"online {back:.2f} s after the thaw"
    print(f"default settings: stalled {silence:.2f} s after the freeze, online {back:.2f} s after the thaw")


def run_until_online(argv: list[str], marker: str, timeout: float = 120.0) -> subprocess.Popen[str]:
    """Start a child process and wait for a line with ``marker`` on its stdout or stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout, proc.stderr], [], [], 0.5)
        for stream in ready:
            line = stream.readline()
            seen.append(line)
            if marker in line:
                return proc
    proc.kill()
    raise AssertionError(f"never online (exit code {proc.poll()}):\n{''.join(seen)[-3000:]}")


def sigterm_while_frozen(
    server: RtspServer, proc: subprocess.Popen[str], frozen_s: float
) -> tuple[int, float, str]:
    """Freeze the server, SIGTERM the process ``frozen_s`` later; its exit code, stop time and stderr."""
    ffmpegs = [p.pid for p in child_processes(proc.pid) if p.comm == "ffmpeg"]
    server.freeze()
    try:
        time.sleep(frozen_s)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = -999
        took = time.monotonic() - started
    finally:
        server.thaw()
    _, err = proc.communicate(timeout=10)
    left = [pid for pid in ffmpegs if Path(f"/proc/{pid}").exists()]
    assert not left, f"ffmpeg {left} outlived its parent"
    return code, took, err


def test_sigterm_while_the_server_is_frozen_exits_0_every_time(rtsp_server: RtspServer) -> None:
    """The bug this design removes: a reader blocked in a frozen read crashed the process at exit."""
    url = rtsp_server.url_with_credentials("viewer", PASSWORD)
    runs = []
    for i in range(10):
        proc = run_until_online([sys.executable, "-m", "tests.capture.sigterm_child", url], "online")
        # SIGTERM at different moments of the freeze: before, around and after the stall timeout.
        code, took, err = sigterm_while_frozen(rtsp_server, proc, frozen_s=0.5 + (i % 5) * 1.0)
        runs.append((code, round(took, 2)))
        assert code == 0, f"run {i}: exit code {code} after {took:.2f} s; runs so far {runs}\n{err[-3000:]}"
        assert took <= 5.0, f"run {i}: stopped in {took:.2f} s; runs so far {runs}"
        assert "Traceback" not in err and "FATAL" not in err, err[-3000:]
    print("sigterm during a freeze (exit code, seconds):", runs)


def test_serve_exits_0_on_sigterm_while_the_server_is_frozen(rtsp_server: RtspServer) -> None:
    """The same through the real service: ``actionstream serve`` with the MediaPipe backend.

    The service's own stop (logged as "stopped in N s") is what capture decides: it would be >= 3 s
    (its join timeout) if a capture did not stop. After it the interpreter unloads torch and
    MediaPipe, which takes 1.5-6 s here depending on the machine's load: bounded loosely.
    """
    argv = [sys.executable, "-m", "service", "serve", "--source", rtsp_server.url, "--backend", "mediapipe"]
    argv += ["--zmq-bind", "tcp://127.0.0.1:0", "--http-port", "0"]
    proc = run_until_online(argv, "cam0 online: ")  # the state change in serve's console
    time.sleep(1.0)
    code, took, err = sigterm_while_frozen(rtsp_server, proc, frozen_s=2.0)
    assert code == 0, f"exit code {code} after {took:.2f} s\n{err[-3000:]}"
    stopped = re.search(r"stopped in (\d+\.\d+) s", err)
    assert stopped is not None, err[-3000:]
    assert float(stopped.group(1)) < 2.0, f"the service took {stopped.group(1)} s to stop"
    assert took < 15.0, f"serve exited {took:.2f} s after SIGTERM"
    print(f"serve: stopped in {stopped.group(1)} s, exited {took:.2f} s after SIGTERM")
