"""`actionstream analyze INPUT`: annotate a video file and write its action timeline.

The service's engine on every frame (or every Nth with --stride); the output is an H.264 MP4
that browsers play, with the same frame count and rate as the input.
"""

# torch and the pose libraries load inside run(), so `actionstream --help` stays fast.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.cli.common import UsageError, add_model_arguments, number

if TYPE_CHECKING:
    from inference.backends.base import PoseBackend
    from inference.classifier import ActionClassifier
    from service.offline.analyze import AnalysisResult, AnalyzeOptions

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "analyze",
        help="annotate a video file with skeletons and actions, and write its timeline",
        description=(
            "Analyse a video file with the service's engine: writes an annotated H.264 MP4 (skeletons, "
            "track ids, current action and confidence per person) and, on request, a timeline of action "
            "segments per person as JSON and CSV. A progress bar goes to stderr."
        ),
    )
    p.add_argument("input", metavar="INPUT", help="the video file (MP4, AVI, MKV, MOV, WebM, ...)")
    p.add_argument(
        "-o", "--output", metavar="OUT.mp4", help="annotated video (default: ./<input name>.annotated.mp4)"
    )
    p.add_argument("--timeline", metavar="OUT.json", help="write the segments per track as JSON")
    p.add_argument("--csv", metavar="OUT.csv", help="write the segments per track as CSV")
    p.add_argument(
        "--stride",
        type=number(int),
        default=1,
        help="analyse every Nth frame; the others are written with the latest result (default: 1)",
    )
    add_model_arguments(p)
    p.add_argument("--max-people", type=number(int), help="people tracked per frame (default: the backend's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def _outputs(args: argparse.Namespace, src: Path) -> tuple[Path, Path | None, Path | None]:
    video = Path(args.output) if args.output else Path.cwd() / f"{src.stem}.annotated.mp4"
    timeline = Path(args.timeline) if args.timeline else None
    table = Path(args.csv) if args.csv else None
    for out in (video, timeline, table):
        if out is None:
            continue
        if out.is_dir():
            raise UsageError(f"{out} is a directory: give a file name")
        if not out.parent.is_dir():
            raise UsageError(f"cannot write {out}: the directory {out.parent} does not exist")
        if out.exists() and out.resolve() == src.resolve():
            raise UsageError(f"{out} is the input video: choose another output name")
    return video, timeline, table


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from capture.sources import configure_native_logging
    from service.offline.analyze import analyze_video, write_csv, write_timeline
    from service.offline.video_probe import BadVideoError, probe_video
    from service.offline.video_writer import VideoWriterError

    configure_native_logging(debug=args.log_level == "DEBUG")
    src = Path(args.input)
    try:
        info = probe_video(src)
    except BadVideoError as exc:
        raise UsageError(str(exc)) from None
    video_out, timeline_out, csv_out = _outputs(args, src)
    backend, classifier, options = _engine(args)
    bar = tqdm(total=info.frames, unit="frame", desc=src.name[:30], file=sys.stderr, disable=args.no_progress)
    try:
        result = analyze_video(
            src, backend=backend, classifier=classifier, video_out=video_out, options=options, info=info,
            progress=lambda done, _total: bar.update(done - bar.n),
        )  # fmt: skip
    except BadVideoError as exc:
        raise UsageError(str(exc)) from None
    except VideoWriterError as exc:
        log.error("could not write %s: %s", video_out, exc)
        return 1
    finally:
        bar.close()
        backend.close()
    if timeline_out is not None:
        write_timeline(result, timeline_out)
    if csv_out is not None:
        write_csv(result, csv_out)
    _report(result, video_out, timeline_out, csv_out)
    return 0


def _engine(args: argparse.Namespace) -> tuple[PoseBackend, ActionClassifier, AnalyzeOptions]:
    """The pose backend, the action model and the engine's options from the flags (the service's
    defaults for everything else)."""
    from pydantic import ValidationError

    from inference.backends import BackendUnavailable
    from inference.model_file import ModelFileError
    from service.app.build import action_classifier_factory, analyze_options, pose_backend_factory
    from service.config import EngineConfig, format_validation_error

    try:
        config = EngineConfig.model_validate(
            {
                "pose": {"backend": args.backend or "auto", "device": args.device or "auto"}
                | ({"max_people": args.max_people} if args.max_people is not None else {}),
                "model": {"path": args.model},
            }
        )
    except ValidationError as exc:
        raise UsageError(format_validation_error(exc)) from None
    try:
        options = analyze_options(config, stride=args.stride)
        classifier = action_classifier_factory(config.model, config.pose)()
        backend = pose_backend_factory(config.pose)()
    except (BackendUnavailable, ModelFileError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return backend, classifier, options


def _report(result: AnalysisResult, video: Path, timeline: Path | None, table: Path | None) -> None:
    from inference.decision import NO_ACTION_LABEL
    from service.offline.timeline import coverage

    acting = [s for s in result.segments if s.label is not None]
    print(
        f"{video}: {result.frames_read} frames at {result.video.fps:g} fps, {result.frames_analysed} "
        f"analysed ({result.backend}) in {result.elapsed_s:.1f} s; {len(result.segments)} segments, "
        f"an action named on {100 * coverage(acting, result.frames_read):.0f}% of the frames"
    )
    for s in result.segments:
        label = s.label if s.label is not None else NO_ACTION_LABEL
        print(
            f"  track {s.track_id}: {label:<15} frames {s.start_frame}-{s.end_frame} "
            f"({s.start_s:.2f}-{s.end_s:.2f} s), mean confidence {s.confidence:.2f}"
        )
    for c in result.confirmed:
        print(f"  confirmed: track {c.track_id} {c.label} frames {c.start_frame}-{c.end_frame}")
    for extra in (timeline, table):
        if extra is not None:
            print(f"{extra}: written")
