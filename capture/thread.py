"""One capture thread per source: read frames into a bounded queue, and keep the source alive.

The watchdog: a live source that errors, ends, or delivers no frame for ``stall_timeout_s`` is
released and reopened, with exponential backoff and jitter bounded by ``max_backoff_s``. Every state
change goes to ``on_state`` and is logged once. A file is read once (ENDED) or, when it cannot be
opened, reported OFFLINE with ``error`` set; files are never retried.

OpenCV calls cannot be interrupted (a read on a frozen RTSP server blocks about 3x the read timeout),
so each open..release cycle runs in a small daemon "reader" thread. The owner thread only supervises:
it notices stalls and stop requests at once, and an abandoned reader releases the source itself when
OpenCV returns. A source object is never used by two readers at the same time: before reopening, the
owner waits for the previous reader to finish.
"""

from __future__ import annotations

import enum
import logging
import math
import random
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from capture.frame import Frame
from capture.queue import FrameQueue
from capture.sources import SourceError, VideoSource
from capture.state import SourceState, StateChange
from capture.url import mask_text

log = logging.getLogger(__name__)

_POLL_S = 0.1  # how often the owner looks at its reader, the stop flags and the watchdog
_STOP_GRACE_S = 0.5  # on stop, how long the owner waits for its reader to release the source
_RETRY_LOG_EVERY_S = 60.0
_FPS_EMA_ALPHA = 0.1


@dataclass(frozen=True, slots=True)
class WatchdogOptions:
    """When a live source counts as stalled or offline, and how fast it is retried."""

    stall_timeout_s: float = 10.0  # no frame for this long while online -> STALLED, reopen
    initial_backoff_s: float = 0.5  # delay before the 2nd attempt after a failure
    max_backoff_s: float = 30.0  # the delay never exceeds this
    backoff_multiplier: float = 2.0
    jitter: float = 0.2  # each delay is shortened by a random fraction in [0, jitter)
    offline_after_failures: int = 1  # consecutive failed opens before the state becomes OFFLINE
    healthy_after_s: float = 5.0  # a session online for less than this is a flap: backoff keeps growing

    def __post_init__(self) -> None:
        for name in ("stall_timeout_s", "initial_backoff_s", "max_backoff_s", "healthy_after_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(
                    f"WatchdogOptions.{name} must be a positive number of seconds, got {value!r}"
                )
        if self.max_backoff_s < self.initial_backoff_s:
            raise ValueError(
                f"WatchdogOptions.max_backoff_s ({self.max_backoff_s}) must be >= initial_backoff_s "
                f"({self.initial_backoff_s})"
            )
        if not (math.isfinite(self.backoff_multiplier) and self.backoff_multiplier >= 1.0):
            raise ValueError(
                f"WatchdogOptions.backoff_multiplier must be >= 1, got {self.backoff_multiplier}"
            )
        if not (0.0 <= self.jitter < 1.0):
            raise ValueError(f"WatchdogOptions.jitter must be in [0, 1), got {self.jitter}")
        if not (isinstance(self.offline_after_failures, int) and self.offline_after_failures >= 1):
            raise ValueError(
                "WatchdogOptions.offline_after_failures must be an int >= 1, "
                f"got {self.offline_after_failures!r}"
            )

    def backoff_s(self, failures: int, rng: random.Random) -> float:
        """Delay before the next attempt after ``failures`` consecutive failures (0 -> retry at once)."""
        if failures <= 0:
            return 0.0
        exponent = min(failures - 1, 60)
        base = min(self.max_backoff_s, self.initial_backoff_s * self.backoff_multiplier**exponent)
        return base * (1.0 - self.jitter * rng.random())


class _Outcome(enum.Enum):
    STOPPED = "stopped"
    ENDED = "ended"  # read() returned None
    FAILED = "failed"  # open or read raised, or no first frame in time
    STALLED = "stalled"


class _Session:
    """One open -> read... -> release cycle of the source, in its own daemon thread."""

    def __init__(self, owner: CaptureThread, number: int) -> None:
        self._owner = owner
        self.thread = threading.Thread(target=self._run, name=f"{owner.name}-reader{number}", daemon=True)
        self.started_at = time.monotonic()
        self.first_frame_at: float | None = None
        self.last_frame_at: float | None = None
        self.frames = 0
        self.error: SourceError | None = None
        self.ended = False
        self.abandon = threading.Event()
        self.done = threading.Event()

    @property
    def online_s(self) -> float:
        if self.first_frame_at is None or self.last_frame_at is None:
            return 0.0
        return self.last_frame_at - self.first_frame_at

    def _run(self) -> None:
        source = self._owner.source
        # A read on a frozen stream times out inside FFmpeg and then still returns the few frames the
        # decoder held back, one per read timeout. Those frames are real (they are delivered) but they
        # are no sign of life: only a frame that came back quicker than that refreshes the watchdog.
        late_read_s = 0.9 * source.options.read_timeout_s if source.is_live else math.inf
        try:
            source.open()
            while not self.abandon.is_set():
                asked, cpu = time.monotonic(), time.thread_time()
                got = source.read()
                # CPU time of this thread in read(): demuxing, decoding and colour conversion, but not
                # the wait for the camera or the network (a blocked thread uses no CPU).
                decode_s = time.thread_time() - cpu
                if got is None:
                    self.ended = True
                    break
                if self.abandon.is_set():
                    break
                now = time.monotonic()
                if self.first_frame_at is None:
                    self.first_frame_at = now
                if now - asked < late_read_s or self.last_frame_at is None:
                    self.last_frame_at = now
                self._owner._decode_times.append(decode_s)
                if not self._owner._deliver(got[0], got[1], now, self.abandon):
                    break
                self.frames += 1
        except SourceError as exc:
            self.error = exc
        except Exception as exc:  # an OpenCV surprise or a bug: keep the details, masked
            log.error("%s: unexpected error while capturing:\n%s", self.thread.name, _masked_traceback())
            self.error = SourceError(f"unexpected error: {type(exc).__name__}: {exc}")
        finally:
            try:
                source.release()
            except Exception:
                log.error("%s: release failed:\n%s", self.thread.name, _masked_traceback())
            self.done.set()


def _masked_traceback() -> str:
    return mask_text(traceback.format_exc())


class CaptureThread:
    """Reads one source into one FrameQueue, reopening live sources until stopped.

    States: CONNECTING -> ONLINE -> (STALLED ->) RECONNECTING -> ONLINE, or -> OFFLINE once
    ``offline_after_failures`` consecutive opens failed (retries go on quietly while OFFLINE);
    files end in ENDED, or OFFLINE with ``error`` set when they cannot be read. Stopping a
    capture that is not already OFFLINE/ENDED reports OFFLINE ("stopped").

    ``stop()`` stops this capture only; setting the shared ``stop_event`` stops it too.
    ``reconnects`` counts reopen attempts after the first open.
    """

    def __init__(
        self,
        source: VideoSource,
        frames: FrameQueue,
        stop_event: threading.Event,
        on_state: Callable[[StateChange], None] | None = None,
        watchdog: WatchdogOptions | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.source = source
        self.frames = frames
        self.camera_id = source.camera_id
        self.watchdog = watchdog or WatchdogOptions()
        self.name = f"capture-{self.camera_id}"
        self.error: SourceError | None = None
        self.frames_captured = 0
        self.reconnects = 0
        self.resolution: tuple[int, int] | None = None  # (width, height) of the last frame
        self._stop_event = stop_event
        self._stop_requested = threading.Event()
        self._on_state = on_state
        self._rng = rng or random.Random()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._state: SourceState | None = None
        self._session: _Session | None = None
        self._seq = 0
        self._drops: dict[str, int] = {}
        self._decode_times: deque[float] = deque(maxlen=4096)
        self._drops_lock = threading.Lock()
        self._ema_dt: float | None = None
        self._last_pts: float | None = None
        self._last_retry_log = -math.inf
        if frames.lossless == source.is_live:
            log.warning(
                "%s: %s source with a %s queue (live sources want drop-oldest, files lossless)",
                self.name,
                "live" if source.is_live else "file",
                "lossless" if frames.lossless else "drop-oldest",
            )

    # -- public surface -------------------------------------------------------------------------

    @property
    def state(self) -> SourceState:
        return self._state or SourceState.CONNECTING

    @property
    def fps(self) -> float | None:
        """Measured from frame timestamps (EMA) once frames flow; else what the source declares."""
        if self._ema_dt:
            return 1.0 / self._ema_dt
        return self.source.fps

    @property
    def frames_dropped(self) -> dict[str, int]:
        """Reason -> count: ``queue_full`` (live drop-oldest), ``stopped`` (frame in hand at stop)."""
        with self._drops_lock:
            return dict(self._drops)

    def drain_decode_times(self) -> list[float]:
        """Seconds of CPU each frame's read took since the last call (decode cost, for metrics)."""
        out = []
        while self._decode_times:
            out.append(self._decode_times.popleft())
        return out

    def start(self) -> None:
        if self._thread.ident is not None:
            raise RuntimeError(f"{self.name} already started")
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop; returns at once (use ``join``)."""
        self._stop_requested.set()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s; True when the thread has finished. Logs it by name when not."""
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("%s: capture thread %s did not stop within %.1f s", self.name, self.name, timeout)
            return False
        return True

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def threads_alive(self) -> list[str]:
        """Names of this capture's threads still running (owner and a reader blocked in OpenCV)."""
        names = [self._thread.name] if self._thread.is_alive() else []
        session = self._session
        if session is not None and session.thread.is_alive():
            names.append(session.thread.name)
        return names

    def __repr__(self) -> str:
        return f"CaptureThread({self.source.describe()}, state={self.state.value})"

    # -- owner thread ---------------------------------------------------------------------------

    def _stopping(self) -> bool:
        return self._stop_requested.is_set() or self._stop_event.is_set()

    def _run(self) -> None:
        try:
            self._loop()
            if self._state not in (SourceState.ENDED, SourceState.OFFLINE):
                self._set_state(SourceState.OFFLINE, "capture stopped")
        except Exception as exc:
            log.error("%s: capture thread failed:\n%s", self.name, _masked_traceback())
            self.error = SourceError(f"capture thread failed: {type(exc).__name__}: {exc}")
            self._set_state(SourceState.OFFLINE, str(self.error))
        finally:
            self._release_session()

    def _loop(self) -> None:
        wd = self.watchdog
        live = self.source.is_live
        failures = 0  # consecutive sessions that never delivered a frame
        flaps = 0  # consecutive sessions that were online only briefly
        self._set_state(SourceState.CONNECTING, "opening")
        number = 0
        while not self._stopping():
            session = _Session(self, number)
            number += 1
            self._session = session
            self._last_pts = None
            session.thread.start()
            outcome, reason = self._supervise(session)
            if outcome is _Outcome.STOPPED:
                return
            if session.error is not None:
                self.error = session.error
            if not live:
                if outcome is _Outcome.ENDED:
                    self._set_state(SourceState.ENDED, f"end of file after {session.frames} frames")
                else:
                    self._set_state(SourceState.OFFLINE, reason)
                return
            if not self._wait_for_reader(session):
                return
            if session.frames:
                failures = 0
                flaps = 0 if session.online_s >= wd.healthy_after_s else flaps + 1
                delay = wd.backoff_s(flaps, self._rng)
                self._set_state(SourceState.RECONNECTING, reason)
            else:
                failures += 1
                delay = wd.backoff_s(failures + flaps, self._rng)
                if failures >= wd.offline_after_failures:
                    self._set_state(SourceState.OFFLINE, f"{reason}; retrying with backoff")
            self._log_retry(failures, delay, reason)
            if self._sleep(delay):
                return
            self.reconnects += 1

    def _supervise(self, session: _Session) -> tuple[_Outcome, str]:
        """Watch one session until it ends, stalls, fails to start in time, or a stop is asked."""
        wd = self.watchdog
        opts = self.source.options
        live = self.source.is_live
        first_frame_deadline = session.started_at + opts.open_timeout_s + wd.stall_timeout_s
        while True:
            if self._stopping():
                return _Outcome.STOPPED, "stop requested"
            done = session.done.wait(_POLL_S)
            last = session.last_frame_at
            if last is not None and self._state is not SourceState.ONLINE:
                self._set_state(SourceState.ONLINE, self._online_reason())
            if done:
                return self._finished(session)
            if not live:  # a file's producer may wait on a full lossless queue: not a stall
                continue
            now = time.monotonic()
            if last is not None and now - last > wd.stall_timeout_s:
                session.abandon.set()
                reason = f"no frame for {now - last:.1f} s (stall timeout {wd.stall_timeout_s:g} s)"
                self._set_state(SourceState.STALLED, reason)
                return _Outcome.STALLED, reason
            if last is None and now > first_frame_deadline:
                session.abandon.set()
                return _Outcome.FAILED, f"no frame within {now - session.started_at:.1f} s of opening"

    def _finished(self, session: _Session) -> tuple[_Outcome, str]:
        """Why a reader ended by itself."""
        if session.error is not None:
            return _Outcome.FAILED, str(session.error)
        if not session.ended:  # the reader gave up its frame because a stop was asked
            return _Outcome.STOPPED, "stop requested"
        last = session.last_frame_at
        quiet_s = time.monotonic() - last if last is not None else 0.0
        if self.source.is_live and quiet_s >= min(
            self.watchdog.stall_timeout_s, self.source.options.read_timeout_s
        ):
            # OpenCV's read timed out before the watchdog fired: that is a stall too.
            reason = f"no frame for {quiet_s:.1f} s (read timed out)"
            self._set_state(SourceState.STALLED, reason)
            return _Outcome.STALLED, reason
        return _Outcome.ENDED, "stream ended (the source closed the connection or a read failed)"

    def _wait_for_reader(self, session: _Session) -> bool:
        """Before reopening, let the previous reader return from OpenCV; False if stopped meanwhile."""
        opts = self.source.options
        warn_after = opts.open_timeout_s + 3 * opts.read_timeout_s + 5.0
        started = time.monotonic()
        warned = False
        while not session.done.wait(_POLL_S):
            if self._stopping():
                return False
            if not warned and time.monotonic() - started > warn_after:
                log.warning(
                    "%s: reader %s still blocked in OpenCV after %.0f s; waiting for it before reopening",
                    self.name,
                    session.thread.name,
                    time.monotonic() - started,
                )
                warned = True
        return True

    def _release_session(self) -> None:
        session = self._session
        if session is None or session.done.is_set():
            return
        session.abandon.set()
        if not session.done.wait(_STOP_GRACE_S):
            log.warning(
                "%s: reader thread %s is blocked in OpenCV; it releases the source when the read "
                "returns (at most about %.0f s)",
                self.name,
                session.thread.name,
                3 * self.source.options.read_timeout_s + self.source.options.open_timeout_s,
            )

    def _sleep(self, seconds: float) -> bool:
        """Stop-aware sleep; True when a stop was requested."""
        deadline = time.monotonic() + seconds
        while not self._stopping():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._stop_requested.wait(min(remaining, _POLL_S))
        return True

    def _log_retry(self, failures: int, delay: float, reason: str) -> None:
        now = time.monotonic()
        level = logging.DEBUG
        if failures > 1 and now - self._last_retry_log >= _RETRY_LOG_EVERY_S:
            level = logging.INFO
            self._last_retry_log = now
        log.log(
            level,
            "%s: reopening in %.2f s (attempt %d, %d consecutive failures): %s",
            self.name,
            delay,
            self.reconnects + 1,
            failures,
            mask_text(reason),
        )

    def _online_reason(self) -> str:
        size = f"{self.resolution[0]}x{self.resolution[1]}" if self.resolution else "frames"
        fps = self.fps
        return f"receiving {size}" + (f" at {fps:.1f} fps" if fps else "")

    def _set_state(self, state: SourceState, reason: str) -> None:
        if state is self._state:
            return
        change = StateChange(
            camera_id=self.camera_id,
            state=state,
            previous=self._state,
            reason=mask_text(reason),
            at=time.monotonic(),
        )
        self._state = state
        level = logging.INFO if state in (SourceState.CONNECTING, SourceState.ONLINE) else logging.WARNING
        if state is SourceState.ENDED:
            level = logging.INFO
        log.log(
            level,
            "%s: %s -> %s: %s",
            self.source.describe(),
            change.previous.value if change.previous else "-",
            state.value,
            change.reason,
        )
        if self._on_state is not None:
            try:
                self._on_state(change)
            except Exception:
                log.error("%s: on_state callback failed:\n%s", self.name, _masked_traceback())

    # -- reader thread --------------------------------------------------------------------------

    def _deliver(self, pts: float, image: np.ndarray, now: float, abandon: threading.Event) -> bool:
        """Wrap and queue one frame (runs in the reader). False when it was given up because of a stop."""
        frame = Frame(camera_id=self.camera_id, seq=self._seq, pts=pts, capture_time=now, image=image)
        self._seq += 1
        self.frames_captured += 1
        self.resolution = (frame.width, frame.height)
        if self._last_pts is not None:
            dt = pts - self._last_pts
            if 0 < dt < 2.0:
                self._ema_dt = (
                    dt if self._ema_dt is None else self._ema_dt + _FPS_EMA_ALPHA * (dt - self._ema_dt)
                )
        self._last_pts = pts
        queue = self.frames
        if not queue.lossless:
            before = queue.dropped
            queue.put(frame, 0.0)
            evicted = queue.dropped - before
            if evicted > 0:
                self._count_drop("queue_full", evicted)
            return True
        while not queue.put(frame, _POLL_S):
            if abandon.is_set() or self._stopping():
                self._count_drop("stopped", 1)
                return False
        return True

    def _count_drop(self, reason: str, n: int) -> None:
        with self._drops_lock:
            self._drops[reason] = self._drops.get(reason, 0) + n
