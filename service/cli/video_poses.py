"""Video files → tracked poses for the training commands, read exactly as ``serve`` reads them.

Training imports neither capture nor the service, so this is where the two meet (the CLI is the
only way into :mod:`training`): capture's file source with the container's timestamps, the pose
backend set up as the service sets it up (the ``pose`` section's defaults), and a lane's tracker
with the service's defaults (``service/offline/reader.py``), handed to training as a
:class:`~training.video_poses.PoseSource`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from inference.poses import TrackedPoses
from service.app.build import pose_backend_factory
from service.config import EngineConfig, PoseConfig
from service.offline.reader import tracked_frames
from service.offline.video_probe import BadVideoError, probe_video
from training.video_poses import PoseSource, Progress, VideoPoses, VideoReadError, collect_video_poses

_PROGRESS_EVERY = 50  # frames


def pose_source(backend: str) -> PoseSource:
    """Tracked poses of a video file through ``backend`` (``auto`` resolved as ``serve`` does)."""
    config = EngineConfig(pose=PoseConfig(backend=backend))  # the service's defaults otherwise
    pose, lane = config.pose, config.lane_options()
    settings = {
        "reader": "capture.FileSource",
        "pose": pose.model_dump(mode="json", include={"backend", "max_people", "score_threshold"}),
        "tracker": dataclasses.asdict(lane),
    }

    def extract(path: Path, progress: Progress | None) -> VideoPoses:
        try:
            info = probe_video(path)
        except BadVideoError as exc:
            raise VideoReadError(str(exc)) from None
        frames: list[tuple[float, TrackedPoses]] = []
        backend_ = pose_backend_factory(pose)()
        try:
            for frame, people in tracked_frames(path, backend_, (info.width, info.height), lane):
                frames.append((frame.pts, people))
                if progress is not None and len(frames) % _PROGRESS_EVERY == 0:
                    progress(len(frames), max(info.frames or 0, len(frames)))
        except BadVideoError as exc:
            raise VideoReadError(str(exc)) from None
        finally:
            backend_.close()
        return collect_video_poses(
            path,
            frames,
            fps=info.fps,
            image_size=(info.width, info.height),
            backend=backend,
        )

    return PoseSource(name=backend, settings=settings, extract=extract)
