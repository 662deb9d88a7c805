"""The engine's per-camera knobs, with their defaults and bounds declared once (the config's
sections take their defaults from here and are checked by building these)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LaneOptions:
    """How one camera's frames are analysed: the tracker, the windows and the pose events.

    ``max_people``: people tracked per frame, the most confident first (None: all the backend
    gives). ``track_max_age_s``: a track unseen for this long ends. ``classify_hop_s``: each track's
    window is classified at most this often (0: on every pose). ``publish_poses``: also emit a pose
    event per frame. (A gap in a track longer than ``TrackWindows``' own ``max_gap_s`` restarts its
    window, everywhere.)

    Adding a tracker knob: a field here, with its bound below, and its argument in
    ``service.engine.analyzer.make_tracker``; a field of the same name in the config's pipeline
    section lets users set it (``service.config.lane_options`` passes it on).
    """

    max_people: int | None = None
    track_max_age_s: float = 1.0
    classify_hop_s: float = 0.25
    publish_poses: bool = False

    def __post_init__(self) -> None:
        if self.max_people is not None and not (isinstance(self.max_people, int) and self.max_people >= 1):
            raise ValueError(f"max_people must be None or an int >= 1, got {self.max_people!r}")
        _seconds("track_max_age_s", self.track_max_age_s, low_open=True, high=60.0)
        _seconds("classify_hop_s", self.classify_hop_s, low_open=False, high=30.0)


def _seconds(name: str, value: float, *, low_open: bool, high: float) -> None:
    ok = isinstance(value, int | float) and math.isfinite(value) and (value > 0 if low_open else value >= 0)
    if not ok or value > high:
        low = "(0" if low_open else "[0"
        raise ValueError(f"{name} must be in {low}, {high:g}] seconds, got {value!r}")
