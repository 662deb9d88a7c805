#!/usr/bin/python3
"""A real RTSP server for tests: GStreamer's gst-rtsp-server on 127.0.0.1.

Run by the SYSTEM python (``/usr/bin/python3``, which has python3-gi), never by the project's venv.
Two sources:

* ``--source test``: ``videotestsrc is-live=true`` with a time overlay at ``--fps``/``--width``/``--height``;
* ``--source PATH``: a video file decoded once into memory and served in an endless loop at its own
  frame rate (or ``--fps``), so a 125-frame clip becomes a never-ending camera.

Each client gets its own pipeline (not shared), so a reconnecting client starts on a key frame at once;
``--shared`` serves all clients from one pipeline, as a real camera does (a new client waits for the
next key frame: the GOP is 1 s).
Prints ``READY <port>`` on stdout once it listens. SIGTERM/SIGINT stop it cleanly; tests also SIGKILL,
SIGSTOP and SIGCONT it. The module doubles as a helper for the venv side: see ``RtspServer``.
"""

from __future__ import annotations

import argparse
import functools
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
# Every GStreamer element the server plugs -> the Debian package that ships it. The one list:
# unavailable_reason() looks them up, scripts/install-system-deps.sh checks them with gst-inspect-1.0
# (``/usr/bin/python3 tests/rtsp_server.py --list-elements``).
ELEMENTS = {
    "filesrc": "libgstreamer1.0-0",
    "videotestsrc": "gstreamer1.0-plugins-base",
    "videoconvert": "gstreamer1.0-plugins-base",
    "decodebin": "gstreamer1.0-plugins-base",
    "appsrc": "gstreamer1.0-plugins-base",
    "appsink": "gstreamer1.0-plugins-base",
    "timeoverlay": "gstreamer1.0-x",  # the pango plugin: only a "recommends" of the others
    "rtph264pay": "gstreamer1.0-plugins-good",
    "qtdemux": "gstreamer1.0-plugins-good",  # decodebin on the .mp4 clips
    "h264parse": "gstreamer1.0-plugins-bad",
    "avdec_h264": "gstreamer1.0-libav",
}
# H.264 encoders, any one will do, in order of preference (see _pick_encoder); the first is installed.
ENCODERS = {
    "x264enc": "gstreamer1.0-plugins-ugly",
    "openh264enc": "gstreamer1.0-plugins-bad",
    "avenc_h264_omx": "gstreamer1.0-libav",
}


def _serve(argv: list[str]) -> int:  # pragma: no cover - runs under /usr/bin/python3
    import gi  # noqa: PLC0415 - only the system python has it

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/stream")
    parser.add_argument("--source", default="test", help="'test' or a video file path")
    parser.add_argument("--fps", type=int, default=0, help="0 = the file's own rate (test: 25)")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument(
        "--shared", action="store_true", help="one pipeline for all clients: a new client joins mid-GOP"
    )
    args = parser.parse_args(argv)

    Gst.init(None)
    encoder = _pick_encoder(Gst)

    if args.source == "test":
        fps = args.fps or 25
        launch = (
            f"( videotestsrc is-live=true pattern=ball ! "
            f"video/x-raw,width={args.width},height={args.height},framerate={fps}/1 ! "
            f"timeoverlay ! videoconvert ! video/x-raw,format=I420 ! {encoder.format(gop=fps)} ! "
            f"rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
    else:
        frames, caps, file_fps = _decode_file(Gst, args.source)
        fps = args.fps or file_fps
        factory = _LoopFactory(
            GstRtspServer=GstRtspServer,
            Gst=Gst,
            frames=frames,
            caps=caps,
            fps=fps,
            encoder=encoder.format(gop=max(1, round(fps))),
        )
    factory.set_shared(args.shared)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"ERROR cannot listen on 127.0.0.1:{args.port}", flush=True)
        return 1

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY {args.port}", flush=True)
    loop.run()
    return 0


def _pick_encoder(Gst: object) -> str:  # noqa: N803 - the gi module
    """An H.264 encoder pipeline fragment with ``{gop}`` left to fill; x264 first, then openh264."""
    factory_find = Gst.ElementFactory.find  # type: ignore[attr-defined]
    if factory_find("x264enc"):
        return "x264enc tune=zerolatency speed-preset=ultrafast bitrate=800 key-int-max={gop}"
    if factory_find("openh264enc"):
        return "openh264enc complexity=low gop-size={gop}"
    if factory_find("avenc_h264_omx"):
        return "avenc_h264_omx"
    raise SystemExit("no H.264 encoder: install gstreamer1.0-plugins-ugly (x264enc) or openh264")


def _decode_file(Gst: object, path: str) -> tuple[list[object], object, float]:  # noqa: N803
    """Decode the whole file to I420 buffers once, so the server can loop it without seeking."""
    pipeline = Gst.parse_launch(  # type: ignore[attr-defined]
        f'filesrc location="{path}" ! decodebin ! videoconvert ! video/x-raw,format=I420 ! '
        "appsink name=sink sync=false emit-signals=false"
    )
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)  # type: ignore[attr-defined]
    frames: list[object] = []
    caps = None
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        caps = sample.get_caps()
        frames.append(sample.get_buffer().copy_deep())
    pipeline.set_state(Gst.State.NULL)  # type: ignore[attr-defined]
    if not frames or caps is None:
        raise SystemExit(f"no video frames decoded from {path}")
    ok, num, den = caps.get_structure(0).get_fraction("framerate")
    fps = num / den if ok and num > 0 and den > 0 else 25.0
    return frames, caps, fps


def _LoopFactory(  # builds a GObject subclass lazily (gi is only importable here)
    *,
    GstRtspServer: object,  # noqa: N803
    Gst: object,  # noqa: N803
    frames: list[object],
    caps: object,
    fps: float,
    encoder: str,
) -> object:
    """A media factory whose appsrc feeds the decoded frames forever, time-stamped at ``fps``."""
    duration = round(Gst.SECOND / fps)  # type: ignore[attr-defined]
    launch = (
        f"( appsrc name=src is-live=true format=time caps={caps.to_string().replace(' ', '')} ! "  # type: ignore[attr-defined]
        f"videoconvert ! video/x-raw,format=I420 ! {encoder} ! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )

    class LoopFactory(GstRtspServer.RTSPMediaFactory):  # type: ignore[attr-defined,misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.set_launch(launch)
            self.connect("media-configure", self._on_configure)

        def _on_configure(self, _factory: object, media: object) -> None:
            src = media.get_element().get_child_by_name("src")  # type: ignore[attr-defined]
            state = {"n": 0}

            def need_data(appsrc: object, _length: int) -> None:
                n = state["n"]
                buf = frames[n % len(frames)].copy()  # type: ignore[attr-defined]
                buf.pts = n * duration
                buf.duration = duration
                state["n"] = n + 1
                appsrc.emit("push-buffer", buf)  # type: ignore[attr-defined]

            src.connect("need-data", need_data)

    return LoopFactory()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@functools.lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """Why the server cannot run here (for pytest.skip), or None when it can."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found (the RTSP server runs on the system python with python3-gi)"
    check = (
        "import gi, sys; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
        "print(' '.join(e for e in sys.argv[1:] if not Gst.ElementFactory.find(e)))"
    )
    try:
        done = subprocess.run(
            [SYSTEM_PYTHON, "-c", check, *ELEMENTS, *ENCODERS],
            check=False, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {SYSTEM_PYTHON}: {exc}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return (
            f"GStreamer RTSP server not importable by {SYSTEM_PYTHON} ({last}): install python3-gi "
            "gir1.2-gst-rtsp-server-1.0 (make system-deps)"
        )
    absent = set(done.stdout.split())
    missing = [f"{e} ({pkg})" for e, pkg in ELEMENTS.items() if e in absent]
    if absent >= set(ENCODERS):
        missing.append("an H.264 encoder: " + " or ".join(f"{e} ({pkg})" for e, pkg in ENCODERS.items()))
    if missing:
        return f"GStreamer elements missing: {', '.join(missing)}: install those packages (make system-deps)"
    return None


class RtspServer:
    """The server above as a child process of the test, on one fixed port for its whole life.

    ``kill()`` + ``start()`` brings it back on the SAME port (a camera that reboots); ``freeze()`` /
    ``thaw()`` send SIGSTOP / SIGCONT (a camera that hangs with its connections open).
    """

    def __init__(
        self,
        *,
        source: str = "test",
        fps: int = 0,
        width: int = 320,
        height: int = 240,
        path: str = "/stream",
        port: int | None = None,
        log_path: Path | None = None,
        start_timeout_s: float = 30.0,
        shared: bool = False,
    ) -> None:
        self.source = source
        self.fps = fps
        self.width = width
        self.height = height
        self.path = path
        self.port = port or free_port()
        self.log_path = log_path
        self.start_timeout_s = start_timeout_s
        self.shared = shared
        self.proc: subprocess.Popen[str] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    def url_with_credentials(self, user: str, password: str) -> str:
        return f"rtsp://{user}:{password}@127.0.0.1:{self.port}{self.path}"

    def start(self) -> None:
        """Start and wait for READY; retries a few times while the port is still being released."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("RTSP server already running")
        argv = [SYSTEM_PYTHON, str(Path(__file__).resolve()), "--port", str(self.port), "--path", self.path]
        argv += ["--source", self.source, "--fps", str(self.fps)]
        argv += ["--width", str(self.width), "--height", str(self.height)]
        argv += ["--shared"] if self.shared else []
        deadline = time.monotonic() + self.start_timeout_s
        last_error = ""
        while time.monotonic() < deadline:
            stderr = open(self.log_path, "a") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
            try:
                proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True)
            finally:
                if stderr is not subprocess.DEVNULL:
                    stderr.close()
            line = _read_line(proc, deadline)
            if line.startswith("READY"):
                self.proc = proc
                self.starts += 1
                return
            last_error = line or f"exit code {proc.poll()}"
            _terminate(proc)
            time.sleep(0.3)
        raise RuntimeError(
            f"RTSP server did not start on port {self.port}: {last_error} (log: {self.log_path})"
        )

    def kill(self) -> None:
        """SIGKILL: the camera vanishes without closing anything."""
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGCONT)  # a frozen process must be able to die
                self.proc.kill()
            self.proc.wait(timeout=10)
            _close_stdout(self.proc)
            self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def freeze(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, "server not running"
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None, "server not running"
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Clean shutdown (SIGTERM), falling back to SIGKILL."""
        if self.proc is not None:
            _terminate(self.proc)
            self.proc = None


def _read_line(proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            return proc.stdout.readline().strip()
        if proc.poll() is not None:
            return ""
    return "timed out waiting for READY"


def _terminate(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    _close_stdout(proc)


def _close_stdout(proc: subprocess.Popen[str]) -> None:
    if proc.stdout is not None:
        proc.stdout.close()


def _list_elements() -> int:
    """``element package`` per line: what install-system-deps.sh checks (the preferred encoder only)."""
    first_encoder = next(iter(ENCODERS.items()))
    for element, package in [*ELEMENTS.items(), first_encoder]:
        print(element, package)
    return 0


if __name__ == "__main__":
    sys.exit(_list_elements() if sys.argv[1:] == ["--list-elements"] else _serve(sys.argv[1:]))
