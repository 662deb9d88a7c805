"""Timestamps for live frames: the camera's own spacing, continuous across reconnects."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class LiveClock:
    """pts for live frames: stream time where the stream has it, the monotonic clock where not.

    Stream time (seconds) is used while it increases: its spacing is the camera's own (no network
    jitter), offset so that pts continue across reconnects (each session is anchored to
    ``time.monotonic()`` at its first frame). When it does not increase (webcams without timestamps,
    broken streams) the frame gets the monotonic clock. If stream time drifts more than
    ``max_drift_s`` from the monotonic clock (a frozen server that resumed on the same connection, or
    a fast sender), it re-anchors, so a real gap shows up as a gap in pts. pts strictly increase.
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

    def pts(self, stream_s: float | None) -> float:
        """The pts of a frame whose stream timestamp is ``stream_s`` seconds (None: the stream has none)."""
        now = float(self._clock())
        raw = stream_s if stream_s is not None and math.isfinite(stream_s) and stream_s >= 0 else None
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
