"""Per-track pose windows built from timestamps, and the one feature function.

The classifier was trained on ``spec.steps`` poses spaced ``1 / spec.rate_hz`` apart. Cameras run at
other rates and the pipeline skips frames, so a window is defined by *time*, not frame count:
:func:`make_features` resamples whatever poses were seen (linear interpolation) at ``spec.steps``
instants ending at the newest pose. Training and serving both call it, so they cannot drift apart.
See docs/INFERENCE.md for the rules on missing joints and normalisation.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from inference.keypoints import COCO17_FLIP_PAIRS, COCO17_INDEX, NUM_KEYPOINTS

log = logging.getLogger(__name__)

NORMALISATIONS: tuple[str, ...] = ("raw_pixels", "body_centred")
FEATURE_SIZE = 2 * NUM_KEYPOINTS  # x, y per COCO-17 joint, interleaved: x0, y0, x1, y1, ...

# Tolerance on timestamp comparisons: pts are floats built as k / fps, which is not exact.
SAME_INSTANT_S = 1e-6  # timestamps closer than this are one instant (windows, timelines)
_EPS_S = SAME_INSTANT_S

_PARTNER: dict[int, int] = {a: b for a, b in COCO17_FLIP_PAIRS} | {b: a for a, b in COCO17_FLIP_PAIRS}
_HEAD = tuple(COCO17_INDEX[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))
_SHOULDERS = (COCO17_INDEX["left_shoulder"], COCO17_INDEX["right_shoulder"])
_HIPS = (COCO17_INDEX["left_hip"], COCO17_INDEX["right_hip"])


class NoConfidentKeypointsError(ValueError):
    """A window in which no joint was ever confident: there is nothing to classify."""


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """What the classifier expects: ``steps`` poses at ``rate_hz``, normalised as named.

    ``min_confidence``: a joint below it counts as missing and is filled (see :func:`resample_poses`).
    """

    steps: int = 32
    rate_hz: float = 22.0
    normalisation: str = "raw_pixels"
    min_confidence: float = 0.3

    def __post_init__(self) -> None:
        if not isinstance(self.steps, int) or self.steps < 2:
            raise ValueError(f"WindowSpec.steps must be an int >= 2, got {self.steps!r}")
        if not (math.isfinite(self.rate_hz) and self.rate_hz > 0):
            raise ValueError(f"WindowSpec.rate_hz must be a positive number, got {self.rate_hz!r}")
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(
                f"WindowSpec.normalisation must be one of {', '.join(NORMALISATIONS)}, "
                f"got {self.normalisation!r}"
            )
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"WindowSpec.min_confidence must be in [0, 1], got {self.min_confidence!r}")

    @property
    def duration_s(self) -> float:
        """Time from the first to the last resampled instant: ``(steps - 1) / rate_hz``."""
        return (self.steps - 1) / self.rate_hz

    @property
    def feature_size(self) -> int:
        return FEATURE_SIZE


@dataclass(frozen=True, slots=True)
class Window:
    """One classifier input for one track.

    ``features (steps, 34)`` float32 is what the classifier eats. ``missing_fraction`` is the share
    of (pose, joint) samples in the window that were below ``min_confidence`` and had to be filled;
    above the model's ``max_missing_fraction`` the window names no action (:mod:`inference.decision`).
    ``samples`` is how many real poses the window came from.
    """

    track_id: int
    start_pts: float
    end_pts: float
    features: np.ndarray
    missing_fraction: float = 0.0
    samples: int = 0

    def __post_init__(self) -> None:
        f = self.features
        if not isinstance(f, np.ndarray) or f.dtype != np.float32:
            raise ValueError(f"Window.features must be a float32 numpy array, got {type(f).__name__}")
        if f.ndim != 2 or f.shape[1] != FEATURE_SIZE:
            raise ValueError(f"Window.features must have shape (steps, {FEATURE_SIZE}), got {f.shape}")
        if self.end_pts < self.start_pts:
            raise ValueError(f"Window.end_pts {self.end_pts} is before start_pts {self.start_pts}")
        if not 0.0 <= self.missing_fraction <= 1.0:
            raise ValueError(f"Window.missing_fraction must be in [0, 1], got {self.missing_fraction}")


@dataclass(frozen=True, slots=True)
class ResampledPoses:
    """Joint positions at the spec's instants, before normalisation.

    ``xy (steps, 17, 2)`` pixels, every joint filled; ``seen (17,)`` True where the joint was
    confident at least once in the window; ``missing_fraction`` as in :class:`Window`.
    """

    times: np.ndarray
    xy: np.ndarray
    seen: np.ndarray
    missing_fraction: float
    samples: int


def _check_sequence(times: np.ndarray, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=np.float64)
    kp = np.asarray(keypoints, dtype=np.float64)
    if t.ndim != 1 or len(t) == 0:
        raise ValueError(f"times must be a non-empty 1-D array, got shape {t.shape}")
    if kp.shape != (len(t), NUM_KEYPOINTS, 3):
        raise ValueError(
            f"keypoints must have shape ({len(t)}, {NUM_KEYPOINTS}, 3) to match times, got {kp.shape}"
        )
    if not np.all(np.isfinite(t)):
        raise ValueError("times must be finite")
    if len(t) > 1 and np.any(np.diff(t) <= 0):
        bad = int(np.argmax(np.diff(t) <= 0))
        raise ValueError(
            f"times must be strictly increasing, but times[{bad + 1}]={t[bad + 1]} <= times[{bad}]={t[bad]}"
        )
    return t, kp


def _midline_x(xy: np.ndarray, have: np.ndarray) -> np.ndarray:
    """Body midline x per step: mean of the shoulder / hip pair midpoints that are available,
    else mean of all available joints. ``xy (S, 17, 2)``, ``have (17,)``."""
    pairs = [p for p in (_SHOULDERS, _HIPS) if have[p[0]] and have[p[1]]]
    if pairs:
        mids = [(xy[:, a, 0] + xy[:, b, 0]) / 2 for a, b in pairs]
        return np.mean(mids, axis=0)
    return xy[:, have, 0].mean(axis=1)


def resample_poses(times: np.ndarray, keypoints: np.ndarray, spec: WindowSpec) -> ResampledPoses:
    """Resample a time-stamped pose sequence at ``spec.steps`` instants ``1 / rate_hz`` apart ending
    at ``times[-1]``, filling every joint.

    Missing joints (confidence < ``spec.min_confidence``), in order of preference:

    1. interpolate linearly in time between the same joint's confident samples (before the first /
       after the last confident sample the nearest confident value is held);
    2. a joint never confident in the window takes its left/right partner mirrored about the body
       midline (shoulder/hip midpoints);
    3. a head joint with no partner seen takes the mean of the head joints that are available;
    4. anything left takes the centroid of the available joints.

    Instants before ``times[0]`` hold the first pose (only happens when the caller passes less
    than ``spec.duration_s`` of poses). Raises :class:`NoConfidentKeypointsError` when no joint is ever
    confident: the window has no information and must not be fed to a model as zeros.
    """
    t, kp = _check_sequence(times, keypoints)
    targets = t[-1] - (spec.steps - 1 - np.arange(spec.steps)) / spec.rate_hz
    # Poses that matter: from the last one at or before the first instant up to the end.
    first = max(int(np.searchsorted(t, targets[0] + _EPS_S, side="right")) - 1, 0)
    t, kp = t[first:], kp[first:]
    confident = np.asarray(kp[:, :, 2] >= spec.min_confidence)
    seen = np.asarray(confident.any(axis=0))
    if not seen.any():
        raise NoConfidentKeypointsError(
            f"no joint reaches confidence {spec.min_confidence} in the {len(t)} poses of this window"
        )
    xy = np.zeros((spec.steps, NUM_KEYPOINTS, 2), np.float64)
    for j in np.flatnonzero(seen).tolist():
        m = confident[:, j]
        for c in (0, 1):
            xy[:, j, c] = np.interp(targets, t[m], kp[m, j, c])
    have = seen.copy()
    # Rule 2: mirror the partner about the midline (computed from directly seen joints only).
    mirror_from = [j for j in range(NUM_KEYPOINTS) if not have[j] and j in _PARTNER and seen[_PARTNER[j]]]
    if mirror_from:
        mid = _midline_x(xy, seen)
        for j in mirror_from:
            p = _PARTNER[j]
            xy[:, j, 0] = 2 * mid - xy[:, p, 0]
            xy[:, j, 1] = xy[:, p, 1]
            have[j] = True
    # Rule 3: head joints from the other head joints.
    head_have = [h for h in _HEAD if have[h]]
    for h in _HEAD:
        if not have[h] and head_have:
            xy[:, h] = xy[:, head_have].mean(axis=1)
    for h in _HEAD:
        have[h] = have[h] or bool(head_have)
    # Rule 4: the centroid of what is available.
    if not have.all():
        centroid = xy[:, have].mean(axis=1)
        xy[:, ~have] = centroid[:, None, :]
    return ResampledPoses(
        times=targets,
        xy=xy,
        seen=seen,
        missing_fraction=float(1.0 - confident.mean()),
        samples=len(t),
    )


def normalise(poses: ResampledPoses, normalisation: str) -> np.ndarray:
    """Apply a named normalisation to resampled poses; returns ``(steps, 17, 2)``.

    ``raw_pixels``: unchanged (what the seed model was trained on). ``body_centred``: subtract one
    centre per window (mean over the window of mid-hip, or mid-shoulder when no hip was seen, or the
    centroid) so motion *within* the window stays, and divide by one scale per window (median torso
    length, or median body height when shoulders or hips were never seen). The result does not
    change when the whole skeleton is shifted or scaled, e.g. by distance from the camera.
    """
    xy = poses.xy
    if normalisation == "raw_pixels":
        return xy.copy()
    if normalisation != "body_centred":
        raise ValueError(
            f"unknown normalisation {normalisation!r}; expected one of {', '.join(NORMALISATIONS)}"
        )
    seen = poses.seen
    hips_seen = bool(seen[list(_HIPS)].any())
    shoulders_seen = bool(seen[list(_SHOULDERS)].any())
    mid_hip = xy[:, list(_HIPS)].mean(axis=1)
    mid_shoulder = xy[:, list(_SHOULDERS)].mean(axis=1)
    if hips_seen:
        centre = mid_hip.mean(axis=0)
    elif shoulders_seen:
        centre = mid_shoulder.mean(axis=0)
    else:
        centre = xy[:, seen].reshape(-1, 2).mean(axis=0)
    if hips_seen and shoulders_seen:
        scale = float(np.median(np.linalg.norm(mid_shoulder - mid_hip, axis=1)))
    else:
        ys = xy[:, seen, 1]
        scale = float(np.median(ys.max(axis=1) - ys.min(axis=1)))
    scale = max(scale, 1e-6)  # a skeleton collapsed to one point: centred zeros, not inf
    return (xy - centre) / scale


def make_features(times: np.ndarray, keypoints: np.ndarray, spec: WindowSpec) -> np.ndarray:
    """Classifier input ``(spec.steps, 34)`` float32 from poses ``keypoints (T, 17, 3)`` at ``times (T,)``:
    resampled (:func:`resample_poses`), then normalised as ``spec.normalisation`` says."""
    poses = resample_poses(times, keypoints, spec)
    return normalise(poses, spec.normalisation).reshape(spec.steps, FEATURE_SIZE).astype(np.float32)


class _Buffer:
    __slots__ = ("keypoints", "last_emitted", "times")

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.keypoints: deque[np.ndarray] = deque()
        self.last_emitted: float | None = None

    def clear(self) -> None:
        self.times.clear()
        self.keypoints.clear()


class TrackWindows:
    """Time-bounded pose buffers per track, and the windows that are ready to classify.

    A track is ready when its buffered poses span at least ``spec.duration_s``. ``max_gap_s``: a
    longer gap between two poses of a track restarts its buffer (interpolating across it would be
    invention). ``hop_s``: after a window is emitted, the track is not ready again until its newest
    pose is ``hop_s`` later, so the classifier runs at most ``1 / hop_s`` times per second per track
    whatever the camera rate (0 = on every new pose). Memory is bounded by time: a buffer keeps only
    the poses of the last ``duration_s`` plus the one before.
    """

    def __init__(self, spec: WindowSpec, max_gap_s: float = 0.5, hop_s: float = 0.0) -> None:
        if not max_gap_s > 0:
            raise ValueError(f"max_gap_s must be > 0, got {max_gap_s}")
        if not hop_s >= 0:
            raise ValueError(f"hop_s must be >= 0, got {hop_s}")
        self.spec = spec
        self.max_gap_s = float(max_gap_s)
        self.hop_s = float(hop_s)
        self._buffers: dict[int, _Buffer] = {}

    @property
    def track_ids(self) -> list[int]:
        return sorted(self._buffers)

    def buffered(self, track_id: int) -> int:
        """How many poses are buffered for a track (0 if unknown)."""
        buf = self._buffers.get(track_id)
        return len(buf.times) if buf else 0

    def add(self, track_id: int, pts: float, keypoints: np.ndarray) -> None:
        """Append one pose ``(17, 3)`` seen at ``pts`` seconds."""
        kp = np.asarray(keypoints, dtype=np.float32)
        if kp.shape != (NUM_KEYPOINTS, 3):
            raise ValueError(f"keypoints must have shape ({NUM_KEYPOINTS}, 3), got {kp.shape}")
        if not math.isfinite(pts):
            raise ValueError(f"pts must be finite, got {pts}")
        buf = self._buffers.setdefault(track_id, _Buffer())
        if buf.times:
            last = buf.times[-1]
            if abs(pts - last) <= _EPS_S:  # same instant again: keep the newer pose
                buf.keypoints[-1] = kp
                return
            if pts < last:
                log.debug(
                    "track %s: pts went back from %.3f to %.3f; restarting its window", track_id, last, pts
                )
                buf.clear()
                buf.last_emitted = None
            elif pts - last > self.max_gap_s:
                log.debug("track %s: %.3f s gap > max_gap_s; restarting its window", track_id, pts - last)
                buf.clear()
        buf.times.append(float(pts))
        buf.keypoints.append(kp)
        # Keep exactly one pose at or before the first instant of the newest window.
        start = pts - self.spec.duration_s
        while len(buf.times) >= 2 and buf.times[1] <= start + _EPS_S:
            buf.times.popleft()
            buf.keypoints.popleft()

    def drop(self, track_id: int) -> None:
        """Forget a track (call it with the tracker's ``ended`` ids)."""
        self._buffers.pop(track_id, None)

    def clear(self) -> None:
        self._buffers.clear()

    def ready(self, now_pts: float | None = None) -> list[Window]:
        """Windows for every track whose buffer spans ``spec.duration_s`` and that is due (``hop_s``).

        With ``now_pts`` (the current frame's pts), tracks whose newest pose is older than
        ``now_pts - max_gap_s`` are stale: they are dropped and give no window.
        """
        out: list[Window] = []
        for track_id in sorted(self._buffers):
            buf = self._buffers[track_id]
            if not buf.times:
                continue
            end = buf.times[-1]
            if now_pts is not None and end < now_pts - self.max_gap_s:
                del self._buffers[track_id]
                continue
            if end - buf.times[0] < self.spec.duration_s - _EPS_S:
                continue
            if buf.last_emitted is not None and (
                end <= buf.last_emitted + _EPS_S or end - buf.last_emitted < self.hop_s - _EPS_S
            ):
                continue
            try:
                poses = resample_poses(np.array(buf.times), np.stack(buf.keypoints), self.spec)
            except NoConfidentKeypointsError:
                buf.last_emitted = end
                continue
            features = normalise(poses, self.spec.normalisation).reshape(self.spec.steps, FEATURE_SIZE)
            out.append(
                Window(
                    track_id=track_id,
                    start_pts=float(poses.times[0]),
                    end_pts=end,
                    features=features.astype(np.float32),
                    missing_fraction=poses.missing_fraction,
                    samples=poses.samples,
                )
            )
            buf.last_emitted = end
        return out
