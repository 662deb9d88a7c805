"""What a 2D pose detector does to perfect keypoints: jitter, lag, blur, occlusion, dropouts.

Errors scale with the person's size in pixels (torso length), are correlated in time like a
tracker's, and the confidence channel behaves like the detectors' (high for torso and face,
lower for wrists and ankles, low when a joint is hidden behind the body, outside the image,
dropped, or smeared by fast motion). Events (dropouts, left/right swaps) are drawn in seconds,
so their statistics do not depend on the frame rate.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from inference.keypoints import NUM_KEYPOINTS

# Position error per joint relative to the sequence's base jitter (detectors are worst at the ends of limbs).
JOINT_JITTER = np.array([0.7, 0.7, 0.7, 0.9, 0.9, 1.0, 1.0, 1.3, 1.3, 1.7, 1.7, 1.1, 1.1, 1.2, 1.2, 1.4, 1.4])
# Typical confidence offset per joint (face, shoulders, elbows, wrists, hips, knees, ankles).
JOINT_CONF = np.array(
    [0.04, 0.03, 0.03, 0, 0, 0.05, 0.05, -0.03, -0.03, -0.05, -0.05, 0.04, 0.04, -0.02, -0.02, -0.05, -0.05]
)  # fmt: skip
TORSO = (5, 6, 12, 11)
TORSO_NEXT = (6, 12, 11, 5)


@dataclass(frozen=True)
class NoiseParams:
    """Detector noise for one sequence; lengths in torso lengths, times in seconds.

    ``jitter_px``: a floor of position noise in pixels, whatever the person's size (a detector
    cannot place a joint better than about a pixel or two of its input; small people are noisy).
    """

    jitter: float
    jitter_corr_s: float
    bias: float
    smoothing_s: float
    blur_s: float
    conf_level: float
    conf_noise: float
    dropout_rate_hz: float
    dropout_mean_s: float
    swap_rate_hz: float
    occlusion: bool
    seed: int
    jitter_px: float = 0.0

    def __post_init__(self) -> None:
        for name in ("jitter", "jitter_corr_s", "bias", "smoothing_s", "blur_s", "conf_noise", "jitter_px"):
            if getattr(self, name) < 0:
                raise ValueError(f"NoiseParams.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.conf_level <= 1.1:
            raise ValueError(f"NoiseParams.conf_level must be in [0, 1.1], got {self.conf_level}")

    @classmethod
    def none(cls) -> NoiseParams:
        """Perfect detections: exact positions, confidence 1 (inside the image)."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.1, 0.0, False, 0)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> NoiseParams:
        u = rng.uniform
        return cls(
            jitter=float(np.exp(u(np.log(0.0008), np.log(0.02)))),
            jitter_corr_s=float(u(0.0, 0.15)),
            bias=float(u(0.0, 0.04)),
            smoothing_s=float(u(0.02, 0.1) if rng.random() < 0.5 else 0.0),
            blur_s=float(u(0.0, 1 / 60)),
            conf_level=float(
                u(0.92, 1.05) if rng.random() < 0.7 else u(0.65, 0.95)
            ),  # MediaPipe-like or broad
            conf_noise=float(u(0.01, 0.08)),
            dropout_rate_hz=float(u(0.0, 0.04)),
            dropout_mean_s=float(u(0.05, 0.4)),
            swap_rate_hz=float(u(0.0, 0.1) if rng.random() < 0.5 else 0.0),
            occlusion=True,
            seed=int(rng.integers(2**31)),
            jitter_px=float(u(0.0, 2.5)),
        )


@functools.lru_cache(maxsize=64)
def _lags(n: int) -> np.ndarray:
    """``(T, T)`` time lags in steps, +inf above the diagonal (so ``r ** lag`` is 0 there)."""
    lag = (np.arange(n)[:, None] - np.arange(n)[None, :]).astype(np.float64)
    lag[lag < 0] = np.inf
    lag.flags.writeable = False
    return lag


def _step(times: np.ndarray) -> float:
    n = times.shape[0]
    return float(times[-1] - times[0]) / (n - 1) if n > 1 else 1.0


def _exp_filter(x: np.ndarray, rho: float, gain: float) -> np.ndarray:
    """``y[0] = x[0]``, ``y[k] = rho * y[k-1] + gain * x[k]`` along axis 0 of ``x (T, C)``.

    With ``gain = sqrt(1 - rho^2)`` white noise becomes unit-variance AR(1) noise; with
    ``gain = 1 - rho`` it is a tracker's exponential smoothing. Short sequences use one matrix
    product, long ones a loop (so memory stays O(T)).
    """
    n = x.shape[0]
    if n <= 512:
        lag = _lags(n)
        mat = gain * rho**lag
        mat[:, 0] = rho ** lag[:, 0]
        return mat @ x
    y = np.empty_like(x)
    y[0] = x[0]
    for k in range(1, n):
        y[k] = rho * y[k - 1] + gain * x[k]
    return y


def _events(
    rng: np.random.Generator, times: np.ndarray, rate_hz: float, mean_s: float, slots: int
) -> tuple[np.ndarray, np.ndarray]:
    """Random intervals as a ``(T, slots)`` mask, plus each event's uniform draw for its flavour."""
    span = float(times[-1] - times[0]) + 1e-6
    count = rng.poisson(rate_hz * span * slots)
    start = rng.uniform(times[0], times[-1], count)
    end = start + rng.exponential(mean_s, count)
    which = rng.integers(0, slots, count)
    flavour = rng.random(count)
    inside = (times[:, None] >= start[None]) & (times[:, None] < end[None])  # (T, E)
    onehot = np.zeros((count, slots))
    onehot[np.arange(count), which] = 1.0
    mask = (inside.astype(np.float64) @ onehot) > 0
    kind = (inside.astype(np.float64) * flavour[None]) @ onehot  # > 0 only where masked
    return mask, kind


def _inside_torso(uv: np.ndarray) -> np.ndarray:
    """``(T, 17)`` True where a joint's pixel lies inside the shoulder-hip quadrilateral."""
    quad = uv[:, TORSO]  # (T, 4, 2)
    edge = uv[:, TORSO_NEXT] - quad
    rel = uv[:, None, :, :] - quad[:, :, None, :]  # (T, 4, 17, 2)
    cross = edge[:, :, None, 0] * rel[..., 1] - edge[:, :, None, 1] * rel[..., 0]
    return np.all(cross > 0, axis=1) | np.all(cross < 0, axis=1)


def apply_noise(
    times: np.ndarray,
    uv: np.ndarray,
    points_cam: np.ndarray,
    image_size: tuple[int, int],
    params: NoiseParams,
) -> np.ndarray:
    """Detector-like keypoints ``(T, 17, 3)`` float32 (x, y pixels, confidence in [0, 1])."""
    n = uv.shape[0]
    w, h = image_size
    rng = np.random.default_rng(params.seed)
    torso_px = float(np.mean(np.linalg.norm(uv[:, 5:7].mean(1) - uv[:, 11:13].mean(1), axis=-1)))
    xy = uv.astype(np.float64).copy()
    conf = np.full((n, NUM_KEYPOINTS), 1.0)

    if params.smoothing_s > 0 and n > 1:
        keep = float(np.exp(-_step(times) / params.smoothing_s))
        xy = _exp_filter(xy.reshape(n, -1), keep, 1.0 - keep).reshape(xy.shape)
    if params.blur_s > 0 and n > 1:  # where in the exposure the detector locks on
        vel = np.empty_like(uv)  # central differences, one-sided at the ends
        vel[1:-1] = (uv[2:] - uv[:-2]) / (times[2:] - times[:-2])[:, None, None]
        vel[0] = (uv[1] - uv[0]) / (times[1] - times[0])
        vel[-1] = (uv[-1] - uv[-2]) / (times[-1] - times[-2])
        xy += vel * params.blur_s * rng.uniform(-0.5, 0.5, (n, NUM_KEYPOINTS, 1))
        speed = np.linalg.norm(vel, axis=-1) * params.blur_s / max(torso_px, 1.0)
        conf /= 1.0 + (speed / 0.15) ** 2
    scale = (params.jitter * torso_px + params.jitter_px) * JOINT_JITTER[None, :, None]
    if params.jitter > 0 or params.jitter_px > 0:
        white = rng.standard_normal((n, NUM_KEYPOINTS * 2))
        if params.jitter_corr_s > 0 and n > 1:
            rho = float(np.exp(-_step(times) / params.jitter_corr_s))
            white = _exp_filter(white, rho, float(np.sqrt(1 - rho * rho)))
        xy += white.reshape(n, NUM_KEYPOINTS, 2) * scale
    if params.bias > 0:
        xy += rng.normal(0.0, params.bias * torso_px, (1, NUM_KEYPOINTS, 2))

    if params.occlusion:
        hidden = _occluded(uv, points_cam)
        if hidden.any():
            conf = np.where(hidden, conf * rng.uniform(0.1, 0.5, conf.shape), conf)
            xy += hidden[..., None] * rng.standard_normal(xy.shape) * (2.0 * scale + 0.02 * torso_px)

    if params.dropout_rate_hz > 0 and n > 1:
        drop, kind = _events(rng, times, params.dropout_rate_hz, params.dropout_mean_s, NUM_KEYPOINTS)
        if drop.any():
            conf = np.where(drop, rng.uniform(0.0, 0.15, conf.shape), conf)
            wild = drop & (kind > 0.5)  # half the dropouts put the joint somewhere wrong
            xy += wild[..., None] * rng.normal(0.0, 0.25 * torso_px, xy.shape)
    if params.swap_rate_hz > 0 and n > 1:
        swap, _ = _events(rng, times, params.swap_rate_hz, 0.12, 1)
        for a, b in ((9, 10), (7, 8)):  # left/right confusion of the forearms
            xa, xb = xy[:, a].copy(), xy[:, b].copy()
            xy[:, a] = np.where(swap, xb, xa)
            xy[:, b] = np.where(swap, xa, xb)

    if params.conf_noise > 0 or params.conf_level < 1:
        level = params.conf_level + JOINT_CONF + rng.normal(0, 0.04, NUM_KEYPOINTS)
        frame = rng.normal(0.0, params.conf_noise, (n, NUM_KEYPOINTS))
        conf = conf * np.clip(level[None] + frame, 0.0, 1.0)
    outside = (xy[..., 0] < 0) | (xy[..., 0] >= w) | (xy[..., 1] < 0) | (xy[..., 1] >= h)
    conf = np.where(outside, conf * 0.15, conf)
    return np.concatenate([xy, np.clip(conf, 0.0, 1.0)[..., None]], axis=-1).astype(np.float32)


def _occluded(uv: np.ndarray, pc: np.ndarray) -> np.ndarray:
    """Joints hidden from the camera: limbs behind the torso, the far ear/eye when the head turns."""
    torso_depth = pc[:, TORSO, 2].mean(axis=1, keepdims=True)
    behind = pc[..., 2] > torso_depth + 0.06
    hidden = _inside_torso(uv) & behind
    hidden[:, TORSO] = False
    ears = pc[:, 3] - pc[:, 4]
    turn = ears[:, 2] / np.maximum(np.linalg.norm(ears, axis=-1), 1e-9)  # sin(head yaw) seen by the camera
    hidden[:, 3] |= turn > 0.55
    hidden[:, 4] |= turn < -0.55
    hidden[:, 1] |= turn > 0.85
    hidden[:, 2] |= turn < -0.85
    return hidden
