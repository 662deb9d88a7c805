"""The live preview: the latest processed frame of each camera, its people and their actions, and
the latest events, for the web page.

The inference worker calls ``update`` for every processed frame: it stores a reference to the
result the engine made anyway (it carries its frame); nothing is copied, drawn or encoded there. Drawing and
JPEG encoding happen in ``jpeg()``, called only by the MJPEG stream while someone watches, at
most once per new frame however many people watch.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import cv2

from capture.frame import Frame
from service.engine.analyzer import FrameResult
from service.offline.annotate import annotate
from service.outputs.events import ActionEvent, PoseEvent, StatusEvent


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One processed frame of a camera as the preview shows it."""

    version: int
    result: FrameResult
    at: float  # time.monotonic() when it was stored

    @property
    def frame(self) -> Frame:
        return self.result.frame


class LivePreviews:
    """Latest snapshot and latest events per camera; cheap to update, encoded on demand."""

    def __init__(self, cameras: Iterable[str], *, max_events: int = 20, jpeg_quality: int = 80) -> None:
        if not 1 <= jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality}")
        self.cameras: tuple[str, ...] = tuple(cameras)
        self._latest: dict[str, Snapshot | None] = dict.fromkeys(self.cameras)
        self._events: dict[str, deque[dict[str, Any]]] = {c: deque(maxlen=max_events) for c in self.cameras}
        self._counter = itertools.count(1)
        self._quality = jpeg_quality
        self._encoded: dict[str, tuple[int, bytes]] = {}
        self._encode_locks = {c: threading.Lock() for c in self.cameras}
        self.encodes = 0  # JPEGs made so far (tests check that watching is what costs)

    # -- hot path (inference worker) --------------------------------------------------------------

    def update(self, result: FrameResult) -> None:
        """Store a reference to the result and its frame (called for every processed frame), and
        keep its segment events."""
        if result.camera_id in self._latest:
            self._latest[result.camera_id] = Snapshot(next(self._counter), result, time.monotonic())
        for event in result.events:
            self.record(event)

    def record(self, event: ActionEvent | PoseEvent | StatusEvent) -> None:
        """Keep segment starts/ends and status changes (per-window updates are shown on the video)."""
        if isinstance(event, PoseEvent) or (isinstance(event, ActionEvent) and event.type == "update"):
            return
        events = self._events.get(event.camera)
        if events is None:
            return
        item: dict[str, Any] = {"type": event.type, "at": time.time()}
        if isinstance(event, ActionEvent):
            item |= {
                "track_id": event.track_id,
                "label": event.label,
                "confidence": round(event.confidence, 3),
            }
            item |= {"pts": round(event.pts, 3)}
        else:
            item |= {"state": event.state, "reason": event.reason}
        events.append(item)

    # -- readers (HTTP) ---------------------------------------------------------------------------

    def latest(self, camera_id: str) -> Snapshot | None:
        return self._latest.get(camera_id)

    def events(self, camera_id: str) -> list[dict[str, Any]]:
        """Newest first."""
        return list(reversed(self._events.get(camera_id, ())))

    def jpeg(self, camera_id: str) -> tuple[int, bytes] | None:
        """The latest snapshot drawn and encoded, as (version, JPEG bytes); None before any frame.
        Encoded once per snapshot, whoever asks."""
        snap = self._latest.get(camera_id)
        if snap is None:
            return None
        with self._encode_locks[camera_id]:
            cached = self._encoded.get(camera_id)
            if cached is not None and cached[0] == snap.version:
                return cached
            image = annotate(snap.frame.image, snap.result.people, snap.result.actions)
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self._quality])
            if not ok:
                return None
            self.encodes += 1
            encoded = (snap.version, buf.tobytes())
            self._encoded[camera_id] = encoded
            return encoded
