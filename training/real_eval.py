"""The judge: window accuracy of action models on real footage, through the real pose backend.

Labelled segments of real videos (``videos/labels.csv`` of the shared test data, plus the
non-action segments the data README describes) go through the service's reader, MediaPipe as the
service runs it and the tracker (a :class:`~training.video_poses.PoseSource` from the CLI; poses
cached as ``.npz``), then through :class:`inference.windows.TrackWindows` frame by frame exactly as
the service builds windows (``hop_s`` apart, a new window only after ``hop_s``). Only windows lying
entirely inside a segment count. Each window gets the model's decision (an action or none,
:meth:`inference.classifier.ActionClassifier.classify`); :mod:`training.real_metrics` scores it:
accuracy on segments of the model's labels (per class and macro), and on every other segment
(idle, arm circles, a hug, the ``none (...)`` rows) the share of windows that name an action.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from inference.classifier import ActionClassifier
from inference.decision import NO_ACTION_LABEL, Prediction
from inference.hysteresis import SegmentParams
from inference.windows import SAME_INSTANT_S as _EPS_S
from inference.windows import Window, WindowSpec
from training.real_events import EventScore, Span, confirmed_spans, score_events, summarise_events
from training.real_metrics import KINDS, SegmentScore, calibration_points, score_segment, summarise
from training.video_poses import PoseSource, VideoPoses, cached_video_poses, replay_windows

log = logging.getLogger(__name__)

LABELS_CSV = "labels.csv"


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
    RealSegment("felixchenfy_exercise.avi", "unlabelled (mixed calisthenics)", 0, 392, "data README"),
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
    """One model on one segment: the segment, the model's name, its window score there and the
    event-level score (frames under confirmed segments, :mod:`training.real_events`)."""

    segment: RealSegment
    model: str
    score: SegmentScore
    events: EventScore | None = None

    @property
    def windows(self) -> int:
        return self.score.windows

    @property
    def predicted(self) -> dict[str, int]:
        return self.score.predicted

    @property
    def accuracy(self) -> float | None:
        return self.score.accuracy

    @property
    def is_action(self) -> bool:
        return self.score.is_action


@dataclass(frozen=True)
class RealEvaluation:
    segments: list[RealSegment]
    models: list[str]
    results: list[SegmentResult]
    backend: str
    hop_s: float
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)  # model -> its labels
    notes: dict[str, str] = field(default_factory=dict)
    # model -> (confidence, correct) per judged window, for a reliability diagram
    calibration: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def result(self, segment: RealSegment, model: str) -> SegmentResult:
        return next(r for r in self.results if r.segment == segment and r.model == model)

    def overall(self, model: str) -> dict[str, object]:
        """:func:`training.real_metrics.summarise` over the model's segments, with the event-level
        summary (:func:`training.real_events.summarise_events`) under ``events``."""
        mine = [r for r in self.results if r.model == model]
        out = summarise([r.score for r in mine], self.labels[model])
        scored = [(r.segment.label, r.score.kind, r.events) for r in mine if r.events is not None]
        out["events"] = summarise_events(scored, self.labels[model])
        return out


def evaluate_models_on_segments(
    models: Mapping[str, ActionClassifier],
    segments: Sequence[RealSegment],
    videos_dir: str | os.PathLike[str],
    *,
    poses: PoseSource,
    cache_dir: str | os.PathLike[str] | None = None,
    hop_s: float = 0.25,
    segment_params: SegmentParams | None = None,
) -> RealEvaluation:
    """Run every model over every segment (poses extracted once per video by ``poses``, cached in
    ``cache_dir``): window decisions inside each segment, and the confirmed segments the service's
    hysteresis (``segment_params``, the service's defaults unless given) makes of each whole clip."""
    root = Path(videos_dir)
    videos = sorted({s.video for s in segments})
    poses_by_video = {v: cached_video_poses(root / v, poses, cache_dir=cache_dir) for v in videos}
    results: list[SegmentResult] = []
    calibration: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, clf in models.items():
        decided: dict[str, list[tuple[Window, Prediction]]] = {}
        spans: dict[str, list[Span]] = {}
        for v, p in poses_by_video.items():
            ws = service_windows(p, clf.spec, hop_s=hop_s)
            preds = clf.classify(ws, clf.new_evidence())  # a stream, as served
            decided[v] = list(zip(ws, preds, strict=True))
            spans[v] = confirmed_spans(ws, preds, segment_params)
        points = []
        for seg in segments:
            video = poses_by_video[seg.video]
            keep = {id(w) for w in inside([w for w, _ in decided[seg.video]], video, seg)}
            preds = [p for w, p in decided[seg.video] if id(w) in keep]
            times = video.pts[seg.first : seg.last + 1]
            results.append(
                SegmentResult(
                    seg,
                    name,
                    score_segment(seg.label, clf.labels, preds),
                    score_events(seg.label, clf.labels, times, spans[seg.video]),
                )
            )
            points.append(calibration_points(seg.label, clf.labels, preds, clf.metadata.background))
        calibration[name] = (
            np.concatenate([c for c, _ in points]),
            np.concatenate([k for _, k in points]),
        )
    labels = {name: clf.labels for name, clf in models.items()}
    return RealEvaluation(
        list(segments), list(models), results, poses.name, hop_s, labels, calibration=calibration
    )


def _said(score: SegmentScore) -> str:
    if not score.windows:
        return "no windows"
    return ", ".join(f"{label} {n}" for label, n in score.predicted.items())


def _num(x: object, fmt: str = ".2f") -> str:
    return "—" if not isinstance(x, int | float) or not np.isfinite(x) else format(x, fmt)


def markdown_table(ev: RealEvaluation) -> str:
    """Three tables: accuracy on the action segments with per-class and macro results, the share
    of windows naming an action on the non-action segments, and unlabelled footage."""
    m0 = ev.models[0]
    by_kind = {k: [s for s in ev.segments if ev.result(s, m0).score.kind == k] for k in KINDS}
    lines = [
        "| video | frames | label | windows | "
        + " | ".join(f"{m}: accuracy (argmax; mean p(label))" for m in ev.models)
        + " |",
        "|---|---|---|---|" + "---|" * len(ev.models),
    ]
    for seg in by_kind["action"]:
        cells = []
        for m in ev.models:
            sc = ev.result(seg, m).score
            cells.append(f"{_num(sc.accuracy)} ({_num(sc.top_accuracy)}; {_num(sc.mean_label_probability)})")
        n = ev.result(seg, m0).windows
        lines.append(
            f"| {seg.video} | {seg.first}-{seg.last} | {seg.label} | {n} | " + " | ".join(cells) + " |"
        )
    overall = {m: ev.overall(m) for m in ev.models}
    labels = ev.labels[m0]
    for label in labels:
        per = [cast(dict[str, float], overall[m]["per_class"]) for m in ev.models]
        if any(label in p for p in per):
            lines.append(f"| **{label}** | | | | " + " | ".join(_num(p.get(label)) for p in per) + " |")
    lines.append(
        f"| **macro over classes** | | | {overall[m0]['windows']} | "
        + " | ".join(
            f"**{_num(o['macro_accuracy'])}** (pooled {_num(o['window_accuracy'])})" for o in overall.values()
        )
        + " |"
    )
    if by_kind["negative"]:
        lines += [
            "",
            "Not one of the model's actions (the right answer is no action): the share of windows "
            f"naming an action, then what was said (windows per label; {NO_ACTION_LABEL} = no action):",
            "",
            "| video | frames | what happens | windows | " + " | ".join(ev.models) + " |",
            "|---|---|---|---|" + "---|" * len(ev.models),
        ]
        for seg in by_kind["negative"]:
            cells = [
                f"{_num(r.score.action_share)}: {_said(r.score)}"
                for r in (ev.result(seg, m) for m in ev.models)
            ]
            n = ev.result(seg, m0).windows
            lines.append(
                f"| {seg.video} | {seg.first}-{seg.last} | {seg.label} | {n} | " + " | ".join(cells) + " |"
            )
        lines.append(
            f"| **all non-action windows** | | | {overall[m0]['negative_windows']} | "
            + " | ".join(f"**{_num(o['negative_action_share'])}**" for o in overall.values())
            + " |"
        )
    lines += _events_table(ev, by_kind)
    if by_kind["unlabelled"]:
        lines += ["", "Unlabelled footage (not scored):", ""]
        for seg in by_kind["unlabelled"]:
            said = "; ".join(f"{m}: {_said(ev.result(seg, m).score)}" for m in ev.models)
            lines.append(f"- {seg.video} {seg.first}-{seg.last} ({seg.label}): {said}")
    return "\n".join(lines) + "\n"


def _events_table(ev: RealEvaluation, by_kind: Mapping[str, Sequence[RealSegment]]) -> list[str]:
    """As served: per segment, the share of its frames under confirmed segments (right label /
    wrong label on action segments, any on the others) and how many overlap it."""
    scored = [s for k in ("action", "negative") for s in by_kind[k]]
    if not scored:
        return []
    lines = [
        "",
        "As served (confirmed segments: the start/end events of the service's hysteresis): share of the "
        "segment's frames under a confirmed segment of the right label / of a wrong label (action "
        "segments), under any (the others: false events), and confirmed segments overlapping it:",
        "",
        "| video | frames | label | " + " | ".join(ev.models) + " |",
        "|---|---|---|" + "---|" * len(ev.models),
    ]
    for seg in scored:
        cells = []
        for m in ev.models:
            e = ev.result(seg, m).events
            if e is None:
                cells.append("—")
            elif e.right is not None:
                cells.append(f"{_num(e.right)} / {_num(e.wrong)} ({e.events})")
            else:
                cells.append(f"{_num(e.any)} ({e.events})")
        lines.append(f"| {seg.video} | {seg.first}-{seg.last} | {seg.label} | " + " | ".join(cells) + " |")
    overall = [cast(dict[str, object], ev.overall(m)["events"]) for m in ev.models]
    lines.append(
        "| **right-label coverage, macro over classes** | | | "
        + " | ".join(f"**{_num(o['right_coverage'])}** (wrong {_num(o['wrong_share'])})" for o in overall)
        + " |"
    )
    lines.append(
        "| **non-action frames under an event** | | | "
        + " | ".join(
            f"**{_num(o['negative_event_share'])}** ({o['negative_events']} events on "
            f"{o['negative_segments_with_events']} segments)"
            for o in overall
        )
        + " |"
    )
    return lines


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
    """Everything in the tables, as strict JSON (no NaN). Stable keys:
    ``overall.<model>.macro_accuracy``, ``overall.<model>.negative_action_share``,
    ``overall.<model>.events.right_coverage``, ``overall.<model>.events.negative_event_share``,
    ``segments[].predicted`` (windows per label, the no-action outcome as ``(no action)``),
    ``segments[].events`` (frames, right, wrong, any, events)."""
    out = {
        "backend": ev.backend,
        "hop_s": ev.hop_s,
        "models": ev.models,
        "no_action_label": NO_ACTION_LABEL,
        "overall": {m: ev.overall(m) for m in ev.models},
        "segments": [
            {
                "video": r.segment.video,
                "label": r.segment.label,
                "frames": [r.segment.first, r.segment.last],
                "model": r.model,
                "kind": r.score.kind,
                "windows": r.score.windows,
                "accuracy": r.score.accuracy,
                "top_accuracy": r.score.top_accuracy,
                "action_share": r.score.action_share,
                "mean_label_probability": r.score.mean_label_probability,
                "mean_top_probability": r.score.mean_top_probability,
                "predicted": r.score.predicted,
                "reasons": r.score.reasons,
                "events": None if r.events is None else asdict(r.events),
            }
            for r in ev.results
        ],
    }
    return _finite(out)  # type: ignore[return-value]
