"""Video sources behind one interface: streams and files via an ffmpeg child, webcams via OpenCV.

``open_source(spec)`` picks the source for a spec. A source is opened, read and released by the
capture thread only; it never starts threads itself. The interface and its options live in
``capture.base``; this module re-exports them so callers import from one place.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import cv2

from capture.base import (
    MAX_SANE_FPS,
    TRANSPORTS,
    SourceError,
    SourceOptions,
    SourceUnreachableError,
    VideoSource,
)
from capture.file import FileSource
from capture.network import NETWORK_SCHEMES, RtspSource
from capture.webcam import WebcamSource

__all__ = [
    "MAX_SANE_FPS",
    "NETWORK_SCHEMES",
    "TRANSPORTS",
    "FileSource",
    "RtspSource",
    "SourceError",
    "SourceOptions",
    "SourceUnreachableError",
    "VideoSource",
    "WebcamSource",
    "configure_native_logging",
    "open_source",
]


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
    """Route OpenCV's own stderr chatter (webcams, the video writer): keep it only when debugging.

    OpenCV writes straight to stderr, outside Python logging. The ffmpeg children of network and
    file sources never write to our stderr: what they say is read, masked and put into errors.
    OpenCV's FFmpeg level is read once: call this from the entry point before opening anything.
    An explicit OPENCV_FFMPEG_LOGLEVEL wins.
    """
    levels = cv2.utils.logging
    levels.setLogLevel(levels.LOG_LEVEL_INFO if debug else levels.LOG_LEVEL_ERROR)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "32" if debug else "-8")  # AV_LOG_INFO / AV_LOG_QUIET
