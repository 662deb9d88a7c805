"""Event payloads published over ZeroMQ, as frozen dataclasses serialised to JSON.

Every message is a two-part ZeroMQ multipart ``[topic, json]``. Topics are ``action.<camera>``,
``status.<camera>`` and ``pose.<camera>``; subscribers filter by prefix (ZeroMQ subscriptions are
prefixes, so ``action.cam1`` also matches ``action.cam10``: compare the whole topic after receiving).
The JSON Schema in ``service/outputs/schema/event.schema.json`` documents the payloads; bump
``SCHEMA_VERSION`` whenever a field changes meaning or disappears.

``capture_time`` (``time.monotonic()`` when the frame was read) travels with an event inside the
process but is not serialised: the publisher turns it into ``latency_s`` when the event actually
leaves the socket, and stamps ``emitted_at`` (wall clock, seconds since the epoch) at the same time.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, ClassVar, Literal, Protocol

from capture.state import SourceState
from inference.decision import REASONS
from inference.poses import TrackedPoses

SCHEMA_VERSION = 2
ACTION_TYPES: tuple[str, ...] = ("update", "start", "end")
STATUS_STATES: tuple[str, ...] = tuple(state.value for state in SourceState)
TOPIC_KINDS: tuple[str, ...] = ("action", "status", "pose")
_CAMERA_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

ActionType = Literal["update", "start", "end"]


def new_event_id() -> str:
    return uuid.uuid4().hex


def topic(kind: str, camera: str) -> str:
    """``<kind>.<camera>``, e.g. ``action.cam0``."""
    if kind not in TOPIC_KINDS:
        raise ValueError(f"topic kind must be one of {TOPIC_KINDS}, got {kind!r}")
    return f"{kind}.{camera}"


def _check_camera(cls: str, camera: str) -> None:
    if not isinstance(camera, str) or not _CAMERA_RE.match(camera):
        raise ValueError(f"{cls}.camera must be a slug like 'cam0' (a-z, 0-9, '_', '-'), got {camera!r}")


def _finite(cls: str, name: str, value: Any, *, optional: bool = False) -> float | None:
    """``value`` as a Python float (numpy scalars welcome), or an error naming the field."""
    if value is None and optional:
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(float(value)):
        raise ValueError(f"{cls}.{name} must be a finite number, got {value!r}")
    return float(value)


def _probability(cls: str, name: str, value: Any) -> float:
    p = _finite(cls, name, value)
    assert p is not None
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{cls}.{name} must be in [0, 1], got {value!r}")
    return p


def _count(cls: str, name: str, value: Any) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{cls}.{name} must be an int >= 0, got {value!r}")
    return int(value)


def _set(obj: object, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


class _Event:
    """Shared behaviour: topic, stamping at publish time, JSON."""

    kind: ClassVar[str]
    camera: str
    capture_time: float | None

    @property
    def topic(self) -> str:
        return topic(self.kind, self.camera)

    def stamped(self, now_monotonic: float | None = None, now_wall: float | None = None) -> Any:
        """A copy with ``emitted_at`` and (when the capture time is known) ``latency_s`` filled in."""
        wall = time.time() if now_wall is None else now_wall
        changes: dict[str, Any] = {"emitted_at": wall}
        if self.capture_time is not None and hasattr(self, "latency_s"):
            mono = time.monotonic() if now_monotonic is None else now_monotonic
            changes["latency_s"] = max(0.0, mono - self.capture_time)
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        out = dict(self._wire(f.name, getattr(self, f.name)) for f in dataclasses.fields(self))  # type: ignore[arg-type]
        out.pop("capture_time", None)
        head = {k: out.pop(k) for k in ("schema_version", "event_id", "type", "camera")}
        return {**head, **out}

    def _wire(self, name: str, value: Any) -> tuple[str, Any]:
        """A field as it goes into the JSON payload (name and value)."""
        return name, value

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False).encode("utf-8")


@dataclass(frozen=True, kw_only=True)
class ActionEvent(_Event):
    """A decision on one track's window (``update``) or a segment boundary (``start``/``end``).

    ``label`` is None (JSON ``null``) on an ``update`` whose window names no known action; ``reason``
    then says why (``incomplete``, ``background``, ``unsure``; ``action`` otherwise, and always on
    ``start``/``end``) and ``confidence`` is the most probable action's probability. ``background``
    is the probability of the model's "none of these" output (0 for models without one, None on an
    ``end`` without probabilities); the action probabilities sum to 1 minus it. For ``start`` the
    window pts span the windows that started the segment; for ``end`` they span the whole segment
    and ``confidence`` is its mean. ``probabilities`` may be empty for ``end`` events caused by a
    track that disappeared.
    """

    kind: ClassVar[str] = "action"

    type: ActionType
    camera: str
    track_id: int
    label: str | None
    confidence: float
    probabilities: Mapping[str, float]
    window_start_pts: float
    window_end_pts: float
    frame_seq: int
    pts: float
    reason: str = "action"
    background: float | None = 0.0
    latency_s: float | None = None
    emitted_at: float | None = None
    capture_time: float | None = field(default=None, repr=False, compare=False)
    event_id: str = field(default_factory=new_event_id)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        c = "ActionEvent"
        if self.type not in ACTION_TYPES:
            raise ValueError(f"{c}.type must be one of {ACTION_TYPES}, got {self.type!r}")
        _check_camera(c, self.camera)
        _set(self, "track_id", _count(c, "track_id", self.track_id))
        if self.reason not in REASONS:
            raise ValueError(f"{c}.reason must be one of {REASONS}, got {self.reason!r}")
        if self.label is None:
            if self.type != "update" or self.reason == "action":
                raise ValueError(
                    f"{c}.label may be None only on an update that names no action "
                    f"(type 'update', reason not 'action'), got type {self.type!r}, reason {self.reason!r}"
                )
        elif not isinstance(self.label, str) or not self.label:
            raise ValueError(f"{c}.label must be a non-empty string or None, got {self.label!r}")
        elif self.reason != "action":
            raise ValueError(f"{c}.label {self.label!r} needs reason 'action', got {self.reason!r}")
        _set(self, "confidence", _probability(c, "confidence", self.confidence))
        if self.background is not None:
            _set(self, "background", _probability(c, "background", self.background))
        probs = {str(k): _probability(c, f"probabilities[{k!r}]", p) for k, p in self.probabilities.items()}
        if probs and self.label is not None and self.label not in probs:
            raise ValueError(
                f"{c}.label {self.label!r} is not one of the probabilities' labels {sorted(probs)}"
            )
        if self.type != "end" and not probs:
            raise ValueError(f"{c}.probabilities must not be empty for a {self.type!r} event")
        _set(self, "probabilities", probs)
        for name in ("window_start_pts", "window_end_pts", "pts"):
            _set(self, name, _finite(c, name, getattr(self, name)))
        if self.window_end_pts < self.window_start_pts:
            raise ValueError(
                f"{c}.window_end_pts ({self.window_end_pts}) must be >= "
                f"window_start_pts ({self.window_start_pts})"
            )
        _set(self, "frame_seq", _count(c, "frame_seq", self.frame_seq))
        _set(self, "latency_s", _finite(c, "latency_s", self.latency_s, optional=True))
        _set(self, "emitted_at", _finite(c, "emitted_at", self.emitted_at, optional=True))


class _StateChangeLike(Protocol):
    @property
    def camera_id(self) -> str: ...
    @property
    def state(self) -> Any: ...
    @property
    def reason(self) -> str: ...


@dataclass(frozen=True, kw_only=True)
class StatusEvent(_Event):
    """A camera's connection state changed (``capture.state.StateChange`` on the wire)."""

    kind: ClassVar[str] = "status"

    camera: str
    state: str
    reason: str = ""
    emitted_at: float | None = None
    type: Literal["status"] = "status"
    capture_time: None = field(default=None, repr=False, compare=False)
    event_id: str = field(default_factory=new_event_id)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        c = "StatusEvent"
        _check_camera(c, self.camera)
        state = str(getattr(self.state, "value", self.state)).lower()
        if state not in STATUS_STATES:
            raise ValueError(f"{c}.state must be one of {STATUS_STATES}, got {self.state!r}")
        _set(self, "state", state)
        if self.type != "status":
            raise ValueError(f"{c}.type must be 'status', got {self.type!r}")
        if not isinstance(self.reason, str):
            raise ValueError(f"{c}.reason must be a string, got {type(self.reason).__name__}")
        _set(self, "emitted_at", _finite(c, "emitted_at", self.emitted_at, optional=True))

    @classmethod
    def from_state_change(cls, change: _StateChangeLike) -> StatusEvent:
        """From ``capture.state.StateChange`` (duck-typed: camera_id, state, reason)."""
        return cls(camera=change.camera_id, state=change.state, reason=change.reason)


@dataclass(frozen=True, kw_only=True)
class PoseEvent(_Event):
    """Keypoints of every tracked person in one processed frame (only when ``zmq.publish_poses``)."""

    kind: ClassVar[str] = "pose"

    camera: str
    frame_seq: int
    pts: float
    people: TrackedPoses = field(repr=False, compare=False)
    latency_s: float | None = None
    emitted_at: float | None = None
    type: Literal["pose"] = "pose"
    capture_time: float | None = field(default=None, repr=False, compare=False)
    event_id: str = field(default_factory=new_event_id)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        c = "PoseEvent"
        _check_camera(c, self.camera)
        _set(self, "frame_seq", _count(c, "frame_seq", self.frame_seq))
        _set(self, "pts", _finite(c, "pts", self.pts))
        _set(self, "latency_s", _finite(c, "latency_s", self.latency_s, optional=True))
        _set(self, "emitted_at", _finite(c, "emitted_at", self.emitted_at, optional=True))
        if not isinstance(self.people, TrackedPoses):
            raise ValueError(f"{c}.people must be TrackedPoses, got {type(self.people).__name__}")

    def _wire(self, name: str, value: Any) -> tuple[str, Any]:
        if name != "people":
            return name, value
        p = self.people
        return "tracks", [
            {
                "track_id": int(track_id),
                "score": float(score),
                "box": [float(v) for v in box],
                "keypoints": [[float(x), float(y), float(c)] for x, y, c in kp],
            }
            for track_id, score, box, kp in zip(
                p.track_ids.tolist(), p.scores.tolist(), p.boxes, p.keypoints, strict=True
            )
        ]


@cache
def event_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of every payload, shipped inside the package."""
    text = resources.files("service.outputs").joinpath("schema/event.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
