"""A video file read the way ``serve`` reads a camera that is a file: capture's ``FileSource``
(every frame once, in order, with the container's timestamps), then the pose backend and a lane's
tracker. ``analyze``, uploads and the training commands (through the CLI) all read files here, so
a window made from a file anywhere is the window the service would make."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from pathlib import Path

import cv2

from capture.frame import Frame
from capture.sources import FileSource, SourceError, SourceOptions
from inference.backends.base import PoseBackend
from inference.poses import TrackedPoses
from service.engine.analyzer import make_tracker
from service.engine.options import LaneOptions
from service.offline.video_probe import BadVideoError

CAMERA_ID = "video"


def file_frames(
    path: str | Path, size: tuple[int, int], camera_id: str = CAMERA_ID
) -> Generator[Frame, None, None]:
    """Every frame of the file as a :class:`Frame` (``seq`` = frame index), ``size`` = (width,
    height) of all of them (a frame of another size, rare, is resized). Raises ``BadVideoError``
    when the file cannot be opened; close the iterator to release it early."""
    source = FileSource(Path(path), camera_id, SourceOptions())
    try:
        source.open()
    except SourceError as exc:
        raise BadVideoError("corrupt", str(exc)) from None
    width, height = size
    try:
        seq = 0
        while (got := source.read()) is not None:
            pts, image = got
            if image.shape[:2] != (height, width):
                image = cv2.resize(image, (width, height))
            yield Frame(camera_id, seq, pts, time.monotonic(), image)
            seq += 1
    finally:
        source.release()


def tracked_frames(
    path: str | Path, backend: PoseBackend, size: tuple[int, int], options: LaneOptions | None = None
) -> Iterator[tuple[Frame, TrackedPoses]]:
    """Every frame of the file with its tracked people: ``backend`` (the caller owns it) and the
    tracker a lane with ``options`` uses (the service's defaults unless given)."""
    tracker = make_tracker(options or LaneOptions())
    frames = file_frames(path, size)
    try:
        for frame in frames:
            yield frame, tracker.update(backend.infer([frame.image])[0], frame.pts)
    finally:
        frames.close()
