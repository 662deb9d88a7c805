"""Synthetic keypoint sequences of the six actions: body, motion, camera and detector noise.

The default action model is trained on these, because the original training data cannot be
downloaded here. One sequence is: a random body (:class:`training.body.BodyShape`) doing one
action the way a random person would (:mod:`training.motions`), seen by a random camera
(:mod:`training.camera`) through a noisy detector (:mod:`training.noise`), sampled at any frame
rate. Everything is drawn from the generator passed in, so a seed reproduces a data set exactly.

    >>> seq = generate_sequence("WAVING_1HAND", fps=22.0, duration_s=3.0, rng=np.random.default_rng(0))
    >>> seq.keypoints.shape
    (66, 17, 3)
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from inference.keypoints import NUM_KEYPOINTS
from training.body import BodyShape, forward_kinematics
from training.camera import CameraParams, project
from training.motions import (
    ACTIONS,
    BACKGROUND,
    EVERYDAY,
    IDLE,
    MotionParams,
    reach_up,
    run_motion,
    sample_motion_params,
)
from training.noise import NoiseParams, apply_noise

__all__ = [
    "ACTIONS",
    "BACKGROUND",
    "EVERYDAY",
    "IDLE",
    "SynthParams",
    "SyntheticSequence",
    "generate_dataset",
    "generate_sequence",
    "sample_params",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SynthParams:
    """Everything that defines one synthetic sequence except its frame times."""

    action: str
    body: BodyShape
    motion: MotionParams
    camera: CameraParams
    noise: NoiseParams

    def __post_init__(self) -> None:
        if self.motion.action != self.action:
            raise ValueError(f"SynthParams.motion is for {self.motion.action!r}, expected {self.action!r}")

    def without_noise(self) -> SynthParams:
        """The same person, motion and camera seen by a perfect detector."""
        return replace(self, noise=NoiseParams.none())


@dataclass(frozen=True)
class SyntheticSequence:
    """``times (T,)`` seconds and ``keypoints (T, 17, 3)`` float32 (x, y pixels, confidence)."""

    times: np.ndarray
    keypoints: np.ndarray
    image_size: tuple[int, int]
    label: str
    params: SynthParams

    def __post_init__(self) -> None:
        t, kp = self.times, self.keypoints
        if t.ndim != 1 or t.shape[0] < 2:
            raise ValueError(f"SyntheticSequence.times must have shape (T,) with T >= 2, got {t.shape}")
        if kp.shape != (t.shape[0], NUM_KEYPOINTS, 3):
            raise ValueError(
                f"SyntheticSequence.keypoints must have shape ({t.shape[0]}, {NUM_KEYPOINTS}, 3), "
                f"got {kp.shape}"
            )
        if kp.dtype != np.float32:
            raise ValueError(f"SyntheticSequence.keypoints must be float32, got {kp.dtype}")
        if np.any(np.diff(t) <= 0):
            raise ValueError("SyntheticSequence.times must be strictly increasing")

    @property
    def duration_s(self) -> float:
        return float(self.times[-1] - self.times[0])

    @property
    def fps(self) -> float:
        return float((self.times.shape[0] - 1) / max(self.duration_s, 1e-9))


def sample_params(action: str, rng: np.random.Generator) -> SynthParams:
    """Draw a person, how they perform ``action``, a camera and a detector's noise."""
    body = BodyShape.sample(rng)
    motion = sample_motion_params(action, rng)
    camera = CameraParams.sample(rng, body, reach_up=reach_up(motion))
    noise = NoiseParams.sample(rng)
    return SynthParams(action=action, body=body, motion=motion, camera=camera, noise=noise)


def render_keypoints(params: SynthParams, times: np.ndarray) -> np.ndarray:
    """Keypoints ``(T, 17, 3)`` float32 of ``params`` at arbitrary ``times`` (seconds)."""
    t = np.asarray(times, dtype=np.float64)
    motion = run_motion(params.body, t, params.motion)
    world = forward_kinematics(params.body, motion, yaw=params.camera.yaw)
    uv, cam_pts = project(world, params.camera, t)
    return apply_noise(t, uv, cam_pts, params.camera.image_size, params.noise)


def generate_sequence(
    action: str,
    fps: float,
    duration_s: float,
    rng: np.random.Generator,
    params: SynthParams | None = None,
) -> SyntheticSequence:
    """One sequence of ``action`` sampled at ``fps`` for ``duration_s`` seconds (times start at 0).

    With ``params`` given, ``rng`` is not used: the same params describe the same motion at any
    frame rate (the noise is drawn from ``params.noise.seed``).
    """
    if action not in (*ACTIONS, *BACKGROUND):
        raise ValueError(f"unknown action {action!r}; expected one of {[*ACTIONS, *BACKGROUND]}")
    if not (fps > 0 and np.isfinite(fps)):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    n = int(np.floor(duration_s * fps + 1e-6)) + 1
    if not (np.isfinite(duration_s) and n >= 2):
        raise ValueError(f"duration_s must give at least 2 frames at {fps} fps, got {duration_s!r}")
    if params is None:
        params = sample_params(action, rng)
    elif params.action != action:
        raise ValueError(f"params are for {params.action!r}, but action {action!r} was asked for")
    times = np.arange(n, dtype=np.float64) / fps
    keypoints = render_keypoints(params, times)
    return SyntheticSequence(
        times=times, keypoints=keypoints, image_size=params.camera.image_size, label=action, params=params
    )


def _one(job: tuple[str, int, int, int, float, float, float, float]) -> SyntheticSequence:
    """One sequence of a data set, from its own seed (so any process can make it)."""
    action, seed, class_id, i, lo, hi, d_lo, d_hi = job
    rng = np.random.default_rng([seed, class_id, i])
    fps = float(rng.uniform(lo, hi))
    dur = float(rng.uniform(d_lo, d_hi))
    return generate_sequence(action, fps, dur, rng)


def generate_dataset(
    n_per_class: int,
    fps_range: tuple[float, float] = (10.0, 30.0),
    duration_s: float | tuple[float, float] = 3.0,
    seed: int = 0,
    *,
    actions: Sequence[str] = ACTIONS,
    include_idle: bool = False,
    workers: int = 1,
) -> list[SyntheticSequence]:
    """``n_per_class`` sequences per action (plus ``IDLE`` when asked), class by class.

    Each sequence has its own generator seeded by ``(seed, class index, i)``, so adding
    classes or sequences never changes the ones already drawn, and ``workers`` > 1 (separate
    processes) gives exactly the same data set faster.
    """
    if n_per_class < 0:
        raise ValueError(f"n_per_class must be >= 0, got {n_per_class}")
    lo, hi = fps_range
    if not 0 < lo <= hi:
        raise ValueError(f"fps_range must be (low, high) with 0 < low <= high, got {fps_range}")
    d_lo, d_hi = (duration_s, duration_s) if isinstance(duration_s, (int, float)) else duration_s
    if not 0 < d_lo <= d_hi:
        raise ValueError(f"duration_s must be positive or a (low, high) range, got {duration_s}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    labels = [*actions, IDLE] if include_idle and IDLE not in actions else list(actions)
    known = (*ACTIONS, IDLE)
    jobs = [
        (action, seed, known.index(action) if action in known else 100 + c, i, lo, hi, d_lo, d_hi)
        for c, action in enumerate(labels)
        for i in range(n_per_class)
    ]
    if workers == 1 or len(jobs) < 2 * workers:
        out = [_one(job) for job in jobs]
    else:
        ctx = multiprocessing.get_context("spawn")  # no fork: the caller may hold threads (torch)
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            out = list(pool.map(_one, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
    logger.debug("generated %d synthetic sequences (%s)", len(out), ", ".join(labels))
    return out
