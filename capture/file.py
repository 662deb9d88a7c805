"""Video files, read losslessly by an ffmpeg child: every frame once, in order; optional pacing and loop."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from capture.base import SourceError, SourceOptions
from capture.ffmpeg import FrameMeta
from capture.ffmpeg_source import FfmpegSource, ffmpeg_said
from capture.url import mask_credentials

log = logging.getLogger(__name__)

_TRUNCATED_MP4 = "an MP4 without its index (moov): the recording was cut off before it was finished"
_HINTS = (
    ("matches no streams", "the file has no video stream"),
    ("Invalid data found", "FFmpeg does not recognise it as a video"),
)


class FileSource(FfmpegSource):
    """A video file; pts are the container's (from 0), or frame index / fps where it has none."""

    is_live = False
    kind = "file"

    def __init__(self, path: str | Path, camera_id: str, options: SourceOptions) -> None:
        super().__init__(camera_id, options)
        self.path = Path(path)
        self._index = 0  # frames read since open
        self._last_pts: float | None = None
        self._pace_origin: float | None = None  # monotonic time of pts 0 when pacing

    def describe(self) -> str:
        return f"camera {self.camera_id!r}: file {mask_credentials(str(self.path))}"

    def check(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"video file not found: {self.path} (check the path; it must be a file)")
        if self.path.stat().st_size == 0:
            raise SourceError(f"cannot read {self.path} as a video: the file is empty (0 bytes)")

    def _decoder_input(self) -> tuple[list[str], bytes | None]:
        loop = ["-stream_loop", "-1"] if self.options.loop else []  # ffmpeg keeps pts increasing
        return ["-nostdin", *loop, "-i", f"file:{self.path}"], None

    def _open_error(self, errors: list[str], returncode: int | None, elapsed_s: float) -> SourceError:
        said = ffmpeg_said(errors, returncode)
        hint = next((f"{h}; " for key, h in _HINTS if key in said), "")
        if "moov atom not found" in said and _looks_like_mp4(self.path):
            hint = f"{_TRUNCATED_MP4}; "
        return SourceError(
            f"cannot read {self.path} as a video: the file is corrupt, truncated or not a video "
            f"({hint}{said}; ffprobe FILE shows what it contains)"
        )

    def _on_opened(self) -> None:
        self._index = 0  # a fresh open reads the file from the start, pts from 0
        self._last_pts = None
        self._pace_origin = None

    def _pts(self, meta: FrameMeta) -> float:
        step = 1.0 / (self._fps or 25.0)
        pts = meta.pts_s if meta.pts_s is not None and meta.pts_s >= 0 else self._index * step
        if self._last_pts is not None and pts <= self._last_pts:  # containers without usable timestamps
            pts = self._last_pts + step
        self._index += 1
        self._last_pts = pts
        return pts

    def read(self) -> tuple[float, np.ndarray] | None:
        got = super().read()
        if got is not None and self.options.realtime:
            self._pace(got[0])
        return got

    def _pace(self, pts: float) -> None:
        """Sleep until ``pts`` is due; a consumer that fell >1 s behind re-anchors instead of bursting."""
        now = time.monotonic()
        if self._pace_origin is None or now - (self._pace_origin + pts) > 1.0:
            self._pace_origin = now - pts
            return
        delay = self._pace_origin + pts - now
        if delay > 0:
            self._cancel.wait(min(delay, 1.0))


def _looks_like_mp4(path: Path) -> bool:
    """An ISO-BMFF file starts with a box whose type is ``ftyp`` (bytes 4..8)."""
    try:
        with path.open("rb") as f:
            return f.read(12)[4:8] == b"ftyp"
    except OSError:
        return False
