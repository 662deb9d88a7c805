"""The action model's cost per call: ``ActionClassifier.classify`` for 1, 8 and 32 windows at once.

    PYTHONPATH=. python bench/bench_classifier.py [MODEL.safetensors ...] [--threads 1] [--reps 200]

Default: the shipped model. Each model is loaded on the CPU and fed random body-centred windows
(the cost does not depend on the values) with its per-person evidence, as the service calls it;
prints the median and 90th percentile over ``--reps`` calls after a warm-up. Not a test: the
numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from inference.classifier import ActionClassifier
from inference.windows import Window

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "inference" / "models" / "default.safetensors"


def windows(n: int, steps: int, rng: np.random.Generator, t: float) -> list[Window]:
    """``n`` people's windows ending at ``t``."""
    return [
        Window(i, t - 1.4, t, rng.normal(0, 0.5, (steps, 34)).astype(np.float32), 0.0, steps)
        for i in range(n)
    ]


def time_calls(clf: ActionClassifier, n: int, reps: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    evidence = clf.new_evidence()
    for k in range(10):  # warm-up
        clf.classify(windows(n, clf.metadata.steps, rng, 0.25 * k), evidence)
    took = []
    for k in range(reps):
        ws = windows(n, clf.metadata.steps, rng, 10.0 + 0.25 * k)
        t0 = time.perf_counter()
        clf.classify(ws, evidence)
        took.append(time.perf_counter() - t0)
    ms = np.array(took) * 1000
    return float(np.median(ms)), float(np.percentile(ms, 90))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", type=Path, nargs="*", default=[DEFAULT_MODEL])
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1, as served)")
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"cpu: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, torch threads {args.threads}")
    print("| model | networks | 1 window | 8 windows | 32 windows |")
    print("|---|---|---|---|---|")
    for path in args.models:
        clf = ActionClassifier.load(path)
        nets = " + ".join(f"LSTM {m.hidden_size}" for m in clf.metadata.networks)
        cells = []
        for n in (1, 8, 32):
            med, p90 = time_calls(clf, n, args.reps)
            cells.append(f"{med:.2f} ms (p90 {p90:.2f})")
        print(f"| {path.name} | {nets} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
