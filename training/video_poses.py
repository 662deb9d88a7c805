"""Tracked poses of every person in a video file, and the windows the service would make of them.

Used to build training windows from one's own labelled videos and to evaluate models on real
footage. How a video becomes tracked poses is not decided here: a :class:`PoseSource` does it, and
the command line builds the one it hands in from the service's own parts (capture's file source
with the container's timestamps, the pose backend set up as ``serve`` sets it up, a lane's
tracker; see ``service/cli/video_poses.py``), because training imports neither capture nor the
service. The result is one time-stamped pose sequence per track plus the pts of every frame.
Extraction is the slow part (~20-40 ms a frame), so results can be cached as ``.npz`` files keyed
by the video's content and the source's settings.

:func:`replay_windows` feeds those poses frame by frame, at the frames' own pts, through
:class:`inference.windows.TrackWindows`, exactly as the engine does on every processed frame.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inference.keypoints import NUM_KEYPOINTS
from inference.poses import TrackedPoses
from inference.windows import TrackWindows, Window, WindowSpec

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: pts from the container (capture's file source), keep-best in the tracker

Progress = Callable[[int, int], None]


class VideoReadError(ValueError):
    """A video that cannot be opened or decoded; the message names the file."""


@dataclass(frozen=True)
class TrackSequence:
    """One tracked person: ``frames (K,)`` frame indices, ``times (K,)`` seconds, ``keypoints (K, 17, 3)``."""

    track_id: int
    frames: np.ndarray
    times: np.ndarray
    keypoints: np.ndarray

    def __post_init__(self) -> None:
        k = len(self.frames)
        if self.times.shape != (k,) or self.keypoints.shape != (k, NUM_KEYPOINTS, 3):
            raise ValueError(
                f"TrackSequence {self.track_id}: expected times ({k},) and keypoints "
                f"({k}, {NUM_KEYPOINTS}, 3), got {self.times.shape} and {self.keypoints.shape}"
            )

    def between(self, first_frame: int, last_frame: int) -> TrackSequence:
        """The part seen in frames ``first_frame..last_frame`` (inclusive)."""
        m = (self.frames >= first_frame) & (self.frames <= last_frame)
        return TrackSequence(self.track_id, self.frames[m], self.times[m], self.keypoints[m])


@dataclass(frozen=True)
class VideoPoses:
    """Every track of one video; ``fps`` as the file declares it, ``image_size`` (width, height),
    ``pts (num_frames,)`` the timestamp of every frame (what the service sees)."""

    video: str
    fps: float
    image_size: tuple[int, int]
    num_frames: int
    backend: str
    tracks: tuple[TrackSequence, ...]
    pts: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        if self.pts.shape != (self.num_frames,):
            raise ValueError(f"VideoPoses.pts must have shape ({self.num_frames},), got {self.pts.shape}")

    def frame_time(self, frame: int) -> float:
        return float(self.pts[frame])


def collect_video_poses(
    video: str | os.PathLike[str],
    frames: Iterable[tuple[float, TrackedPoses]],
    *,
    fps: float,
    image_size: tuple[int, int],
    backend: str,
) -> VideoPoses:
    """:class:`VideoPoses` from every frame's ``(pts, tracked people)``, in frame order."""
    per_track: dict[int, tuple[list[int], list[float], list[np.ndarray]]] = {}
    pts: list[float] = []
    for index, (t, people) in enumerate(frames):
        pts.append(float(t))
        for track_id, keypoints in zip(people.track_ids.tolist(), people.keypoints, strict=True):
            f, times, kps = per_track.setdefault(track_id, ([], [], []))
            f.append(index)
            times.append(float(t))
            kps.append(keypoints)
    if not pts:
        raise VideoReadError(f"{video}: no frame could be decoded")
    tracks = tuple(
        TrackSequence(tid, np.asarray(f, np.int64), np.asarray(t, np.float64), np.stack(k).astype(np.float32))
        for tid, (f, t, k) in sorted(per_track.items())
    )
    log.info("%s: %d frames at %.3g fps, %d track(s)", Path(video).name, len(pts), fps, len(tracks))
    frame_pts = np.asarray(pts, np.float64)
    return VideoPoses(str(video), float(fps), image_size, len(pts), backend, tracks, frame_pts)


@dataclass(frozen=True)
class PoseSource:
    """How a video becomes tracked poses: ``extract(path, progress)``; ``name`` (the backend) is
    recorded with the poses; ``settings`` is everything the poses depend on besides the video's
    bytes (they key the cache)."""

    name: str
    settings: Mapping[str, Any]
    extract: Callable[[Path, Progress | None], VideoPoses]


def replay_windows(
    poses: VideoPoses,
    spec: WindowSpec,
    *,
    hop_s: float,
    first: int = 0,
    last: int | None = None,
    tracks: Iterable[TrackSequence] | None = None,
) -> list[Window]:
    """Every window :class:`TrackWindows` emits for these poses when it is fed frame by frame (frames
    ``first..last``), each frame at its own pts, as the engine feeds it on every processed frame."""
    chosen = poses.tracks if tracks is None else tuple(tracks)
    by_frame: dict[int, list[tuple[int, np.ndarray]]] = {}
    for track in chosen:
        for frame, kp in zip(track.frames.tolist(), track.keypoints, strict=True):
            by_frame.setdefault(frame, []).append((track.track_id, kp))
    windows = TrackWindows(spec, hop_s=hop_s)
    end = poses.num_frames - 1 if last is None else min(last, poses.num_frames - 1)
    out: list[Window] = []
    for frame in range(max(first, 0), end + 1):
        pts = poses.frame_time(frame)
        for track_id, kp in by_frame.get(frame, ()):
            windows.add(track_id, pts, kp)
        out += windows.ready(pts)
    return out


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_key(video: Path, source: PoseSource) -> str:
    """What the poses depend on: the video's bytes and the source's settings."""
    desc = json.dumps(
        {"v": CACHE_VERSION, "video": _file_digest(video), "source": source.name, **dict(source.settings)},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(desc.encode()).hexdigest()[:16]


def save_video_poses(path: Path, poses: VideoPoses) -> None:
    arrays: dict[str, np.ndarray] = {
        "meta": np.array(
            json.dumps(
                {
                    "video": poses.video,
                    "fps": poses.fps,
                    "image_size": list(poses.image_size),
                    "num_frames": poses.num_frames,
                    "backend": poses.backend,
                    "track_ids": [t.track_id for t in poses.tracks],
                }
            )
        ),
        "pts": poses.pts,
    }
    for t in poses.tracks:
        arrays[f"frames_{t.track_id}"] = t.frames
        arrays[f"times_{t.track_id}"] = t.times
        arrays[f"keypoints_{t.track_id}"] = t.keypoints
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, allow_pickle=False, **arrays)
    os.replace(tmp, path)


def load_video_poses(path: Path) -> VideoPoses:
    with np.load(path, allow_pickle=False) as d:
        meta = json.loads(str(d["meta"]))
        tracks = tuple(
            TrackSequence(tid, d[f"frames_{tid}"], d[f"times_{tid}"], d[f"keypoints_{tid}"])
            for tid in meta["track_ids"]
        )
        pts = d["pts"]
    w, h = meta["image_size"]
    return VideoPoses(
        meta["video"],
        float(meta["fps"]),
        (int(w), int(h)),
        int(meta["num_frames"]),
        meta["backend"],
        tracks,
        pts,
    )


def cached_video_poses(
    video: str | os.PathLike[str],
    source: PoseSource,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> VideoPoses:
    """``source.extract(video)``, cached under ``cache_dir`` when given."""
    path = Path(video)
    if not path.is_file():
        raise VideoReadError(f"video {path} does not exist (or is not a file)")
    cache: Path | None = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{path.stem}.{source.name}.{cache_key(path, source)}.npz"
        if cache.is_file():
            try:
                poses = load_video_poses(cache)
                log.debug("poses of %s from cache %s", path.name, cache)
                return poses
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable pose cache %s: %s", cache, exc)
    poses = source.extract(path, progress)
    if cache is not None:
        save_video_poses(cache, poses)
    return poses
