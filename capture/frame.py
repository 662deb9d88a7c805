"""The unit of work that crosses from capture into the rest of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame of one camera.

    ``pts`` is the source's own timestamp in seconds (stream time for files and RTSP, or
    a monotonic clock for webcams); ``capture_time`` is ``time.monotonic()`` when the frame
    was read, so capture→publish latency can be measured in one process.
    """

    camera_id: str
    seq: int
    pts: float
    capture_time: float
    image: np.ndarray

    def __post_init__(self) -> None:
        if not self.camera_id:
            raise ValueError("Frame.camera_id must be a non-empty string")
        if self.seq < 0:
            raise ValueError(f"Frame.seq must be >= 0, got {self.seq}")
        img = self.image
        if not isinstance(img, np.ndarray):
            raise TypeError(f"Frame.image must be a numpy array, got {type(img).__name__}")
        if img.dtype != np.uint8:
            raise ValueError(f"Frame.image must be uint8 BGR, got dtype {img.dtype}")
        if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] == 0 or img.shape[1] == 0:
            raise ValueError(f"Frame.image must have shape (H, W, 3) with H, W > 0, got {img.shape}")

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])
