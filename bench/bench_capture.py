"""Capture cost, old reader (OpenCV's FFmpeg backend in-process) against the new (an ffmpeg child).

    PYTHONPATH=. python bench/bench_capture.py [--data ../shared/data] [--seconds 20] [--out result.json]

Two measurements (docs/PERFORMANCE.md records them with the machine):

1. ``file``: decode throughput of whole files (frames per second of wall time, CPU per frame), read
   the way ``analyze`` and file cameras read them: every frame, in order, as BGR arrays.
2. ``rtsp``: a live 30 fps 640x480 H.264 stream from the GStreamer test server (tests/rtsp_server.py),
   read for ``--seconds`` after the open and 60 frames: frames delivered and CPU per frame in that
   steady state (a camera runs for days), and separately what one open costs.

CPU is this process's plus the ffmpeg child's: for files from ``getrusage`` of reaped children (the
RTSP server, also a child, is reaped only after the measurements), for the stream from /proc while
the child runs. The old reader is
reproduced here as it was in capture/sources.py before the change (cv2.VideoCapture with the same
open/read timeouts and transport), so the comparison stays runnable.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2

from capture.sources import FileSource, RtspSource, SourceOptions
from tests.rtsp_server import RtspServer, unavailable_reason

FILES = (
    "videos/malikmrllh_clapsoverhead.mp4",  # 640x360, 1200 frames
    "videos/facebookresearch_sam2_juggle.mp4",  # 1280x720, 247 frames
    "videos/Arthur151_romp_jumpingjacks.mp4",  # 1920x1080, 300 frames
)


def cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(read_all: Callable[[], int]) -> dict[str, float]:
    cpu, wall = cpu_seconds(), time.perf_counter()
    frames = read_all()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    return {"frames": frames, "fps": frames / wall, "cpu_ms_per_frame": 1000 * cpu / max(frames, 1)}


def old_file(path: Path) -> int:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    n = 0
    while True:
        ok, _ = cap.read()
        if not ok:
            break
        cap.get(cv2.CAP_PROP_POS_MSEC)  # the old FileSource read the pts of every frame
        n += 1
    cap.release()
    return n


def new_file(path: Path) -> int:
    source = FileSource(path, "bench", SourceOptions())
    source.open()
    n = 0
    while source.read() is not None:
        n += 1
    source.release()
    return n


def bench_files(data: Path, repeats: int) -> list[dict[str, Any]]:
    out = []
    for rel in FILES:
        path = data / rel
        cap = cv2.VideoCapture(str(path))
        size = f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
        cap.release()
        row: dict[str, Any] = {"file": path.name, "size": size}
        for name, reader in (("old", old_file), ("new", new_file)):
            runs = [measure(functools.partial(reader, path)) for _ in range(repeats)]
            row[name] = max(runs, key=lambda r: r["fps"])
            row[name]["cpu_ms_per_frame"] = min(r["cpu_ms_per_frame"] for r in runs)
        out.append(row)
        print(json.dumps(row), flush=True)
    return out


def own_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def old_rtsp(url: str, seconds: float) -> dict[str, float]:
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10_000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5_000]
    started, cpu = time.monotonic(), own_cpu()
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    ok, _ = cap.read()
    opened, open_cpu = time.monotonic() - started, own_cpu() - cpu
    for _ in range(60):  # the burst FFmpeg buffered while probing: not the steady state
        ok, _ = cap.read()
    n, cpu, deadline = 0, own_cpu(), time.monotonic() + seconds
    while ok and time.monotonic() < deadline:
        ok, _ = cap.read()
        cap.get(cv2.CAP_PROP_POS_MSEC)
        n += ok
    steady = own_cpu() - cpu
    cap.release()
    return {"open_s": opened, "open_cpu_s": open_cpu, "frames": n, "cpu_s": steady}


def new_rtsp(url: str, seconds: float) -> dict[str, float]:
    source = RtspSource(url, "bench", SourceOptions())
    started, cpu = time.monotonic(), own_cpu()
    source.open()
    ok = source.read() is not None
    opened, open_cpu = time.monotonic() - started, own_cpu() - cpu + source.cpu_seconds()
    for _ in range(60):
        ok = source.read() is not None
    n, cpu, deadline = 0, own_cpu() + source.cpu_seconds(), time.monotonic() + seconds
    while ok and time.monotonic() < deadline:
        ok = source.read() is not None
        n += ok
    steady = own_cpu() + source.cpu_seconds() - cpu  # ours + the ffmpeg child's (from /proc)
    source.release()
    return {"open_s": opened, "open_cpu_s": open_cpu, "frames": n, "cpu_s": steady}


def bench_rtsp(seconds: float, workdir: Path, repeats: int) -> dict[str, Any]:
    """Steady state (after the open and 2 s of frames) and the cost of one open, separately."""
    reason = unavailable_reason()
    if reason:
        return {"skipped": reason}
    server = RtspServer(fps=30, width=640, height=480, log_path=workdir / "rtsp-server.log")
    server.start()
    out: dict[str, Any] = {"stream": "640x480 30 fps H.264 (x264, GOP 1 s), RTSP/TCP", "seconds": seconds}
    try:
        for name, reader in (("old", old_rtsp), ("new", new_rtsp)):
            runs = []
            for _ in range(repeats):
                box: list[dict[str, float]] = []
                thread = threading.Thread(target=lambda r=reader, b=box: b.append(r(server.url, seconds)))
                thread.start()
                thread.join()
                result = box[0]
                result["fps"] = result["frames"] / seconds
                result["cpu_ms_per_frame"] = 1000 * result["cpu_s"] / max(result["frames"], 1)
                runs.append(result)
            best = min(runs, key=lambda r: r["cpu_ms_per_frame"])
            best["open_cpu_s"] = min(r["open_cpu_s"] for r in runs)
            best["open_s"] = min(r["open_s"] for r in runs)
            out[name] = best
            print(json.dumps({name: best}), flush=True)
    finally:
        server.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    workdir = Path(os.environ.get("TMPDIR", "/tmp"))
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "opencv": cv2.__version__,
            "load_average": os.getloadavg(),
        },
        "file": bench_files(args.data, args.repeats),
        "rtsp": bench_rtsp(args.seconds, workdir, args.repeats),
    }
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
