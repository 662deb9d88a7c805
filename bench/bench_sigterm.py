"""SIGTERM while the RTSP server is frozen: exit code and stop time, N runs.

    PYTHONPATH=. python bench/bench_sigterm.py [--runs 20] [--serve]

Each run starts a process on the real RTSP server (tests/rtsp_server.py): the small CaptureThread
program tests/capture/sigterm_child.py, or with ``--serve`` ``actionstream serve`` with MediaPipe;
waits until it is online, freezes the server (SIGSTOP), sends SIGTERM 2, 5, 8 or 11 s into the freeze
(cycling), and records the exit code and how long the process took to exit. A run that has not exited
after 30 s is killed and counted as hung. docs/PERFORMANCE.md records the results with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.rtsp_server import RtspServer, unavailable_reason

ROOT = Path(__file__).resolve().parents[1]


def wait_online(proc: subprocess.Popen[str], marker: str, timeout: float = 120.0) -> bool:
    assert proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout, proc.stderr], [], [], 0.5)
        if any(marker in stream.readline() for stream in ready):
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--serve", action="store_true", help="run actionstream serve instead of the small program"
    )
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    server = RtspServer(log_path=Path(tempfile.gettempdir()) / "bench-sigterm-server.log")
    server.start()
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))}
    if args.serve:
        argv_run = [
            sys.executable,
            "-m",
            "service",
            "serve",
            "--source",
            server.url,
            "--backend",
            "mediapipe",
        ]
        argv_run += ["--zmq-bind", "tcp://127.0.0.1:0", "--http-port", "0"]
        marker = " online: "
    else:
        argv_run = [
            sys.executable,
            "-m",
            "tests.capture.sigterm_child",
            server.url_with_credentials("u", "pw"),
        ]
        marker = "online"
    runs: list[dict[str, object]] = []
    try:
        for i in range(args.runs):
            proc = subprocess.Popen(
                argv_run, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            if not wait_online(proc, marker):
                proc.kill()
                proc.wait()
                runs.append({"run": i, "code": "never online"})
                continue
            time.sleep(1.0)
            server.freeze()
            try:
                time.sleep(2.0 + (i % 4) * 3.0)
                started = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                try:
                    code: object = proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    code = "hung"
                took = time.monotonic() - started
            finally:
                server.thaw()
            runs.append({"run": i, "code": code, "exit_s": round(took, 2)})
            print(json.dumps(runs[-1]), flush=True)
    finally:
        server.stop()
    clean = [r for r in runs if r.get("code") == 0]
    times = [float(r["exit_s"]) for r in runs if "exit_s" in r]  # type: ignore[arg-type]
    print(json.dumps({"runs": len(runs), "exit_0": len(clean), "max_exit_s": max(times, default=None)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
