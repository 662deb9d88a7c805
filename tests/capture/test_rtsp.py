"""CaptureThread against a real RTSP server (GStreamer): rate, drops, outages, freezes, clean stop."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from capture.frame import Frame
from capture.queue import FrameQueue
from capture.sources import SourceOptions, open_source
from capture.state import SourceState
from capture.thread import CaptureThread, WatchdogOptions
from tests.capture.conftest import PASSWORD, StateLog, capture_threads, wait_no_capture_threads
from tests.rtsp_server import RtspServer

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]

FAST_WATCHDOG = WatchdogOptions(stall_timeout_s=2.0, initial_backoff_s=0.25, max_backoff_s=1.0)
# read_timeout 2 s: a read on a frozen server blocks ~6 s, so the 2 s watchdog must be what sees it.
OPTIONS = SourceOptions(open_timeout_s=4.0, read_timeout_s=2.0)


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
    url: str, state_log: StateLog, *, maxsize: int = 4, watchdog: WatchdogOptions = FAST_WATCHDOG
) -> tuple[CaptureThread, FrameQueue]:
    source = open_source(url, camera_id="cam", options=OPTIONS)
    queue = FrameQueue(maxsize=maxsize, lossless=False)
    capture = CaptureThread(source, queue, threading.Event(), on_state=state_log, watchdog=watchdog)
    capture.start()
    return capture, queue


def stop_capture(capture: CaptureThread) -> None:
    capture.stop()
    assert capture.join(3.0), f"capture did not stop: {capture.threads_alive()}"


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
    assert all(r < 8.0 for r in resumed_after), f"resumed {resumed_after} s after each server return"
    assert capture.reconnects >= 3
    frames = consumer.frames
    assert all(b.pts > a.pts and b.seq > a.seq for a, b in itertools.pairwise(frames))
    # No thread left behind: readers of the dead connections and the capture thread all ended.
    assert wait_no_capture_threads({t.name for t in before}) == set()
    assert {t for t in threading.enumerate() if t.is_alive()} <= set(before) | {threading.current_thread()}
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
    # Detected by the watchdog (2 s), well before OpenCV's own read gives up (~3 x 2 s).
    # (The last real frame may have left the server a moment before the freeze.)
    stall = FAST_WATCHDOG.stall_timeout_s
    assert stall - 0.5 <= silence <= stall + 2.5, f"stall seen {silence:.2f} s after the freeze"
    assert stalled.reason.startswith("no frame for 2.")
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
            time.sleep(1.5)  # buffered frames are gone; the reader sits in cv2.VideoCapture.read()
            readers = [name for name in capture.threads_alive() if "reader" in name]
            started = time.monotonic()
            capture.stop()
            assert capture.join(2.5)
            stopped_in = time.monotonic() - started
        finally:
            rtsp_server.thaw()
    assert stopped_in < 2.5
    assert readers, "a reader thread was running"
    # The abandoned reader returns from OpenCV, releases the capture and ends by itself.
    assert wait_no_capture_threads(before, timeout=15) == set()


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
