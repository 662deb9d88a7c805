"""The judge: window accuracy of action models on real footage, through the real pose backend.

Labelled segments of real videos (``videos/labels.csv`` of the shared test data, plus the
non-action segments the data README describes) go through the service's reader, MediaPipe as the
service runs it and the tracker (a :class:`~training.video_poses.PoseSource` from the CLI; poses
cached as ``.npz``), then through :class:`inference.windows.TrackWindows` frame by frame exactly as
the service builds windows (``hop_s`` apart, a new window only after ``hop_s``). Only windows lying
entirely inside a segment count. Segments whose label is one of the model's labels are scored by
accuracy; the others (idle, arm circles, a hug) are not actions the model knows, so the table
shows what the model says there instead.
"""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.classifier import ActionClassifier
from inference.windows import SAME_INSTANT_S as _EPS_S
from inference.windows import Window, WindowSpec
from training.video_poses import PoseSource, VideoPoses, cached_video_poses, replay_windows

log = logging.getLogger(__name__)

LABELS_CSV = "labels.csv"
# The service's default SegmentConfig.enter_threshold: a window above it counts towards an event.
CONFIDENT = 0.6


@dataclass(frozen=True)
class RealSegment:
    """Frames ``first..last`` (inclusive) of ``video`` (a file name in the videos folder) show ``label``."""

    video: str
    label: str
    first: int
    last: int
    note: str = ""


# Non-action segments described in ../shared/data/README.md (not in labels.csv): what a model
# says when nobody does one of its actions.
NON_ACTION_SEGMENTS: tuple[RealSegment, ...] = (
    RealSegment("malikmrllh_clapsoverhead.mp4", "idle (standing)", 50, 240, "data README"),
    RealSegment("malikmrllh_clapsoverhead.mp4", "arm circles", 250, 480, "data README"),
    RealSegment("mmaction2_demo_skeleton.mp4", "two people hug", 0, 71, "data README"),
    RealSegment("felixchenfy_exercise.avi", "mixed calisthenics (unlabelled)", 0, 392, "data README"),
)


def load_real_segments(videos_dir: str | os.PathLike[str], *, extra: bool = True) -> list[RealSegment]:
    """``labels.csv`` (columns file, label, frame_start, frame_end, notes) + the non-action segments."""
    root = Path(videos_dir)
    path = root / LABELS_CSV
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; expected the shared test data's videos folder")
    segments: list[RealSegment] = []
    with path.open(newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            try:
                segments.append(
                    RealSegment(
                        row["file"].strip(),
                        row["label"].strip(),
                        int(row["frame_start"]),
                        int(row["frame_end"]),
                        (row.get("notes") or "").strip(),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"{path}: line {n}: expected file,label,frame_start,frame_end ({exc})"
                ) from exc
    if extra:
        known = {(s.video, s.first, s.last) for s in segments}
        segments += [s for s in NON_ACTION_SEGMENTS if (s.video, s.first, s.last) not in known]
    return [s for s in segments if (root / s.video).is_file()]


def service_windows(poses: VideoPoses, spec: WindowSpec, hop_s: float = 0.25) -> list[Window]:
    """Every window the service would classify for this video (all tracks, frame by frame)."""
    return replay_windows(poses, spec, hop_s=hop_s)


def inside(windows: Sequence[Window], poses: VideoPoses, segment: RealSegment) -> list[Window]:
    """The windows lying entirely within the segment's frames."""
    start, end = poses.frame_time(segment.first), poses.frame_time(segment.last)
    return [w for w in windows if w.start_pts >= start - _EPS_S and w.end_pts <= end + _EPS_S]


@dataclass(frozen=True)
class SegmentResult:
    """One model on one segment: how many windows, what it said, and (for actions) how often right."""

    segment: RealSegment
    model: str
    windows: int
    predicted: dict[str, int]
    accuracy: float | None
    mean_label_probability: float | None
    mean_top_probability: float
    confident_share: float = float("nan")  # windows whose top probability reaches CONFIDENT

    @property
    def is_action(self) -> bool:
        return self.accuracy is not None


@dataclass(frozen=True)
class RealEvaluation:
    segments: list[RealSegment]
    models: list[str]
    results: list[SegmentResult]
    backend: str
    hop_s: float
    notes: dict[str, str] = field(default_factory=dict)

    def result(self, segment: RealSegment, model: str) -> SegmentResult:
        return next(r for r in self.results if r.segment == segment and r.model == model)

    def overall(self, model: str) -> dict[str, float | int]:
        """Pooled window accuracy and mean per-segment accuracy over the action segments."""
        rs = [r for r in self.results if r.model == model and r.is_action and r.windows]
        n = sum(r.windows for r in rs)
        right = sum(round((r.accuracy or 0.0) * r.windows) for r in rs)
        return {
            "windows": n,
            "window_accuracy": right / n if n else float("nan"),
            "mean_segment_accuracy": float(np.mean([r.accuracy for r in rs])) if rs else float("nan"),
        }


def evaluate_models_on_segments(
    models: Mapping[str, ActionClassifier],
    segments: Sequence[RealSegment],
    videos_dir: str | os.PathLike[str],
    *,
    poses: PoseSource,
    cache_dir: str | os.PathLike[str] | None = None,
    hop_s: float = 0.25,
) -> RealEvaluation:
    """Run every model over every segment (poses extracted once per video by ``poses``, cached in
    ``cache_dir``)."""
    root = Path(videos_dir)
    videos = sorted({s.video for s in segments})
    poses_by_video = {v: cached_video_poses(root / v, poses, cache_dir=cache_dir) for v in videos}
    results: list[SegmentResult] = []
    for name, clf in models.items():
        per_video = {v: service_windows(p, clf.spec, hop_s=hop_s) for v, p in poses_by_video.items()}
        for seg in segments:
            ws = inside(per_video[seg.video], poses_by_video[seg.video], seg)
            probs = clf.predict_windows(ws)
            top = probs.argmax(axis=1) if len(ws) else np.zeros(0, int)
            predicted = Counter(clf.labels[i] for i in top.tolist())
            accuracy = label_p = None
            if seg.label in clf.labels and ws:
                k = clf.labels.index(seg.label)
                accuracy = float(np.mean(top == k))
                label_p = float(np.mean(probs[:, k]))
            results.append(
                SegmentResult(
                    segment=seg,
                    model=name,
                    windows=len(ws),
                    predicted=dict(predicted.most_common()),
                    accuracy=accuracy,
                    mean_label_probability=label_p,
                    mean_top_probability=float(probs.max(axis=1).mean()) if len(ws) else float("nan"),
                    confident_share=float(np.mean(probs.max(axis=1) >= CONFIDENT))
                    if len(ws)
                    else float("nan"),
                )
            )
    return RealEvaluation(list(segments), list(models), results, poses.name, hop_s)


def _said(r: SegmentResult) -> str:
    if not r.windows:
        return "no windows"
    return ", ".join(f"{label} {n}" for label, n in r.predicted.items())


def markdown_table(ev: RealEvaluation) -> str:
    """Two tables: accuracy on the action segments, and what each model says on the non-actions."""
    lines = [
        "| video | frames | label | windows | "
        + " | ".join(f"{m}: accuracy (mean p(label))" for m in ev.models)
        + " |",
        "|---|---|---|---|" + "---|" * len(ev.models),
    ]
    action_segs = [s for s in ev.segments if ev.result(s, ev.models[0]).is_action]
    for seg in action_segs:
        cells = []
        for m in ev.models:
            r = ev.result(seg, m)
            cells.append("—" if r.accuracy is None else f"{r.accuracy:.2f} ({r.mean_label_probability:.2f})")
        n = ev.result(seg, ev.models[0]).windows
        lines.append(
            f"| {seg.video} | {seg.first}-{seg.last} | {seg.label} | {n} | " + " | ".join(cells) + " |"
        )
    pooled = [ev.overall(m) for m in ev.models]
    lines.append(
        f"| **all action windows** | | | {pooled[0]['windows']} | "
        + " | ".join(
            f"**{p['window_accuracy']:.2f}** (segment mean {p['mean_segment_accuracy']:.2f})" for p in pooled
        )
        + " |"
    )
    others = [s for s in ev.segments if s not in action_segs]
    if others:
        lines += [
            "",
            "Not one of the model's actions: what it says (windows per label), then in brackets the mean "
            f"top probability and the share of windows at or above {CONFIDENT} (the service's default "
            "enter_threshold, above which a window counts towards an event):",
            "",
            "| video | frames | what happens | windows | " + " | ".join(ev.models) + " |",
            "|---|---|---|---|" + "---|" * len(ev.models),
        ]
        for seg in others:
            cells = [
                f"{_said(r)} ({r.mean_top_probability:.2f}; {r.confident_share:.0%})"
                for r in (ev.result(seg, m) for m in ev.models)
            ]
            n = ev.result(seg, ev.models[0]).windows
            lines.append(
                f"| {seg.video} | {seg.first}-{seg.last} | {seg.label} | {n} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines) + "\n"


def _finite(value: object) -> object:
    """JSON has no NaN: non-finite numbers become null, recursively."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def to_json(ev: RealEvaluation) -> dict[str, object]:
    """Everything in the tables, as strict JSON (no NaN)."""
    out = {
        "backend": ev.backend,
        "hop_s": ev.hop_s,
        "models": ev.models,
        "overall": {m: ev.overall(m) for m in ev.models},
        "segments": [
            {
                "video": r.segment.video,
                "label": r.segment.label,
                "frames": [r.segment.first, r.segment.last],
                "model": r.model,
                "windows": r.windows,
                "accuracy": r.accuracy,
                "mean_label_probability": r.mean_label_probability,
                "mean_top_probability": r.mean_top_probability,
                "confident_share": r.confident_share,
                "predicted": r.predicted,
            }
            for r in ev.results
        ],
    }
    return _finite(out)  # type: ignore[return-value]
