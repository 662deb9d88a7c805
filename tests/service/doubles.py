"""Test doubles for the pipeline, passed in through constructors: a synthetic camera, a pose
backend with a chosen cost, and an action model with random weights."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch

from capture.sources import SourceOptions
from inference.backends.base import PoseBackend
from inference.classifier import ActionClassifier, LSTMClassifier
from inference.keypoints import COCO17_INDEX
from inference.model_file import ModelMetadata
from inference.poses import Poses

LABELS = ("JUMPING", "JUMPING_JACKS", "BOXING", "WAVING_2HANDS", "WAVING_1HAND", "CLAPPING_HANDS")


class SyntheticCamera:
    """A live (or file-like) source producing small frames at ``fps`` in real time.

    ``fail_after`` frames it starts failing reads (a camera going down) until ``recover()``.
    """

    is_live: bool = True
    kind: ClassVar[str] = "synthetic"

    def __init__(
        self,
        camera_id: str,
        options: SourceOptions | None = None,
        *,
        fps: float = 30.0,
        size: tuple[int, int] = (64, 48),
        live: bool = True,
        total_frames: int | None = None,
        fail_after: int | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.options = options or SourceOptions()
        self.is_live = live
        self._fps = fps
        self._size = size
        self._total = total_frames
        self._fail_after = fail_after
        self._n = 0
        self._next = 0.0
        self._down = threading.Event()
        self.opens = 0

    @property
    def fps(self) -> float | None:
        return self._fps

    def describe(self) -> str:
        return f"synthetic:{self.camera_id}"

    def open(self) -> None:
        self.opens += 1  # attempts, successful or not
        if self._down.is_set():
            raise OSError(f"{self.camera_id} is down")
        self._next = time.monotonic()

    def read(self) -> tuple[float, np.ndarray] | None:
        if self._fail_after is not None and self._n >= self._fail_after:
            self._down.set()
        if self._down.is_set():
            time.sleep(0.05)
            return None
        if self._total is not None and self._n >= self._total:
            return None
        if self.is_live:
            delay = self._next - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._next += 1.0 / self._fps
        pts = self._n / self._fps
        self._n += 1
        w, h = self._size
        img = np.full((h, w, 3), self._n % 255, np.uint8)
        return pts, img

    def release(self) -> None:
        pass

    def recover(self) -> None:
        self._fail_after = None
        self._down.clear()


class TimedBackend(PoseBackend):
    """One waving person per image, after sleeping ``cost_s`` per call (a batching model of that speed).

    Records each call: the thread that made it and each image's first pixel (the synthetic camera's
    frame counter) with its width (which tells cameras of different sizes apart).
    """

    name: ClassVar[str] = "timed"
    batches: ClassVar[bool] = True

    def __init__(self, cost_s: float = 0.0, fail_every: int | None = None) -> None:
        self.cost_s = cost_s
        self.fail_every = fail_every
        self.device = "cpu"
        self.calls = 0
        self.log: list[tuple[str, list[tuple[int, int]]]] = []
        self._lock = threading.Lock()

    def infer(self, images: Sequence[np.ndarray]) -> list[Poses]:
        with self._lock:
            self.calls += 1
            call = self.calls
            self.log.append(
                (threading.current_thread().name, [(int(i[0, 0, 0]), i.shape[1]) for i in images])
            )
        if self.fail_every and call % self.fail_every == 0:
            raise RuntimeError(f"synthetic failure on call {call}")
        if self.cost_s:
            time.sleep(self.cost_s)
        return [_waving_person(float(img[0, 0, 0]), img.shape[1], img.shape[0]) for img in images]


class StatefulBackend(TimedBackend):
    """A backend that keeps state between frames (like MediaPipe's stream mode), one call per image."""

    name: ClassVar[str] = "stateful"
    batches: ClassVar[bool] = False
    stateful = True

    def close(self) -> None:
        pass


def _waving_person(phase: float, width: int, height: int) -> Poses:
    kp = np.zeros((1, 17, 3), np.float32)
    cx, cy = width / 2, height / 2
    s = height / 4
    base = {
        "nose": (0, -1.6), "left_eye": (0.1, -1.7), "right_eye": (-0.1, -1.7),
        "left_ear": (0.2, -1.6), "right_ear": (-0.2, -1.6),
        "left_shoulder": (0.4, -1.0), "right_shoulder": (-0.4, -1.0),
        "left_elbow": (0.6, -0.5), "right_elbow": (-0.6, -1.4),
        "left_wrist": (0.6, 0.0), "right_wrist": (-0.6, -1.9),
        "left_hip": (0.3, 0.2), "right_hip": (-0.3, 0.2),
        "left_knee": (0.3, 0.9), "right_knee": (-0.3, 0.9),
        "left_ankle": (0.3, 1.6), "right_ankle": (-0.3, 1.6),
    }  # fmt: skip
    for name, (x, y) in base.items():
        j = COCO17_INDEX[name]
        dx = 0.3 * math.sin(phase / 3.0) if name == "right_wrist" else 0.0
        kp[0, j] = (cx + (x + dx) * s, cy + y * s, 0.9)
    return Poses.from_keypoints(kp)


def random_classifier(
    seed: int = 0, *, reject_threshold: float = 0.0, background: bool = False, smoothing_s: float = 0.0
) -> ActionClassifier:
    """A random-weight LSTM. By default it always names its most probable action (reject threshold
    0, no background output) from each window alone, so labels flow through whatever is tested;
    pass a threshold or ``background=True`` to see the no-action outcome, ``smoothing_s`` to have
    decisions weigh each person's recent windows."""
    torch.manual_seed(seed)
    meta = ModelMetadata(
        labels=LABELS,
        normalisation="body_centred",
        description="random weights (tests)",
        reject_threshold=reject_threshold,
        background=background,
        smoothing_s=smoothing_s,
    )
    return ActionClassifier(LSTMClassifier.from_metadata(meta), meta)
