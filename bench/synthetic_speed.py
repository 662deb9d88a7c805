"""How long the synthetic generator takes to make a training set's worth of windows.

    PYTHONPATH=. python bench/synthetic_speed.py [--windows 22000] [--workers 2]

A window is 32 steps at 22 Hz (1.45 s). Two layouts: one short sequence per window, and
4-second sequences cut into windows every 6 frames at 22 fps (the seed data's overlap).
"""

from __future__ import annotations

import argparse
import os
import time

from training.synthetic import ACTIONS, generate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=22_000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    n_classes = len(ACTIONS)
    print(f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f} workers={args.workers}")

    per_class = -(-args.windows // n_classes)
    t0 = time.perf_counter()
    data = generate_dataset(per_class, fps_range=(10, 30), duration_s=1.5, seed=0, workers=args.workers)
    dt = time.perf_counter() - t0
    per_seq = 1e3 * dt / len(data)
    print(f"{len(data)} sequences of 1.5 s (one window each): {dt:.1f} s, {per_seq:.2f} ms/sequence")

    windows_per_seq = (int(4.0 * 22) + 1 - 32) // 6 + 1
    per_class = -(-args.windows // (n_classes * windows_per_seq))
    t0 = time.perf_counter()
    data = generate_dataset(per_class, fps_range=(10, 30), duration_s=4.0, seed=0, workers=args.workers)
    dt = time.perf_counter() - t0
    n_windows = len(data) * windows_per_seq
    print(f"{len(data)} sequences of 4 s ({n_windows} windows at stride 6): {dt:.1f} s")


if __name__ == "__main__":
    main()
