"""MediaPipe pose backend: milliseconds per 640x480 frame, single-person and multi-person.

    PYTHONPATH=. python bench/bench_pose_mediapipe.py [--data ../shared/data] [--frames 60]

Uses the real videos in ../shared/data (one person waving; three people exercising), resized to
640x480. Prints wall-clock median and p90 and process CPU time per frame (all threads) per mode.
Not a test: the numbers depend on the machine and on its load.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from inference.backends import create_backend


def frames(path: Path, count: int, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < count:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(cv2.resize(frame, size))
    cap.release()
    if not out:
        raise SystemExit(f"cannot read {path}")
    return out


def bench(name: str, options: dict[str, object], clip: list[np.ndarray]) -> None:
    with create_backend("mediapipe", **options) as backend:  # type: ignore[arg-type]
        backend.infer(clip[:3])  # warm-up: graph start, first allocations
        times, people = [], []
        cpu_start = time.process_time()
        for frame in clip:
            start = time.perf_counter()
            [poses] = backend.infer([frame])
            times.append((time.perf_counter() - start) * 1000)
            people.append(len(poses))
        cpu_ms = (time.process_time() - cpu_start) * 1000 / len(clip)
    t = np.array(times)
    print(
        f"{name:<52} wall median {np.median(t):6.1f} ms  p90 {np.percentile(t, 90):6.1f} ms  "
        f"cpu {cpu_ms:6.1f} ms  people/frame {np.mean(people):.2f}  ({len(clip)} frames)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    one = frames(args.data / "videos" / "omkarnagarkar55_wave.mp4", args.frames)
    three = frames(args.data / "videos" / "felixchenfy_exercise.avi", args.frames)
    bench("single, static (1 person)", {}, one)
    bench("single, stream_mode (1 person)", {"stream_mode": True}, one)
    bench("multi max_people=6 (1 person)", {"max_people": 6}, one)
    bench("multi max_people=6 (3 people)", {"max_people": 6}, three)
    bench(
        "multi max_people=6, no full-frame scan (3 people)",
        {"max_people": 6, "scan_full_frame": False},
        three,
    )


if __name__ == "__main__":
    main()
