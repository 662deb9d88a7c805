"""Multi-person tracking: stable track ids across frames, so each person gets their own window.

Each frame, every live track is predicted to the frame's pts (constant velocity of its body, so
people who cross keep their ids), compared with every detection by a similarity that mixes box
IoU and an OKS-like keypoint similarity (scale-aware, per-joint tolerances from COCO), and the
best one-to-one matching is solved with the Hungarian method. Pairs below ``match_threshold`` are
not matched. Tracks age by *time* (pts), so skipping frames does not change when they end.

The tracker takes the backend's :class:`Poses` and returns :class:`TrackedPoses`: the same columns
plus the track ids and the ids of the tracks that just ended. With ``max_people`` it first keeps the
most confident people of the frame, so every caller (the service's lanes, ``analyze``, training)
tracks the same people.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from inference.keypoints import COCO17_INDEX, NUM_KEYPOINTS
from inference.poses import Poses, TrackedPoses

log = logging.getLogger(__name__)

# COCO keypoint sigmas (per-joint annotation spread), as used by the COCO OKS metric.
COCO17_SIGMAS = (
    np.array(
        [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89]
    )
    / 10.0
)
_TORSO = [COCO17_INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
_INFEASIBLE = 1e6


@dataclass(slots=True)
class _Track:
    track_id: int
    keypoints: np.ndarray
    box: np.ndarray
    score: float
    last_pts: float
    hits: int = 1
    confirmed: bool = False
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def predicted(self, pts: float, use_motion: bool) -> tuple[np.ndarray, np.ndarray]:
        """Box and keypoints moved to ``pts`` by the track's velocity."""
        if not use_motion:
            return self.box, self.keypoints
        shift = self.velocity * max(pts - self.last_pts, 0.0)
        box = self.box + np.array([shift[0], shift[1], shift[0], shift[1]], np.float32)
        kp = self.keypoints.copy()
        kp[:, :2] += shift.astype(np.float32)
        return box, kp


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a (N, 4)`` with every box in ``b (M, 4)``, x1 y1 x2 y2: ``(N, M)``."""
    a = np.asarray(a, np.float64)[:, None, :]
    b = np.asarray(b, np.float64)[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]).clip(0) * (a[..., 3] - a[..., 1]).clip(0)
    area_b = (b[..., 2] - b[..., 0]).clip(0) * (b[..., 3] - b[..., 1]).clip(0)
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _box_area(boxes: np.ndarray) -> np.ndarray:
    bx = np.asarray(boxes, np.float64)
    return (bx[:, 2] - bx[:, 0]).clip(0) * (bx[:, 3] - bx[:, 1]).clip(0)


def keypoint_similarity(
    a: np.ndarray,
    b: np.ndarray,
    boxes_a: np.ndarray,
    boxes_b: np.ndarray,
    *,
    min_confidence: float,
    tolerance: float = 1.0,
) -> np.ndarray:
    """OKS-like similarity of every pose in ``a (N, 17, 3)`` with every pose in ``b (M, 17, 3)``.

    Per joint ``exp(-d^2 / (2 s^2 k^2))`` with ``s^2`` the mean box area of the pair and
    ``k = 2 * sigma * tolerance``, averaged over joints confident in both; NaN where no joint is
    confident in both. ``tolerance > 1`` allows the motion between frames of low-rate video.
    """
    a = np.asarray(a, np.float64)[:, None]
    b = np.asarray(b, np.float64)[None, :]
    d2 = ((a[..., :2] - b[..., :2]) ** 2).sum(-1)  # (N, M, 17)
    both = (a[..., 2] >= min_confidence) & (b[..., 2] >= min_confidence)
    s2 = (_box_area(boxes_a)[:, None] + _box_area(boxes_b)[None, :]) / 2
    s2 = np.maximum(s2, 1.0)[..., None]
    k2 = (2 * COCO17_SIGMAS * tolerance) ** 2
    per_joint = np.exp(-d2 / (2 * s2 * k2))
    count = both.sum(-1)
    total = np.where(both, per_joint, 0.0).sum(-1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


class Tracker:
    """Assigns stable ids to the people of consecutive frames of one camera.

    ``max_age_s``: a track unseen for longer ends (reported once in ``TrackedPoses.ended``).
    ``max_people``: only the most confident people of a frame are tracked (None: all of them).
    ``min_hits``: a new track is reported only after this many consecutive matches (1 = at once);
    an unconfirmed track that misses a frame is dropped silently. ``match_threshold``: the lowest
    similarity (0..1) that may be matched. ``iou_weight``: share of box IoU in the similarity (the
    rest is keypoint similarity; IoU alone when no joint is confident in both).
    ``keypoint_tolerance``: widens the COCO per-joint tolerances (people move between frames, more
    so at 10 fps). ``predict_motion``: move tracks by their velocity before matching.
    """

    def __init__(
        self,
        max_age_s: float = 1.0,
        *,
        max_people: int | None = None,
        min_hits: int = 1,
        match_threshold: float = 0.2,
        iou_weight: float = 0.5,
        keypoint_tolerance: float = 2.0,
        min_keypoint_confidence: float = 0.3,
        predict_motion: bool = True,
        velocity_smoothing: float = 0.5,
    ) -> None:
        if not max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s}")
        if max_people is not None and max_people < 1:
            raise ValueError(f"max_people must be None or >= 1, got {max_people}")
        if min_hits < 1:
            raise ValueError(f"min_hits must be >= 1, got {min_hits}")
        if not 0.0 <= match_threshold <= 1.0:
            raise ValueError(f"match_threshold must be in [0, 1], got {match_threshold}")
        if not 0.0 <= iou_weight <= 1.0:
            raise ValueError(f"iou_weight must be in [0, 1], got {iou_weight}")
        if not keypoint_tolerance > 0:
            raise ValueError(f"keypoint_tolerance must be > 0, got {keypoint_tolerance}")
        if not 0.0 < velocity_smoothing <= 1.0:
            raise ValueError(f"velocity_smoothing must be in (0, 1], got {velocity_smoothing}")
        self.max_age_s = float(max_age_s)
        self.max_people = max_people
        self.min_hits = int(min_hits)
        self.match_threshold = float(match_threshold)
        self.iou_weight = float(iou_weight)
        self.keypoint_tolerance = float(keypoint_tolerance)
        self.min_keypoint_confidence = float(min_keypoint_confidence)
        self.predict_motion = bool(predict_motion)
        self.velocity_smoothing = float(velocity_smoothing)
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._last_pts: float | None = None

    @property
    def track_ids(self) -> list[int]:
        """Ids of the confirmed tracks still alive (seen within ``max_age_s``)."""
        return sorted(t.track_id for t in self._tracks if t.confirmed)

    def reset(self) -> list[int]:
        """Forget every track; returns the ids of the confirmed ones (they have ended)."""
        ended = self.track_ids
        self._tracks = []
        self._last_pts = None
        return ended

    def similarity(self, poses: Poses, pts: float) -> np.ndarray:
        """Similarity ``(tracks, detections)`` in [0, 1] of the live tracks predicted to ``pts``."""
        if not self._tracks or len(poses) == 0:
            return np.zeros((len(self._tracks), len(poses)))
        predicted = [t.predicted(pts, self.predict_motion) for t in self._tracks]
        boxes = np.stack([p[0] for p in predicted])
        kps = np.stack([p[1] for p in predicted])
        iou = box_iou(boxes, poses.boxes)
        oks = keypoint_similarity(
            kps,
            poses.keypoints,
            boxes,
            poses.boxes,
            min_confidence=self.min_keypoint_confidence,
            tolerance=self.keypoint_tolerance,
        )
        mixed = self.iou_weight * iou + (1 - self.iou_weight) * np.nan_to_num(oks)
        return np.where(np.isnan(oks), iou, mixed)

    def keep_best(self, poses: Poses) -> Poses:
        """The ``max_people`` most confident people (ties keep the backend's order)."""
        if self.max_people is None or len(poses) <= self.max_people:
            return poses
        return poses.select(np.argsort(-poses.scores, kind="stable")[: self.max_people])

    def update(self, poses: Poses, pts: float) -> TrackedPoses:
        """Match this frame's people to the tracks; returns the people seen now (confirmed tracks, by
        id) and the ids of the tracks that ended."""
        poses = self.keep_best(poses)
        ended: list[int] = []
        if self._last_pts is not None and pts < self._last_pts:
            log.warning("tracker: pts went back from %.3f to %.3f; ending all tracks", self._last_pts, pts)
            ended.extend(self.reset())
        self._last_pts = pts

        sim = self.similarity(poses, pts)
        matches: list[tuple[int, int]] = []
        if sim.size:
            cost = np.where(sim >= self.match_threshold, 1.0 - sim, _INFEASIBLE)
            rows, cols = linear_sum_assignment(cost)
            matches = [(r, c) for r, c in zip(rows, cols, strict=True) if sim[r, c] >= self.match_threshold]
        matched_tracks = {r for r, _ in matches}
        matched_dets = {c for _, c in matches}

        for r, c in matches:
            self._absorb(self._tracks[r], poses, c, pts)
        survivors: list[_Track] = []
        for i, track in enumerate(self._tracks):
            if i in matched_tracks:
                survivors.append(track)
            elif not track.confirmed:
                continue  # a tentative track must be seen on consecutive frames
            elif pts - track.last_pts > self.max_age_s:
                ended.append(track.track_id)
            else:
                survivors.append(track)
        seen_now = [self._tracks[r] for r, _ in matches]
        for c in range(len(poses)):
            if c not in matched_dets:
                track = self._new_track(poses, c, pts)
                survivors.append(track)
                seen_now.append(track)
        self._tracks = survivors

        shown = sorted((t for t in seen_now if t.confirmed), key=lambda t: t.track_id)
        if not shown:
            return TrackedPoses.empty(tuple(sorted(ended)))
        return TrackedPoses(
            keypoints=np.stack([t.keypoints for t in shown]),
            boxes=np.stack([t.box for t in shown]),
            scores=np.array([t.score for t in shown], np.float32),
            track_ids=np.array([t.track_id for t in shown], np.int64),
            ended=tuple(sorted(ended)),
        )

    def _new_track(self, poses: Poses, c: int, pts: float) -> _Track:
        track = _Track(
            track_id=self._next_id,
            keypoints=poses.keypoints[c].copy(),
            box=poses.boxes[c].copy(),
            score=float(poses.scores[c]),
            last_pts=pts,
            confirmed=self.min_hits <= 1,
        )
        self._next_id += 1
        return track

    def _absorb(self, track: _Track, poses: Poses, c: int, pts: float) -> None:
        """Take detection ``c`` into ``track`` and update its velocity."""
        kp, box = poses.keypoints[c], poses.boxes[c]
        dt = pts - track.last_pts
        if dt > 0:
            measured = self._displacement(track.keypoints, track.box, kp, box) / dt
            a = 1.0 if track.hits == 1 else self.velocity_smoothing
            track.velocity = a * measured + (1 - a) * track.velocity
        track.keypoints = kp.copy()
        track.box = box.copy()
        track.score = float(poses.scores[c])
        track.last_pts = pts
        track.hits += 1
        if track.hits >= self.min_hits:
            track.confirmed = True

    def _displacement(
        self, kp0: np.ndarray, box0: np.ndarray, kp1: np.ndarray, box1: np.ndarray
    ) -> np.ndarray:
        """Body displacement between two poses: mean shift of the torso joints confident in both
        (steadier than the box, which grows when arms go up), else of any such joints, else of the
        box centre."""
        both = (kp0[:, 2] >= self.min_keypoint_confidence) & (kp1[:, 2] >= self.min_keypoint_confidence)
        torso = np.zeros(NUM_KEYPOINTS, bool)
        torso[_TORSO] = True
        for mask in (both & torso, both):
            if mask.any():
                return (kp1[mask, :2] - kp0[mask, :2]).mean(axis=0).astype(np.float64)
        c0 = np.array([(box0[0] + box0[2]) / 2, (box0[1] + box0[3]) / 2], np.float64)
        c1 = np.array([(box1[0] + box1[2]) / 2, (box1[1] + box1[3]) / 2], np.float64)
        return c1 - c0
