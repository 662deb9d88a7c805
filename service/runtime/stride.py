"""The adaptive frame-skip controller: process one frame in ``stride`` so processing keeps up.

A camera delivers ``fps`` frames per second; processing one frame takes ``service_time`` seconds
(smoothed with an exponential moving average) on the share of the workers this camera gets
(``workers_share``: 1.0 = one worker to itself, 0.5 = one worker shared by two cameras, 2.0 = two
workers). To keep up, the processing rate must cover the admitted rate::

    required = service_time * fps / workers_share        # frames arriving per frame we can process
    stride   = clamp(ceil(required), 1, max_stride)

Skipping frames changes only how densely a track's window is sampled, not what the classifier sees:
windows are built from timestamps and resampled to the model's rate.

Hysteresis so the stride does not flap at a boundary: the stride goes *up* as soon as ``required``
exceeds it (falling behind grows the queue and the latency, so react at once); it comes *down*
only when the smaller stride would leave headroom (``required <= (stride - 1) * down_ratio``,
default 15 % spare) for ``patience`` consecutive updates. When processing is fast enough
(``required <= down_ratio``) every frame is processed (stride 1). Without a known frame rate
(``fps`` None or 0, e.g. a file read as fast as possible) the stride is 1: nothing to keep up with.

An optional outer loop on latency: with ``target_latency_s`` set, ``observe_latency`` keeps an EMA of
capture-to-publish latency; over the target for ``patience`` observations raises the stride by one
(something the service-time model misses, such as a shared CPU, is slowing us), and the stride only
comes down while the latency is under ``target * down_ratio``.

Pure logic: the caller measures and calls ``observe_service_time`` / ``set_fps``; no clock inside.
"""

from __future__ import annotations

import math


class StrideController:
    """Per-camera stride from the EMA of service time and the source frame rate."""

    def __init__(
        self,
        max_stride: int = 8,
        *,
        workers_share: float = 1.0,
        alpha: float = 0.2,
        down_ratio: float = 0.85,
        patience: int = 5,
        target_latency_s: float | None = None,
    ) -> None:
        if max_stride < 1:
            raise ValueError(f"max_stride must be >= 1, got {max_stride}")
        if workers_share <= 0:
            raise ValueError(f"workers_share must be > 0, got {workers_share}")
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        if not 0 < down_ratio <= 1:
            raise ValueError(f"down_ratio must be in (0, 1], got {down_ratio}")
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        if target_latency_s is not None and not target_latency_s > 0:
            raise ValueError(f"target_latency_s must be > 0 or None, got {target_latency_s}")
        self.max_stride = max_stride
        self.workers_share = workers_share
        self.alpha = alpha
        self.down_ratio = down_ratio
        self.patience = patience
        self.target_latency_s = target_latency_s
        self.fps: float | None = None
        self.service_time: float | None = None
        self.latency: float | None = None
        self._stride = 1
        self._down_votes = 0
        self._over_votes = 0
        self._since_admit: int | None = None

    @property
    def stride(self) -> int:
        return self._stride

    @property
    def required(self) -> float:
        """Frames that arrive per frame we can process (0 when unknown)."""
        if not self.fps or self.service_time is None:
            return 0.0
        return self.service_time * self.fps / self.workers_share

    def set_fps(self, fps: float | None) -> int:
        """The source's frame rate (measured or declared); None or 0 when unknown."""
        if fps is not None and (not math.isfinite(fps) or fps < 0):
            raise ValueError(f"fps must be a finite number >= 0 or None, got {fps}")
        self.fps = fps or None
        return self._update()

    def observe_service_time(self, seconds: float) -> int:
        """One processed frame took ``seconds`` (per frame; divide a batch's time by its size)."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"service time must be a finite number >= 0, got {seconds}")
        if self.service_time is None:
            self.service_time = seconds
        else:
            self.service_time += self.alpha * (seconds - self.service_time)
        return self._update()

    def observe_latency(self, seconds: float) -> int:
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
                self._stride += 1
                self._over_votes = self._down_votes = 0
        else:
            self._over_votes = 0
        return self._stride

    def admit(self) -> bool:
        """Call once per arriving frame: True for the frames to process (the first, then every stride-th)."""
        if self._since_admit is None or self._since_admit + 1 >= self._stride:
            self._since_admit = 0
            return True
        self._since_admit += 1
        return False

    def _update(self) -> int:
        required = self.required
        if required <= 0 and self.fps is None:
            self._stride, self._down_votes = 1, 0
            return self._stride
        target = min(self.max_stride, max(1, math.ceil(required)))
        latency_ok = (
            self.target_latency_s is None
            or self.latency is None
            or self.latency <= self.target_latency_s * self.down_ratio
        )
        if target > self._stride:
            self._stride, self._down_votes = target, 0
        elif self._stride > 1 and latency_ok and required <= (self._stride - 1) * self.down_ratio:
            self._down_votes += 1
            if self._down_votes >= self.patience:
                # The smallest stride that still leaves the headroom.
                self._stride = max(1, min(self._stride - 1, math.ceil(required / self.down_ratio)))
                self._down_votes = 0
        else:
            self._down_votes = 0
        return self._stride
