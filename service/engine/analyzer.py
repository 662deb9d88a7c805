"""The per-frame analysis after the pose model: tracker → windows → batched classification →
segments, for any number of cameras. Synchronous and thread-free, so the service's inference
workers and ``actionstream analyze`` run literally the same engine.

Input: frames with the people the pose backend found in them. Output, per frame: the events to
publish (segment ends of tracks that left, optional pose event, classification updates and segment
starts/ends) and the tracked people with each track's current action, for drawing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from capture.frame import Frame
from inference.classifier import ActionClassifier
from inference.poses import Poses
from inference.tracker import Tracker
from inference.windows import TrackWindows, Window
from service.engine.segments import Classification, SegmentTracker
from service.outputs.events import ActionEvent, PoseEvent, PoseTrack

AnalysisEvent = ActionEvent | PoseEvent


@dataclass
class LaneOptions:
    """Per-camera inference knobs (from the pipeline config)."""

    max_people: int | None = None
    track_max_age_s: float = 1.0
    classify_hop_s: float = 0.25
    max_window_gap_s: float = 0.5
    publish_poses: bool = False


@dataclass(frozen=True, slots=True)
class TrackView:
    """One tracked person in one frame, with the track's latest classification (None until its
    first window) and the label of its running segment (None when none runs)."""

    track_id: int
    keypoints: np.ndarray
    box: np.ndarray
    score: float
    label: str | None = None
    confidence: float | None = None
    segment: str | None = None


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What one frame produced: its events in publishing order, the people in it, and the windows
    classified on it (every one, whatever its confidence)."""

    camera_id: str
    frame_seq: int
    pts: float
    tracks: tuple[TrackView, ...] = ()
    events: tuple[AnalysisEvent, ...] = ()
    classifications: tuple[Classification, ...] = ()


@dataclass
class _Camera:
    options: LaneOptions
    tracker: Tracker
    windows: TrackWindows
    labels: dict[int, tuple[str, float]] = field(default_factory=dict)
    last_frame: Frame | None = None


class FrameAnalyzer:
    """Per-camera tracking state around one shared classifier and segment tracker.

    Not thread-safe per camera: one thread feeds a camera's frames, in capture order.
    ``on_classify`` receives the seconds each batched classifier call took (for metrics).
    """

    def __init__(
        self,
        classifier: ActionClassifier,
        segments: SegmentTracker,
        *,
        on_classify: Callable[[float], None] | None = None,
    ) -> None:
        self.classifier = classifier
        self.segments = segments
        self._on_classify = on_classify
        self._cameras: dict[str, _Camera] = {}

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def add_camera(self, camera_id: str, options: LaneOptions | None = None) -> None:
        """Start fresh tracking state for a camera (replacing any it had)."""
        opts = options or LaneOptions()
        self._cameras[camera_id] = _Camera(
            options=opts,
            tracker=Tracker(max_age_s=opts.track_max_age_s),
            windows=TrackWindows(
                self.classifier.spec, max_gap_s=opts.max_window_gap_s, hop_s=opts.classify_hop_s
            ),
        )

    def last_frame(self, camera_id: str) -> Frame | None:
        return self._cameras[camera_id].last_frame

    def analyze(self, items: Sequence[tuple[str, Frame, Poses]]) -> list[FrameResult]:
        """Analyse frames (at most one per camera is the usual batch, several in capture order also
        work) with one classifier call for every window that became ready."""
        staged: list[tuple[str, _Camera, Frame, list[AnalysisEvent], list[TrackView], list[Window]]] = []
        for camera_id, frame, people in items:
            cam = self._cameras[camera_id]
            events: list[AnalysisEvent] = []
            update = cam.tracker.update(_keep_best(people, cam.options.max_people), frame.pts)
            for track_id in update.ended:
                cam.windows.drop(track_id)
                cam.labels.pop(track_id, None)
                events += self.segments.end_track(
                    camera_id,
                    track_id,
                    frame_seq=frame.seq,
                    pts=frame.pts,
                    capture_time=frame.capture_time,
                )
            for tp in update.active:
                cam.windows.add(tp.track_id, frame.pts, tp.keypoints)
            if cam.options.publish_poses:
                events.append(
                    PoseEvent(
                        camera=camera_id,
                        frame_seq=frame.seq,
                        pts=frame.pts,
                        tracks=[
                            PoseTrack.from_arrays(t.track_id, t.keypoints, t.box, t.score)
                            for t in update.active
                        ],
                        capture_time=frame.capture_time,
                    )
                )
            views = [TrackView(t.track_id, t.keypoints, t.box, t.score) for t in update.active]
            staged.append((camera_id, cam, frame, events, views, cam.windows.ready(frame.pts)))
            cam.last_frame = frame

        windows = [w for *_, ws in staged for w in ws]
        probs = np.zeros((0, len(self.labels)), np.float32)
        if windows:
            t0 = time.perf_counter()
            probs = self.classifier.predict_windows(windows)
            if self._on_classify is not None:
                self._on_classify(time.perf_counter() - t0)

        results: list[FrameResult] = []
        i = 0
        for camera_id, cam, frame, before, views, ws in staged:
            events = list(before)
            made: list[Classification] = []
            for w in ws:
                c = Classification(
                    camera=camera_id,
                    track_id=w.track_id,
                    labels=self.labels,
                    probabilities=tuple(float(x) for x in probs[i]),
                    window_start_pts=w.start_pts,
                    window_end_pts=w.end_pts,
                    frame_seq=frame.seq,
                    pts=frame.pts,
                    capture_time=frame.capture_time,
                )
                i += 1
                made.append(c)
                cam.labels[w.track_id] = c.top
                events += self.segments.observe(c)
            tracks = tuple(self._labelled(camera_id, cam, v) for v in views)
            results.append(FrameResult(camera_id, frame.seq, frame.pts, tracks, tuple(events), tuple(made)))
        return results

    def _labelled(self, camera_id: str, cam: _Camera, view: TrackView) -> TrackView:
        label, conf = cam.labels.get(view.track_id, (None, None))
        segment = self.segments.active_label(camera_id, view.track_id)
        return TrackView(view.track_id, view.keypoints, view.box, view.score, label, conf, segment)

    def end_camera(self, camera_id: str) -> list[ActionEvent]:
        """The camera's source ended or the service stops: end its running segments (once)."""
        cam = self._cameras.get(camera_id)
        last = cam.last_frame if cam else None
        if cam is not None:
            cam.labels.clear()
        return self.segments.end_camera(
            camera_id,
            frame_seq=last.seq if last else 0,
            pts=last.pts if last else 0.0,
            capture_time=last.capture_time if last else None,
        )


def _keep_best(people: Poses, limit: int | None) -> Poses:
    """The ``limit`` highest-scoring people (backends cap this too; a config may cap lower)."""
    if limit is None or len(people) <= limit:
        return people
    return people.select(np.argsort(-people.scores)[:limit])
