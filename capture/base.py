"""The interface every video source has, its options, and the errors a user can act on."""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from capture.url import mask_text

TRANSPORTS = ("tcp", "udp")
MAX_SANE_FPS = 240.0


class SourceError(Exception):
    """A source cannot be opened or read for a reason the user can act on.

    The message is masked on the way in, so it is safe to log, print or publish as is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(mask_text(message))


class SourceUnreachableError(SourceError):
    """Nothing answered at the camera's address: a cheap failure, so it may be retried quickly."""


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How to open a source. Every wait is bounded by one of these timeouts (see docs/CAPTURE.md)."""

    transport: str = "tcp"  # RTSP transport: "tcp" (robust, default) or "udp" (lower latency, lossy)
    open_timeout_s: float = 10.0  # connect + first frame
    read_timeout_s: float = 5.0  # network: ffmpeg gives up when no data came for this long
    width: int | None = None  # webcam: requested frame size and rate (the camera picks the nearest)
    height: int | None = None
    fps: float | None = None
    realtime: bool = False  # file: sleep so frames come out at the file's own rate, like a camera
    loop: bool = False  # file: start again at the end (pts keep increasing)

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ValueError(f"SourceOptions.transport must be one of {TRANSPORTS}, got {self.transport!r}")
        for name in ("open_timeout_s", "read_timeout_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 < value <= 600):
                raise ValueError(f"SourceOptions.{name} must be in (0, 600] seconds, got {value!r}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and 0 < value <= 16384):
                raise ValueError(f"SourceOptions.{name} must be None or an int in 1..16384, got {value!r}")
        if self.fps is not None and not (math.isfinite(self.fps) and 0 < self.fps <= MAX_SANE_FPS):
            raise ValueError(f"SourceOptions.fps must be None or in (0, {MAX_SANE_FPS}], got {self.fps!r}")


def sane_fps(value: float | None) -> float | None:
    """A declared frame rate, or None when it is absent or implausible (0, 1000 tbr, NaN)."""
    if value is None or not math.isfinite(value) or not 0 < value <= MAX_SANE_FPS:
        return None
    return float(value)


class VideoSource(ABC):
    """One camera or file, opened, read and released by one thread at a time.

    ``open(cancel)`` and ``read()`` may wait (for the network, a camera, a decoder), but never longer
    than the source's timeouts, and they give up within about 0.1 s once ``cancel`` is set (webcams:
    after the frame being read). ``read()`` returns ``(pts seconds, BGR uint8 image)``, or None when
    the stream ended, broke or was cancelled: the capture thread then releases and reopens it.
    """

    is_live: ClassVar[bool]
    kind: ClassVar[str]

    def __init__(self, camera_id: str, options: SourceOptions) -> None:
        if not camera_id:
            raise ValueError("camera_id must be a non-empty string")
        self.camera_id = camera_id
        self.options = options
        self._fps: float | None = None
        self.width: int | None = None
        self.height: int | None = None

    @property
    def fps(self) -> float | None:
        """The rate the source declares (None when unknown or not plausible)."""
        return self._fps

    @abstractmethod
    def describe(self) -> str:
        """Human-readable, credential-free description for logs and status pages."""

    def check(self) -> None:  # noqa: B027 - optional hook, most sources have nothing to check
        """Raise SourceError for problems visible without opening (missing file or device)."""

    @abstractmethod
    def open(self, cancel: threading.Event | None = None) -> None:
        """Open (or reopen) the source; raises SourceError when it cannot be read."""

    @abstractmethod
    def read(self) -> tuple[float, np.ndarray] | None:
        """The next frame as ``(pts seconds, BGR uint8 image)``; None when the stream ended or broke."""

    @abstractmethod
    def release(self) -> None:
        """Free what ``open`` took (a child process, a device); safe to call twice."""

    def errors(self) -> list[str]:
        """What the decoder has complained about so far (masked), to explain a stream that broke."""
        return []

    def cpu_seconds(self) -> float:
        """CPU time used by this source's helper processes so far (0 when it decodes in-process)."""
        return 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"
