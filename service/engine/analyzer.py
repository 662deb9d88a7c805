"""The per-frame analysis after the pose model: tracker → windows → batched classification →
segments, for any number of cameras. Synchronous and thread-free, so the service's inference
workers and ``actionstream analyze`` run literally the same engine.

Input: frames with the people the pose backend found in them. Output, per frame, one
:class:`FrameResult`: the frame, its tracked people (:class:`~inference.poses.TrackedPoses`, one
record from the tracker to the wire) with each track's current action, the events to publish
(segment ends of tracks that left, optional pose event, classification updates and segment
starts/ends) and the windows classified on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from capture.frame import Frame
from inference.backends.base import PoseBackend
from inference.classifier import ActionClassifier
from inference.decision import Prediction
from inference.poses import Poses, TrackedPoses
from inference.tracker import Tracker
from inference.windows import TrackWindows, Window
from service.engine.options import LaneOptions
from service.engine.segments import Classification, SegmentTracker
from service.outputs.events import ActionEvent, PoseEvent

AnalysisEvent = ActionEvent | PoseEvent
# The engine's models are built by factories, called in the thread that will use them (CUDA contexts
# and MediaPipe graphs are not shared between threads).
BackendFactory = Callable[[], PoseBackend]
ClassifierFactory = Callable[[], ActionClassifier]

__all__ = [
    "AnalysisEvent",
    "BackendFactory",
    "ClassifierFactory",
    "FrameAnalyzer",
    "FrameResult",
    "LaneOptions",
    "TrackAction",
    "make_tracker",
]


def make_tracker(options: LaneOptions) -> Tracker:
    """A lane's tracker: one argument per tracker knob of :class:`LaneOptions`. Every path that
    tracks people in video (the service's lanes, ``analyze``, training through the CLI) builds it
    here."""
    return Tracker(max_age_s=options.track_max_age_s, max_people=options.max_people)


@dataclass(frozen=True, slots=True)
class TrackAction:
    """What one track is doing on a frame: its latest window's decision and the label of its
    running segment (None when none runs). ``reason`` is None until the track's first window was
    classified; then ``label`` is the action it named, or None for no known action (``reason`` says
    why, see :mod:`inference.decision`) with ``confidence`` the best action's probability."""

    label: str | None = None
    confidence: float | None = None
    segment: str | None = None
    reason: str | None = None

    @property
    def classified(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What one frame produced: the frame, its tracked people and, row for row, their actions; its
    events in publishing order; and the windows classified on it (every one, whatever its
    confidence)."""

    frame: Frame
    people: TrackedPoses = field(default_factory=TrackedPoses.empty)
    actions: tuple[TrackAction, ...] = ()
    events: tuple[AnalysisEvent, ...] = ()
    classifications: tuple[Classification, ...] = ()

    def __post_init__(self) -> None:
        if len(self.actions) != len(self.people):
            raise ValueError(
                f"FrameResult needs one action per tracked person: {len(self.people)} people, "
                f"{len(self.actions)} actions"
            )

    @property
    def camera_id(self) -> str:
        return self.frame.camera_id

    @property
    def frame_seq(self) -> int:
        return self.frame.seq

    @property
    def pts(self) -> float:
        return self.frame.pts


@dataclass
class _Camera:
    options: LaneOptions
    tracker: Tracker
    windows: TrackWindows
    decided: dict[int, Prediction] = field(default_factory=dict)
    last_frame: Frame | None = None


@dataclass
class _Staged:
    """One frame between tracking and classification."""

    camera: _Camera
    frame: Frame
    people: TrackedPoses
    events: list[AnalysisEvent]
    windows: list[Window]


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
        # Each person's recent outputs, keyed (camera, track id): a decision weighs the model's
        # smoothing_s of them (inference.decision).
        self._evidence = classifier.new_evidence()

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def add_camera(self, camera_id: str, options: LaneOptions | None = None) -> None:
        """Start fresh tracking state for a camera (replacing any it had)."""
        opts = options or LaneOptions()
        self._forget_camera(camera_id)
        self._cameras[camera_id] = _Camera(
            options=opts,
            tracker=make_tracker(opts),
            windows=TrackWindows(self.classifier.spec, hop_s=opts.classify_hop_s),
        )

    def analyze(self, items: Sequence[tuple[Frame, Poses]]) -> list[FrameResult]:
        """Analyse frames with the people found in them (at most one per camera is the usual batch,
        several in capture order also work), with one classifier call for every window that became
        ready."""
        staged = [self._track(frame, people) for frame, people in items]
        windows = [w for s in staged for w in s.windows]
        decided: list[Prediction] = []
        if windows:
            t0 = time.perf_counter()
            streams = [s.frame.camera_id for s in staged for _ in s.windows]
            decided = self.classifier.classify(windows, self._evidence, streams=streams)
            if self._on_classify is not None:
                self._on_classify(time.perf_counter() - t0)
        bounds = np.cumsum([0] + [len(s.windows) for s in staged])
        return [
            self._result(s, decided[a:b]) for s, a, b in zip(staged, bounds[:-1], bounds[1:], strict=True)
        ]

    def _track(self, frame: Frame, found: Poses) -> _Staged:
        """Tracker and windows for one frame: the events of tracks that ended, the pose event."""
        camera_id = frame.camera_id
        cam = self._cameras[camera_id]
        people = cam.tracker.update(found, frame.pts)
        events: list[AnalysisEvent] = []
        for track_id in people.ended:
            cam.windows.drop(track_id)
            cam.decided.pop(track_id, None)
            self._evidence.drop((camera_id, track_id))
            events += self.segments.end_track(
                camera_id, track_id, frame_seq=frame.seq, pts=frame.pts, capture_time=frame.capture_time
            )
        for track_id, keypoints in zip(people.track_ids.tolist(), people.keypoints, strict=True):
            cam.windows.add(track_id, frame.pts, keypoints)
        if cam.options.publish_poses:
            events.append(
                PoseEvent(
                    camera=camera_id,
                    frame_seq=frame.seq,
                    pts=frame.pts,
                    people=people,
                    capture_time=frame.capture_time,
                )
            )
        cam.last_frame = frame
        return _Staged(cam, frame, people, events, cam.windows.ready(frame.pts))

    def _result(self, s: _Staged, decided: Sequence[Prediction]) -> FrameResult:
        """Classifications, segment events and each track's action for one staged frame."""
        frame, cam = s.frame, s.camera
        events = list(s.events)
        made: list[Classification] = []
        for w, p in zip(s.windows, decided, strict=True):
            c = Classification(
                camera=frame.camera_id,
                track_id=w.track_id,
                prediction=p,
                window_start_pts=w.start_pts,
                window_end_pts=w.end_pts,
                frame_seq=frame.seq,
                pts=frame.pts,
                capture_time=frame.capture_time,
            )
            made.append(c)
            cam.decided[w.track_id] = p
            events += self.segments.observe(c)
        actions = tuple(self._action(frame.camera_id, cam, t) for t in s.people.track_ids.tolist())
        return FrameResult(frame, s.people, actions, tuple(events), tuple(made))

    def _action(self, camera_id: str, cam: _Camera, track_id: int) -> TrackAction:
        segment = self.segments.active_label(camera_id, track_id)
        p = cam.decided.get(track_id)
        if p is None:
            return TrackAction(segment=segment)
        return TrackAction(p.label, p.confidence, segment, p.reason)

    def end_camera(self, camera_id: str) -> FrameResult | None:
        """The camera's source ended or the service stops: end its running segments (once). The
        result is on the camera's last frame, with nobody tracked any more; None when it never had
        a frame (then nothing can be running)."""
        cam = self._cameras.get(camera_id)
        last = cam.last_frame if cam else None
        if cam is None or last is None:
            return None
        cam.decided.clear()
        self._forget_camera(camera_id)
        ended = tuple(cam.tracker.reset())
        cam.windows.clear()
        events = self.segments.end_camera(
            camera_id, frame_seq=last.seq, pts=last.pts, capture_time=last.capture_time
        )
        return FrameResult(last, TrackedPoses.empty(ended), events=tuple(events))

    def _forget_camera(self, camera_id: str) -> None:
        self._evidence.drop_where(lambda key: isinstance(key, tuple) and key[0] == camera_id)
