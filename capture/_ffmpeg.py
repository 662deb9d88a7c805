"""Two OpenCV/FFmpeg quirks kept in one place: process-global capture options, and live timestamps."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ENV_CAPTURE_OPTIONS = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


class _EnvGate:
    """Lets opens that want the same environment value overlap; others wait their turn."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0  # opens in progress under ``_value``
        self._value: str | None = None
        self._previous: str | None = None

    @contextmanager
    def hold(self, value: str, wait_s: float) -> Iterator[None]:
        deadline = time.monotonic() + wait_s
        with self._cond:
            while self._active and self._value != value:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"waited {wait_s:.0f} s for other captures to finish opening")
                self._cond.wait(remaining)
            if not self._active:
                self._previous = os.environ.get(ENV_CAPTURE_OPTIONS)
                self._value = value
                os.environ[ENV_CAPTURE_OPTIONS] = value
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if not self._active:
                    if self._previous is None:
                        os.environ.pop(ENV_CAPTURE_OPTIONS, None)
                    else:
                        os.environ[ENV_CAPTURE_OPTIONS] = self._previous
                    self._value = None
                    self._cond.notify_all()


_gate = _EnvGate()


@contextmanager
def ffmpeg_capture_options(value: str | None, *, wait_s: float) -> Iterator[None]:
    """Hold ``OPENCV_FFMPEG_CAPTURE_OPTIONS = value`` around one ``cv2.VideoCapture(...)`` open.

    OpenCV reads this environment variable when a capture opens, and the environment is global to
    the process. Opens that want the same value run concurrently (a slow camera does not delay the
    others); an open that wants a different value waits until those finish (TimeoutError after
    ``wait_s``). ``None`` leaves the environment alone.
    """
    if value is None:
        yield
        return
    with _gate.hold(value, wait_s):
        yield


class LiveClock:
    """pts for live frames: stream time where the stream has it, the monotonic clock where not.

    ``CAP_PROP_POS_MSEC`` is used while it increases: its spacing is the camera's own (no network
    jitter), offset so that pts continue across reconnects (each session is anchored to
    ``time.monotonic()`` at its first frame). When it does not increase (webcams, broken streams) the
    frame gets the monotonic clock. If stream time drifts more than ``max_drift_s`` from the monotonic
    clock (a frozen server that resumed on the same connection, or a fast sender), it re-anchors, so
    a real gap shows up as a gap in pts. pts strictly increase.
    """

    def __init__(self, max_drift_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_drift_s = max_drift_s
        self._clock = clock
        self._anchor: float | None = None  # pts = anchor + raw
        self._last_raw: float | None = None
        self._last_pts: float | None = None

    def new_session(self) -> None:
        """Forget the stream's time base (a reopened stream starts its clock again)."""
        self._anchor = None
        self._last_raw = None

    def pts(self, pos_msec: float) -> float:
        now = float(self._clock())
        raw = pos_msec / 1000.0 if math.isfinite(pos_msec) and pos_msec >= 0 else None
        increasing = raw is not None and self._last_raw is not None and raw > self._last_raw
        if increasing and self._anchor is not None:
            assert raw is not None
            pts = self._anchor + raw
            if abs(pts - now) > self.max_drift_s:
                self._anchor = now - raw
                pts = now
        else:
            pts = now
            self._anchor = now - raw if raw is not None else None
        self._last_raw = raw
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1e-6
            if raw is not None:
                self._anchor = pts - raw
        self._last_pts = pts
        return pts
