"""What splitting one camera over two MediaPipe graphs does to its poses and its classifications.

    PYTHONPATH=. python bench/bench_split_graphs.py [--data ../shared/data] [--frames 300] [--out split.json]

MediaPipe's stream mode tracks its person from the previous frame it was given and smooths the
landmarks over time. With two pose workers on one camera, each graph sees about every other frame
(in order, with increasing timestamps). This compares, on real clips, per frame:

* ``one graph``: one stream-mode graph on every frame (what one worker does when it keeps up);
* ``two graphs``: frames dealt alternately to two stream-mode graphs (what two workers do);
* ``one graph, every other frame``: what a stride of 2 on one worker gives (half the frames).

Reported per clip: the mean distance of each joint from the one-graph pose (in % of the person's box
diagonal, confident joints only), the frame-to-frame jitter (mean second difference of joint
positions, % of the diagonal), the share of frames with a person found, and how often the shipped
action model's top label for a window agrees with the one-graph run (windows every 0.25 s).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inference.backends import create_backend
from inference.classifier import ActionClassifier
from inference.poses import Poses
from inference.tracker import Tracker
from inference.windows import TrackWindows
from service.app.build import default_model_path

CLIPS = (
    "videos/malikmrllh_clapsoverhead.mp4",
    "videos/Arthur151_romp_jumpingjacks.mp4",
    "videos/Walter0807_motionbert_boxing2.mp4",
)


def decode(path: Path, frames: int) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    out: list[np.ndarray] = []
    while len(out) < frames:
        ok, image = cap.read()
        if not ok:
            break
        if image.shape[1] > 640:
            image = cv2.resize(
                image, (640, round(image.shape[0] * 640 / image.shape[1])), interpolation=cv2.INTER_AREA
            )
        out.append(image)
    cap.release()
    return out, fps


def run_graphs(images: list[np.ndarray], n_graphs: int, every: int = 1) -> dict[int, np.ndarray]:
    """Frame index -> COCO-17 (17, 3) of the first person, for frames ``0, every, 2*every, ...`` dealt
    round robin over ``n_graphs`` stream-mode graphs."""
    graphs = [create_backend("mediapipe", stream_mode=True) for _ in range(n_graphs)]
    poses: dict[int, np.ndarray] = {}
    try:
        for k, i in enumerate(range(0, len(images), every)):
            found = graphs[k % n_graphs].infer([images[i]])[0]
            if len(found):
                poses[i] = found.keypoints[0]
    finally:
        for g in graphs:
            g.close()
    return poses


def diagonal(kp: np.ndarray) -> float:
    seen = kp[kp[:, 2] >= 0.5]
    pts = seen if len(seen) >= 2 else kp
    return float(np.hypot(*(pts[:, :2].max(axis=0) - pts[:, :2].min(axis=0)))) or 1.0


def distance_to(reference: dict[int, np.ndarray], other: dict[int, np.ndarray]) -> float:
    errs = []
    for i, kp in other.items():
        ref = reference.get(i)
        if ref is None:
            continue
        both = (ref[:, 2] >= 0.5) & (kp[:, 2] >= 0.5)
        if both.any():
            errs.append(np.hypot(*(kp[both, :2] - ref[both, :2]).T).mean() / diagonal(ref))
    return 100 * float(np.mean(errs)) if errs else float("nan")


def jitter(poses: dict[int, np.ndarray]) -> float:
    """Mean |p[t-1] - 2 p[t] + p[t+1]| over consecutive processed frames, % of the box diagonal."""
    idx = sorted(poses)
    vals = []
    for a, b, c in zip(idx, idx[1:], idx[2:], strict=False):
        if b - a != c - b:
            continue
        pa, pb, pc = poses[a], poses[b], poses[c]
        ok = (pa[:, 2] >= 0.5) & (pb[:, 2] >= 0.5) & (pc[:, 2] >= 0.5)
        if ok.any():
            d2 = pa[ok, :2] - 2 * pb[ok, :2] + pc[ok, :2]
            vals.append(np.hypot(*d2.T).mean() / diagonal(pb))
    return 100 * float(np.mean(vals)) if vals else float("nan")


def labels(poses: dict[int, np.ndarray], fps: float, classifier: ActionClassifier) -> dict[float, str]:
    """Window end pts -> top label, windows every 0.25 s, through the service's tracker and windows."""
    tracker, windows = Tracker(max_people=1), TrackWindows(classifier.spec, hop_s=0.25)
    out: dict[float, str] = {}
    for i in sorted(poses):
        pts = i / fps
        people = tracker.update(Poses.from_keypoints(poses[i][None]), pts)
        for track_id, kp in zip(people.track_ids.tolist(), people.keypoints, strict=True):
            windows.add(track_id, pts, kp)
        for w, p in zip(
            ready := windows.ready(pts), classifier.predict_windows(ready) if ready else [], strict=True
        ):
            out[round(w.end_pts * 4) / 4] = classifier.labels[int(np.argmax(p))]
    return out


def agreement(reference: dict[float, str], other: dict[float, str]) -> float:
    shared = [t for t in other if t in reference]
    return float(np.mean([reference[t] == other[t] for t in shared])) if shared else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    classifier = ActionClassifier.load(default_model_path())
    result: dict[str, Any] = {"clips": {}}
    for rel in CLIPS:
        images, fps = decode(args.data / rel, args.frames)
        one = run_graphs(images, 1)
        two = run_graphs(images, 2)
        half = run_graphs(images, 1, every=2)
        ref_labels = labels(one, fps, classifier)
        runs = {"two graphs": (two, 1), "one graph, every other frame": (half, 2)}
        result["clips"][rel] = {
            "frames": len(images),
            "fps": fps,
            "found_share": {
                name: len(poses) / len(range(0, len(images), every))
                for name, (poses, every) in {"one graph": (one, 1), **runs}.items()
            },
            "distance_to_one_graph_pct": {name: distance_to(one, poses) for name, (poses, _) in runs.items()},
            "jitter_pct": {
                name: jitter(poses) for name, (poses, _) in {"one graph": (one, 1), **runs}.items()
            },
            "label_agreement_with_one_graph": {
                name: agreement(ref_labels, labels(poses, fps, classifier))
                for name, (poses, _) in runs.items()
            },
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
