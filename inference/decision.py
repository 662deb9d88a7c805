"""The one place that decides what a classified window says: one of the model's actions, or none.

A model can be sure that *nobody does one of its actions* in three ways, checked in this order:

1. ``incomplete``: the window is too incomplete to judge: more than ``max_missing_fraction`` of its
   (pose, joint) samples were below the model's joint confidence and had to be filled in (a person
   half out of the frame, tiny or hidden). A guess from invented joints is not published.
2. ``background``: the model has a trained background output ("none of my actions": everyday motion
   and standing still) and it is more probable than every action.
3. ``unsure``: the most probable action, after temperature calibration, is below
   ``reject_threshold``.

Otherwise the window names its most probable action. Models without the newer metadata (the
imported seed, models trained before the background output existed) get the default rule: no
background, temperature 1, threshold :data:`DEFAULT_REJECT_THRESHOLD`, so rejection comes from the
threshold (and the incompleteness rule) alone. See docs/MODEL.md.

**Evidence over time** (``smoothing_s``): where windows come as a stream per tracked person (the
service, ``analyze``, the judge), the outputs checked by rules 2 and 3 are the mean of the calibrated
outputs of the person's windows that ended within the last ``smoothing_s`` seconds, this one
included (:class:`TrackEvidence`). One window that happens to look like a punch or a wave does not
name an action on its own; an action kept up for a second does. 0 (files written before the rule
existed) judges every window alone, as do stored windows with no track (``evaluate``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

# How the no-action outcome is written where a string is needed (tables, JSON counts, CSV);
# events and APIs carry ``None``/``null`` as the label instead.
NO_ACTION_LABEL = "(no action)"
DEFAULT_REJECT_THRESHOLD = 0.5
DEFAULT_MAX_MISSING_FRACTION = 0.5
# Files without the key (written before the rule existed) judge each window alone.
DEFAULT_SMOOTHING_S = 0.0
# What `actionstream train` writes unless told otherwise: a second of the track's earlier windows.
TRAINED_SMOOTHING_S = 1.0
MAX_SMOOTHING_S = 10.0
# Window end times this close count as the same instant.
_SAME_END_S = 1e-6
REASONS: tuple[str, ...] = ("action", "incomplete", "background", "unsure")


@dataclass(frozen=True, slots=True)
class DecisionRule:
    """When a window names no action (see the module docstring); stored in the model file."""

    reject_threshold: float = DEFAULT_REJECT_THRESHOLD
    max_missing_fraction: float = DEFAULT_MAX_MISSING_FRACTION
    smoothing_s: float = DEFAULT_SMOOTHING_S

    def __post_init__(self) -> None:
        if not (math.isfinite(self.reject_threshold) and 0.0 <= self.reject_threshold <= 1.0):
            raise ValueError(f"reject_threshold must be in [0, 1], got {self.reject_threshold!r}")
        if not (math.isfinite(self.max_missing_fraction) and 0.0 <= self.max_missing_fraction <= 1.0):
            raise ValueError(f"max_missing_fraction must be in [0, 1], got {self.max_missing_fraction!r}")
        if not (math.isfinite(self.smoothing_s) and 0.0 <= self.smoothing_s <= MAX_SMOOTHING_S):
            raise ValueError(
                f"smoothing_s must be in [0, {MAX_SMOOTHING_S:g}] seconds, got {self.smoothing_s!r}"
            )


class TrackEvidence:
    """The recent calibrated outputs of every tracked person of one or more streams, for
    :attr:`DecisionRule.smoothing_s` (see the module docstring).

    Keys are any hashable naming one person in one stream (``(camera, track_id)`` in the service).
    :meth:`smooth` is fed each person's windows in time order; a window ending earlier than the
    person's last one (a source that restarted) starts the person's history afresh. Not
    thread-safe: one owner per stream, as the trackers.
    """

    def __init__(self, smoothing_s: float) -> None:
        if not (math.isfinite(smoothing_s) and smoothing_s >= 0.0):
            raise ValueError(f"smoothing_s must be a number of seconds >= 0, got {smoothing_s!r}")
        self.smoothing_s = float(smoothing_s)
        self._recent: dict[Hashable, deque[tuple[float, np.ndarray]]] = {}

    def smooth(self, key: Hashable, end_pts: float, outputs: np.ndarray) -> np.ndarray:
        """Record one window's outputs (a row: the actions, then the background if any) and return
        the mean over the person's windows that ended within ``smoothing_s`` of this one."""
        row = np.asarray(outputs, dtype=np.float64)
        if self.smoothing_s <= 0.0:
            return row
        q = self._recent.setdefault(key, deque())
        if q and (end_pts < q[-1][0] - _SAME_END_S or q[-1][1].shape != row.shape):
            q.clear()
        q.append((float(end_pts), row))
        while q[0][0] < end_pts - self.smoothing_s - _SAME_END_S:
            q.popleft()
        return row if len(q) == 1 else np.mean([r for _, r in q], axis=0)

    def drop(self, key: Hashable) -> None:
        """Forget a person (their track ended)."""
        self._recent.pop(key, None)

    def drop_where(self, forget: Callable[[Hashable], bool]) -> None:
        """Forget every person whose key ``forget(key)`` is true for (e.g. one camera's people)."""
        for key in [k for k in self._recent if forget(k)]:
            del self._recent[key]

    def __len__(self) -> int:
        return len(self._recent)


@dataclass(frozen=True, slots=True)
class Prediction:
    """What one window says.

    ``label``: one of the model's actions, or None for "no known action" (``reason`` says why).
    ``probabilities``: calibrated probability per action, in the model's label order; they sum to
    ``1 - background`` (``background`` is the probability of the trained "none of these" output,
    0 for models without one).
    """

    label: str | None
    probabilities: tuple[float, ...]
    background: float
    reason: str
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.probabilities) != len(self.labels):
            raise ValueError(
                f"Prediction needs one probability per label: {len(self.labels)} labels, "
                f"{len(self.probabilities)} probabilities"
            )
        if self.reason not in REASONS:
            raise ValueError(f"Prediction.reason must be one of {REASONS}, got {self.reason!r}")
        if (self.label is None) != (self.reason != "action"):
            raise ValueError(f"Prediction: label {self.label!r} does not fit reason {self.reason!r}")

    @property
    def is_action(self) -> bool:
        return self.label is not None

    @property
    def confidence(self) -> float:
        """The named action's probability; for no action, the probability of the best action."""
        if self.label is not None:
            return self.probabilities[self.labels.index(self.label)]
        return max(self.probabilities) if self.probabilities else 0.0

    @property
    def display_label(self) -> str:
        """The label, or :data:`NO_ACTION_LABEL` where a string must be shown."""
        return self.label if self.label is not None else NO_ACTION_LABEL

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.labels, self.probabilities, strict=True))


def decide(
    probabilities: np.ndarray,
    labels: Sequence[str],
    rule: DecisionRule,
    *,
    background: np.ndarray | None = None,
    missing_fraction: Sequence[float] | np.ndarray | None = None,
) -> list[Prediction]:
    """One :class:`Prediction` per row of ``probabilities (N, L)`` (calibrated, over the actions).

    ``background (N,)``: the background output's probability (None: the model has none).
    ``missing_fraction (N,)``: each window's share of filled-in joint samples (None: all complete).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    names = tuple(labels)
    if p.ndim != 2 or p.shape[1] != len(names):
        raise ValueError(f"probabilities must have shape (N, {len(names)}), got {p.shape}")
    n = p.shape[0]
    bg = np.zeros(n) if background is None else np.asarray(background, dtype=np.float64)
    miss = np.zeros(n) if missing_fraction is None else np.asarray(missing_fraction, dtype=np.float64)
    if bg.shape != (n,) or miss.shape != (n,):
        raise ValueError(
            f"background and missing_fraction must have shape ({n},), got {bg.shape}, {miss.shape}"
        )
    out: list[Prediction] = []
    for i in range(n):
        row = p[i]
        k = int(np.argmax(row)) if len(row) else 0
        top = float(row[k]) if len(row) else 0.0
        if miss[i] > rule.max_missing_fraction:
            reason = "incomplete"
        elif background is not None and bg[i] > top:
            reason = "background"
        elif top < rule.reject_threshold:
            reason = "unsure"
        else:
            reason = "action"
        out.append(
            Prediction(
                label=names[k] if reason == "action" else None,
                probabilities=tuple(float(x) for x in row),
                background=float(bg[i]),
                reason=reason,
                labels=names,
            )
        )
    return out
