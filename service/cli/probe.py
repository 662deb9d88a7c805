"""``actionstream probe SOURCE``: check a camera, webcam or file before serving it.

Opens the source with the same CaptureThread the service uses, prints every state change and a
summary (frames, measured fps, resolution, drops) as JSON lines on stdout, one object per line.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from typing import Any

from capture.frame import Frame
from capture.queue import FrameQueue
from capture.sources import TRANSPORTS, SourceError, SourceOptions, configure_native_logging, open_source
from capture.state import StateChange
from capture.thread import STALL_FRAMES, STALL_MIN_S, CaptureThread, WatchdogOptions
from service.cli.common import UsageError, number

log = logging.getLogger(__name__)

_JOIN_TIMEOUT_S = 3.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="open a source for a few seconds and report frames, fps, resolution and drops",
        description=(
            "Open SOURCE (rtsp://user:pass@host/path, a webcam index or /dev/videoN, or a video file) "
            "with the service's capture thread and print state changes and a summary as JSON lines."
        ),
    )
    parser.add_argument("source", metavar="SOURCE", help="RTSP/HTTP URL, webcam index, /dev/videoN or file")
    seconds = number(float, gt=0, what="seconds")
    source, watchdog = SourceOptions(), WatchdogOptions()  # capture's defaults
    parser.add_argument(
        "--seconds",
        type=number(float, gt=0, le=86400, what="seconds"),
        default=10.0,
        help="how long to watch (default: %(default)s)",
    )
    parser.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default=source.transport,
        help="RTSP transport (default: tcp)",
    )
    parser.add_argument(
        "--open-timeout",
        type=seconds,
        default=source.open_timeout_s,
        help="seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--read-timeout",
        type=seconds,
        default=source.read_timeout_s,
        help="seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--stall-timeout",
        type=seconds,
        default=watchdog.stall_timeout_s,
        help=(
            "seconds without frames before a live source counts as stalled (default: derived from "
            f"the stream: {STALL_FRAMES} frame intervals, at least {STALL_MIN_S:g} s, at most "
            "--read-timeout; the summary says which)"
        ),
    )
    parser.add_argument("--camera-id", default="probe", help="name used in logs (default: %(default)s)")
    parser.set_defaults(handler=run)


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, sort_keys=False), flush=True)


def run(args: argparse.Namespace) -> int:
    configure_native_logging(debug=args.log_level == "DEBUG")
    try:  # the bounds are capture's own
        options = SourceOptions(
            transport=args.transport, open_timeout_s=args.open_timeout, read_timeout_s=args.read_timeout
        )
        watchdog = WatchdogOptions(stall_timeout_s=args.stall_timeout)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        source = open_source(args.source, camera_id=args.camera_id, options=options)
        source.check()
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    queue = FrameQueue(maxsize=8, lossless=not source.is_live)
    stop = threading.Event()
    started = time.monotonic()

    def on_state(change: StateChange) -> None:
        _emit(
            {
                "event": "state",
                "t": round(change.at - started, 3),
                "state": change.state.value,
                "previous": change.previous.value if change.previous else None,
                "reason": change.reason,
            }
        )

    capture = CaptureThread(source, queue, stop, on_state=on_state, watchdog=watchdog)
    first: Frame | None = None
    last: Frame | None = None
    consumed = 0
    capture.start()
    try:
        deadline = started + args.seconds
        while time.monotonic() < deadline:
            frame = queue.get(timeout=0.1)
            if frame is None:
                if not capture.is_alive():
                    break
                continue
            first = first or frame
            last = frame
            consumed += 1
    finally:
        final_state = capture.state  # before stop() turns a live source OFFLINE ("capture stopped")
        capture.stop()
        if not capture.join(_JOIN_TIMEOUT_S):
            log.warning("probe: capture still running: %s", ", ".join(capture.threads_alive()))
    if not source.is_live and capture.error is not None and consumed == 0:
        raise UsageError(str(capture.error))

    elapsed = time.monotonic() - started
    delivered = None
    if first is not None and last is not None and last.capture_time > first.capture_time:
        delivered = round((consumed - 1) / (last.capture_time - first.capture_time), 2)
    dropped = capture.frames_dropped
    fps = capture.fps
    _emit(
        {
            "event": "summary",
            "source": source.describe(),
            "kind": source.kind,
            "seconds": round(elapsed, 2),
            "state": final_state.value,
            "frames": consumed,
            "fps": round(fps, 2) if fps else None,
            "fps_delivered": delivered,
            "fps_declared": source.fps,
            "width": last.width if last else None,
            "height": last.height if last else None,
            "dropped": sum(dropped.values()),
            "dropped_by_reason": dropped,
            "reconnects": capture.reconnects,
            "stall_timeout_s": round(capture.stall_timeout_s, 3) if source.is_live else None,
            "error": str(capture.error) if capture.error else None,
        }
    )
    if consumed == 0:
        log.error(
            "probe: no frame from %s in %.1f s (state %s)", source.describe(), elapsed, final_state.value
        )
        return 1
    return 0
