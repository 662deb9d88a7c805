"""Poses of every person in a video file, run through the same pose backend and tracker as serving.

Used to build training windows from one's own labelled videos and to evaluate models on real
footage. A video is read frame by frame (pts = frame index / fps, as the file source does), each
frame goes through a pose backend (MediaPipe in stream mode by default, the CPU service default)
and :class:`inference.tracker.Tracker`; the result is one time-stamped pose sequence per track.
Extraction is the slow part (~20-40 ms a frame), so results can be cached as ``.npz`` files keyed
by the video's content and the backend settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inference.backends import create_backend
from inference.backends.base import PoseBackend
from inference.keypoints import NUM_KEYPOINTS
from inference.tracker import Tracker

log = logging.getLogger(__name__)

CACHE_VERSION = 1
DEFAULT_TRACK_MAX_AGE_S = 1.0  # the service's default (service.config track_max_age_s)

BackendFactory = Callable[[], PoseBackend]


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
    """Every track of one video; ``fps`` as the file declares it, ``image_size`` (width, height)."""

    video: str
    fps: float
    image_size: tuple[int, int]
    num_frames: int
    backend: str
    tracks: tuple[TrackSequence, ...]

    def frame_time(self, frame: int) -> float:
        return frame / self.fps


def video_fps(capture: Any, path: Path) -> float:
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    if not (np.isfinite(fps) and 1.0 <= fps <= 240.0):
        log.warning("%s declares %.3g fps; assuming 30", path, fps)
        fps = 30.0
    return fps


def extract_video_poses(
    video: str | os.PathLike[str],
    backend_factory: BackendFactory,
    *,
    backend_name: str = "",
    track_max_age_s: float = DEFAULT_TRACK_MAX_AGE_S,
    max_people: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VideoPoses:
    """Run a fresh backend (from ``backend_factory``) and a fresh tracker over every frame of ``video``.

    ``max_people``: keep only the most confident people of each frame (like the service's lanes).
    ``progress(done, total)`` is called every 50 frames.
    """
    path = Path(video)
    if not path.is_file():
        raise VideoReadError(f"video {path} does not exist (or is not a file)")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoReadError(f"{path} could not be opened as a video (OpenCV/FFmpeg cannot decode it)")
    fps = video_fps(cap, path)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    backend = backend_factory()
    tracker = Tracker(max_age_s=track_max_age_s, max_people=max_people)
    per_track: dict[int, tuple[list[int], list[float], list[np.ndarray]]] = {}
    size = (0, 0)
    index = 0
    try:
        while True:
            ok, image = cap.read()
            if not ok or image is None:
                break
            size = (int(image.shape[1]), int(image.shape[0]))
            pts = index / fps
            people = tracker.update(backend.infer([image])[0], pts)
            for track_id, keypoints in zip(people.track_ids.tolist(), people.keypoints, strict=True):
                frames, times, kps = per_track.setdefault(track_id, ([], [], []))
                frames.append(index)
                times.append(pts)
                kps.append(keypoints)
            index += 1
            if progress is not None and index % 50 == 0:
                progress(index, max(total, index))
    finally:
        cap.release()
        backend.close()
    if index == 0:
        raise VideoReadError(f"{path}: no frame could be decoded")
    tracks = tuple(
        TrackSequence(
            track_id=tid,
            frames=np.asarray(f, np.int64),
            times=np.asarray(t, np.float64),
            keypoints=np.stack(k).astype(np.float32),
        )
        for tid, (f, t, k) in sorted(per_track.items())
    )
    log.info("%s: %d frames at %.3g fps, %d track(s)", path.name, index, fps, len(tracks))
    return VideoPoses(str(path), fps, size, index, backend_name, tracks)


def backend_factory(name: str, options: Mapping[str, Any] | None = None) -> BackendFactory:
    """A factory for a named pose backend; MediaPipe defaults to stream mode, as the service runs it."""
    opts = dict(options or {})
    if name == "mediapipe":
        opts.setdefault("stream_mode", True)

    def make() -> PoseBackend:
        return create_backend(name, **opts)

    return make


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_key(video: Path, backend: str, options: Mapping[str, Any]) -> str:
    """What the poses depend on: the video's bytes, the backend and its options, the tracker."""
    desc = json.dumps(
        {
            "v": CACHE_VERSION,
            "video": _file_digest(video),
            "backend": backend,
            "options": dict(sorted(options.items())),
            "track_max_age_s": DEFAULT_TRACK_MAX_AGE_S,
        },
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
        )
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
    w, h = meta["image_size"]
    return VideoPoses(
        meta["video"], float(meta["fps"]), (int(w), int(h)), int(meta["num_frames"]), meta["backend"], tracks
    )


def cached_video_poses(
    video: str | os.PathLike[str],
    backend: str = "mediapipe",
    *,
    options: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VideoPoses:
    """:func:`extract_video_poses` with a named backend, cached under ``cache_dir`` when given."""
    path = Path(video)
    if not path.is_file():
        raise VideoReadError(f"video {path} does not exist (or is not a file)")
    factory = backend_factory(backend, options)
    opts = dict(options or {})
    if backend == "mediapipe":
        opts.setdefault("stream_mode", True)
    cache: Path | None = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{path.stem}.{backend}.{cache_key(path, backend, opts)}.npz"
        if cache.is_file():
            try:
                poses = load_video_poses(cache)
                log.debug("poses of %s from cache %s", path.name, cache)
                return poses
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable pose cache %s: %s", cache, exc)
    poses = extract_video_poses(path, factory, backend_name=backend, progress=progress)
    if cache is not None:
        save_video_poses(cache, poses)
    return poses
