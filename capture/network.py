"""Network cameras (RTSP, HTTP, RTMP) decoded by an ffmpeg child that never sees the URL on its argv."""

from __future__ import annotations

import errno
import os
import select
import socket
import threading
import time
from urllib.parse import urlsplit

from capture.base import SourceError, SourceOptions, SourceUnreachableError
from capture.clock import LiveClock
from capture.ffmpeg import FrameMeta, ffconcat
from capture.ffmpeg_source import FfmpegSource, ffmpeg_said
from capture.url import mask_credentials

NETWORK_SCHEMES = ("rtsp", "rtsps", "http", "https", "rtmp", "rtmps")
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443, "rtmp": 1935, "rtmps": 443}
# Protocols the child may use: no "file", so a hostile playlist cannot make it read local files.
_PROTOCOLS = "pipe,tcp,udp,rtp,srtp,tls,crypto,data,rtsp,rtsps,http,https,httpproxy,rtmp,rtmps,rtmpt,rtmpts"
_PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
_TICK_S = 0.1

# What ffmpeg's complaint means, in the order they are tried; the first match gives the hint.
_HINTS = (
    ("401", "the camera refused the user name or password: check the credentials"),
    ("403", "the camera refused this user (403 Forbidden): check the user's rights on the camera"),
    ("404", "the camera has no stream at that path: check the URL path"),
    ("Connection refused", "nothing accepts connections at that address"),
    ("timed out", "the camera took the connection but did not answer in time (it hangs or is overloaded)"),
    ("resolve", "the host name cannot be resolved: check the address"),
    ("matches no streams", "the stream has no video"),
    ("Invalid data", "the server does not send a stream ffmpeg can read"),
)
_DEFAULT_HINT = (
    "check that the camera is reachable, that the URL path and credentials are right, "
    "or try the other transport"
)


class RtspSource(FfmpegSource):
    """An RTSP (or HTTP/RTMP) stream with open and read timeouts, credentials kept out of argv and logs."""

    is_live = True
    kind = "rtsp"

    def __init__(self, url: str, camera_id: str, options: SourceOptions) -> None:
        super().__init__(camera_id, options)
        self._url = url
        self._clock = LiveClock()
        parts = urlsplit(url)
        self.scheme = parts.scheme.lower()
        self.host = parts.hostname or ""
        self.port = parts.port or DEFAULT_PORTS.get(self.scheme, 554)

    def describe(self) -> str:
        transport = f", {self.options.transport}" if self.scheme.startswith("rtsp") else ""
        return f"camera {self.camera_id!r}: {mask_credentials(self._url)}{transport}"

    def _before_start(self, cancel: threading.Event, deadline: float) -> None:
        if self.scheme.startswith("http") and any(os.environ.get(v) for v in _PROXY_VARS):
            return  # ffmpeg goes through the proxy: the camera's own port says nothing
        problem = probe_tcp(self.host, self.port, deadline, cancel)
        if problem is not None:
            raise SourceUnreachableError(f"cannot open {self.describe()}: {problem}")

    def _decoder_input(self) -> tuple[list[str], bytes | None]:
        timeout_us = str(round(self.options.read_timeout_s * 1e6))
        options = {"fpsprobesize": "0"}  # the rate comes from the SDP or from pts: saves ~0.8 s per open
        if self.scheme.startswith("rtsp"):
            options |= {"rtsp_transport": self.options.transport, "timeout": timeout_us}
        elif self.scheme.startswith("http"):
            options["timeout"] = timeout_us
        else:
            options["rw_timeout"] = timeout_us
        try:
            playlist = ffconcat(self._url, options)
        except ValueError as exc:
            raise SourceError(f"cannot open {self.describe()}: {exc}") from None
        args = ["-protocol_whitelist", _PROTOCOLS, "-f", "concat", "-safe", "0", "-i", "pipe:0"]
        return args, playlist

    def _open_error(self, errors: list[str], returncode: int | None, elapsed_s: float) -> SourceError:
        # The playlist wrapper's own lines ("Impossible to open 'URL'", "pipe:0: ...") add nothing.
        errors = [e.removeprefix("pipe:0: ") for e in errors if not e.startswith("Impossible to open")]
        read_timeout = self.options.read_timeout_s
        if all("Invalid data found" in e for e in errors) and elapsed_s >= 0.9 * read_timeout:
            # What the wrapper makes of a read that timed out in the handshake.
            return SourceError(
                f"cannot open {self.describe()}: the camera accepted the connection but sent nothing for "
                f"{read_timeout:g} s (the read timeout): it hangs or is overloaded"
            )
        said = ffmpeg_said(errors, returncode)
        hint = next((h for key, h in _HINTS if key in said), _DEFAULT_HINT)
        return SourceError(f"cannot open {self.describe()}: {said} (after {elapsed_s:.2f} s): {hint}")

    def _on_opened(self) -> None:
        self._clock.new_session()

    def _pts(self, meta: FrameMeta) -> float:
        return self._clock.pts(meta.pts_s)


def probe_tcp(host: str, port: int, deadline: float, cancel: threading.Event) -> str | None:
    """None when something accepts TCP connections at ``host:port``; else why not, for the user.

    Costs a millisecond where starting ffmpeg costs a tenth of a second of CPU, so a camera that is
    away can be retried often. Gives up at ``deadline`` or within 0.1 s of ``cancel``.
    """
    started = time.monotonic()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"cannot resolve the host name {host!r} ({exc.strerror}): check the address"
    last = 0
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.setblocking(False)
            err = sock.connect_ex(address)
            while err == errno.EINPROGRESS:
                if cancel.is_set():
                    return "opening was cancelled"
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return (
                        f"no answer from {host}:{port} within {time.monotonic() - started:.1f} s "
                        "(host down, wrong address, or a firewall drops the packets)"
                    )
                poller = select.poll()
                poller.register(sock, select.POLLOUT)
                if poller.poll(min(remaining, _TICK_S) * 1000):
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                return None
            last = err
    elapsed = f"after {time.monotonic() - started:.3f} s"
    if last == errno.ECONNREFUSED:
        return (
            f"connection to {host}:{port} refused {elapsed}: nothing listens there "
            "(the camera is off or restarting, or the port is wrong)"
        )
    return f"cannot connect to {host}:{port} {elapsed}: {os.strerror(last)}"
