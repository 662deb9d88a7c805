"""Body-centred statistics of a keypoint sequence, to compare synthetic motion with real video.

Everything is measured in torso lengths (mid-shoulder to mid-hip) around the mid-shoulder
point with y pointing up, so people of any size, anywhere in any image, compare directly.
The action tests use the same numbers to check each action's signature.
"""

from __future__ import annotations

import numpy as np

L_SH, R_SH, L_EL, R_EL, L_WR, R_WR, L_HIP, R_HIP, L_KN, R_KN, L_AN, R_AN = range(5, 17)


def body_centred(keypoints: np.ndarray) -> tuple[np.ndarray, float]:
    """``(T, 17, 2)`` positions in torso lengths from the mid-shoulder, y up; and the torso in pixels."""
    kp = np.asarray(keypoints, dtype=np.float64)
    shoulders = kp[:, [L_SH, R_SH], :2].mean(axis=1)
    hips = kp[:, [L_HIP, R_HIP], :2].mean(axis=1)
    torso = float(np.median(np.linalg.norm(shoulders - hips, axis=1)))
    rel = (kp[..., :2] - shoulders[:, None]) / max(torso, 1e-6)
    rel[..., 1] *= -1.0
    return rel, torso


def dominant_frequency(times: np.ndarray, signal: np.ndarray, f_min: float = 0.3) -> tuple[float, float]:
    """Frequency (Hz) of the strongest periodic component of ``signal (T,)`` and its share of the power."""
    t = np.asarray(times, dtype=np.float64)
    n = t.shape[0]
    if n < 8:
        return 0.0, 0.0
    grid = np.linspace(t[0], t[-1], n)
    x = np.interp(grid, t, signal)
    x = (x - x.mean()) * np.hanning(n)
    pad = max(512, 4 * n)
    power = np.abs(np.fft.rfft(x, pad)) ** 2
    freqs = np.fft.rfftfreq(pad, (grid[1] - grid[0]))
    power[freqs < f_min] = 0.0
    total = float(power.sum())
    if total <= 0:
        return 0.0, 0.0
    k = int(np.argmax(power))
    return float(freqs[k]), float(power[max(k - 3, 0) : k + 4].sum() / total)


def pose_stats(times: np.ndarray, keypoints: np.ndarray) -> dict[str, float]:
    """Named scalar statistics of one sequence (see module docstring for the units)."""
    rel, torso_px = body_centred(keypoints)
    kp = np.asarray(keypoints, dtype=np.float64)
    out: dict[str, float] = {"torso_px": torso_px}

    def seg(a: int, b: int) -> float:
        return float(np.median(np.linalg.norm(rel[:, a] - rel[:, b], axis=-1)))

    out["shoulder_width"] = seg(L_SH, R_SH)
    out["hip_width"] = seg(L_HIP, R_HIP)
    out["upper_arm"] = (seg(L_SH, L_EL) + seg(R_SH, R_EL)) / 2
    out["forearm"] = (seg(L_EL, L_WR) + seg(R_EL, R_WR)) / 2
    out["thigh"] = (seg(L_HIP, L_KN) + seg(R_HIP, R_KN)) / 2
    out["shin"] = (seg(L_KN, L_AN) + seg(R_KN, R_AN)) / 2
    out["nose_up"] = float(np.median(rel[:, 0, 1]))

    heights = {}
    for name, j in (("l", L_WR), ("r", R_WR)):
        y, x = rel[:, j, 1], rel[:, j, 0]
        heights[name] = float(np.median(y))
        out[f"{name}_wrist_y_p10"], out[f"{name}_wrist_y_p50"], out[f"{name}_wrist_y_p90"] = (
            float(v) for v in np.percentile(y, [10, 50, 90])
        )
        out[f"{name}_wrist_x_std"] = float(x.std())
        out[f"{name}_wrist_y_std"] = float(y.std())
    hi, lo = ("l", "r") if heights["l"] >= heights["r"] else ("r", "l")
    for key in ("y_p10", "y_p50", "y_p90", "x_std", "y_std"):
        out[f"high_wrist_{key}"] = out[f"{hi}_wrist_{key}"]
        out[f"low_wrist_{key}"] = out[f"{lo}_wrist_{key}"]

    gap = np.linalg.norm(rel[:, L_WR] - rel[:, R_WR], axis=-1)
    out["wrist_gap_p05"], out["wrist_gap_p50"], out["wrist_gap_p95"] = (
        float(v) for v in np.percentile(gap, [5, 50, 95])
    )
    ankle_gap = np.abs(rel[:, L_AN, 0] - rel[:, R_AN, 0])
    out["ankle_gap_p05"], out["ankle_gap_p95"] = (float(v) for v in np.percentile(ankle_gap, [5, 95]))
    hip_y = -kp[:, [L_HIP, R_HIP], 1].mean(axis=1) / max(torso_px, 1e-6)
    out["hip_y_std"] = float(hip_y.std())
    # How far each wrist gets from its shoulder (punch extension), in torso lengths.
    reach = np.stack(
        [
            np.linalg.norm(rel[:, L_WR] - rel[:, L_SH], axis=-1),
            np.linalg.norm(rel[:, R_WR] - rel[:, R_SH], axis=-1),
        ]
    )
    out["wrist_reach_std"] = float(reach.std(axis=1).mean())

    signals = {
        "l_wrist_x": rel[:, L_WR, 0],
        "l_wrist_y": rel[:, L_WR, 1],
        "r_wrist_x": rel[:, R_WR, 0],
        "r_wrist_y": rel[:, R_WR, 1],
        "wrist_gap": gap,
        "hip_y": hip_y,
    }
    strongest = max(signals, key=lambda k: float(np.std(signals[k])))
    out["tempo_hz"], out["tempo_share"] = dominant_frequency(times, signals[strongest])
    d2 = np.diff(rel[:, [L_HIP, R_HIP, L_SH, R_SH]], n=2, axis=0) if len(rel) > 2 else np.zeros((1, 4, 2))
    out["jitter"] = float(np.median(np.abs(d2)))
    conf = kp[:, :, 2]
    out["conf_face"] = float(conf[:, :5].mean())
    out["conf_torso"] = float(conf[:, [L_SH, R_SH, L_HIP, R_HIP]].mean())
    out["conf_wrists"] = float(conf[:, [L_WR, R_WR]].mean())
    out["conf_ankles"] = float(conf[:, [L_AN, R_AN]].mean())
    return out
