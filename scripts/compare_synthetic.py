"""Compare synthetic actions with real people seen by MediaPipe BlazePose (body-centred statistics).

    PYTHONPATH=. python scripts/compare_synthetic.py --data ../shared/data --out /tmp/compare

Runs BlazePose (model_complexity=1, video mode) over the labelled segments of the real clips in
``videos/labels.csv`` (cached as .npz next to the output), computes :func:`training.posestats.pose_stats`
on 3-second windows of each real segment and on synthetic sequences of the same action, prints
real medians next to the synthetic 10/50/90th percentiles, and writes side-by-side contact sheets.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inference.keypoints import mediapipe33_to_coco17
from training.posestats import pose_stats
from training.preview import PreviewRow, write_contact_sheet
from training.synthetic import ACTIONS, IDLE, SyntheticSequence, generate_sequence, sample_params

SHORT = {"WAVING_1HAND": "wave1", "WAVING_2HANDS": "wave2", "CLAPPING_HANDS": "clap"}
KEYS = (
    "shoulder_width",
    "upper_arm",
    "forearm",
    "thigh",
    "nose_up",
    "high_wrist_y_p50",
    "high_wrist_x_std",
    "high_wrist_y_std",
    "low_wrist_y_p50",
    "wrist_gap_p05",
    "wrist_gap_p95",
    "hip_y_std",
    "tempo_hz",
    "jitter",
    "conf_wrists",
)


def mediapipe_poses(video: Path, cache: Path) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """``times (T,)``, COCO-17 keypoints ``(T, 17, 3)`` and image size of every frame of ``video``."""
    if cache.exists():
        d = np.load(cache)
        return d["times"], d["keypoints"], (int(d["size"][0]), int(d["size"][1]))
    import mediapipe as mp  # noqa: PLC0415 (optional dependency)

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    pose = mp.solutions.pose.Pose(model_complexity=1, static_image_mode=False)
    kps, size = [], (0, 0)
    while True:
        ok, img = cap.read()
        if not ok:
            break
        h, w = img.shape[:2]
        size = (w, h)
        res = pose.process(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        lm = np.zeros((33, 3), np.float32)
        if res.pose_landmarks:
            lm = np.array([[p.x * w, p.y * h, p.visibility] for p in res.pose_landmarks.landmark], np.float32)
        kps.append(mediapipe33_to_coco17(lm))
    cap.release()
    times = np.arange(len(kps)) / fps
    keypoints = np.asarray(kps, np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, times=times, keypoints=keypoints, size=np.array(size))
    return times, keypoints, size


def windows(
    times: np.ndarray, kp: np.ndarray, length_s: float, step_s: float
) -> list[tuple[np.ndarray, ...]]:
    out, t0 = [], times[0]
    while t0 + length_s <= times[-1] + 1e-9:
        sel = (times >= t0) & (times <= t0 + length_s)
        out.append((times[sel], kp[sel]))
        t0 += step_s
    return out or [(times, kp)]


def _pick(action: str, variant: str | None, seed: int, fps: float, duration: float) -> SyntheticSequence:
    """A synthetic sequence of ``action`` (and ``variant``), seen from the front, for a fair look."""
    for k in range(10_000):
        rng = np.random.default_rng([seed, 99, k])
        params = sample_params(action, rng)
        whole_body = params.camera.aim_height <= params.body.hip_height + 1e-6
        frontal = abs(params.camera.yaw) < np.radians(20)
        if (variant is None or params.motion.variant == variant) and frontal and whole_body:
            seq = generate_sequence(action, fps, duration, rng, params)
            if np.mean(seq.keypoints[..., 2] > 0.3) > 0.97:  # the whole person stays in the picture
                return seq
    raise RuntimeError(f"no {action}/{variant} sample found")


RealClip = tuple[np.ndarray, np.ndarray, tuple[int, int]]


def write_figures(out: Path, real: dict[str, RealClip], seed: int) -> None:
    """The model card's pictures: every action, and real next to synthetic for the real clips."""
    rows = []
    typical = {"JUMPING_JACKS": "full", "CLAPPING_HANDS": "chest", "WAVING_2HANDS": "overhead"}
    for k, action in enumerate((*ACTIONS, IDLE)):
        seq = _pick(action, typical.get(action), seed + k, 22.0, 2.0)
        title = f"{action} ({seq.params.motion.variant})"
        rows.append(PreviewRow(seq.times, seq.keypoints, seq.image_size, title))
    write_contact_sheet(out / "synthetic_actions.png", rows, n_cols=8, cell=96)
    framing = []
    for k in range(4):
        seq = generate_sequence("JUMPING_JACKS", 22.0, 1.6, np.random.default_rng([seed, 7, k]))
        cam = seq.params.camera
        title = f"{cam.image_size[0]}x{cam.image_size[1]} yaw {np.degrees(cam.yaw):.0f}"
        framing.append(PreviewRow(seq.times, seq.keypoints, seq.image_size, title))
    write_contact_sheet(out / "synthetic_framing.png", framing, n_cols=6, cell=96, crop=False)
    for name, action, variant, key in (
        ("wave", "WAVING_1HAND", "right", "wave1"),
        ("wave2", "WAVING_2HANDS", "overhead", "wave2"),
        ("clap", "CLAPPING_HANDS", "overhead", "clap"),
    ):
        times, kp, size = real[key]
        span = 2.0
        sel = times <= times[0] + span
        fps = 1.0 / float(np.median(np.diff(times)))
        pair = [PreviewRow(times[sel] - times[0], kp[sel], size, f"real BlazePose: {action}")]
        for k in range(2):
            seq = _pick(action, variant, seed + 10 * k + len(name), fps, span)
            title = f"synthetic {action} ({variant})"
            pair.append(PreviewRow(seq.times, seq.keypoints, seq.image_size, title))
        write_contact_sheet(out / f"synthetic_vs_real_{name}.png", pair, n_cols=8, cell=96)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n-synthetic", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figures", type=Path, help="also write the model card's contact sheets here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    rows = list(csv.DictReader((args.data / "videos" / "labels.csv").open()))
    real: dict[str, RealClip] = {}
    for row in rows:
        video = args.data / "videos" / row["file"]
        times, kp, size = mediapipe_poses(video, args.out / f"{video.stem}.npz")
        a, b = int(row["frame_start"]), int(row["frame_end"]) + 1
        seg_t, seg_kp = times[a:b] - times[a], kp[a:b]
        key = SHORT.get(row["label"], row["label"])
        real[key] = (seg_t, seg_kp, size)
        seg_len = float(seg_t[-1])
        real_stats = [pose_stats(t, k) for t, k in windows(seg_t, seg_kp, min(3.0, seg_len), 0.5)]
        action = row["label"]
        rng = np.random.default_rng([args.seed, len(action)])
        synth = [generate_sequence(action, 22.0, 3.0, rng) for _ in range(args.n_synthetic)]
        sstats = [pose_stats(s.times, s.keypoints) for s in synth]
        print(f"\n== {row['file']} frames {a}-{b - 1}: {action} ({len(real_stats)} real windows)")
        print(f"{'statistic':22s} {'real p50':>9s}   synthetic p10 / p50 / p90")
        for key in KEYS:
            r = np.median([s[key] for s in real_stats])
            p = np.percentile([s[key] for s in sstats], [10, 50, 90])
            flag = "" if p[0] <= r <= p[2] else "  <-- outside"
            print(f"{key:22s} {r:9.3f}   {p[0]:7.3f} {p[1]:7.3f} {p[2]:7.3f}{flag}")
        span = min(2.0, seg_len)
        show = [
            PreviewRow(t, k, size, f"real {row['file']} {action}")
            for t, k in windows(seg_t, seg_kp, span, span)
        ]
        show = show[:3] + [
            PreviewRow(
                s.times[:45], s.keypoints[:45], s.image_size, f"synthetic {action} {s.params.motion.variant}"
            )
            for s in synth[:3]
        ]
        path = write_contact_sheet(args.out / f"compare_{video.stem}_{a}.png", show, cell=110)
        print(f"wrote {path}")
    if args.figures:
        write_figures(args.figures, real, args.seed)
        print(f"wrote figures to {args.figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
