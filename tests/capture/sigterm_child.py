"""A small program around one CaptureThread, stopped by SIGTERM the way the service is.

    python -m tests.capture.sigterm_child URL

Prints ``online`` once frames arrive. On SIGTERM it stops the capture, joins it for up to 3 s and
returns from main, so the interpreter exits with whatever the capture left running: exit code 0
means a clean stop; 3 means the capture did not stop in time; a signal means a crash at exit.
"""

from __future__ import annotations

import signal
import sys
import threading

from capture.queue import FrameQueue
from capture.sources import open_source
from capture.state import SourceState, StateChange
from capture.thread import CaptureThread


def main(argv: list[str]) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    source = open_source(argv[0], camera_id="cam")
    queue = FrameQueue(4, lossless=False)

    def on_state(change: StateChange) -> None:
        if change.state is SourceState.ONLINE:
            print("online", flush=True)

    capture = CaptureThread(source, queue, stop, on_state=on_state)  # default watchdog
    capture.start()
    while not stop.is_set():
        queue.get(timeout=0.1)
    capture.stop()
    return 0 if capture.join(3.0) else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
