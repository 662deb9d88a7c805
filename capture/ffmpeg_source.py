"""What RTSP/HTTP streams and files share: a source decoded by an ffmpeg child (capture/ffmpeg.py)."""

from __future__ import annotations

import threading
import time
from abc import abstractmethod

import numpy as np

from capture.base import SourceError, SourceOptions, VideoSource, sane_fps
from capture.ffmpeg import FfmpegDecoder, FfmpegMissingError, FfmpegOutputError, FrameMeta


class FfmpegSource(VideoSource):
    """Opens by starting ffmpeg and waiting for its first frame; reading takes frames off its pipe.

    ``open`` returns once the first frame's size is known (so a bad URL or a broken file fails in
    ``open``, with what ffmpeg said), and never waits longer than ``open_timeout_s``.
    """

    def __init__(self, camera_id: str, options: SourceOptions) -> None:
        super().__init__(camera_id, options)
        self._decoder: FfmpegDecoder | None = None
        self._lock = threading.Lock()  # guards _decoder / _cpu_closed against cpu_seconds() callers
        self._cpu_closed = 0.0  # CPU of decoders already closed
        self._cancel = threading.Event()  # the one given to the last open()
        self._last_errors: list[str] = []  # what the last closed ffmpeg said

    @abstractmethod
    def _decoder_input(self) -> tuple[list[str], bytes | None]:
        """ffmpeg's input arguments and what to write to its stdin (None: nothing)."""

    @abstractmethod
    def _open_error(self, errors: list[str], returncode: int | None, elapsed_s: float) -> SourceError:
        """The error for an ffmpeg that ended before the first frame (``errors``: what it said)."""

    @abstractmethod
    def _pts(self, meta: FrameMeta) -> float:
        """Timestamp (seconds) of the frame just read."""

    def _before_start(self, cancel: threading.Event, deadline: float) -> None:
        """Checks that are cheaper than starting ffmpeg (network sources: is anything listening?)."""

    def _on_opened(self) -> None:
        """Reset per-session state (clocks, counters)."""

    def open(self, cancel: threading.Event | None = None) -> None:
        self.release()
        self.check()
        cancel = cancel or threading.Event()
        self._cancel = cancel
        started = time.monotonic()
        deadline = started + self.options.open_timeout_s
        self._before_start(cancel, deadline)
        args, stdin_data = self._decoder_input()
        decoder = FfmpegDecoder(args, stdin_data=stdin_data, cancel=cancel)
        try:
            decoder.start()
        except FfmpegMissingError as exc:
            raise SourceError(f"cannot open {self.describe()}: {exc}") from None
        except OSError as exc:
            raise SourceError(f"cannot open {self.describe()}: ffmpeg did not start ({exc})") from None
        with self._lock:
            self._decoder = decoder
        try:
            meta = decoder.next_meta(timeout=max(0.0, deadline - time.monotonic()))
        except FfmpegOutputError as exc:
            self.release()
            raise SourceError(f"cannot open {self.describe()}: {exc}") from None
        except TimeoutError:
            self.release()
            raise SourceError(
                f"cannot open {self.describe()}: no frame within the open timeout "
                f"({self.options.open_timeout_s:g} s){_said(decoder.errors())}"
            ) from None
        if meta is None:
            cancelled = cancel.is_set()
            self.release()  # reaps ffmpeg: its exit code is known after this
            if cancelled:
                raise SourceError(f"{self.describe()}: opening was cancelled")
            raise self._open_error(decoder.errors(), decoder.returncode, time.monotonic() - started)
        self.width, self.height = meta.width, meta.height
        self._fps = sane_fps(decoder.declared_fps)
        self._on_opened()

    def read(self) -> tuple[float, np.ndarray] | None:
        decoder = self._decoder
        if decoder is None:
            raise RuntimeError(f"{self.describe()}: read() called before open()")
        try:
            got = decoder.read_frame()
        except FfmpegOutputError as exc:
            raise SourceError(f"{self.describe()}: {exc}") from None
        if got is None:
            return None
        meta, image = got
        self.width, self.height = meta.width, meta.height
        return self._pts(meta), image

    def release(self) -> None:
        with self._lock:
            decoder, self._decoder = self._decoder, None
        if decoder is not None:
            decoder.close()
            with self._lock:
                self._cpu_closed += decoder.cpu_seconds()
                self._last_errors = decoder.errors()

    def errors(self) -> list[str]:
        decoder = self._decoder
        return decoder.errors() if decoder is not None else list(self._last_errors)

    def cpu_seconds(self) -> float:
        with self._lock:
            decoder = self._decoder
            return self._cpu_closed + (decoder.cpu_seconds() if decoder is not None else 0.0)

    @property
    def pid(self) -> int | None:
        """The running ffmpeg's process id (None when closed)."""
        decoder = self._decoder
        return decoder.pid if decoder is not None else None


def _said(errors: list[str]) -> str:
    return f" (ffmpeg: {'; '.join(errors[-2:])})" if errors else ""


def ffmpeg_said(errors: list[str], returncode: int | None) -> str:
    """``ffmpeg: <its last two complaints>`` or its exit code, for error messages."""
    if errors:
        return "ffmpeg: " + "; ".join(errors[-2:])
    return f"ffmpeg exited with code {returncode} without saying why"
