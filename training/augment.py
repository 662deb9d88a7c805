"""Augmentation of keypoint sequences ``(T, 17, 3)`` that copies what cameras and detectors do.

Every function is pure (returns new arrays) and works on pixels + confidence as served by the
pose backends, so the augmented data goes through the same ``make_features`` as live data.
A horizontal mirror swaps left and right joints; labels that name a side swap too, through a
label map (the six default actions have none: a mirrored WAVING_1HAND is still WAVING_1HAND).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from inference.keypoints import NUM_KEYPOINTS, flip_keypoints


def symmetric_label_map(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A label map for :func:`mirror` from pairs like ``("raise_left", "raise_right")``, both ways."""
    out: dict[str, str] = {}
    for a, b in pairs:
        for x, y in ((a, b), (b, a)):
            if out.get(x, y) != y:
                raise ValueError(
                    f"label {x!r} is paired with both {out[x]!r} and {y!r}; each label swaps with one"
                )
            out[x] = y
    return out


def _check_map(label_map: Mapping[str, str]) -> None:
    for a, b in label_map.items():
        if label_map.get(b) != a:
            raise ValueError(
                f"label map must be symmetric: {a!r} -> {b!r} but {b!r} -> {label_map.get(b)!r}; "
                "build it with symmetric_label_map()"
            )


def _check(keypoints: np.ndarray) -> np.ndarray:
    kp = np.asarray(keypoints)
    if kp.ndim != 3 or kp.shape[1:] != (NUM_KEYPOINTS, 3):
        raise ValueError(f"expected keypoints of shape (T, {NUM_KEYPOINTS}, 3), got {kp.shape}")
    return kp


def mirror(
    keypoints: np.ndarray, width: float, label: str, label_map: Mapping[str, str] | None = None
) -> tuple[np.ndarray, str]:
    """Mirror horizontally in an image ``width`` pixels wide; the label swaps when ``label_map`` says so."""
    kp = _check(keypoints)
    label_map = label_map or {}
    _check_map(label_map)
    return flip_keypoints(kp, width).astype(kp.dtype, copy=False), label_map.get(label, label)


def _centre(kp: np.ndarray, centre: tuple[float, float] | None) -> np.ndarray:
    if centre is not None:
        return np.asarray(centre, dtype=np.float64)
    good = kp[..., 2] > 0
    pts = kp[..., :2][good] if good.any() else kp[..., :2].reshape(-1, 2)
    return pts.mean(axis=0)


def scale(keypoints: np.ndarray, factor: float, centre: tuple[float, float] | None = None) -> np.ndarray:
    """Zoom about ``centre`` (default: the person's mean position): a closer or farther camera."""
    kp = _check(keypoints).copy()
    c = _centre(kp, centre)
    kp[..., :2] = (kp[..., :2] - c) * factor + c
    return kp


def shift(keypoints: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Move the person in the picture by ``(dx, dy)`` pixels."""
    kp = _check(keypoints).copy()
    kp[..., 0] += dx
    kp[..., 1] += dy
    return kp


def rotate(keypoints: np.ndarray, degrees: float, centre: tuple[float, float] | None = None) -> np.ndarray:
    """Rotate in the image plane (a tilted camera); positive turns clockwise on screen."""
    kp = _check(keypoints).copy()
    c = _centre(kp, centre)
    a = np.deg2rad(degrees)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    kp[..., :2] = (kp[..., :2] - c) @ rot.T + c
    return kp


def change_speed(times: np.ndarray, factor: float) -> np.ndarray:
    """Timestamps of the same frames played ``factor`` times faster (same frames, shorter duration)."""
    if not factor > 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    t = np.asarray(times, dtype=np.float64)
    return t[0] + (t - t[0]) / factor


def resample(times: np.ndarray, keypoints: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Keypoints linearly interpolated at ``new_times`` (clamped to the ends)."""
    kp = _check(keypoints)
    t = np.asarray(times, dtype=np.float64)
    nt = np.asarray(new_times, dtype=np.float64)
    idx = np.clip(np.searchsorted(t, nt, side="right") - 1, 0, len(t) - 2)
    w = np.clip((nt - t[idx]) / np.maximum(t[idx + 1] - t[idx], 1e-12), 0.0, 1.0)[:, None, None]
    return ((1 - w) * kp[idx] + w * kp[idx + 1]).astype(kp.dtype)


def time_warp(times: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Smoothly uneven timestamps (tempo drifting within a sequence), still increasing, same span."""
    t = np.asarray(times, dtype=np.float64)
    span = t[-1] - t[0]
    if span <= 0 or strength <= 0:
        return t.copy()
    x = (t - t[0]) / span
    k = rng.integers(1, 3)
    a = rng.uniform(-strength, strength) / (2 * np.pi * k)  # |derivative| <= strength < 1 keeps it monotonic
    warped = x + a * np.sin(2 * np.pi * k * x)
    return t[0] + warped * span


def drop_frames(
    times: np.ndarray, keypoints: np.ndarray, p: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Remove frames at random (missed detections, frame skipping); the first and last stay."""
    kp = _check(keypoints)
    keep = rng.random(len(times)) >= p
    keep[[0, -1]] = True
    return np.asarray(times)[keep], kp[keep]


def jitter(keypoints: np.ndarray, sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Independent Gaussian noise of ``sigma_px`` pixels on every joint position."""
    kp = _check(keypoints).copy()
    kp[..., :2] += rng.normal(0.0, sigma_px, kp[..., :2].shape).astype(kp.dtype)
    return kp


def dropout(keypoints: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Mark joints missing (confidence 0) with probability ``p`` each; positions are kept."""
    kp = _check(keypoints).copy()
    kp[..., 2] = np.where(rng.random(kp.shape[:2]) < p, 0.0, kp[..., 2])
    return kp


def torso_px(keypoints: np.ndarray) -> float:
    """Median torso length in pixels (mid-shoulder to mid-hip), the scale for pixel noise."""
    kp = _check(keypoints)
    d = np.linalg.norm(kp[:, 5:7, :2].mean(axis=1) - kp[:, 11:13, :2].mean(axis=1), axis=-1)
    return float(np.median(d)) if len(d) else 0.0


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges for :func:`augment` (pixels relative to the torso length)."""

    mirror_p: float = 0.5
    scale_range: tuple[float, float] = (0.8, 1.25)
    shift_frac: float = 0.1  # of the image size
    rotate_deg: float = 7.0
    speed_range: tuple[float, float] = (0.7, 1.4)
    warp_strength: float = 0.15
    jitter_torso: float = 0.01
    dropout_p: float = 0.02
    drop_frames_p: float = 0.05
    label_map: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("mirror_p", "dropout_p", "drop_frames_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"AugmentConfig.{name} must be a probability in [0, 1], got {getattr(self, name)}"
                )
        for name in ("scale_range", "speed_range"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(
                    f"AugmentConfig.{name} must be (low, high) with 0 < low <= high, got {(lo, hi)}"
                )
        if not 0.0 <= self.warp_strength < 1.0:
            raise ValueError(f"AugmentConfig.warp_strength must be in [0, 1), got {self.warp_strength}")
        _check_map(self.label_map)


@dataclass(frozen=True)
class Augmented:
    times: np.ndarray
    keypoints: np.ndarray
    label: str


def augment(
    times: np.ndarray,
    keypoints: np.ndarray,
    image_size: tuple[int, int],
    label: str,
    rng: np.random.Generator,
    *,
    config: AugmentConfig | None = None,
) -> Augmented:
    """One random camera-like variation of a sequence (mirror, zoom, shift, tilt, tempo, noise)."""
    cfg = config or AugmentConfig()
    kp = _check(keypoints).astype(np.float32, copy=True)
    t = np.asarray(times, dtype=np.float64)
    w, h = image_size
    if rng.random() < cfg.mirror_p:
        kp, label = mirror(kp, w, label, cfg.label_map)
    kp = scale(kp, float(np.exp(rng.uniform(*np.log(cfg.scale_range)))))
    kp = rotate(kp, float(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg)))
    kp = shift(
        kp, float(rng.uniform(-1, 1) * cfg.shift_frac * w), float(rng.uniform(-1, 1) * cfg.shift_frac * h)
    )
    t = change_speed(t, float(np.exp(rng.uniform(*np.log(cfg.speed_range)))))
    t = time_warp(t, cfg.warp_strength, rng)
    if cfg.jitter_torso > 0:
        kp = jitter(kp, cfg.jitter_torso * torso_px(kp), rng)
    if cfg.dropout_p > 0:
        kp = dropout(kp, cfg.dropout_p, rng)
    if cfg.drop_frames_p > 0 and len(t) > 2:
        t, kp = drop_frames(t, kp, cfg.drop_frames_p, rng)
    return Augmented(times=t, keypoints=kp.astype(np.float32, copy=False), label=label)
