"""Training windows from three sources, all turned into classifier input by the one feature function.

* RNN-HAR-2D-Pose files (the original app's data): :func:`har2d_windows`.
* One's own labelled videos, run through the pose backend and tracker: :func:`build_video_dataset`
  stores *raw* time-stamped keypoint windows (:class:`RawWindows`, an ``.npz``), so normalisation and
  steps are chosen when training (:func:`raw_windows_to_set`). Any label set works.
* The synthetic kinematic generator (:mod:`training.synthetic`): :func:`synthetic_windows`.

Every source ends in a :class:`WindowSet`: ``features (N, steps, 34)`` made by
:func:`inference.windows.make_features` under one :class:`WindowSpec`, exactly what serving computes.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.keypoints import NUM_KEYPOINTS
from inference.windows import FEATURE_SIZE, NoConfidentKeypointsError, WindowSpec, make_features
from training.augment import AugmentConfig, augment
from training.har2d import HAR2D_STEPS, har2d_to_coco17, load_har2d_windows
from training.synthetic import ACTIONS, IDLE, generate_sequence, sample_params
from training.video_poses import TrackSequence, VideoPoses, cached_video_poses

log = logging.getLogger(__name__)

HAR2D_LABELS: tuple[str, ...] = ACTIONS  # class ids 1..6 of the database, in this order
HAR2D_RATE_HZ = 22.0  # OpenPose on Berkeley MHAD, as the seed model was trained
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
NO_ACTION = -1  # label of a window that shows none of the labels (trained towards equal probabilities)
NO_ACTION_NAME = "(none of these)"
IDLE_MODES = ("off", "none", "class")
RAW_FORMAT = "actionstream.raw-windows"
RAW_VERSION = 1
_EPS_S = 1e-6


class DatasetError(ValueError):
    """Data that cannot be used as given; the message says which file and what to do."""


# ---------------------------------------------------------------------------------------------
# Feature windows


@dataclass(frozen=True)
class WindowSet:
    """Classifier inputs with labels.

    ``features (N, steps, 34)`` float32 under ``spec``; ``labels (N,)`` int64 indexing
    ``label_names``, or :data:`NO_ACTION` for a window that shows none of them; ``groups (N,)``
    int64: windows cut from the same recording share a group, so
    train/validation splits never put overlapping windows of one recording on both sides.
    """

    features: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    spec: WindowSpec
    groups: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __post_init__(self) -> None:
        f = self.features
        n = len(self.labels)
        if len(self.groups) == 0 and n:
            object.__setattr__(self, "groups", np.arange(n, dtype=np.int64))
        if f.dtype != np.float32 or f.shape != (n, self.spec.steps, FEATURE_SIZE):
            raise ValueError(
                f"WindowSet.features must be float32 of shape ({n}, {self.spec.steps}, {FEATURE_SIZE}), "
                f"got {f.dtype} {f.shape}"
            )
        if self.labels.shape != (n,) or self.groups.shape != (n,):
            raise ValueError(
                f"WindowSet.labels and groups must have shape ({n},), got {self.labels.shape}, "
                f"{self.groups.shape}"
            )
        if not self.label_names or len(set(self.label_names)) != len(self.label_names):
            raise ValueError(f"WindowSet.label_names must be unique and non-empty, got {self.label_names}")
        if n and (self.labels.min() < NO_ACTION or self.labels.max() >= len(self.label_names)):
            raise ValueError(
                f"WindowSet.labels must be in 0..{len(self.label_names) - 1} or {NO_ACTION}, "
                f"got {self.labels.min()}..{self.labels.max()}"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> WindowSet:
        idx = np.asarray(index)
        return WindowSet(self.features[idx], self.labels[idx], self.label_names, self.spec, self.groups[idx])

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels[self.labels >= 0], minlength=len(self.label_names))
        out = {name: int(c) for name, c in zip(self.label_names, counts, strict=True)}
        none = int(np.sum(self.labels == NO_ACTION))
        if none:
            out[NO_ACTION_NAME] = none
        return out

    def with_labels(self, label_names: Sequence[str]) -> WindowSet:
        """The same windows with labels re-indexed into ``label_names`` (which must contain ours)."""
        names = tuple(label_names)
        missing = [n for n in self.label_names if n not in names]
        if missing:
            raise DatasetError(f"labels {missing} are not among {list(names)}")
        remap = np.array([names.index(n) for n in self.label_names], np.int64)
        labels = np.where(self.labels == NO_ACTION, NO_ACTION, remap[np.maximum(self.labels, 0)])
        return WindowSet(self.features, labels, names, self.spec, self.groups)

    def split(self, val_fraction: float, seed: int = 0) -> tuple[WindowSet, WindowSet]:
        """``(train, val)`` by whole groups, ``val_fraction`` of the groups drawn per class (a class
        with a single group gives the last ``val_fraction`` of its windows)."""
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        rng = np.random.default_rng(seed)
        is_val = np.zeros(len(self), bool)
        for c in [NO_ACTION, *range(len(self.label_names))]:
            of_class = self.labels == c
            groups = np.unique(self.groups[of_class])
            if len(groups) >= 2:
                k = min(max(round(len(groups) * val_fraction), 1), len(groups) - 1)
                is_val |= of_class & np.isin(self.groups, rng.permutation(groups)[:k])
            elif len(groups) == 1:
                # One recording of this class: validate on its last windows (they overlap the
                # training ones only at the boundary).
                idx = np.flatnonzero(of_class)
                k = round(len(idx) * val_fraction)
                if len(idx) >= 2:
                    is_val[idx[len(idx) - max(k, 1) :]] = True
        return self.subset(np.flatnonzero(~is_val)), self.subset(np.flatnonzero(is_val))


def concat_sets(sets: Sequence[WindowSet]) -> WindowSet:
    """One set from several with the same spec; labels merged by name (first seen order)."""
    if not sets:
        raise ValueError("concat_sets needs at least one WindowSet")
    spec = sets[0].spec
    if any(s.spec != spec for s in sets):
        raise DatasetError(f"window sets have different specs: {[s.spec for s in sets]}")
    names: list[str] = []
    for s in sets:
        names += [n for n in s.label_names if n not in names]
    parts = [s.with_labels(names) for s in sets]
    offsets = np.cumsum([0] + [int(p.groups.max()) + 1 if len(p) else 0 for p in parts])
    return WindowSet(
        np.concatenate([p.features for p in parts]),
        np.concatenate([p.labels for p in parts]),
        tuple(names),
        spec,
        np.concatenate([p.groups + off for p, off in zip(parts, offsets, strict=False)]),
    )


def features_or_none(times: np.ndarray, keypoints: np.ndarray, spec: WindowSpec) -> np.ndarray | None:
    """:func:`make_features`, or None for a window in which no joint is ever confident."""
    try:
        return make_features(times, keypoints, spec)
    except NoConfidentKeypointsError:
        return None


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
        _stack(feats, spec),
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


def _stack(feats: list[np.ndarray], spec: WindowSpec) -> np.ndarray:
    if not feats:
        return np.zeros((0, spec.steps, FEATURE_SIZE), np.float32)
    return np.stack(feats).astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------------
# Source 2: own labelled videos -> raw windows


@dataclass(frozen=True)
class RawWindows:
    """Time-stamped keypoint windows cut from videos, before resampling and normalisation.

    ``times (N, T)`` seconds and ``keypoints (N, T, 17, 3)`` (pixels + confidence), valid where
    ``valid (N, T)``; the valid frames of a window are at its end (padding first). ``labels (N,)``
    index ``label_names``; ``videos`` lists the source files, ``video_index (N,)`` points into it;
    ``frame_range (N, 2)`` first and last frame; ``track_id (N,)``. ``window_s``: the time each
    window spans (a model may use at most that much).
    """

    times: np.ndarray
    keypoints: np.ndarray
    valid: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    videos: tuple[str, ...]
    video_index: np.ndarray
    frame_range: np.ndarray
    track_id: np.ndarray
    window_s: float
    info: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.labels)
        t = self.times.shape[1] if self.times.ndim == 2 else -1
        checks = {
            "times": (self.times.shape, (n, t)),
            "keypoints": (self.keypoints.shape, (n, t, NUM_KEYPOINTS, 3)),
            "valid": (self.valid.shape, (n, t)),
            "video_index": (self.video_index.shape, (n,)),
            "frame_range": (self.frame_range.shape, (n, 2)),
            "track_id": (self.track_id.shape, (n,)),
        }
        for name, (got, want) in checks.items():
            if got != want:
                raise DatasetError(f"RawWindows.{name} must have shape {want}, got {got}")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.label_names)):
            raise DatasetError(f"RawWindows.labels must index label_names {list(self.label_names)}")
        if n and (self.video_index.min() < 0 or self.video_index.max() >= len(self.videos)):
            raise DatasetError("RawWindows.video_index must index videos")

    def __len__(self) -> int:
        return len(self.labels)

    def window(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(times (K,), keypoints (K, 17, 3))`` of window ``i`` (valid frames only)."""
        m = self.valid[i]
        return self.times[i][m], self.keypoints[i][m]

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.label_names))
        return {name: int(c) for name, c in zip(self.label_names, counts, strict=True)}


def save_raw_windows(path: str | os.PathLike[str], raw: RawWindows) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": RAW_FORMAT,
        "version": RAW_VERSION,
        "label_names": list(raw.label_names),
        "videos": list(raw.videos),
        "window_s": raw.window_s,
        "info": raw.info,
    }
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(
        tmp,
        meta=np.array(json.dumps(meta)),
        times=raw.times,
        keypoints=raw.keypoints,
        valid=raw.valid,
        labels=raw.labels,
        video_index=raw.video_index,
        frame_range=raw.frame_range,
        track_id=raw.track_id,
    )
    os.replace(tmp, out)
    return out


def load_raw_windows(path: str | os.PathLike[str]) -> RawWindows:
    """Read a file written by :func:`save_raw_windows` (``actionstream dataset build``)."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"{p} does not exist; build it with `actionstream dataset build DIR -o {p.name}`")
    try:
        with np.load(p, allow_pickle=False) as d:
            meta = json.loads(str(d["meta"]))
            arrays = {k: d[k] for k in ("times", "keypoints", "valid", "labels", "video_index")}
            arrays |= {k: d[k] for k in ("frame_range", "track_id")}
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(
            f"{p} is not a windows file written by `actionstream dataset build` ({exc})"
        ) from exc
    if meta.get("format") != RAW_FORMAT:
        raise DatasetError(f"{p} is an .npz but not a windows file (format {meta.get('format')!r})")
    if int(meta.get("version", 0)) > RAW_VERSION:
        raise DatasetError(f"{p} has windows format version {meta['version']}; upgrade actionstream")
    return RawWindows(
        label_names=tuple(meta["label_names"]),
        videos=tuple(meta["videos"]),
        window_s=float(meta["window_s"]),
        info=dict(meta.get("info", {})),
        **arrays,
    )


@dataclass(frozen=True)
class LabelledSegment:
    """Frames ``first..last`` (inclusive) of a video show ``label``."""

    label: str
    first: int
    last: int


def read_segments(csv_path: Path, default_label: str) -> list[LabelledSegment]:
    """A segment file: header ``start_frame,end_frame,label``, one row per labelled segment.

    An empty label takes ``default_label`` (the folder name)."""
    try:
        with csv_path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
            fields = set(rows[0]) if rows else set()
    except OSError as exc:
        raise DatasetError(f"cannot read segment file {csv_path}: {exc}") from exc
    need = {"start_frame", "end_frame", "label"}
    if rows and not need <= fields:
        raise DatasetError(
            f"{csv_path}: header must name columns start_frame,end_frame,label; got {sorted(fields)}"
        )
    out = []
    for n, row in enumerate(rows, start=2):
        try:
            first, last = int(row["start_frame"]), int(row["end_frame"])
        except (TypeError, ValueError):
            raise DatasetError(f"{csv_path}: line {n}: start_frame and end_frame must be integers") from None
        if not 0 <= first <= last:
            raise DatasetError(
                f"{csv_path}: line {n}: need 0 <= start_frame <= end_frame, got {first}, {last}"
            )
        label = (row["label"] or "").strip() or default_label
        out.append(LabelledSegment(label, first, last))
    return out


def find_labelled_videos(root: str | os.PathLike[str]) -> list[tuple[Path, list[LabelledSegment]]]:
    """``root/<label>/<video>`` with optional ``<video>.csv`` (or ``<stem>.csv``) segment files."""
    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"{base} is not a directory; expected DIR/<label>/<video>.mp4")
    found: list[tuple[Path, list[LabelledSegment]]] = []
    for label_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        for video in sorted(label_dir.iterdir()):
            if video.suffix.lower() not in VIDEO_SUFFIXES or not video.is_file():
                continue
            csv_path = next(
                (c for c in (video.with_name(video.name + ".csv"), video.with_suffix(".csv")) if c.is_file()),
                None,
            )
            if csv_path is None:
                segments = [LabelledSegment(label_dir.name, 0, 2**62)]
            else:
                segments = read_segments(csv_path, label_dir.name)
            found.append((video, segments))
    if not found:
        raise DatasetError(
            f"no videos under {base}: put them in one folder per label, e.g. {base}/WAVING/clip.mp4 "
            f"(extensions {', '.join(VIDEO_SUFFIXES)})"
        )
    return found


def cut_track_windows(
    track: TrackSequence, window_s: float, hop_s: float, max_gap_s: float = 0.5
) -> list[tuple[int, int]]:
    """Index ranges ``[a, b]`` (inclusive) into ``track`` of windows spanning ``window_s``, one every
    ``hop_s``, never across a gap longer than ``max_gap_s`` (as :class:`TrackWindows` does)."""
    t = track.times
    out: list[tuple[int, int]] = []
    if len(t) < 2:
        return out
    breaks = np.flatnonzero(np.diff(t) > max_gap_s) + 1
    for run in np.split(np.arange(len(t)), breaks):
        if len(run) < 2:
            continue
        start = int(run[0])
        last_end: float | None = None
        for e in run.tolist():
            if t[e] - t[start] < window_s - _EPS_S:
                continue
            if last_end is not None and t[e] < last_end + hop_s - _EPS_S:
                continue
            a = int(np.searchsorted(t, t[e] - window_s + _EPS_S, side="right")) - 1
            out.append((max(a, start), e))
            last_end = float(t[e])
    return out


def video_raw_windows(
    poses: VideoPoses,
    segments: Sequence[LabelledSegment],
    *,
    window_s: float,
    hop_s: float,
    max_gap_s: float = 0.5,
) -> list[tuple[str, int, np.ndarray, np.ndarray, tuple[int, int]]]:
    """``(label, track_id, times, keypoints, (first, last frame))`` per window of every segment."""
    out = []
    for seg in segments:
        for track in poses.tracks:
            part = track.between(seg.first, seg.last)
            for a, b in cut_track_windows(part, window_s, hop_s, max_gap_s):
                out.append(
                    (
                        seg.label,
                        track.track_id,
                        part.times[a : b + 1],
                        part.keypoints[a : b + 1],
                        (int(part.frames[a]), int(part.frames[b])),
                    )
                )
    return out


def build_video_dataset(
    root: str | os.PathLike[str],
    *,
    backend: str = "mediapipe",
    hop_s: float = 0.25,
    window_s: float = 1.5,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> RawWindows:
    """Run the pose backend + tracker over ``root/<label>/<video>`` and cut raw windows.

    Every tracked person in a video gets the video's (or the segment's) label; keep one person
    per clip for clean labels. ``progress(video name, frames done, total)``.
    """
    if not window_s > 0 or not hop_s > 0:
        raise DatasetError(f"window_s and hop_s must be > 0, got {window_s}, {hop_s}")
    items = find_labelled_videos(root)
    labels: list[str] = []
    rows: list[tuple[int, str, int, np.ndarray, np.ndarray, tuple[int, int]]] = []
    for vi, (video, segments) in enumerate(items):
        report = None if progress is None else (lambda d, n, name=video.name: progress(name, d, n))
        poses = cached_video_poses(video, backend, cache_dir=cache_dir, progress=report)
        cut = video_raw_windows(poses, segments, window_s=window_s, hop_s=hop_s)
        if not cut:
            log.warning("%s: no window of %.2f s with a tracked person; nothing taken", video, window_s)
        for label, tid, t, kp, fr in cut:
            if label not in labels:
                labels.append(label)
            rows.append((vi, label, tid, t, kp, fr))
    if not rows:
        raise DatasetError(
            f"no windows could be cut from the videos under {root}: nobody was tracked for {window_s} s "
            "in any of them (check that a person is visible, or lower --window-s)"
        )
    label_names = tuple(sorted(labels))
    t_max = max(len(r[3]) for r in rows)
    n = len(rows)
    times = np.zeros((n, t_max), np.float64)
    keypoints = np.zeros((n, t_max, NUM_KEYPOINTS, 3), np.float32)
    valid = np.zeros((n, t_max), bool)
    for i, (_, _, _, t, kp, _) in enumerate(rows):
        k = len(t)
        times[i, t_max - k :] = t
        keypoints[i, t_max - k :] = kp
        valid[i, t_max - k :] = True
    return RawWindows(
        times=times,
        keypoints=keypoints,
        valid=valid,
        labels=np.array([label_names.index(r[1]) for r in rows], np.int64),
        label_names=label_names,
        videos=tuple(str(v) for v, _ in items),
        video_index=np.array([r[0] for r in rows], np.int64),
        frame_range=np.array([r[5] for r in rows], np.int64),
        track_id=np.array([r[2] for r in rows], np.int64),
        window_s=float(window_s),
        info={"backend": backend, "hop_s": hop_s, "root": str(root)},
    )


def raw_windows_to_set(raw: RawWindows, spec: WindowSpec) -> WindowSet:
    """Features under ``spec`` for every raw window (windows with no confident joint are skipped).

    Windows of one video share a group, so a split never trains and validates on one clip."""
    if spec.duration_s > raw.window_s + _EPS_S:
        raise DatasetError(
            f"the model's window needs {spec.duration_s:.2f} s of poses but the windows file holds "
            f"{raw.window_s:.2f} s each; rebuild it with `actionstream dataset build --window-s "
            f"{spec.duration_s + 0.1:.2f}`"
        )
    feats, keep = [], []
    for i in range(len(raw)):
        t, kp = raw.window(i)
        f = features_or_none(t, kp, spec)
        if f is not None:
            feats.append(f)
            keep.append(i)
    if len(keep) < len(raw):
        log.warning("%d raw window(s) without any confident joint skipped", len(raw) - len(keep))
    idx = np.asarray(keep, np.int64)
    return WindowSet(_stack(feats, spec), raw.labels[idx], raw.label_names, spec, raw.video_index[idx])


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
    yaw range; real people turn like that (the two-hand wave clip does).
    """

    fps_range: tuple[float, float] = (8.0, 30.0)
    duration_s: tuple[float, float] = (3.0, 6.0)
    windows_per_sequence: int = 4
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    actions: tuple[str, ...] = ACTIONS
    idle: str = "off"
    profile_p: float = 0.0

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
    # Augmentation may speed the sequence up by 25%: render enough that a window always fits.
    dur = max(float(rng.uniform(*cfg.duration_s)), 1.3 * spec.duration_s + 0.5)
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
    return _stack(feats, spec), len(feats)


def synthetic_windows(
    n_per_class: int,
    spec: WindowSpec,
    *,
    seed: int = 0,
    config: SyntheticConfig | None = None,
    workers: int = 1,
) -> WindowSet:
    """``n_per_class`` synthetic sequences per action, each cut into windows (features under ``spec``).

    Reproducible from ``seed`` whatever ``workers`` is; windows of one sequence share a group."""
    cfg = config or SyntheticConfig()
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n_per_class}")
    known = (*ACTIONS, IDLE)
    labels = cfg.labels
    jobs = [(a, seed, known.index(a), i, spec, cfg) for a in cfg.drawn for i in range(n_per_class)]
    if workers <= 1 or len(jobs) < 4 * workers:
        results = [_synthetic_job(j) for j in jobs]
    else:
        ctx = multiprocessing.get_context("spawn")  # no fork: torch may hold threads
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            results = list(pool.map(_synthetic_job, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
    feats = [r[0] for r in results if r[1]]
    y = np.concatenate(
        [
            np.full(r[1], labels.index(j[0]) if j[0] in labels else NO_ACTION, np.int64)
            for j, r in zip(jobs, results, strict=True)
        ]
    )
    groups = np.concatenate([np.full(r[1], g, np.int64) for g, r in enumerate(results)])
    return WindowSet(np.concatenate(feats).astype(np.float32), y, labels, spec, groups)


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
