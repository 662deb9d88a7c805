"""Video sources behind one small interface: RTSP/HTTP streams, webcams and files, all via OpenCV.

A source is opened, read and released by the capture thread only; it never starts threads itself.
``read()`` returns ``(pts, image)`` or ``None`` when the stream ended (file end, or a live stream that
broke: the capture thread then releases and reopens it). User-caused problems raise ``SourceError``
with a message that says what was wrong and what to do, already free of credentials.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import cv2
import numpy as np

from capture._ffmpeg import LiveClock, ffmpeg_capture_options
from capture.url import mask_credentials, mask_text

log = logging.getLogger(__name__)

NETWORK_SCHEMES = ("rtsp", "rtsps", "http", "https", "rtmp")
TRANSPORTS = ("tcp", "udp")
MAX_SANE_FPS = 240.0  # a declared rate above this is a container's placeholder, not a rate
_DEV_VIDEO = re.compile(r"^/dev/video(\d+)$")


class SourceError(Exception):
    """A source cannot be opened or read for a reason the user can act on.

    The message is masked on the way in, so it is safe to log, print or publish as is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(mask_text(message))


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How to open a source. Timeouts bound every blocking OpenCV call (see docs/CAPTURE.md)."""

    transport: str = "tcp"  # RTSP transport: "tcp" (robust, default) or "udp" (lower latency, lossy)
    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0  # FFmpeg gives up a frozen read after about 3x this
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


class VideoSource(ABC):
    """One camera or file. Not thread-safe: one thread opens, reads and releases it."""

    is_live: ClassVar[bool]
    kind: ClassVar[str]

    def __init__(self, camera_id: str, options: SourceOptions) -> None:
        if not camera_id:
            raise ValueError("camera_id must be a non-empty string")
        self.camera_id = camera_id
        self.options = options
        self._cap: cv2.VideoCapture | None = None
        self._fps: float | None = None
        self.width: int | None = None
        self.height: int | None = None

    @property
    def fps(self) -> float | None:
        """The rate the source declares (None when unknown or not plausible)."""
        return self._fps

    @abstractmethod
    def _create_capture(self) -> cv2.VideoCapture:
        """Build the OpenCV capture (may block up to the open timeout)."""

    @abstractmethod
    def _open_failure(self) -> str:
        """What to tell the user when OpenCV could not open the source."""

    @abstractmethod
    def _pts(self, cap: cv2.VideoCapture) -> float:
        """Timestamp (seconds) of the frame just read."""

    @abstractmethod
    def describe(self) -> str:
        """Human-readable, credential-free description for logs and status pages."""

    def check(self) -> None:  # noqa: B027 - optional hook, most sources have nothing to check
        """Raise SourceError for problems visible without opening (missing file or device)."""

    def open(self) -> None:
        """Open (or reopen) the source; raises SourceError when it cannot be read."""
        self.release()
        self.check()
        try:
            cap = self._create_capture()
        except (cv2.error, TimeoutError) as exc:
            raise SourceError(f"{self._open_failure()} ({exc})") from None
        if not cap.isOpened():
            cap.release()
            raise SourceError(self._open_failure())
        self._cap = cap
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._fps = fps if math.isfinite(fps) and 0 < fps <= MAX_SANE_FPS else None
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) or None
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) or None
        self._on_opened(cap)

    def _on_opened(self, cap: cv2.VideoCapture) -> None:  # noqa: B027 - optional hook
        """Hook for subclasses (reset clocks, apply settings)."""

    def read(self) -> tuple[float, np.ndarray] | None:
        """The next frame as ``(pts seconds, BGR uint8 image)``; None when the stream ended or broke."""
        cap = self._cap
        if cap is None:
            raise RuntimeError(f"{self.describe()}: read() called before open()")
        try:
            ok, image = cap.read()
        except cv2.error as exc:
            raise SourceError(f"{self.describe()}: read failed (OpenCV: {exc})") from None
        if not ok or image is None or image.size == 0:
            return None
        return self._pts(cap), _as_bgr(image)

    def release(self) -> None:
        """Free the capture; safe to call twice."""
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """Grey or BGRA frames from odd cameras become the BGR uint8 the pipeline expects."""
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image)
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class RtspSource(VideoSource):
    """An RTSP (or HTTP/RTMP) stream through OpenCV's FFmpeg backend, with open and read timeouts."""

    is_live = True
    kind = "rtsp"

    def __init__(self, url: str, camera_id: str, options: SourceOptions) -> None:
        super().__init__(camera_id, options)
        self._url = url
        self._clock = LiveClock()
        self.scheme = urlsplit(url).scheme.lower()

    def describe(self) -> str:
        transport = f", {self.options.transport}" if self.scheme.startswith("rtsp") else ""
        return f"camera {self.camera_id!r}: {mask_credentials(self._url)}{transport}"

    def _create_capture(self) -> cv2.VideoCapture:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(self.options.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.options.read_timeout_s * 1000),
        ]
        ffmpeg_opts = f"rtsp_transport;{self.options.transport}" if self.scheme.startswith("rtsp") else None
        with ffmpeg_capture_options(ffmpeg_opts, wait_s=self.options.open_timeout_s + 5.0):
            return cv2.VideoCapture(self._url, cv2.CAP_FFMPEG, params)

    def _open_failure(self) -> str:
        return (
            f"cannot open {self.describe()} (open timeout {self.options.open_timeout_s:g} s): check that "
            "the camera is reachable and the URL path and credentials are right, or try the other transport"
        )

    def _on_opened(self, cap: cv2.VideoCapture) -> None:
        self._clock.new_session()

    def _pts(self, cap: cv2.VideoCapture) -> float:
        return self._clock.pts(float(cap.get(cv2.CAP_PROP_POS_MSEC)))


class WebcamSource(VideoSource):
    """A local camera (index or /dev/videoN) through V4L2, with the requested size and rate."""

    is_live = True
    kind = "webcam"

    def __init__(self, device: int | str, camera_id: str, options: SourceOptions) -> None:
        super().__init__(camera_id, options)
        self.device = device
        self._clock = LiveClock()

    def describe(self) -> str:
        device = f"/dev/video{self.device}" if isinstance(self.device, int) else self.device
        return f"camera {self.camera_id!r}: webcam {device}"

    def _device_path(self) -> str | None:
        if isinstance(self.device, int):
            return f"/dev/video{self.device}" if sys.platform.startswith("linux") else None
        return self.device

    def check(self) -> None:
        path = self._device_path()
        if path is not None and not Path(path).exists():
            raise SourceError(
                f"webcam {path} does not exist: plug the camera in or pick another one "
                "(ls /dev/video* lists the cameras this machine has)"
            )

    def _create_capture(self) -> cv2.VideoCapture:
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        cap = cv2.VideoCapture(self.device, backend)
        if cap.isOpened():
            opts = self.options
            for prop, value in (
                (cv2.CAP_PROP_FRAME_WIDTH, opts.width),
                (cv2.CAP_PROP_FRAME_HEIGHT, opts.height),
                (cv2.CAP_PROP_FPS, opts.fps),
            ):
                if value is not None:
                    cap.set(prop, float(value))
        return cap

    def _open_failure(self) -> str:
        return (
            f"cannot open {self.describe()}: it exists but OpenCV could not use it "
            "(busy in another program, no permission (group 'video'), or not a capture device)"
        )

    def _on_opened(self, cap: cv2.VideoCapture) -> None:
        self._clock.new_session()
        opts = self.options
        if (opts.width and opts.width != self.width) or (opts.fps and self._fps and opts.fps != self._fps):
            log.info(
                "%s: requested %sx%s @ %s fps, camera gives %sx%s @ %s fps",
                self.describe(),
                opts.width,
                opts.height,
                opts.fps,
                self.width,
                self.height,
                self._fps,
            )

    def _pts(self, cap: cv2.VideoCapture) -> float:
        return self._clock.pts(float(cap.get(cv2.CAP_PROP_POS_MSEC)))


class FileSource(VideoSource):
    """A video file, read losslessly: every frame once, in order; optional realtime pacing and loop."""

    is_live = False
    kind = "file"

    def __init__(self, path: str | Path, camera_id: str, options: SourceOptions) -> None:
        super().__init__(camera_id, options)
        self.path = Path(path)
        self._index = 0  # frames read in this pass
        self._offset = 0.0  # pts added per loop so pts keep increasing
        self._last_pts: float | None = None
        self._pace_origin: float | None = None  # monotonic time of pts 0 when pacing

    def describe(self) -> str:
        return f"camera {self.camera_id!r}: file {mask_credentials(str(self.path))}"

    def check(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"video file not found: {self.path} (check the path; it must be a file)")

    def _create_capture(self) -> cv2.VideoCapture:
        return cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)

    def _open_failure(self) -> str:
        return (
            f"cannot read {self.path} as a video: the file is corrupt, truncated or not a video "
            "(ffprobe FILE shows what it contains)"
        )

    def _on_opened(self, cap: cv2.VideoCapture) -> None:
        self._index = 0  # a fresh open reads the file from the start, pts from 0
        self._offset = 0.0
        self._last_pts = None
        self._pace_origin = None

    def _pts(self, cap: cv2.VideoCapture) -> float:
        raw = float(cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
        step = 1.0 / (self._fps or 25.0)
        pts = raw + self._offset if math.isfinite(raw) and raw >= 0 else self._index * step + self._offset
        if self._last_pts is not None and pts <= self._last_pts:  # containers without usable timestamps
            pts = self._last_pts + step
        self._index += 1
        self._last_pts = pts
        return pts

    def read(self) -> tuple[float, np.ndarray] | None:
        got = super().read()
        if got is None and self.options.loop and self._index > 0:
            self._offset = (self._last_pts or 0.0) + 1.0 / (self._fps or 25.0)
            self._reopen_for_loop()
            got = super().read()
        if got is not None and self.options.realtime:
            self._pace(got[0])
        return got

    def _reopen_for_loop(self) -> None:
        offset, last, origin = self._offset, self._last_pts, self._pace_origin
        self.open()
        self._offset, self._last_pts, self._pace_origin = offset, last, origin
        log.debug("%s: looping", self.describe())

    def _pace(self, pts: float) -> None:
        """Sleep until ``pts`` is due; a consumer that fell >1 s behind re-anchors instead of bursting."""
        now = time.monotonic()
        if self._pace_origin is None or now - (self._pace_origin + pts) > 1.0:
            self._pace_origin = now - pts
            return
        delay = self._pace_origin + pts - now
        if delay > 0:
            time.sleep(min(delay, 1.0))


def open_source(spec: str | int, *, camera_id: str, options: SourceOptions | None = None) -> VideoSource:
    """Pick the source for a spec: URL, webcam index / digit string / /dev/videoN, or a file path.

    Only parses and checks the spec (files must exist); nothing is opened until ``open()``.
    """
    options = options or SourceOptions()
    if isinstance(spec, bool) or not isinstance(spec, (int, str)):
        raise SourceError(f"source must be a URL, webcam index or file path, got {type(spec).__name__}")
    if isinstance(spec, int):
        return _webcam_index(spec, camera_id, options)
    text = spec.strip()
    if not text:
        raise SourceError("source is empty: give an rtsp:// URL, a webcam index (0), /dev/videoN or a file")
    if text.isdigit():
        return _webcam_index(int(text), camera_id, options)
    if text.startswith("/dev/"):
        return WebcamSource(text, camera_id, options)
    scheme_match = re.match(r"^([A-Za-z][A-Za-z0-9+.\-]*)://", text)
    if scheme_match:
        scheme = scheme_match.group(1).lower()
        if scheme == "file":
            return _file(urlsplit(text).path, camera_id, options)
        if scheme not in NETWORK_SCHEMES:
            raise SourceError(
                f"unsupported source scheme {scheme!r} in {text}: use one of {', '.join(NETWORK_SCHEMES)}, "
                "a webcam index or a file path"
            )
        _check_url(text)
        return RtspSource(text, camera_id, options)
    return _file(text, camera_id, options)


def _webcam_index(index: int, camera_id: str, options: SourceOptions) -> WebcamSource:
    if index < 0:
        raise SourceError(f"webcam index must be >= 0, got {index}")
    return WebcamSource(index, camera_id, options)


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise SourceError(f"malformed URL {url}: {exc}") from None
    if not parts.hostname:
        raise SourceError(f"URL {url} has no host: expected e.g. rtsp://user:pass@192.168.1.10:554/stream")


def _file(path_text: str, camera_id: str, options: SourceOptions) -> FileSource:
    path = Path(path_text).expanduser()
    if not path.exists():
        raise SourceError(
            f"video file not found: {path} (expected an rtsp:// URL, a webcam index, /dev/videoN "
            "or an existing video file)"
        )
    if not path.is_file():
        raise SourceError(f"{path} is not a file: give a video file, not a directory")
    return FileSource(path, camera_id, options)


def configure_native_logging(debug: bool) -> None:
    """Route OpenCV's and FFmpeg's own stderr chatter: keep it only when debugging.

    Both write straight to stderr, outside Python logging (so outside our masking; their messages
    seen so far never contain URL credentials). FFmpeg's level is read once, at the first capture:
    call this from the entry point before opening anything. An explicit OPENCV_FFMPEG_LOGLEVEL wins.
    """
    levels = cv2.utils.logging
    levels.setLogLevel(levels.LOG_LEVEL_INFO if debug else levels.LOG_LEVEL_ERROR)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "32" if debug else "-8")  # AV_LOG_INFO / AV_LOG_QUIET
