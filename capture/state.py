"""Where a source stands (online, stalled, offline...), as events other parts can publish."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class SourceState(str, enum.Enum):
    """Life cycle of one capture source; the service publishes these on ``status.<camera>``.

    CONNECTING: first open in progress. ONLINE: frames arrive. STALLED: opened but no frame for the
    watchdog's stall timeout. RECONNECTING: the source was lost and is being reopened. OFFLINE: reopening
    failed (retries continue with backoff for live sources; a file that cannot be opened stays here).
    ENDED: a file reached its end (terminal).
    """

    CONNECTING = "connecting"
    ONLINE = "online"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class StateChange:
    """One transition; ``reason`` is human-readable and already free of credentials."""

    camera_id: str
    state: SourceState
    previous: SourceState | None
    reason: str
    at: float  # time.monotonic()

    def __post_init__(self) -> None:
        if not self.camera_id:
            raise ValueError("StateChange.camera_id must be a non-empty string")
        if not isinstance(self.state, SourceState):
            raise TypeError(f"StateChange.state must be a SourceState, got {type(self.state).__name__}")
        if self.previous is not None and not isinstance(self.previous, SourceState):
            raise TypeError(
                f"StateChange.previous must be a SourceState or None, got {type(self.previous).__name__}"
            )
        if not math.isfinite(self.at):
            raise ValueError(f"StateChange.at must be a finite monotonic time, got {self.at}")
