"""The typed container for the people found in one image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.keypoints import NUM_KEYPOINTS


@dataclass(frozen=True, slots=True)
class Poses:
    """People in one image: ``keypoints (P, 17, 3)`` = x, y in pixels + confidence in [0, 1],
    ``boxes (P, 4)`` = x1, y1, x2, y2 in pixels, ``scores (P,)`` = person confidence.

    All arrays are float32; keypoints are in COCO-17 order (see ``inference.keypoints``).
    """

    keypoints: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        kp, bx, sc = self.keypoints, self.boxes, self.scores
        for name, arr in (("keypoints", kp), ("boxes", bx), ("scores", sc)):
            if not isinstance(arr, np.ndarray):
                raise TypeError(f"Poses.{name} must be a numpy array, got {type(arr).__name__}")
            if arr.dtype != np.float32:
                raise ValueError(f"Poses.{name} must be float32, got {arr.dtype}")
        if kp.ndim != 3 or kp.shape[1:] != (NUM_KEYPOINTS, 3):
            raise ValueError(f"Poses.keypoints must have shape (P, {NUM_KEYPOINTS}, 3), got {kp.shape}")
        p = kp.shape[0]
        if bx.shape != (p, 4):
            raise ValueError(f"Poses.boxes must have shape ({p}, 4) to match keypoints, got {bx.shape}")
        if sc.shape != (p,):
            raise ValueError(f"Poses.scores must have shape ({p},) to match keypoints, got {sc.shape}")

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    @classmethod
    def empty(cls) -> Poses:
        return cls(
            keypoints=np.zeros((0, NUM_KEYPOINTS, 3), np.float32),
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
        )

    @classmethod
    def from_keypoints(cls, keypoints: np.ndarray, scores: np.ndarray | None = None) -> Poses:
        """Build from keypoints alone; boxes are the extent of the confident keypoints."""
        kp = np.asarray(keypoints, dtype=np.float32)
        if kp.ndim != 3 or kp.shape[1:] != (NUM_KEYPOINTS, 3):
            raise ValueError(f"keypoints must have shape (P, {NUM_KEYPOINTS}, 3), got {kp.shape}")
        boxes = np.zeros((kp.shape[0], 4), np.float32)
        for i, person in enumerate(kp):
            visible = person[person[:, 2] > 0]
            pts = visible if len(visible) else person
            boxes[i] = (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())
        if scores is None:
            scores = kp[:, :, 2].mean(axis=1) if len(kp) else np.zeros((0,), np.float32)
        return cls(keypoints=kp, boxes=boxes, scores=np.asarray(scores, dtype=np.float32))

    def select(self, index: np.ndarray | list[int]) -> Poses:
        """The subset of people at ``index`` (e.g. those above a score threshold)."""
        idx = np.asarray(index, dtype=np.int64)
        return Poses(self.keypoints[idx], self.boxes[idx], self.scores[idx])


@dataclass(frozen=True, slots=True)
class TrackedPoses(Poses):
    """The people of one frame after the tracker: the :class:`Poses` columns plus ``track_ids (P,)``
    (int64, ascending), and ``ended``: ids of tracks that ended on this frame (their people are gone).

    One record from the tracker to the wire: the engine, the annotator, the live preview and the
    pose event all read these columns.
    """

    track_ids: np.ndarray
    ended: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        Poses.__post_init__(self)
        ids = self.track_ids
        if not isinstance(ids, np.ndarray) or ids.dtype != np.int64:
            raise ValueError(f"TrackedPoses.track_ids must be an int64 numpy array, got {ids!r}")
        if ids.shape != (len(self),):
            raise ValueError(
                f"TrackedPoses.track_ids must have shape ({len(self)},) to match keypoints, got {ids.shape}"
            )
        object.__setattr__(self, "ended", tuple(int(i) for i in self.ended))

    @classmethod
    def empty(cls, ended: tuple[int, ...] = ()) -> TrackedPoses:
        none = Poses.empty()
        return cls(none.keypoints, none.boxes, none.scores, np.zeros((0,), np.int64), ended)

    def select(self, index: np.ndarray | list[int]) -> TrackedPoses:
        """The people at ``index``, with their track ids (``ended`` is kept)."""
        idx = np.asarray(index, dtype=np.int64)
        return TrackedPoses(
            self.keypoints[idx], self.boxes[idx], self.scores[idx], self.track_ids[idx], self.ended
        )
