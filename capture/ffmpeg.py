"""FFmpeg as a child process that decodes one input into raw BGR frames on a pipe.

Why a process and not a decoder inside ours (the evidence is in docs/CAPTURE.md): native code that
blocks in a network read cannot be interrupted from Python, and a thread coming back out of it while
the interpreter shuts down crashed the service. A child can be SIGKILLed at any moment; on our side
every wait is a ``poll()`` of a few pipes with a 0.1 s tick that also checks a cancel flag.

Frames arrive on stdout as ``bgr24``. Their timestamps and sizes come from the ``showinfo`` filter on
stderr, which FFmpeg writes before it encodes and writes the frame, so a frame's line is always there
by the time its bytes are. Everything else FFmpeg says is kept (masked) for error messages.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import re
import select
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from capture.url import mask_text

log = logging.getLogger(__name__)

_TICK_S = 0.1  # longest a wait goes without looking at its cancel flag
_PIPE_BYTES = 1 << 20  # stdout pipe size asked for (Linux caps it at /proc/sys/fs/pipe-max-size)
_MAX_LINE = 16384  # longer stderr lines are cut (a hostile stream cannot grow our memory)
_TAIL_LINES = 40
_REAP_WAIT_S = 2.0
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# [Parsed_showinfo_0 @ 0x55..] [info] n:  12 pts: 43200 pts_time:0.48 pos: ... s:320x240 i:P ...
_SHOWINFO = re.compile(rb"\bn:\s*(\d+)\s+pts:\s*(\S+)\s+pts_time:(\S+)\s.*?\bs:(\d+)x(\d+)\b")
# [info]   Stream #0:0[0x1](und): Video: h264 (High), yuv420p(progressive), 420x420, 10 fps, 10 tbr, ...
_FPS = re.compile(rb", (\d+(?:\.\d+)?) fps\b")
_TBR = re.compile(rb", (\d+(?:\.\d+)?) tbr\b")
_LEVEL = re.compile(r"\[(panic|fatal|error|warning|info|verbose|debug|trace)\] ?")
_CONTEXT = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\] ")

# What every decoder writes: the first video stream, each frame once (no duplicates or drops),
# showinfo without its per-plane checksums, bgr24 to the pipe in one write per frame.
OUTPUT_ARGS = (
    "-map", "0:v:0",
    "-vf", "showinfo=checksum=0",
    "-fps_mode", "passthrough",
    "-pix_fmt", "bgr24",
    "-f", "rawvideo",
    "-flush_packets", "1",
    "-avioflags", "direct",
    "pipe:1",
)  # fmt: skip
GLOBAL_ARGS = ("-hide_banner", "-nostats", "-loglevel", "level+info")


class FfmpegMissingError(FileNotFoundError):
    """The ffmpeg executable is not on PATH."""


class FfmpegOutputError(RuntimeError):
    """ffmpeg's output does not look the way this module reads it (another ffmpeg version?)."""


@dataclass(frozen=True, slots=True)
class FrameMeta:
    """What showinfo said about one frame: its index, stream time (None if it has none) and size."""

    index: int
    pts_s: float | None
    width: int
    height: int


class FfmpegDecoder:
    """One ffmpeg child process and its pipes; used by one thread, except ``kill()`` (any thread).

    ``start()`` spawns it in its own session (a Ctrl-C meant for us does not reach it: we decide when
    it stops). ``next_meta()`` / ``read_frame()`` wait in ``poll()`` with a short tick and return
    ``None`` at the end of the output: ffmpeg finished, failed, was killed, or ``cancel`` was set.
    ``close()`` kills and reaps it: no zombie is left behind.
    """

    def __init__(
        self, args: list[str], *, stdin_data: bytes | None = None, cancel: threading.Event | None = None
    ) -> None:
        self._args = list(args)
        self._stdin_data = stdin_data
        self._cancel = cancel or threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._out_fd = -1
        self._err_fd = -1
        self._err_open = False
        self._out_open = False
        self._out_poll = select.poll()
        self._err_poll = select.poll()
        self._partial = b""
        self._metas: deque[FrameMeta] = deque()
        self._tail: deque[tuple[str, str]] = deque(maxlen=_TAIL_LINES)  # (level, masked text)
        self._killed = False
        self._output_section = False  # stderr is past the input's description
        self._cpu_s = 0.0
        self.declared_fps: float | None = None
        self.returncode: int | None = None
        self.started_at: float | None = None

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        executable = shutil.which("ffmpeg")
        if executable is None:
            raise FfmpegMissingError("ffmpeg is not installed: install it (apt-get install ffmpeg)")
        _reap_leftovers()
        proc = subprocess.Popen(
            [executable, *GLOBAL_ARGS, *self._args, *OUTPUT_ARGS],
            stdin=subprocess.PIPE if self._stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
            start_new_session=True,
            bufsize=0,
        )
        self.started_at = time.monotonic()
        with self._lock:
            self._proc = proc
        _register(self, live=True)
        assert proc.stdout is not None and proc.stderr is not None
        self._out_fd, self._err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        self._out_open = self._err_open = True
        for fd in (self._out_fd, self._err_fd):
            os.set_blocking(fd, False)
        self._out_poll.register(self._out_fd, select.POLLIN)
        self._err_poll.register(self._err_fd, select.POLLIN)
        with contextlib.suppress(OSError):  # fewer, larger reads are an optimisation only
            fcntl.fcntl(self._out_fd, _F_SETPIPE_SZ, _PIPE_BYTES)
        if proc.stdin is not None:
            # A few hundred bytes into an empty pipe: never blocks. ffmpeg may already be gone.
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(self._stdin_data or b"")
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def kill(self) -> None:
        """SIGKILL the child now (thread-safe, idempotent); waits in progress return None."""
        with self._lock:
            self._killed = True
            proc = self._proc
            if proc is not None and self.returncode is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                except PermissionError:  # not our group any more (cannot happen before reaping)
                    proc.kill()

    def close(self) -> None:
        """Kill, reap and close the pipes; safe to call twice."""
        self.kill()
        proc = self._proc
        if proc is None:
            return
        if not self._reap(_REAP_WAIT_S):
            log.warning("ffmpeg (pid %d) still there %.0f s after SIGKILL", proc.pid, _REAP_WAIT_S)
            with _REGISTRY_LOCK:
                _LEFTOVERS.add(self)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        self._out_open = self._err_open = False
        _register(self, live=False)

    def _reap(self, wait_s: float) -> bool:
        """Collect the exit status (and the exact CPU time) of the child; False if it is still running."""
        deadline = time.monotonic() + wait_s
        while True:
            with self._lock:
                proc = self._proc
                if proc is None or self.returncode is not None:
                    return True
                try:
                    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                except ChildProcessError:  # reaped elsewhere: the status is lost
                    pid, status, usage = proc.pid, 0, None
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status) if usage is not None else -1
                    proc.returncode = self.returncode  # Popen must not wait for it again
                    if usage is not None:
                        self._cpu_s = usage.ru_utime + usage.ru_stime
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def cpu_seconds(self) -> float:
        """CPU time the child has used so far (exact once it was reaped, sampled from /proc before)."""
        proc = self._proc
        if proc is not None and self.returncode is None:
            try:
                with open(f"/proc/{proc.pid}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                self._cpu_s = (int(fields[11]) + int(fields[12])) / _CLK_TCK
            except (OSError, IndexError, ValueError):
                pass
        return self._cpu_s

    # -- reading --------------------------------------------------------------------------------

    def next_meta(self, timeout: float | None = None) -> FrameMeta | None:
        """Metadata of the next frame without taking it; None at the end of the output.

        Raises TimeoutError when nothing came within ``timeout`` seconds (the child keeps running).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._metas:
            if self._stopped() or not self._out_open:
                return None
            if self._wait(deadline) and not self._metas:  # a frame's bytes: its line must be here by now
                raise FfmpegOutputError(
                    "ffmpeg wrote a frame without its showinfo line: this ffmpeg version's output "
                    "is not understood"
                )
        return self._metas[0]

    def read_frame(self, timeout: float | None = None) -> tuple[FrameMeta, np.ndarray] | None:
        """The next frame as its metadata and a new (H, W, 3) uint8 BGR array; None at the end."""
        meta = self.next_meta(timeout)
        if meta is None:
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        image = np.empty((meta.height, meta.width, 3), dtype=np.uint8)
        view = image.reshape(-1).data  # the array's own bytes: read straight into them
        got = 0
        while got < len(view):
            if self._stopped() or not self._out_open:
                return None
            try:
                n = os.readv(self._out_fd, [view[got:]])
            except BlockingIOError:
                self._wait(deadline)
                continue
            except InterruptedError:
                continue
            if n == 0:  # the child is gone in the middle of a frame
                self._output_ended()
                return None
            got += n
        self._metas.popleft()
        return meta, image

    def _stopped(self) -> bool:
        return self._killed or self._cancel.is_set()

    def _wait(self, deadline: float | None) -> bool:
        """Wait up to a tick for frame bytes on stdout; True when there are some.

        Only stdout wakes us (once per frame: ffmpeg writes a frame in one go); stderr is drained
        after every wait, which is enough since a frame's line is written before the frame.
        """
        tick = _TICK_S
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no frame from ffmpeg in time")
            tick = min(tick, remaining)
        if not self._out_open:
            time.sleep(tick)
            return False
        events = self._out_poll.poll(tick * 1000)
        self._drain_stderr()
        if not events:
            return False
        if events[0][1] & select.POLLIN:
            return True
        self._output_ended()  # hang-up without data: the child closed its output
        return False

    def _output_ended(self) -> None:
        """stdout is at its end: take in what ffmpeg still says on stderr before it exits (<= 1 s)."""
        self._out_open = False
        deadline = time.monotonic() + 1.0
        while self._err_open and time.monotonic() < deadline:
            self._err_poll.poll(_TICK_S * 1000)
            self._drain_stderr()

    def _drain_stderr(self) -> None:
        while self._err_open:
            try:
                chunk = os.read(self._err_fd, 65536)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            if not chunk:
                self._err_open = False
                if self._partial:
                    self._line(self._partial)
                    self._partial = b""
                return
            lines = (self._partial + chunk).split(b"\n")
            self._partial = lines.pop()[-_MAX_LINE:]
            for line in lines:
                self._line(line[:_MAX_LINE])

    def _line(self, line: bytes) -> None:
        if b"Parsed_showinfo" in line:
            match = _SHOWINFO.search(line)
            if match is not None:
                self._metas.append(_meta(match))
            return  # the filter's other lines (side data, colour info) are noise to us
        if b"Output #0" in line:
            self._output_section = True
        elif not self._output_section and self.declared_fps is None and b": Video: " in line:
            match = _FPS.search(line) or _TBR.search(line)
            self.declared_fps = float(match.group(1)) if match else None
        text = line.decode("utf-8", "replace").strip()
        if not text:
            return
        level_match = _LEVEL.search(text)
        level = level_match.group(1) if level_match else "info"
        if level_match:
            text = text[: level_match.start()] + text[level_match.end() :]
        self._tail.append((level, mask_text(_CONTEXT.sub("", text).strip())))

    def errors(self) -> list[str]:
        """What ffmpeg reported at warning level or worse (masked), oldest first, duplicates removed."""
        seen: list[str] = []
        for level, text in self._tail:
            if level in ("panic", "fatal", "error", "warning") and text not in seen:
                seen.append(text)
        return seen

    def __repr__(self) -> str:
        return f"FfmpegDecoder(pid={self.pid}, returncode={self.returncode})"


def _meta(match: re.Match[bytes]) -> FrameMeta:
    try:
        pts_s: float | None = float(match.group(3))
    except ValueError:  # NOPTS
        pts_s = None
    return FrameMeta(int(match.group(1)), pts_s, int(match.group(4)), int(match.group(5)))


def ffconcat(url: str, options: dict[str, str]) -> bytes:
    """A one-entry ffconcat playlist: how a URL reaches ffmpeg on stdin instead of its argv.

    ffmpeg's command line is readable by every local user (/proc/PID/cmdline); a pipe is not.
    """
    if any(c in url for c in "\n\r\0"):
        raise ValueError("the URL contains a line break or NUL character")
    quoted = url.replace("'", "'\\''")
    lines = ["ffconcat version 1.0", f"file '{quoted}'"]
    lines += [f"option {key} {value}" for key, value in options.items()]
    return ("\n".join(lines) + "\n").encode("utf-8")


# -- every child we started, so that none outlives the interpreter or stays a zombie --------------

_REGISTRY_LOCK = threading.Lock()
_LIVE: set[FfmpegDecoder] = set()  # started, not closed
_LEFTOVERS: set[FfmpegDecoder] = set()  # closed, but the kernel had not let them go yet


def _register(decoder: FfmpegDecoder, *, live: bool) -> None:
    with _REGISTRY_LOCK:
        if live:
            _LIVE.add(decoder)
        else:
            _LIVE.discard(decoder)


def _all_children() -> list[FfmpegDecoder]:
    with _REGISTRY_LOCK:
        return [*_LIVE, *_LEFTOVERS]


def _reap_leftovers() -> None:
    with _REGISTRY_LOCK:
        leftovers = list(_LEFTOVERS)
    for decoder in leftovers:
        if decoder._reap(0.0):
            with _REGISTRY_LOCK:
                _LEFTOVERS.discard(decoder)


def live_children() -> list[int]:
    """pids of the ffmpeg children started and not yet reaped (for tests and diagnostics)."""
    return sorted(d.pid for d in _all_children() if d.pid is not None and d.returncode is None)


@atexit.register
def _kill_all_at_exit() -> None:
    children = _all_children()
    for decoder in children:
        decoder.kill()
    for decoder in children:
        decoder._reap(0.5)
