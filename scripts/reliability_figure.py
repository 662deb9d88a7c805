"""The reliability diagram of docs/MODEL.md: calibrated confidence against how often it is right.

    PYTHONPATH=. python scripts/reliability_figure.py inference/models/default.safetensors \\
        --data ../shared/data --cache-dir .cache/poses --out docs/img/model_reliability.png

Three curves: held-out synthetic windows (seed 12345, never trained on; with everyday motion as
the background) before temperature scaling (T = 1) and after (the model's T; an ensemble's members
each with theirs, their probabilities averaged), and the labelled real
clips (the judge's windows; on non-action segments the background output is the right one).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inference.classifier import ActionClassifier, EnsembleNet
from service.cli.video_poses import pose_source
from training.calibration import Reliability, plot_reliability, reliability
from training.datasets import SYNTHETIC_EVAL_SEED, SyntheticConfig, synthetic_windows
from training.real_eval import evaluate_models_on_segments, load_real_segments
from training.windowset import NO_ACTION


def _probabilities(clf: ActionClassifier, x: torch.Tensor, calibrated: bool) -> np.ndarray:
    """Softmax outputs with (or without) the temperature; an ensemble's members each with theirs."""
    with torch.inference_mode():
        if isinstance(clf.model, EnsembleNet):
            return clf.model.mean_probabilities(x, calibrated).numpy()
        temp = clf.metadata.temperature if calibrated else 1.0
        return torch.softmax(clf.model(x).float() / temp, dim=1).numpy()


def _synthetic(clf: ActionClassifier, n: int, everyday: int) -> dict[str, Reliability]:
    cfg = SyntheticConfig(idle="none", profile_p=0.15, everyday_per_kind=everyday)
    ws = synthetic_windows(n, clf.spec, seed=SYNTHETIC_EVAL_SEED, config=cfg, workers=2)
    x = torch.from_numpy(ws.features)
    truth = np.where(ws.labels == NO_ACTION, clf.metadata.num_outputs - 1, ws.labels)
    temps = [m.temperature for m in clf.metadata.networks]
    after = "T = " + " / ".join(f"{t:.2f}" for t in temps)
    out = {}
    for name, calibrated in (("synthetic, T = 1", False), (f"synthetic, {after}", True)):
        p = _probabilities(clf, x, calibrated)
        out[name] = reliability(p.max(axis=1), p.argmax(axis=1) == truth)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--cache-dir", type=Path, default=Path(".cache/poses"))
    ap.add_argument("--synthetic", type=int, default=150, help="sequences per action (default: 150)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    clf = ActionClassifier.load(args.model)
    if not clf.metadata.background:
        raise SystemExit(f"{args.model} has no background output: this figure is for models that do")
    curves = _synthetic(clf, args.synthetic, max(args.synthetic // 6, 2))
    videos = args.data / "videos"
    segments = load_real_segments(videos)
    ev = evaluate_models_on_segments(
        {"m": clf}, segments, videos, poses=pose_source("mediapipe"), cache_dir=args.cache_dir
    )
    curves["real clips (judge windows)"] = reliability(*ev.calibration["m"])
    title = f"{args.model.name}: reliability (windows)"
    path = plot_reliability(curves, args.out, title)
    for name, r in curves.items():
        print(f"{name}: ECE {r.ece:.3f} over {int(r.counts.sum())} windows")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
