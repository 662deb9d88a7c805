"""Training windows from three sources, all turned into classifier input by the one feature function.

* RNN-HAR-2D-Pose files (the original app's data): :func:`har2d_windows`.
* One's own labelled videos, run through the pose backend and tracker: :func:`build_video_dataset`
  stores *raw* time-stamped keypoint windows (:class:`RawWindows`, an ``.npz``), so normalisation and
  steps are chosen when training (:func:`raw_windows_to_set`). Any label set works. (They live in
  :mod:`training.video_windows` and the window set in :mod:`training.windowset`; both are
  re-exported here.)
* The synthetic kinematic generator (:mod:`training.synthetic`): :func:`synthetic_windows`.

Every source ends in a :class:`WindowSet`: ``features (N, steps, 34)`` made by
:func:`inference.windows.make_features` under one :class:`WindowSpec`, exactly what serving computes.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.windows import WindowSpec
from training.augment import AugmentConfig, augment
from training.har2d import HAR2D_STEPS, har2d_to_coco17, load_har2d_windows
from training.synthetic import ACTIONS, BACKGROUND, EVERYDAY, IDLE, generate_sequence, sample_params
from training.video_windows import (
    LabelledSegment,
    RawWindows,
    build_video_dataset,
    cut_track_windows,
    find_labelled_videos,
    load_raw_windows,
    raw_windows_to_set,
    read_segments,
    save_raw_windows,
)
from training.windowset import (
    NO_ACTION,
    NO_ACTION_NAME,
    DatasetError,
    WindowSet,
    concat_sets,
    features_or_none,
    stack_features,
)

__all__ = [
    "HAR2D_LABELS",
    "IDLE_MODES",
    "NO_ACTION",
    "NO_ACTION_NAME",
    "DatasetError",
    "LabelledSegment",
    "RawWindows",
    "SyntheticConfig",
    "WindowSet",
    "background_windows",
    "build_video_dataset",
    "concat_sets",
    "cut_track_windows",
    "find_labelled_videos",
    "har2d_dir_windows",
    "har2d_windows",
    "load_labelled_windows",
    "load_raw_windows",
    "raw_windows_to_set",
    "read_segments",
    "save_raw_windows",
    "synthetic_windows",
]

log = logging.getLogger(__name__)

HAR2D_LABELS: tuple[str, ...] = ACTIONS  # class ids 1..6 of the database, in this order
HAR2D_RATE_HZ = 22.0  # OpenPose on Berkeley MHAD, as the seed model was trained
IDLE_MODES = ("off", "none", "class")


# ---------------------------------------------------------------------------------------------
# Source 1: RNN-HAR-2D-Pose


def har2d_windows(
    x_path: str | os.PathLike[str],
    y_path: str | os.PathLike[str] | None,
    spec: WindowSpec,
    *,
    rate_hz: float = HAR2D_RATE_HZ,
) -> WindowSet:
    """Windows of an ``X_*.txt`` (+ ``Y_*.txt``) pair as features under ``spec``.

    Each 32-frame window is OpenPose-18 at about 22 Hz: converted to COCO-17 (``(0, 0)`` = missing)
    and put through :func:`make_features` with ``times = arange(32) / rate_hz``. Without ``y_path``
    every label is 0 (JUMPING); use that only to run a model over the windows.
    """
    windows, labels = load_har2d_windows(x_path, y_path)
    coco = har2d_to_coco17(windows)
    times = np.arange(HAR2D_STEPS, dtype=np.float64) / rate_hz
    feats, keep = [], []
    for i, w in enumerate(coco):
        f = features_or_none(times, w, spec)
        if f is not None:
            feats.append(f)
            keep.append(i)
    if len(keep) < len(coco):
        log.warning("%s: %d window(s) without any joint skipped", x_path, len(coco) - len(keep))
    y = np.zeros(len(coco), np.int64) if labels is None else labels
    return WindowSet(
        stack_features(feats, spec),
        y[keep].astype(np.int64),
        HAR2D_LABELS,
        spec,
        np.asarray(keep, np.int64),
    )


def har2d_dir_windows(directory: str | os.PathLike[str], spec: WindowSpec) -> dict[str, WindowSet]:
    """Every ``X_<name>.txt`` with its ``Y_<name>.txt`` in a directory, by name (e.g. train, test)."""
    root = Path(directory)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a directory; expected the RNN-HAR-2D-Pose folder with X_train.txt")
    out: dict[str, WindowSet] = {}
    for x in sorted(root.glob("X_*.txt")):
        name = x.stem[2:]
        y = root / f"Y_{name}.txt"
        if not y.is_file():
            log.warning("%s has no %s beside it; skipped", x.name, y.name)
            continue
        out[name] = har2d_windows(x, y, spec)
    if not out:
        raise DatasetError(f"{root} has no X_<name>.txt + Y_<name>.txt pairs (e.g. X_train.txt, Y_train.txt)")
    return out


# ---------------------------------------------------------------------------------------------
# Source 3: the synthetic generator


@dataclass(frozen=True)
class SyntheticConfig:
    """How synthetic windows are drawn.

    ``fps_range``: each sequence is rendered at a random frame rate in it (cameras differ);
    ``duration_s``: sequence length range; ``windows_per_sequence``: windows cut at random end
    times from each; ``augment``: camera/detector-like augmentation per sequence (None = off).
    ``idle``: people standing still (:data:`training.synthetic.IDLE`) are left out (``"off"``),
    labelled :data:`NO_ACTION` so the model learns to be unsure when nobody acts (``"none"``), or
    an extra class ``IDLE`` (``"class"``). ``profile_p``: share of sequences in which the person
    stands turned 65-95 degrees from the camera (nearly in profile), beyond the generator's own
    yaw range; real people turn like that (the two-hand wave clip does). ``everyday_per_kind``:
    sequences of each everyday non-action motion (:data:`training.motions.EVERYDAY`: walking,
    squats, gestures, stretching, ...) labelled :data:`NO_ACTION`, like standing people.
    """

    fps_range: tuple[float, float] = (8.0, 30.0)
    duration_s: tuple[float, float] = (3.0, 6.0)
    windows_per_sequence: int = 4
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    actions: tuple[str, ...] = ACTIONS
    idle: str = "off"
    profile_p: float = 0.0
    everyday_per_kind: int = 0
    everyday_kinds: tuple[str, ...] = EVERYDAY

    def __post_init__(self) -> None:
        lo, hi = self.fps_range
        if not 0 < lo <= hi:
            raise ValueError(
                f"SyntheticConfig.fps_range must be (low, high), 0 < low <= high, got {self.fps_range}"
            )
        d_lo, d_hi = self.duration_s
        if not 0 < d_lo <= d_hi:
            raise ValueError(f"SyntheticConfig.duration_s must be (low, high) > 0, got {self.duration_s}")
        if self.windows_per_sequence < 1:
            raise ValueError(
                f"SyntheticConfig.windows_per_sequence must be >= 1, got {self.windows_per_sequence}"
            )
        if not 0.0 <= self.profile_p <= 1.0:
            raise ValueError(f"SyntheticConfig.profile_p must be in [0, 1], got {self.profile_p}")
        if self.idle not in IDLE_MODES:
            raise ValueError(f"SyntheticConfig.idle must be one of {IDLE_MODES}, got {self.idle!r}")
        unknown = [a for a in self.actions if a not in (*ACTIONS, IDLE)]
        if unknown or not self.actions:
            raise ValueError(f"SyntheticConfig.actions must be among {[*ACTIONS, IDLE]}, got {self.actions}")
        bad = [k for k in self.everyday_kinds if k not in EVERYDAY]
        if bad or self.everyday_per_kind < 0:
            raise ValueError(
                f"SyntheticConfig.everyday_kinds must be among {list(EVERYDAY)} and everyday_per_kind >= 0, "
                f"got {list(self.everyday_kinds)}, {self.everyday_per_kind}"
            )

    @property
    def labels(self) -> tuple[str, ...]:
        """The class names (IDLE only as a class of its own)."""
        if self.idle == "class" and IDLE not in self.actions:
            return (*self.actions, IDLE)
        return self.actions

    @property
    def drawn(self) -> tuple[str, ...]:
        """What sequences are generated: the labels, plus IDLE when it stands for no action."""
        return (*self.labels, IDLE) if self.idle == "none" and IDLE not in self.labels else self.labels


def _synthetic_job(
    job: tuple[str, int, int, int, WindowSpec, SyntheticConfig],
) -> tuple[np.ndarray, int]:
    """Windows of one synthetic sequence; its generator is seeded by (seed, class, index) only."""
    action, seed, class_id, i, spec, cfg = job
    rng = np.random.default_rng([seed, class_id, i])
    fps = float(rng.uniform(*cfg.fps_range))
    # Augmentation may speed the sequence up by 40%: render enough that a window always fits.
    dur = max(float(rng.uniform(*cfg.duration_s)), 1.5 * spec.duration_s + 0.5)
    params = sample_params(action, rng)
    if cfg.profile_p > 0 and rng.random() < cfg.profile_p:
        yaw = float(rng.uniform(65.0, 95.0) * rng.choice([-1.0, 1.0]) * np.pi / 180.0)
        params = dataclasses.replace(params, camera=dataclasses.replace(params.camera, yaw=yaw))
    seq = generate_sequence(action, fps, dur, rng, params=params)
    times, kp = seq.times, seq.keypoints
    if cfg.augment is not None:
        aug = augment(times, kp, seq.image_size, action, rng, config=cfg.augment)
        times, kp = aug.times, aug.keypoints
    lo = times[0] + spec.duration_s
    ends = rng.uniform(lo, times[-1], cfg.windows_per_sequence) if times[-1] > lo else [times[-1]]
    feats = []
    for end in ends:
        b = int(np.searchsorted(times, end, side="right"))
        a = max(int(np.searchsorted(times, end - spec.duration_s, side="right")) - 1, 0)
        f = features_or_none(times[a:b], kp[a:b], spec)
        if f is not None:
            feats.append(f)
    return stack_features(feats, spec), len(feats)


_KNOWN = (*ACTIONS, *BACKGROUND)  # stable class ids: adding kinds never changes existing sequences


def _render(
    jobs: list[tuple[str, int, int, int, WindowSpec, SyntheticConfig]], workers: int
) -> list[tuple[np.ndarray, int]]:
    if workers <= 1 or len(jobs) < 4 * workers:
        return [_synthetic_job(j) for j in jobs]
    ctx = multiprocessing.get_context("spawn")  # no fork: torch may hold threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return list(pool.map(_synthetic_job, jobs, chunksize=max(1, len(jobs) // (8 * workers))))


def _window_set(
    jobs: list[tuple[str, int, int, int, WindowSpec, SyntheticConfig]],
    results: list[tuple[np.ndarray, int]],
    labels: tuple[str, ...],
    spec: WindowSpec,
) -> WindowSet:
    feats = [r[0] for r in results if r[1]]
    y = np.concatenate(
        [
            np.full(r[1], labels.index(j[0]) if j[0] in labels else NO_ACTION, np.int64)
            for j, r in zip(jobs, results, strict=True)
        ]
    )
    groups = np.concatenate([np.full(r[1], g, np.int64) for g, r in enumerate(results)])
    features = (
        np.concatenate(feats).astype(np.float32)
        if feats
        else np.zeros((0, spec.steps, spec.feature_size), np.float32)
    )
    return WindowSet(features, y, labels, spec, groups)


def synthetic_windows(
    n_per_class: int,
    spec: WindowSpec,
    *,
    seed: int = 0,
    config: SyntheticConfig | None = None,
    workers: int = 1,
) -> WindowSet:
    """``n_per_class`` synthetic sequences per action (and idle, as configured), plus
    ``config.everyday_per_kind`` of each everyday motion, each cut into windows (features under
    ``spec``). Reproducible from ``seed`` whatever ``workers`` is; windows of one sequence share a group."""
    cfg = config or SyntheticConfig()
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n_per_class}")
    jobs = [(a, seed, _KNOWN.index(a), i, spec, cfg) for a in cfg.drawn for i in range(n_per_class)]
    jobs += [
        (k, seed, _KNOWN.index(k), i, spec, cfg)
        for k in cfg.everyday_kinds
        for i in range(cfg.everyday_per_kind)
    ]
    return _window_set(jobs, _render(jobs, workers), cfg.labels, spec)


def background_windows(
    n_per_kind: int,
    spec: WindowSpec,
    label_names: tuple[str, ...],
    *,
    seed: int = 0,
    config: SyntheticConfig | None = None,
    kinds: tuple[str, ...] = BACKGROUND,
    workers: int = 1,
) -> WindowSet:
    """Generated people doing none of a model's actions (standing still and everyday motion),
    ``n_per_kind`` sequences of each kind, all labelled :data:`NO_ACTION`, for a model whose own
    labels (``label_names``, any names) come from elsewhere, e.g. one's own videos."""
    cfg = config or SyntheticConfig()
    bad = [k for k in kinds if k not in BACKGROUND]
    if bad or n_per_kind < 1:
        raise ValueError(f"background kinds must be among {list(BACKGROUND)} and n_per_kind >= 1, got {bad}")
    jobs = [(k, seed, _KNOWN.index(k), i, spec, cfg) for k in kinds for i in range(n_per_kind)]
    return _window_set(jobs, _render(jobs, workers), tuple(label_names), spec)


# ---------------------------------------------------------------------------------------------
# Any labelled source by name (for evaluation)

SYNTHETIC_PREFIX = "synthetic:"
SYNTHETIC_EVAL_SEED = 12345  # never used for training sets


def load_labelled_windows(source: str, spec: WindowSpec, *, workers: int = 1) -> WindowSet:
    """Labelled windows named on a command line, as features under ``spec``.

    ``FILE.npz`` (``actionstream dataset build``), ``X_<name>.txt`` (with ``Y_<name>.txt`` beside it),
    a folder of such pairs (RNN-HAR-2D-Pose), or ``synthetic:N[:SEED]`` (N sequences per action,
    default seed 12345, which no training run uses by default).
    """
    if source.startswith(SYNTHETIC_PREFIX):
        parts = source[len(SYNTHETIC_PREFIX) :].split(":")
        try:
            n = int(parts[0])
            seed = int(parts[1]) if len(parts) > 1 else SYNTHETIC_EVAL_SEED
        except (ValueError, IndexError):
            raise DatasetError(f"expected synthetic:N or synthetic:N:SEED, got {source!r}") from None
        if n < 1 or len(parts) > 2:
            raise DatasetError(f"expected synthetic:N or synthetic:N:SEED with N >= 1, got {source!r}")
        return synthetic_windows(n, spec, seed=seed, workers=workers)
    path = Path(source)
    if path.is_dir():
        sets = har2d_dir_windows(path, spec)
        return concat_sets(list(sets.values()))
    if not path.is_file():
        raise DatasetError(
            f"{source} is not a file or folder; expected FILE.npz, X_<name>.txt, an RNN-HAR-2D-Pose folder "
            "or synthetic:N"
        )
    if path.suffix == ".npz":
        return raw_windows_to_set(load_raw_windows(path), spec)
    if path.name.startswith("X_") and path.suffix == ".txt":
        y = path.with_name("Y_" + path.name[2:])
        if not y.is_file():
            raise DatasetError(f"{path} has no labels: {y.name} must be beside it to score a model")
        return har2d_windows(path, y, spec)
    raise DatasetError(
        f"{source}: unknown kind of data; expected FILE.npz, X_<name>.txt, a folder or synthetic:N"
    )
