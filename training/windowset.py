"""The window set every training source ends in: classifier inputs under one spec, with labels.

``labels`` index ``label_names``, or are :data:`NO_ACTION` for a window that shows none of them
(trained towards equal probabilities). ``groups`` keep windows of one recording together, so
train/validation splits never put overlapping windows of one recording on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from inference.windows import FEATURE_SIZE, NoConfidentKeypointsError, WindowSpec, make_features

NO_ACTION = -1  # label of a window that shows none of the labels (trained towards equal probabilities)
NO_ACTION_NAME = "(none of these)"


class DatasetError(ValueError):
    """Data that cannot be used as given; the message says which file and what to do."""


@dataclass(frozen=True)
class WindowSet:
    """Classifier inputs with labels.

    ``features (N, steps, 34)`` float32 under ``spec``; ``labels (N,)`` int64 indexing
    ``label_names``, or :data:`NO_ACTION` for a window that shows none of them; ``groups (N,)``
    int64: windows cut from the same recording share a group (one per window when not given).
    """

    features: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    spec: WindowSpec
    groups: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __post_init__(self) -> None:
        f = self.features
        n = len(self.labels)
        if len(self.groups) == 0 and n:
            object.__setattr__(self, "groups", np.arange(n, dtype=np.int64))
        if f.dtype != np.float32 or f.shape != (n, self.spec.steps, FEATURE_SIZE):
            raise ValueError(
                f"WindowSet.features must be float32 of shape ({n}, {self.spec.steps}, {FEATURE_SIZE}), "
                f"got {f.dtype} {f.shape}"
            )
        if self.labels.shape != (n,) or self.groups.shape != (n,):
            raise ValueError(
                f"WindowSet.labels and groups must have shape ({n},), got {self.labels.shape}, "
                f"{self.groups.shape}"
            )
        if not self.label_names or len(set(self.label_names)) != len(self.label_names):
            raise ValueError(f"WindowSet.label_names must be unique and non-empty, got {self.label_names}")
        if n and (self.labels.min() < NO_ACTION or self.labels.max() >= len(self.label_names)):
            raise ValueError(
                f"WindowSet.labels must be in 0..{len(self.label_names) - 1} or {NO_ACTION}, "
                f"got {self.labels.min()}..{self.labels.max()}"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> WindowSet:
        idx = np.asarray(index)
        return WindowSet(self.features[idx], self.labels[idx], self.label_names, self.spec, self.groups[idx])

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels[self.labels >= 0], minlength=len(self.label_names))
        out = {name: int(c) for name, c in zip(self.label_names, counts, strict=True)}
        none = int(np.sum(self.labels == NO_ACTION))
        if none:
            out[NO_ACTION_NAME] = none
        return out

    def with_labels(self, label_names: Sequence[str]) -> WindowSet:
        """The same windows with labels re-indexed into ``label_names`` (which must contain ours)."""
        names = tuple(label_names)
        missing = [n for n in self.label_names if n not in names]
        if missing:
            raise DatasetError(f"labels {missing} are not among {list(names)}")
        remap = np.array([names.index(n) for n in self.label_names], np.int64)
        labels = np.where(self.labels == NO_ACTION, NO_ACTION, remap[np.maximum(self.labels, 0)])
        return WindowSet(self.features, labels, names, self.spec, self.groups)

    def split(self, val_fraction: float, seed: int = 0) -> tuple[WindowSet, WindowSet]:
        """``(train, val)`` by whole groups, ``val_fraction`` of the groups drawn per class (a class
        with a single group gives the last ``val_fraction`` of its windows)."""
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        rng = np.random.default_rng(seed)
        is_val = np.zeros(len(self), bool)
        for c in [NO_ACTION, *range(len(self.label_names))]:
            of_class = self.labels == c
            groups = np.unique(self.groups[of_class])
            if len(groups) >= 2:
                k = min(max(round(len(groups) * val_fraction), 1), len(groups) - 1)
                is_val |= of_class & np.isin(self.groups, rng.permutation(groups)[:k])
            elif len(groups) == 1:
                # One recording of this class: validate on its last windows (they overlap the
                # training ones only at the boundary).
                idx = np.flatnonzero(of_class)
                k = round(len(idx) * val_fraction)
                if len(idx) >= 2:
                    is_val[idx[len(idx) - max(k, 1) :]] = True
        return self.subset(np.flatnonzero(~is_val)), self.subset(np.flatnonzero(is_val))


def concat_sets(sets: Sequence[WindowSet]) -> WindowSet:
    """One set from several with the same spec; labels merged by name (first seen order)."""
    if not sets:
        raise ValueError("concat_sets needs at least one WindowSet")
    spec = sets[0].spec
    if any(s.spec != spec for s in sets):
        raise DatasetError(f"window sets have different specs: {[s.spec for s in sets]}")
    names: list[str] = []
    for s in sets:
        names += [n for n in s.label_names if n not in names]
    parts = [s.with_labels(names) for s in sets]
    offsets = np.cumsum([0] + [int(p.groups.max()) + 1 if len(p) else 0 for p in parts])
    return WindowSet(
        np.concatenate([p.features for p in parts]),
        np.concatenate([p.labels for p in parts]),
        tuple(names),
        spec,
        np.concatenate([p.groups + off for p, off in zip(parts, offsets, strict=False)]),
    )


def is_no_action_label(name: str) -> bool:
    """Labels that mean "none of the actions" in one's own data: ``none``, ``none (...)``,
    ``(none of these)``, ``(no action)`` (any case)."""
    n = name.strip().lower()
    return n in ("none", NO_ACTION_NAME, "(no action)") or n.startswith(("none ", "none("))


def mark_no_action(ws: WindowSet, others: Sequence[str] = ()) -> WindowSet:
    """The same windows with every no-action label (:func:`is_no_action_label`) turned into
    :data:`NO_ACTION` and dropped from ``label_names``. A set of only no-action windows takes the
    label names ``others`` (the actions that other sources bring)."""
    drop = [i for i, n in enumerate(ws.label_names) if is_no_action_label(n)]
    if not drop:
        return ws
    keep = tuple(n for i, n in enumerate(ws.label_names) if i not in drop) or tuple(others)
    if not keep:
        raise DatasetError(
            f"only no-action labels {list(ws.label_names)}: add windows of at least one action "
            "(e.g. --synthetic N, or videos of your actions)"
        )
    labels = np.where(np.isin(ws.labels, drop), NO_ACTION, ws.labels)
    remap = np.array([keep.index(n) if n in keep else NO_ACTION for n in ws.label_names], np.int64)
    labels = np.where(labels == NO_ACTION, NO_ACTION, remap[np.maximum(labels, 0)])
    return WindowSet(ws.features, labels, keep, ws.spec, ws.groups)


def features_or_none(times: np.ndarray, keypoints: np.ndarray, spec: WindowSpec) -> np.ndarray | None:
    """:func:`make_features`, or None for a window in which no joint is ever confident."""
    try:
        return make_features(times, keypoints, spec)
    except NoConfidentKeypointsError:
        return None


def stack_features(feats: list[np.ndarray], spec: WindowSpec) -> np.ndarray:
    if not feats:
        return np.zeros((0, spec.steps, FEATURE_SIZE), np.float32)
    return np.stack(feats).astype(np.float32, copy=False)
