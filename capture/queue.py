"""The bounded hand-over between a capture thread and its consumers.

Live sources must never wait for a slow consumer (the camera keeps sending, and stale frames are
worth nothing): a full live queue drops its OLDEST frame and counts it. Files are lossless: the
producer waits for room, with a timeout, so it can notice the stop event between tries.

The end of a stream travels in-band: whoever knows the source has ended for good (a file at its
end) calls ``close()`` after the last ``put``; ``ended`` becomes true only once every frame put
before it has been taken, so a consumer can never see the end before the last frame.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from capture.frame import Frame


class FrameQueue:
    """Thread-safe bounded FIFO of frames with drop-oldest (live) or blocking (lossless) put."""

    def __init__(self, maxsize: int, lossless: bool) -> None:
        if not isinstance(maxsize, int) or isinstance(maxsize, bool) or maxsize < 1:
            raise ValueError(f"FrameQueue.maxsize must be an int >= 1, got {maxsize!r}")
        self._maxsize = maxsize
        self.lossless = bool(lossless)
        self._items: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._dropped = 0
        self._peak = 0
        self._closed = False

    @property
    def maxsize(self) -> int:
        return self._maxsize

    @property
    def dropped(self) -> int:
        """Frames evicted to make room (live mode only; lossless never drops)."""
        return self._dropped

    @property
    def peak(self) -> int:
        """Largest size ever reached; never exceeds ``maxsize``."""
        return self._peak

    def qsize(self) -> int:
        return len(self._items)

    @property
    def ended(self) -> bool:
        """True once ``close()`` was called and every frame put before it has been taken."""
        with self._cond:
            return self._closed and not self._items

    def close(self) -> None:
        """No more frames will come (the source ended): the end, after the frames already queued."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def put(self, frame: Frame, timeout: float) -> bool:
        """Add a frame. Live: never blocks, returns True. Lossless: False if still full after ``timeout``."""
        with self._cond:
            if len(self._items) >= self._maxsize:
                if self.lossless:
                    deadline = time.monotonic() + max(0.0, timeout)
                    while len(self._items) >= self._maxsize:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            return False
                        self._cond.wait(remaining)
                else:
                    self._items.popleft()
                    self._dropped += 1
            self._items.append(frame)
            self._peak = max(self._peak, len(self._items))
            self._cond.notify_all()
            return True

    def get(self, timeout: float) -> Frame | None:
        """The oldest frame, or None if none arrived within ``timeout`` seconds (at once when the
        queue has ended)."""
        with self._cond:
            if not self._items:
                deadline = time.monotonic() + max(0.0, timeout)
                while not self._items:
                    if self._closed:
                        return None
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)
            frame = self._items.popleft()
            self._cond.notify_all()
            return frame

    def clear(self) -> int:
        """Discard queued frames (not counted as drops) and wake a waiting producer; returns how many."""
        with self._cond:
            n = len(self._items)
            self._items.clear()
            self._cond.notify_all()
            return n

    def __repr__(self) -> str:
        mode = "lossless" if self.lossless else "live"
        return f"FrameQueue({mode}, {self.qsize()}/{self._maxsize}, dropped={self._dropped})"
