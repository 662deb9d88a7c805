"""Synthetic people against real people: BlazePose on the labelled real clips.

For each labelled segment, body-centred statistics of the real poses must fall inside the
range (5th-95th percentile) that synthetic sequences of the same action cover. This keeps the
generator honest about proportions, arm heights, amplitudes and tempo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.keypoints import mediapipe33_to_coco17
from training.posestats import pose_stats
from training.synthetic import generate_sequence

KEYS = {
    "WAVING_1HAND": (
        "shoulder_width",
        "thigh",
        "nose_up",
        "high_wrist_y_p50",
        "low_wrist_y_p50",
        "high_wrist_x_std",
    ),
    "WAVING_2HANDS": ("thigh", "nose_up", "high_wrist_y_p50", "low_wrist_y_p50", "wrist_gap_p95"),
    "CLAPPING_HANDS": ("shoulder_width", "thigh", "high_wrist_y_p90", "wrist_gap_p95", "tempo_hz"),
}
# (video, action, first frame, last frame, frame step)
SEGMENTS = (
    ("omkarnagarkar55_wave.mp4", "WAVING_1HAND", 0, 45, 1),
    ("omkarnagarkar55_wave.mp4", "WAVING_2HANDS", 48, 124, 1),
    ("malikmrllh_clapsoverhead.mp4", "CLAPPING_HANDS", 500, 1050, 2),
)


def _blazepose(video: Path, start: int, end: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    cv2 = pytest.importorskip("cv2")
    mp = pytest.importorskip("mediapipe")
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    times, kps = [], []
    with mp.solutions.pose.Pose(model_complexity=1, static_image_mode=False) as pose:
        i = 0
        while i <= end:
            ok, img = cap.read()
            if not ok:
                break
            if i >= start and (i - start) % step == 0:
                h, w = img.shape[:2]
                res = pose.process(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
                if res.pose_landmarks:
                    lm = np.array([[p.x * w, p.y * h, p.visibility] for p in res.pose_landmarks.landmark])
                    kps.append(mediapipe33_to_coco17(lm))
                    times.append(i / fps)
            i += 1
    cap.release()
    return np.asarray(times), np.asarray(kps, dtype=np.float32)


Segment = tuple[str, str, int, int, int]


@pytest.mark.slow
@pytest.mark.parametrize("segment", SEGMENTS, ids=[s[1] for s in SEGMENTS])
def test_real_segment_inside_synthetic_range(shared_data: Path, segment: Segment) -> None:
    video, action, start, end, step = segment
    times, kp = _blazepose(shared_data / "videos" / video, start, end, step)
    assert len(times) > 0.8 * ((end - start) // step), "BlazePose should find the person in most frames"
    real = pose_stats(times - times[0], kp)
    synth = [
        pose_stats(s.times, s.keypoints)
        for s in (generate_sequence(action, 22.0, 3.0, np.random.default_rng([31, i])) for i in range(150))
    ]
    outside = []
    for key in KEYS[action]:
        lo, hi = np.percentile([s[key] for s in synth], [5, 95])
        if not lo <= real[key] <= hi:
            outside.append(f"{key}: real {real[key]:.3f} not in synthetic [{lo:.3f}, {hi:.3f}]")
    assert not outside, f"{video} {action}: " + "; ".join(outside)
