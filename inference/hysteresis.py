"""The one rule that turns a track's stream of decided windows into action segments.

Per track, fed each window's :class:`~inference.decision.Prediction` in time order:

- a label *starts* once ``min_windows`` consecutive windows named it (decided as that action, not
  "no action") with probability >= ``enter_threshold``;
- the running label *ends* after ``exit_windows`` consecutive windows that go against it: another
  label is on top, the window says "none of these" (background) or is too incomplete to judge, or
  the label's own probability is below ``exit_threshold``. A window that is merely unsure but still
  has the running label on top at >= ``exit_threshold`` supports it: that band between the two
  thresholds is the hysteresis. One noisy window never ends (or starts) a segment;
- it also ends when the track ends (person left, tracker dropped them) or the camera stops.

When another label ends the running one and has already won its ``min_windows``, it starts in the
same step, after the end. "No action" never starts a segment: silence is the absence of one.

The service's :class:`service.engine.segments.SegmentTracker` publishes these transitions as
``start``/``end`` events; the judge (:mod:`training.real_eval`) replays them over labelled footage to
score what subscribers would have received. Pure logic: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from inference.decision import Prediction

MAX_WINDOWS = 1000

__all__ = ["MAX_WINDOWS", "Ended", "Hysteresis", "SegmentParams", "Started", "supports"]


@dataclass(frozen=True)
class SegmentParams:
    """The hysteresis knobs, their defaults and bounds (``config.SegmentConfig`` offers the first
    four under the same names and is checked by building this)."""

    enter_threshold: float = 0.6
    exit_threshold: float = 0.4
    min_windows: int = 3
    exit_windows: int = 3
    update_min_confidence: float = 0.0

    def __post_init__(self) -> None:
        enter, exit_ = self.enter_threshold, self.exit_threshold
        if not (0.0 <= exit_ <= 1.0 and 0.0 <= enter <= 1.0):
            raise ValueError(f"enter_threshold and exit_threshold must be in [0, 1], got {enter}, {exit_}")
        if exit_ > enter:
            raise ValueError(
                f"exit_threshold ({exit_}) must be <= enter_threshold ({enter}) "
                "(need 0 <= exit_threshold <= enter_threshold <= 1)"
            )
        for name in ("min_windows", "exit_windows"):
            value = getattr(self, name)
            if not 1 <= value <= MAX_WINDOWS:
                raise ValueError(f"{name} must be in 1..{MAX_WINDOWS}, got {value}")
        if not 0.0 <= self.update_min_confidence <= 1.0:
            raise ValueError(f"update_min_confidence must be in [0, 1], got {self.update_min_confidence}")


@dataclass(frozen=True, slots=True)
class Started:
    """A segment of ``label`` started: its first window began at ``start_pts``; ``confidence`` is
    the label's probability in the window that started it."""

    label: str
    start_pts: float
    end_pts: float
    confidence: float


@dataclass(frozen=True, slots=True)
class Ended:
    """The segment of ``label`` over ``start_pts..end_pts`` (its supporting windows) ended;
    ``confidence`` is the mean of the label's probability over them."""

    label: str
    start_pts: float
    end_pts: float
    confidence: float


def supports(p: Prediction, label: str, exit_threshold: float) -> bool:
    """Whether window ``p`` keeps a running segment of ``label`` alive (see the module docstring)."""
    if p.reason not in ("action", "unsure") or label not in p.labels or not p.probabilities:
        return False
    own = p.probabilities[p.labels.index(label)]
    return own >= max(p.probabilities) and own >= exit_threshold


@dataclass
class Hysteresis:
    """Segment state of one track: feed :meth:`step` its windows in time order."""

    params: SegmentParams = field(default_factory=SegmentParams)
    active: str | None = None
    _start_pts: float = 0.0
    _end_pts: float = 0.0
    _confidences: list[float] = field(default_factory=list)
    _candidate: str | None = None
    _candidate_start_pts: float = 0.0
    _candidate_confidences: list[float] = field(default_factory=list)
    _against: int = 0

    def step(self, p: Prediction, start_pts: float, end_pts: float) -> list[Ended | Started]:
        """The transitions window ``p`` (spanning ``start_pts..end_pts``) causes, in order."""
        params = self.params
        out: list[Ended | Started] = []
        if p.label is not None and p.label != self.active and p.confidence >= params.enter_threshold:
            if p.label != self._candidate:
                self._candidate, self._candidate_start_pts = p.label, start_pts
                self._candidate_confidences = []
            self._candidate_confidences.append(p.confidence)
        else:
            self._candidate, self._candidate_confidences = None, []

        if self.active is not None:
            if supports(p, self.active, params.exit_threshold):
                self._against = 0
                self._end_pts = end_pts
                self._confidences.append(p.probabilities[p.labels.index(self.active)])
            else:
                self._against += 1
                if self._against >= params.exit_windows:
                    out.append(self._ended())

        if (
            self.active is None
            and self._candidate is not None
            and len(self._candidate_confidences) >= params.min_windows
        ):
            self.active = self._candidate
            self._start_pts, self._end_pts = self._candidate_start_pts, end_pts
            self._confidences = list(self._candidate_confidences)
            self._against = 0
            out.append(Started(self.active, self._start_pts, end_pts, p.confidence))
            self._candidate, self._candidate_confidences = None, []
        return out

    def finish(self) -> Ended | None:
        """The track or camera ended: the running segment's end (None when none runs)."""
        return self._ended() if self.active is not None else None

    def _ended(self) -> Ended:
        assert self.active is not None
        done = Ended(
            self.active, self._start_pts, max(self._end_pts, self._start_pts), _mean(self._confidences)
        )
        self.active, self._against, self._confidences = None, 0, []
        return done


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
