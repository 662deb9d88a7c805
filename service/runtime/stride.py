"""The adaptive frame-skip controller: process the share of a camera's frames the workers can keep up with.

A camera delivers ``fps`` frames per second; the pose workers can give it ``capacity`` frames per
second (its fair share of the pool's measured throughput, see ``service.runtime.pool``). To keep
up, the admitted rate must stay under the capacity, with headroom so the queues stay short::

    required = fps / capacity                       # frames that arrive per frame we can process
    stride   = clamp(required / headroom, 1, max_stride)

The stride is a real number: 1 processes every frame, 1.5 two frames in three, 3 one in three.
Admission spreads the processed frames evenly (a credit counter: each arriving frame adds one, a
frame is admitted when the credit reaches the stride), so a fractional stride needs no rounding up
to the next integer: a pool that manages 25 of 30 frames per second processes 25, not 15.
``headroom`` (0.85 by default) keeps the workers busy at most 85 % of the time; nearer 100 % the
queueing delay, and so the latency, grows without bound.

Skipping frames changes only how densely a track's window is sampled, not what the classifier sees:
windows are built from timestamps and resampled to the model's rate.

Hysteresis so the stride does not wander with every measurement: it goes *up* at once when the
target exceeds it (falling behind grows the queue and the latency); it comes *down* only after the
target has been at least 5 % below it (or at 1, the floor) for ``patience`` consecutive updates,
and then straight to the target. Without a known frame rate (``fps`` None or 0, e.g. a file read as
fast as possible) the stride is 1: nothing to keep up with. Without a capacity measurement yet, the
stride stays where it is.

An optional outer loop on latency: with ``target_latency_s`` set, ``observe_latency`` keeps an EMA of
capture-to-publish latency; over the target for ``patience`` observations raises the stride by a
quarter (something the throughput model misses, such as a shared CPU, is slowing us), and the stride
only comes down while the latency is under ``target * headroom``.

Pure logic: the caller measures and calls ``set_fps`` / ``set_capacity`` / ``observe_latency``; no
clock inside, no lock inside (the owner serialises the calls).
"""

from __future__ import annotations

import math

_DEAD_BAND = 0.95  # the target must be this far under the stride to count as a vote for lowering it
_LATENCY_STEP = 1.25  # the latency loop's multiplicative step


class StrideController:
    """Per-camera stride from the source frame rate and the capacity the workers give the camera."""

    def __init__(
        self,
        max_stride: float = 8,
        *,
        headroom: float = 0.85,
        alpha: float = 0.2,
        patience: int = 5,
        target_latency_s: float | None = None,
    ) -> None:
        if not max_stride >= 1:
            raise ValueError(f"max_stride must be >= 1, got {max_stride}")
        if not 0 < headroom <= 1:
            raise ValueError(f"headroom must be in (0, 1], got {headroom}")
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        if target_latency_s is not None and not target_latency_s > 0:
            raise ValueError(f"target_latency_s must be > 0 or None, got {target_latency_s}")
        self.max_stride = float(max_stride)
        self.headroom = headroom
        self.alpha = alpha
        self.patience = patience
        self.target_latency_s = target_latency_s
        self.fps: float | None = None
        self.capacity: float | None = None
        self.latency: float | None = None
        self._stride = 1.0
        self._down_votes = 0
        self._over_votes = 0
        self._credit: float | None = None  # None: the next frame is the first, always admitted

    @property
    def stride(self) -> float:
        return self._stride

    @property
    def required(self) -> float:
        """Frames that arrive per frame we can process (0 when unknown)."""
        if not self.fps or not self.capacity:
            return 0.0
        return self.fps / self.capacity

    def set_fps(self, fps: float | None) -> float:
        """The source's frame rate (measured or declared); None or 0 when unknown."""
        if fps is not None and (not math.isfinite(fps) or fps < 0):
            raise ValueError(f"fps must be a finite number >= 0 or None, got {fps}")
        self.fps = fps or None
        return self._update()

    def set_capacity(self, frames_per_s: float | None) -> float:
        """Frames per second the workers can process for this camera (None: not measured yet)."""
        if frames_per_s is not None and (not math.isfinite(frames_per_s) or frames_per_s <= 0):
            raise ValueError(f"capacity must be a finite number > 0 or None, got {frames_per_s}")
        self.capacity = frames_per_s
        return self._update()

    def observe_latency(self, seconds: float) -> float:
        """Capture-to-publish latency of one result; only used with ``target_latency_s``."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"latency must be a finite number >= 0, got {seconds}")
        self.latency = (
            seconds if self.latency is None else self.latency + self.alpha * (seconds - self.latency)
        )
        if self.target_latency_s is None:
            return self._stride
        if self.latency > self.target_latency_s and self._stride < self.max_stride:
            self._over_votes += 1
            if self._over_votes >= self.patience:
                self._stride = min(self.max_stride, self._stride * _LATENCY_STEP)
                self._over_votes = self._down_votes = 0
        else:
            self._over_votes = 0
        return self._stride

    def admit(self) -> bool:
        """Call once per arriving frame: True for the frames to process (the first, then one per
        ``stride`` arrivals, evenly spread)."""
        if self._credit is None:
            self._credit = 0.0
            return True
        # Carry over at most one stride's credit, so a stride that just fell cannot admit a burst.
        self._credit = min(self._credit, self._stride) + 1.0
        if self._credit >= self._stride - 1e-9:
            self._credit -= self._stride
            return True
        return False

    def _update(self) -> float:
        if self.fps is None:
            self._stride, self._down_votes = 1.0, 0
            return self._stride
        if self.capacity is None:
            return self._stride
        target = min(self.max_stride, max(1.0, self.required / self.headroom))
        latency_ok = (
            self.target_latency_s is None
            or self.latency is None
            or self.latency <= self.target_latency_s * self.headroom
        )
        if target > self._stride:
            self._stride, self._down_votes = target, 0
        elif latency_ok and (target < self._stride * _DEAD_BAND or (target == 1.0 and self._stride > 1.0)):
            self._down_votes += 1
            if self._down_votes >= self.patience:
                self._stride, self._down_votes = target, 0
        else:
            self._down_votes = 0
        return self._stride
