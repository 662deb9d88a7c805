"""What the pose workers can do, measured: each worker's cost per call, the pool's throughput, and
each camera's fair share of it.

``BatchCost`` models one worker's pose call as ``seconds = fixed + per_frame * frames`` from the
calls it made (exponentially weighted least squares, so it follows a GPU warming up or a CPU that
other jobs start sharing). It answers two questions: how many frames fit in a latency budget (the
batch size, see ``PoseWorker``), and how many frames per second this worker gets through at the
batch sizes it actually runs (its throughput).

``PoolMeter`` adds the workers' throughputs up: the pool's capacity, the number the stride
controllers plan with. It is measured with every worker under the load it really has, so two
MediaPipe graphs that slow each other down on two cores, or a GPU shared by several workers, are
counted as they are, not as the sum of their speeds alone.

``fair_shares`` splits that capacity over the cameras, max-min fair: a camera that needs less than
an equal share gets what it needs, the others split the rest equally; what is left once every
camera has what it wants is split equally on top (it is headroom, and the stride plans with it).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence

_CONSTANT_SIZE_VARIANCE = 0.05  # batch sizes this close to constant say nothing about the fixed part


class BatchCost:
    """One worker's pose call time as ``fixed + per_frame * frames``, learnt online."""

    def __init__(self, alpha: float = 0.1) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self.calls = 0
        # Exponentially weighted means of n, t, n*n and n*t over the calls.
        self._n = self._t = self._nn = self._nt = 0.0

    def observe(self, frames: int, seconds: float) -> None:
        """One call ran ``frames`` frames in ``seconds``."""
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds}")
        n, t = float(frames), max(seconds, 1e-6)
        w = 1.0 if self.calls == 0 else self.alpha
        self._n += w * (n - self._n)
        self._t += w * (t - self._t)
        self._nn += w * (n * n - self._nn)
        self._nt += w * (n * t - self._nt)
        self.calls += 1

    @property
    def seconds_per_frame(self) -> float | None:
        """Mean seconds per frame at the batch sizes run recently (None before the first call)."""
        return self._t / self._n if self.calls else None

    def coefficients(self) -> tuple[float, float] | None:
        """``(fixed, per_frame)`` seconds; with one batch size seen so far all of it is per frame."""
        if not self.calls:
            return None
        mean = self._t / self._n
        var = self._nn - self._n * self._n
        if var < _CONSTANT_SIZE_VARIANCE:
            return 0.0, mean
        slope = (self._nt - self._n * self._t) / var
        fixed = self._t - slope * self._n
        if slope <= 0 or fixed < 0:  # noise; fall back to the proportional model
            return 0.0, mean
        return fixed, slope

    def predict(self, frames: int) -> float | None:
        """Seconds a call of ``frames`` frames is expected to take (None before the first call)."""
        c = self.coefficients()
        return None if c is None else c[0] + c[1] * frames

    def frames_within(self, budget_s: float, cap: int) -> int:
        """The largest batch, at most ``cap``, expected to run within ``budget_s``; at least 1.
        Before the first call: 1 (learn the cost on one frame first)."""
        c = self.coefficients()
        if c is None:
            return 1
        fixed, per_frame = c
        return max(1, min(cap, math.floor((budget_s - fixed) / per_frame + 1e-9)))


class PoolMeter:
    """The pool's capacity in frames per second, from each worker's :class:`BatchCost`. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._costs: dict[str, BatchCost] = {}

    def cost(self, worker: str) -> BatchCost:
        """The cost model of ``worker`` (created on first use); only that worker observes it."""
        with self._lock:
            return self._costs.setdefault(worker, BatchCost())

    def capacity(self, workers: Iterable[str]) -> float | None:
        """Frames per second ``workers`` get through together; a worker that has not run yet is
        counted at the mean rate of the others. None before any has run."""
        names = list(workers)
        with self._lock:
            rates = [
                1.0 / spf
                for name in names
                if (c := self._costs.get(name)) is not None and (spf := c.seconds_per_frame) is not None
            ]
        if not rates:
            return None
        return sum(rates) + (len(names) - len(rates)) * (sum(rates) / len(rates))


def fair_shares(capacity: float, demands: Sequence[float | None]) -> list[float]:
    """Max-min fair split of ``capacity`` (frames/s) over cameras that want ``demands`` frames/s each
    (None: as many as they can get, e.g. a file read as fast as possible); any capacity left over
    once every demand is met is split equally on top."""
    if capacity < 0:
        raise ValueError(f"capacity must be >= 0, got {capacity}")
    order = sorted(range(len(demands)), key=lambda i: math.inf if (d := demands[i]) is None else d)
    shares = [0.0] * len(demands)
    left, remaining = capacity, len(demands)
    for i in order:
        want = demands[i]
        share = left / remaining if want is None else min(want, left / remaining)
        shares[i] = share
        left -= share
        remaining -= 1
    if shares and left > 0:
        shares = [share + left / len(shares) for share in shares]
    return shares
