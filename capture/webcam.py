"""Local cameras (index or /dev/videoN) through OpenCV's V4L2 backend.

Why these stay in-process while network streams and files moved to an ffmpeg child: a V4L2 read
waits for the next frame of a local device, which comes within one frame interval, fails at once
(ENODEV) when the camera is unplugged, and is bounded by OpenCV's own 10 s select() timeout if the
driver hangs. It cannot hang on a network. What can still go wrong (the interpreter exiting while a
reader is inside ``cap.read()``) is handled by the capture thread's exit hook, which stops and joins
every capture before the interpreter tears down (docs/CAPTURE.md).
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import cv2
import numpy as np

from capture.base import SourceError, SourceOptions, VideoSource, sane_fps
from capture.clock import LiveClock

log = logging.getLogger(__name__)


class WebcamSource(VideoSource):
    """A local camera with the requested size and rate; pts from the driver's timestamps when it has them."""

    is_live = True
    kind = "webcam"

    def __init__(self, device: int | str, camera_id: str, options: SourceOptions) -> None:
        super().__init__(camera_id, options)
        self.device = device
        self._clock = LiveClock()
        self._cap: cv2.VideoCapture | None = None
        self._cancel = threading.Event()

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

    def open(self, cancel: threading.Event | None = None) -> None:
        self.release()
        self.check()
        self._cancel = cancel or threading.Event()
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        try:
            cap = cv2.VideoCapture(self.device, backend)
        except cv2.error as exc:
            raise SourceError(f"{self._open_failure()} ({exc})") from None
        if not cap.isOpened():
            cap.release()
            raise SourceError(self._open_failure())
        opts = self.options
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, opts.width),
            (cv2.CAP_PROP_FRAME_HEIGHT, opts.height),
            (cv2.CAP_PROP_FPS, opts.fps),
        ):
            if value is not None:
                cap.set(prop, float(value))
        self._cap = cap
        self._fps = sane_fps(float(cap.get(cv2.CAP_PROP_FPS) or 0.0))
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) or None
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) or None
        self._clock.new_session()
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

    def _open_failure(self) -> str:
        return (
            f"cannot open {self.describe()}: it exists but OpenCV could not use it "
            "(busy in another program, no permission (group 'video'), or not a capture device)"
        )

    def read(self) -> tuple[float, np.ndarray] | None:
        cap = self._cap
        if cap is None:
            raise RuntimeError(f"{self.describe()}: read() called before open()")
        if self._cancel.is_set():
            return None
        try:
            ok, image = cap.read()
        except cv2.error as exc:
            raise SourceError(f"{self.describe()}: read failed (OpenCV: {exc})") from None
        if not ok or image is None or image.size == 0:
            return None
        msec = float(cap.get(cv2.CAP_PROP_POS_MSEC))
        return self._clock.pts(msec / 1000.0 if msec > 0 else None), as_bgr(image)

    def release(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Grey or BGRA frames from odd cameras become the BGR uint8 the pipeline expects."""
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image)
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image
