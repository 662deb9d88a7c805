"""One capture thread per source: read frames into a bounded queue, and keep the source alive.

The watchdog: a live source that errors, ends, or delivers no frame for its stall timeout (derived
from the frame interval and the read timeout unless configured) is released and reopened. A camera
that was healthy is retried at once and then quickly for a while; otherwise retries back off
exponentially with jitter. Every state change goes to ``on_state`` and is logged once. A file is read
once (ENDED) or, when it cannot be opened, reported OFFLINE with ``error`` set; files are never retried.

Each open..release cycle runs in a small daemon "reader" thread; the owner thread only supervises.
A reader waits only in places that give up within 0.1 s of its cancel event (a poll() of an ffmpeg
child's pipes) or, for webcams, within one frame, so stopping never waits on a blocked read. A source
object is never used by two readers at the same time: before reopening, the owner waits for the
previous reader to finish. At interpreter exit every capture still running is stopped and joined
first, so no reader is inside native code while the interpreter tears down.
"""

from __future__ import annotations

import atexit
import enum
import logging
import math
import random
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from capture.base import SourceError, SourceUnreachableError, VideoSource
from capture.frame import Frame
from capture.queue import FrameQueue
from capture.state import SourceState, StateChange
from capture.url import mask_text

log = logging.getLogger(__name__)

_POLL_S = 0.1  # how often the owner looks at its reader, the stop flags and the watchdog
_STOP_GRACE_S = 1.0  # on stop, how long the owner waits for its reader to release the source
_RETRY_LOG_EVERY_S = 60.0
_FPS_EMA_ALPHA = 0.1
_HELPER_CPU_EVERY_S = 0.5  # how often a reader samples its ffmpeg child's CPU time
_EXIT_JOIN_S = 2.0  # at interpreter exit, how long all captures together get to stop
# The derived stall timeout: STALL_FRAMES frame intervals, at least STALL_MIN_S (network jitter),
# at most the read timeout, and never less than two frame intervals (slow cameras).
STALL_FRAMES = 25
STALL_MIN_S = 3.0


@dataclass(frozen=True, slots=True)
class WatchdogOptions:
    """When a live source counts as stalled or offline, and how fast it is retried."""

    stall_timeout_s: float | None = None  # no frame for this long -> STALLED, reopen (None: derived)
    initial_backoff_s: float = 0.5  # delay before the 2nd attempt after a failure
    max_backoff_s: float = 30.0  # the delay never exceeds this
    backoff_multiplier: float = 2.0
    jitter: float = 0.2  # each delay is shortened by a random fraction in [0, jitter)
    offline_after_failures: int = 1  # consecutive failed opens before the state becomes OFFLINE
    healthy_after_s: float = 5.0  # a session online for less than this is a flap: backoff keeps growing
    fast_retry_for_s: float = 60.0  # after a healthy camera is lost, retry quickly for this long
    fast_retry_s: float = 0.25  # ... every this often while nothing listens at its address
    fast_retry_spawn_s: float = 1.0  # ... and at most this often when an attempt had to start ffmpeg

    def __post_init__(self) -> None:
        if self.stall_timeout_s is not None and not (
            isinstance(self.stall_timeout_s, (int, float))
            and math.isfinite(self.stall_timeout_s)
            and self.stall_timeout_s > 0
        ):
            raise ValueError(
                f"WatchdogOptions.stall_timeout_s must be None (derived) or a positive number of seconds, "
                f"got {self.stall_timeout_s!r}"
            )
        for name in (
            "initial_backoff_s",
            "max_backoff_s",
            "healthy_after_s",
            "fast_retry_s",
            "fast_retry_spawn_s",
        ):
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
        if not (math.isfinite(self.fast_retry_for_s) and self.fast_retry_for_s >= 0):
            raise ValueError(f"WatchdogOptions.fast_retry_for_s must be >= 0, got {self.fast_retry_for_s!r}")

    def stall_timeout_for(self, frame_interval_s: float | None, read_timeout_s: float) -> float:
        """The stall timeout in force: the configured one, or one derived from the stream itself.

        Derived: ``STALL_FRAMES`` frame intervals, at least ``STALL_MIN_S``, at most the read timeout
        (the same silence after which ffmpeg gives up), but never under two frame intervals. With the
        default 5 s read timeout: 3 s for a 25 fps camera, 5 s from 5 fps down to 0.4 fps.
        """
        if self.stall_timeout_s is not None:
            return float(self.stall_timeout_s)
        if frame_interval_s is None or not math.isfinite(frame_interval_s) or frame_interval_s <= 0:
            return float(read_timeout_s)
        derived = min(read_timeout_s, max(STALL_MIN_S, STALL_FRAMES * frame_interval_s))
        return max(derived, 2.0 * frame_interval_s)

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
        self.abandon = threading.Event()  # the cancel event the source's waits look at
        self.done = threading.Event()
        self.wake = threading.Event()  # set at the first frame and when done: the owner reacts at once

    @property
    def online_s(self) -> float:
        if self.first_frame_at is None or self.last_frame_at is None:
            return 0.0
        return self.last_frame_at - self.first_frame_at

    def _run(self) -> None:
        source = self._owner.source
        native = isinstance(source, VideoSource)  # else a duck-typed test double: open() takes no cancel
        self._pending: list[float] = []  # own CPU per frame, waiting for the helper process's share
        self._helper_cpu = source.cpu_seconds() if native else 0.0
        try:
            if native:
                source.open(cancel=self.abandon)
            else:
                source.open()
            self._read_frames(source, native)
        except SourceError as exc:
            self.error = exc
        except Exception as exc:  # a decoder surprise or a bug: keep the details, masked
            log.error("%s: unexpected error while capturing:\n%s", self.thread.name, _masked_traceback())
            self.error = SourceError(f"unexpected error: {type(exc).__name__}: {exc}")
        finally:
            try:
                source.release()
            except Exception:
                log.error("%s: release failed:\n%s", self.thread.name, _masked_traceback())
            if self._pending:
                self._account(native)
            self.done.set()
            self.wake.set()

    def _read_frames(self, source: VideoSource, native: bool) -> None:
        sampled_at = time.monotonic()
        while not self.abandon.is_set():
            cpu = time.thread_time()
            got = source.read()
            if got is None:
                self.ended = not self.abandon.is_set()
                return
            # CPU of this thread in read(): the pipe read (or, for webcams, OpenCV's decoding).
            self._pending.append(time.thread_time() - cpu)
            if self.abandon.is_set():
                return
            now = time.monotonic()
            if self.first_frame_at is None:
                self.first_frame_at = now
                self.wake.set()
            self.last_frame_at = now
            if now - sampled_at >= _HELPER_CPU_EVERY_S:
                self._account(native)
                sampled_at = now
            if not self._owner._deliver(got[0], got[1], now, self.abandon):
                return
            self.frames += 1

    def _account(self, native: bool) -> None:
        """Hand the frames' decode CPU (own + their share of the ffmpeg child's) to the owner."""
        total = self._owner.source.cpu_seconds() if native else 0.0
        share = max(0.0, total - self._helper_cpu) / len(self._pending)
        self._owner._decode_times.extend(own + share for own in self._pending)
        self._pending.clear()
        self._helper_cpu = max(self._helper_cpu, total)


@dataclass
class _RetryPlan:
    """When the next attempt starts, from how the last sessions went.

    A camera that was healthy (online ``healthy_after_s`` or more) is reopened at once, then retried
    quickly for ``fast_retry_for_s``: every ``fast_retry_s`` while nothing listens at its address (a
    TCP connect costs nothing), every ``fast_retry_spawn_s`` when attempts get as far as starting
    ffmpeg, back to back when an attempt itself waited that long (a frozen server that may answer any
    moment). Otherwise, and after that window, the exponential backoff with jitter.
    """

    watchdog: WatchdogOptions
    rng: random.Random
    failures: int = 0  # consecutive sessions that never delivered a frame
    steps: int = 0  # how far the exponential backoff has grown
    fast_until: float = -math.inf

    def next_delay(self, session: _Session, now: float) -> float:
        wd = self.watchdog
        if session.frames:
            self.failures = 0
            if session.online_s >= wd.healthy_after_s:
                self.steps, self.fast_until = 0, now + wd.fast_retry_for_s
                return 0.0
            self.steps, self.fast_until = self.steps + 1, -math.inf  # a flap: up and down again quickly
            return wd.backoff_s(self.steps, self.rng)
        self.failures += 1
        if now < self.fast_until:
            cheap = isinstance(session.error, SourceUnreachableError)
            every = wd.fast_retry_s if cheap else wd.fast_retry_spawn_s
            return max(0.0, session.started_at + every - now)
        self.steps += 1
        return wd.backoff_s(self.steps, self.rng)


def _masked_traceback() -> str:
    return mask_text(traceback.format_exc())


class CaptureThread:
    """Reads one source into one FrameQueue, reopening live sources until stopped.

    States: CONNECTING -> ONLINE -> (STALLED ->) RECONNECTING -> ONLINE, or -> OFFLINE once
    ``offline_after_failures`` consecutive opens failed (retries go on quietly while OFFLINE);
    files end in ENDED, or OFFLINE with ``error`` set when they cannot be read. Stopping a
    capture that is not already OFFLINE/ENDED reports OFFLINE ("capture stopped").

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
    def stall_timeout_s(self) -> float:
        """The stall timeout in force now (derived from the measured frame interval unless configured)."""
        fps = self.fps
        return self.watchdog.stall_timeout_for(1.0 / fps if fps else None, self.source.options.read_timeout_s)

    @property
    def frames_dropped(self) -> dict[str, int]:
        """Reason -> count: ``queue_full`` (live drop-oldest), ``stopped`` (frame in hand at stop)."""
        with self._drops_lock:
            return dict(self._drops)

    def drain_decode_times(self) -> list[float]:
        """CPU seconds each frame cost to decode since the last call, ffmpeg child included (metrics)."""
        out = []
        while self._decode_times:
            out.append(self._decode_times.popleft())
        return out

    def start(self) -> None:
        if self._thread.ident is not None:
            raise RuntimeError(f"{self.name} already started")
        with _RUNNING_LOCK:
            _RUNNING.add(self)
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
        """Names of this capture's threads still running (owner, and a reader still releasing)."""
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
            with _RUNNING_LOCK:
                _RUNNING.discard(self)

    def _loop(self) -> None:
        live = self.source.is_live
        plan = _RetryPlan(self.watchdog, self._rng)
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
            delay = plan.next_delay(session, time.monotonic())
            if session.frames:
                self._set_state(SourceState.RECONNECTING, reason)
            elif plan.failures >= self.watchdog.offline_after_failures:
                self._set_state(SourceState.OFFLINE, f"{reason}; retrying")
            self._log_retry(plan.failures, delay, reason)
            if self._sleep(delay):
                return
            self.reconnects += 1

    def _supervise(self, session: _Session) -> tuple[_Outcome, str]:
        """Watch one session until it ends, stalls, fails to start in time, or a stop is asked."""
        opts = self.source.options
        live = self.source.is_live
        # open() gives up by itself after the open timeout; this is the backstop for one that does not.
        first_frame_deadline = session.started_at + opts.open_timeout_s + 2.0
        while True:
            if self._stopping():
                return _Outcome.STOPPED, "stop requested"
            if session.wake.wait(_POLL_S):
                session.wake.clear()  # then look: a wake set after this is seen at the next wait
            done = session.done.is_set()
            last = session.last_frame_at
            if last is not None and self._state is not SourceState.ONLINE:
                self._set_state(SourceState.ONLINE, self._online_reason())
            if done:
                return self._finished(session)
            if not live:  # a file's producer may wait on a full lossless queue: not a stall
                continue
            now = time.monotonic()
            stall_s = self.stall_timeout_s
            if last is not None and now - last > stall_s:
                session.abandon.set()
                reason = f"no frame for {now - last:.1f} s (stall timeout {stall_s:.3g} s)"
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
        if not self.source.is_live:
            return _Outcome.ENDED, "end of file"
        said = self.source.errors() if isinstance(self.source, VideoSource) else []
        detail = f" ({'; '.join(said[-2:])})" if said else ""
        return _Outcome.ENDED, f"stream ended: the camera closed the connection or a read failed{detail}"

    def _wait_for_reader(self, session: _Session) -> bool:
        """Before reopening, let the previous reader release the source; False if stopped meanwhile."""
        session.abandon.set()
        started = time.monotonic()
        warned = False
        while not session.done.wait(_POLL_S):
            if self._stopping():
                return False
            if not warned and time.monotonic() - started > 15.0:  # a webcam read is bounded by 10 s
                log.warning(
                    "%s: reader %s still busy after %.0f s; waiting for it before reopening",
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
                "%s: reader thread %s has not released the source after %.1f s; it does when its read "
                "returns",
                self.name,
                session.thread.name,
                _STOP_GRACE_S,
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
        # DEBUG: the owner tells people (the service's console, probe's JSON lines); a line here
        # too would say every change twice.
        log.debug(
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


# -- interpreter exit: no reader may still be inside native code when the interpreter tears down ----

_RUNNING_LOCK = threading.Lock()
_RUNNING: weakref.WeakSet[CaptureThread] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    """Stop every capture still running and give them together ``_EXIT_JOIN_S`` to finish."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for capture in running:
        capture.stop()
    deadline = time.monotonic() + _EXIT_JOIN_S
    for capture in running:
        capture._thread.join(max(0.0, deadline - time.monotonic()))
        session = capture._session
        if session is not None:
            session.thread.join(max(0.0, deadline - time.monotonic()))
