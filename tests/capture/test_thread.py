"""CaptureThread without an RTSP server: files (lossless, ENDED, clear errors), backoff, masking."""

from __future__ import annotations

import itertools
import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from capture.base import SourceError, SourceUnreachableError, VideoSource
from capture.frame import Frame
from capture.queue import FrameQueue
from capture.sources import FileSource, RtspSource, SourceOptions, open_source
from capture.state import SourceState, StateChange
from capture.thread import CaptureThread, WatchdogOptions
from tests.capture.conftest import (
    PASSWORD,
    UNREADABLE,
    StateLog,
    capture_threads,
    make_unreadable,
    wait_no_capture_threads,
    write_video,
)
from tests.rtsp_server import free_port


def drain(
    queue: FrameQueue, capture: CaptureThread, delay: float = 0.0, timeout: float = 60.0
) -> list[Frame]:
    """Consume until the capture thread is done and the queue is empty."""
    out: list[Frame] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = queue.get(timeout=0.1)
        if frame is None:
            if not capture.is_alive() and queue.qsize() == 0:
                return out
            continue
        out.append(frame)
        if delay:
            time.sleep(delay)
    raise AssertionError(f"capture did not finish within {timeout} s ({len(out)} frames)")


# -- watchdog options -------------------------------------------------------------------------------


def test_backoff_grows_exponentially_is_bounded_and_jittered() -> None:
    wd = WatchdogOptions(initial_backoff_s=0.5, max_backoff_s=4.0, backoff_multiplier=2.0, jitter=0.0)
    rng = random.Random(1)
    assert [wd.backoff_s(n, rng) for n in range(7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert wd.backoff_s(10_000, rng) == 4.0  # no overflow
    jittered = WatchdogOptions(initial_backoff_s=1.0, max_backoff_s=8.0, jitter=0.25)
    delays = [jittered.backoff_s(4, rng) for _ in range(200)]
    assert all(6.0 <= d <= 8.0 for d in delays) and len(set(delays)) > 100


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stall_timeout_s": 0}, "stall_timeout_s"),
        ({"initial_backoff_s": 2.0, "max_backoff_s": 1.0}, "max_backoff_s"),
        ({"jitter": 1.0}, "jitter"),
        ({"backoff_multiplier": 0.5}, "backoff_multiplier"),
        ({"offline_after_failures": 0}, "offline_after_failures"),
        ({"stall_timeout_s": -1.0}, "stall_timeout_s"),
        ({"fast_retry_s": 0}, "fast_retry_s"),
        ({"fast_retry_for_s": -1.0}, "fast_retry_for_s"),
    ],
)
def test_watchdog_options_validated(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WatchdogOptions(**kwargs)  # type: ignore[arg-type]


def test_stall_timeout_is_derived_from_frame_interval_and_read_timeout() -> None:
    wd = WatchdogOptions()
    assert wd.stall_timeout_for(1 / 25, read_timeout_s=5.0) == 3.0  # 25 intervals = 1 s: the 3 s floor
    assert wd.stall_timeout_for(1 / 5, read_timeout_s=5.0) == pytest.approx(5.0)
    assert wd.stall_timeout_for(1.0, read_timeout_s=5.0) == 5.0  # capped by the read timeout
    assert wd.stall_timeout_for(10.0, read_timeout_s=5.0) == 20.0  # but never under two intervals
    assert wd.stall_timeout_for(None, read_timeout_s=5.0) == 5.0  # rate not known yet
    assert all(wd.stall_timeout_for(1 / fps, 5.0) <= 5.0 for fps in (0.4, 1, 2, 10, 30, 60, 120))
    assert WatchdogOptions(stall_timeout_s=8.0).stall_timeout_for(1 / 25, 5.0) == 8.0  # configured wins


def test_state_change_validated() -> None:
    with pytest.raises(ValueError, match="camera_id"):
        StateChange(camera_id="", state=SourceState.ONLINE, previous=None, reason="", at=1.0)
    with pytest.raises(TypeError, match="SourceState"):
        StateChange(camera_id="c", state="online", previous=None, reason="", at=1.0)  # type: ignore[arg-type]
    assert SourceState("stalled") is SourceState.STALLED


# -- files ------------------------------------------------------------------------------------------


def test_file_capture_is_lossless_with_a_slow_consumer(tmp_path: Path, state_log: StateLog) -> None:
    path = write_video(tmp_path / "v.mp4", frames=40)
    queue = FrameQueue(maxsize=2, lossless=True)
    capture = CaptureThread(
        FileSource(path, "file", SourceOptions()), queue, threading.Event(), on_state=state_log
    )
    assert capture.state is SourceState.CONNECTING and capture.fps is None
    capture.start()
    frames = drain(queue, capture, delay=0.01)
    assert capture.join(5)
    assert [f.seq for f in frames] == list(range(40))
    assert all(b.pts > a.pts for a, b in itertools.pairwise(frames))
    assert queue.peak <= 2 and queue.dropped == 0
    assert capture.frames_captured == 40 and capture.frames_dropped == {}
    assert capture.fps == pytest.approx(25.0, rel=0.01)
    assert state_log.states() == [SourceState.CONNECTING, SourceState.ONLINE, SourceState.ENDED]
    assert state_log.changes[-1].reason == "end of file after 40 frames"
    assert capture.state is SourceState.ENDED and capture.error is None


def test_real_wave_video_through_capture_thread(shared_data: Path) -> None:
    source = open_source(str(shared_data / "videos" / "omkarnagarkar55_wave.mp4"), camera_id="wave")
    queue = FrameQueue(maxsize=4, lossless=True)
    capture = CaptureThread(source, queue, threading.Event())
    capture.start()
    frames = drain(queue, capture)
    assert len(frames) == 125 and [f.seq for f in frames] == list(range(125))
    assert (frames[0].width, frames[0].height) == (420, 420)
    assert frames[-1].pts == pytest.approx(12.4, abs=0.01)


@pytest.mark.parametrize("problem", ["corrupt", "missing", *sorted(UNREADABLE)])
def test_unreadable_file_goes_offline_with_clear_error_and_no_traceback(
    tmp_path: Path, state_log: StateLog, caplog: pytest.LogCaptureFixture, problem: str
) -> None:
    if problem in UNREADABLE:
        path = make_unreadable(tmp_path, problem)
        expected = UNREADABLE[problem]
    else:
        path = tmp_path / "clip.mp4"
        path.write_bytes(random.Random(0).randbytes(30_000))
        expected = "corrupt, truncated or not a video" if problem == "corrupt" else "video file not found"
    source = open_source(str(path), camera_id="bad", options=SourceOptions())
    if problem == "missing":
        path.unlink()
    capture = CaptureThread(source, FrameQueue(4, lossless=True), threading.Event(), on_state=state_log)
    capture.start()
    assert capture.join(10), "an unreadable file ends the capture (never a hang)"
    assert state_log.states() == [SourceState.CONNECTING, SourceState.OFFLINE]
    assert expected in str(capture.error) and expected in state_log.changes[-1].reason
    assert capture.reconnects == 0  # files are never retried
    assert not any(r.exc_info or "Traceback" in r.getMessage() for r in caplog.records)


def test_stop_while_producer_waits_on_a_full_lossless_queue(small_video: Path) -> None:
    before = capture_threads()
    queue = FrameQueue(maxsize=1, lossless=True)
    capture = CaptureThread(FileSource(small_video, "f", SourceOptions()), queue, threading.Event())
    capture.start()
    deadline = time.monotonic() + 10
    while queue.qsize() < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the reader now waits for room
    started = time.monotonic()
    capture.stop()
    assert capture.join(2.0)
    assert time.monotonic() - started < 2.0
    assert capture.frames_dropped == {"stopped": 1}
    assert capture.state is SourceState.OFFLINE
    assert wait_no_capture_threads(before, timeout=5) == set()


def test_shared_stop_event_stops_the_thread(small_video: Path) -> None:
    stop = threading.Event()
    capture = CaptureThread(FileSource(small_video, "f", SourceOptions()), FrameQueue(1, True), stop)
    capture.start()
    time.sleep(0.2)
    stop.set()
    assert capture.join(2.0)


def test_failing_state_callback_does_not_kill_capture(
    small_video: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(change: StateChange) -> None:
        raise RuntimeError("subscriber broke")

    queue = FrameQueue(maxsize=64, lossless=True)
    capture = CaptureThread(
        FileSource(small_video, "f", SourceOptions()), queue, threading.Event(), on_state=explode
    )
    capture.start()
    assert len(drain(queue, capture)) == 40
    assert capture.state is SourceState.ENDED
    assert "on_state callback failed" in caplog.text


def test_join_before_start_and_double_start(small_video: Path) -> None:
    capture = CaptureThread(
        FileSource(small_video, "f", SourceOptions()), FrameQueue(64, True), threading.Event()
    )
    assert capture.join(0.1) is True
    capture.start()
    with pytest.raises(RuntimeError, match="already started"):
        capture.start()
    capture.stop()
    assert capture.join(2.0)


# -- an unreachable camera (no server needed: a closed port refuses at once) -----------------------


class RecordingRtspSource(RtspSource):
    """The real RTSP source, recording when each open is attempted (test double by subclassing)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.open_times: list[float] = []

    def open(self, cancel: threading.Event | None = None) -> None:
        self.open_times.append(time.monotonic())
        super().open(cancel)


@pytest.mark.slow
def test_unreachable_camera_retries_with_growing_backoff_and_masks_credentials(
    state_log: StateLog, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    before = capture_threads()
    url = f"rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/x"
    source = RecordingRtspSource(url, "gate", SourceOptions(open_timeout_s=2.0, read_timeout_s=1.0))
    watchdog = WatchdogOptions(initial_backoff_s=0.2, max_backoff_s=1.6, backoff_multiplier=2.0, jitter=0.1)
    capture = CaptureThread(source, FrameQueue(4, lossless=False), threading.Event(), state_log, watchdog)
    capture.start()
    deadline = time.monotonic() + 30
    while len(source.open_times) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    capture.stop()
    assert capture.join(3.0)

    assert len(source.open_times) >= 6, "kept retrying"
    gaps = [b - a for a, b in itertools.pairwise(source.open_times)]
    assert all(b > a for a, b in itertools.pairwise(gaps[:4])), f"backoff grows: {gaps}"
    assert gaps[0] >= 0.17 and all(g <= 1.6 + 1.0 for g in gaps), gaps
    assert state_log.states()[:2] == [SourceState.CONNECTING, SourceState.OFFLINE]
    assert capture.reconnects >= 5 and capture.frames_captured == 0
    assert "cannot open" in str(capture.error)

    texts = [r.getMessage() for r in caplog.records] + [c.reason for c in state_log.changes]
    texts += [str(capture.error), repr(capture), repr(source), source.describe()]
    captured = capfd.readouterr()
    texts += [captured.out, captured.err]  # OpenCV/FFmpeg write to the process's stderr directly
    assert any("127.0.0.1" in t for t in texts)
    assert not [t for t in texts if PASSWORD in t or "admin" in t]
    assert wait_no_capture_threads(before, timeout=5) == set()


def test_offline_after_n_failures(state_log: StateLog) -> None:
    source = RecordingRtspSource(
        f"rtsp://127.0.0.1:{free_port()}/x", "cam", SourceOptions(open_timeout_s=2.0)
    )
    watchdog = WatchdogOptions(initial_backoff_s=0.05, max_backoff_s=0.1, offline_after_failures=3)
    capture = CaptureThread(source, FrameQueue(4, lossless=False), threading.Event(), state_log, watchdog)
    capture.start()
    state_log.wait_for(SourceState.OFFLINE, timeout=20)
    capture.stop()
    assert capture.join(3.0)
    assert len(source.open_times) >= 3
    offline = state_log.changes[1]
    assert offline.state is SourceState.OFFLINE and offline.previous is SourceState.CONNECTING
    # OFFLINE came with the 3rd failed open, not before: opens 1-3 all happened before that change.
    assert source.open_times[2] <= offline.at


# -- the retry schedule, against a scripted source (no network) ---------------------------------------


class ScriptedSource(VideoSource):
    """Plays one step per open: ("online", seconds) serves 50 fps frames that long, then the stream
    ends; ("unreachable",) nothing listens; ("fails",) the camera answers but open fails. The last
    step repeats."""

    is_live = True
    kind = "scripted"

    def __init__(self, steps: list[tuple[object, ...]]) -> None:
        super().__init__("scripted", SourceOptions(open_timeout_s=2.0, read_timeout_s=1.0))
        self.steps = steps
        self.opens: list[float] = []
        self._until = 0.0
        self._pts = 0.0

    def describe(self) -> str:
        return "camera 'scripted'"

    def open(self, cancel: threading.Event | None = None) -> None:
        self.opens.append(time.monotonic())
        step = self.steps[min(len(self.opens), len(self.steps)) - 1]
        if step[0] == "unreachable":
            raise SourceUnreachableError("cannot open camera 'scripted': connection refused after 0.000 s")
        if step[0] == "fails":
            raise SourceError("cannot open camera 'scripted': 503 Service Unavailable")
        self._until = time.monotonic() + float(step[1])  # type: ignore[arg-type]

    def read(self) -> tuple[float, np.ndarray] | None:
        if time.monotonic() >= self._until:
            return None
        time.sleep(0.02)
        self._pts += 0.02
        return self._pts, np.zeros((8, 8, 3), np.uint8)

    def release(self) -> None:
        pass


def run_script(steps: list[tuple[object, ...]], opens: int, watchdog: WatchdogOptions) -> list[float]:
    """Run a capture on the script until ``opens`` attempts were made; the gaps between attempts."""
    source = ScriptedSource(steps)
    capture = CaptureThread(source, FrameQueue(4, lossless=False), threading.Event(), watchdog=watchdog)
    capture.start()
    deadline = time.monotonic() + 30
    while len(source.opens) < opens and time.monotonic() < deadline:
        time.sleep(0.01)
    capture.stop()
    assert capture.join(3.0)
    assert len(source.opens) >= opens
    return [b - a for a, b in itertools.pairwise(source.opens[:opens])]


QUICK = WatchdogOptions(
    healthy_after_s=0.3,
    fast_retry_for_s=1.5,
    fast_retry_s=0.05,
    fast_retry_spawn_s=0.15,
    initial_backoff_s=0.4,
    max_backoff_s=3.0,
    jitter=0.0,
)


def test_lost_healthy_camera_is_retried_at_once_then_quickly_while_nothing_listens() -> None:
    gaps = run_script([("online", 0.5), ("unreachable",)], opens=8, watchdog=QUICK)
    # gap 0 holds the healthy session (0.5 s); then immediate, then every fast_retry_s.
    assert 0.45 <= gaps[0] <= 0.9, gaps
    assert all(g < 0.2 for g in gaps[1:]), f"quick retries, not the 0.4 s backoff: {gaps}"


def test_quick_retries_that_start_ffmpeg_are_spaced_and_end_with_the_window() -> None:
    gaps = run_script([("online", 0.5), ("fails",)], opens=14, watchdog=QUICK)
    in_window = gaps[2:6]
    assert all(0.1 <= g <= 0.3 for g in in_window), f"every fast_retry_spawn_s (0.15 s): {gaps}"
    later = gaps[-3:]
    assert all(b > a for a, b in itertools.pairwise(later)) and later[-1] >= 0.8, f"backoff again: {gaps}"


def test_flapping_camera_backs_off_instead_of_retrying_quickly() -> None:
    gaps = run_script([("online", 0.1)], opens=5, watchdog=QUICK)  # up 0.1 s < healthy_after_s 0.3 s
    backoff = [g - 0.1 for g in gaps]  # each gap holds a 0.1 s session
    assert all(b > a for a, b in itertools.pairwise(backoff)) and backoff[0] >= 0.35, gaps
