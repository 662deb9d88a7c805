"""Writing MP4 files browsers play: H.264, yuv420p, moov atom first (``+faststart``).

OpenCV's own writer cannot promise H.264 (its wheels ship without an encoder for it), so frames
go as raw BGR into an ffmpeg process. The file appears under its final name only once ffmpeg has
finished it, so a half-written video is never mistaken for a result.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

log = logging.getLogger(__name__)


class VideoWriterError(RuntimeError):
    """ffmpeg is missing or failed; the message carries its last words."""


class H264Writer:
    """``write(frame)`` BGR uint8 frames of one size; ``close()`` finishes the file (``abort()``
    throws it away). Frame i of the input is frame i of the output, at ``fps``."""

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float,
        *,
        crf: int = 23,
        preset: str = "veryfast",
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"H264Writer needs a positive size, got {width}x{height}")
        if not fps > 0:
            raise ValueError(f"H264Writer needs fps > 0, got {fps}")
        self.path = Path(path)
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self.frames = 0
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise VideoWriterError("ffmpeg is not installed: install it (apt-get install ffmpeg)")
        rate = Fraction(self.fps).limit_denominator(1001)
        self._partial = self.path.with_name(f".{self.path.name}.partial.mp4")
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()/abort()
        argv = [
            ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{self.width}x{self.height}",
            "-r", f"{rate.numerator}/{rate.denominator}", "-i", "pipe:0",
            "-an", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",  # yuv420p needs even sizes
            "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", "-f", "mp4", str(self._partial),
        ]  # fmt: skip
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log
        )

    def write(self, image: np.ndarray) -> None:
        if self._proc is None or self._proc.stdin is None:
            raise VideoWriterError("write() after close()")
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"frame must be uint8 ({self.height}, {self.width}, 3), got {image.dtype} {image.shape}"
            )
        try:
            self._proc.stdin.write(np.ascontiguousarray(image).data)
        except (BrokenPipeError, OSError):
            self._proc.wait(timeout=10)
            raise VideoWriterError(f"ffmpeg stopped while encoding: {self._last_words()}") from None
        self.frames += 1

    def close(self, timeout: float = 120.0) -> Path:
        """Finish encoding and move the file into place; returns its path."""
        proc = self._proc
        if proc is None:
            return self.path
        self._proc = None
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            self._cleanup()
            raise VideoWriterError(f"ffmpeg did not finish within {timeout:.0f} s") from None
        except BrokenPipeError:
            code = proc.wait(timeout=timeout)
        if code != 0:
            words = self._last_words()
            self._cleanup()
            raise VideoWriterError(f"ffmpeg failed (exit code {code}): {words}")
        os.replace(self._partial, self.path)
        self._log.close()
        return self.path

    def abort(self) -> None:
        """Stop ffmpeg and remove what it wrote."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait(timeout=10)
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
        self._cleanup()

    def _cleanup(self) -> None:
        self._partial.unlink(missing_ok=True)
        self._log.close()

    def _last_words(self) -> str:
        try:
            self._log.seek(0)
            text = self._log.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return "(no output)"
        return text.splitlines()[-1] if text else "(no output)"

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
