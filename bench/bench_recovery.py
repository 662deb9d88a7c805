"""How fast a camera is seen stalled and back, with default options, against the real RTSP server.

    PYTHONPATH=. python bench/bench_recovery.py [--cycles 4] [--shared]

Each cycle: online and healthy for 6 s; the server frozen (SIGSTOP) until ``stalled`` and 2 s more,
then thawed (time to ``online``); healthy 6 s; killed, 2 s away, restarted (time to ``online`` from
the moment it listens). ``--shared``: one server pipeline for all clients, so a reconnecting client
joins mid-GOP as on a real camera. docs/PERFORMANCE.md records the results with the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from capture.queue import FrameQueue
from capture.sources import open_source
from capture.state import SourceState
from capture.thread import CaptureThread, WatchdogOptions
from tests.capture.conftest import StateLog
from tests.rtsp_server import RtspServer, unavailable_reason


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--shared", action="store_true")
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    server = RtspServer(
        log_path=Path(tempfile.gettempdir()) / "bench-recovery-server.log", shared=args.shared
    )
    server.start()
    log = StateLog()
    queue = FrameQueue(4, lossless=False)
    capture = CaptureThread(
        open_source(server.url, camera_id="cam"),
        queue,
        threading.Event(),
        on_state=log,
        watchdog=WatchdogOptions(),
    )
    done = threading.Event()
    consumer = threading.Thread(target=lambda: [queue.get(0.1) for _ in iter(done.is_set, True)], daemon=True)
    capture.start()
    consumer.start()
    result: dict[str, list[float]] = {
        "stalled_after_freeze_s": [],
        "online_after_thaw_s": [],
        "online_after_restart_s": [],
    }
    try:
        log.wait_for(SourceState.ONLINE, 30)
        for _ in range(args.cycles):
            time.sleep(6.0)
            mark = len(log.changes)
            server.freeze()
            frozen = time.monotonic()
            result["stalled_after_freeze_s"].append(
                log.wait_for(SourceState.STALLED, 30, after=mark).at - frozen
            )
            time.sleep(2.0)
            server.thaw()
            thawed = time.monotonic()
            result["online_after_thaw_s"].append(log.wait_for(SourceState.ONLINE, 30, after=mark).at - thawed)
            time.sleep(6.0)
            mark = len(log.changes)
            server.kill()
            time.sleep(2.0)
            server.start()
            back = time.monotonic()
            result["online_after_restart_s"].append(
                log.wait_for(SourceState.ONLINE, 30, after=mark).at - back
            )
    finally:
        capture.stop()
        capture.join(5.0)
        done.set()
        server.stop()
    print(json.dumps({k: [round(v, 2) for v in vs] for k, vs in result.items()} | {"shared": args.shared}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
