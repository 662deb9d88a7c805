"""Training windows from one's own labelled videos, kept as raw time-stamped keypoints.

``DIR/<label>/<video>`` (with optional ``<video>.csv`` segment files) goes through the service's
reader, pose backend and tracker (:mod:`training.video_poses`); windows are cut where the service's
``TrackWindows`` would emit them (every ``hop_s``) and stored *before* resampling and
normalisation (:class:`RawWindows`, an ``.npz``), so a model's steps and normalisation are chosen
when training (:func:`raw_windows_to_set`). Any label set works.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.keypoints import NUM_KEYPOINTS
from inference.windows import SAME_INSTANT_S as _EPS_S
from inference.windows import TrackWindows, WindowSpec
from training.video_poses import PoseSource, TrackSequence, VideoPoses, cached_video_poses
from training.windowset import DatasetError, WindowSet, features_or_none, stack_features

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
RAW_FORMAT = "actionstream.raw-windows"
RAW_VERSION = 1


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
    track: TrackSequence, window_s: float, hop_s: float, max_gap_s: float | None = None
) -> list[tuple[int, int]]:
    """Index ranges ``[a, b]`` (inclusive) into ``track`` of windows holding ``window_s`` of poses,
    cut where :class:`TrackWindows` emits one (its hop and gap rule, the service's), each holding
    exactly the poses its buffer holds then: from the last pose at or before ``end - window_s``.

    The rule runs with a spec whose only meaning is that duration (``min_confidence`` 0: a window
    without a confident joint still counts towards the hop, as in the service, and is left out
    when features are made). A model with a shorter window, resampled from one of these, gets the
    window the service computes for it on that frame, byte for byte."""
    t = track.times
    spec = WindowSpec(steps=2, rate_hz=1.0 / window_s, min_confidence=0.0)
    gap = {} if max_gap_s is None else {"max_gap_s": max_gap_s}  # None: TrackWindows' own, the service's
    windows = TrackWindows(spec, hop_s=hop_s, **gap)
    out: list[tuple[int, int]] = []
    for b, (time, kp) in enumerate(zip(t.tolist(), track.keypoints, strict=True)):
        windows.add(track.track_id, time, kp)
        if windows.ready(time):
            a = int(np.searchsorted(t, time - window_s + _EPS_S, side="right")) - 1
            out.append((a, b))
    return out


def video_raw_windows(
    poses: VideoPoses,
    segments: Sequence[LabelledSegment],
    *,
    window_s: float,
    hop_s: float,
    max_gap_s: float | None = None,
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
    poses: PoseSource,
    hop_s: float = 0.25,
    window_s: float = 1.5,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    items: Sequence[tuple[Path, list[LabelledSegment]]] | None = None,
) -> RawWindows:
    """Run ``poses`` (the service's reader, pose backend and tracker, from the CLI) over
    ``root/<label>/<video>`` (or the videos and segments in ``items``, e.g. from a labels.csv) and
    cut raw windows (:func:`cut_track_windows`).

    Every tracked person in a video gets the video's (or the segment's) label; keep one person
    per clip for clean labels. ``progress(video name, frames done, total)``.
    """
    if not window_s > 0 or not hop_s > 0:
        raise DatasetError(f"window_s and hop_s must be > 0, got {window_s}, {hop_s}")
    items = find_labelled_videos(root) if items is None else list(items)
    labels: list[str] = []
    rows: list[tuple[int, str, int, np.ndarray, np.ndarray, tuple[int, int]]] = []
    for vi, (video, segments) in enumerate(items):
        report = None if progress is None else (lambda d, n, name=video.name: progress(name, d, n))
        tracked = cached_video_poses(video, poses, cache_dir=cache_dir, progress=report)
        cut = video_raw_windows(tracked, segments, window_s=window_s, hop_s=hop_s)
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
        info={"backend": poses.name, "hop_s": hop_s, "root": str(root)},
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
    return WindowSet(
        stack_features(feats, spec), raw.labels[idx], raw.label_names, spec, raw.video_index[idx]
    )
