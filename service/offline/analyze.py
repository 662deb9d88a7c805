"""Offline analysis of one video file: the service's engine on every frame (or every Nth), an
annotated H.264 MP4, and a timeline of action segments per person.

The same ``FrameAnalyzer`` as the service's analysis stage (tracker, windows, batched classifier,
segment hysteresis), so a file analysed here gets the labels the service would publish for it.
Frames skipped by ``stride`` are still written, annotated with the latest result, so the output
has the source's frame count and rate.
"""

from __future__ import annotations

import csv
import json
import logging
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from capture.frame import Frame
from inference.backends.base import PoseBackend
from inference.classifier import ActionClassifier
from inference.decision import NO_ACTION_LABEL
from inference.hysteresis import SegmentParams
from inference.poses import TrackedPoses
from service.engine.analyzer import FrameAnalyzer, FrameResult, LaneOptions
from service.engine.segments import Classification, SegmentTracker
from service.offline.annotate import annotate
from service.offline.reader import CAMERA_ID, file_frames
from service.offline.timeline import Segment, confirmed_segments, label_segments
from service.offline.video_probe import BadVideoError, VideoInfo, probe_video
from service.offline.video_writer import H264Writer
from service.outputs.events import ActionEvent

log = logging.getLogger(__name__)

TIMELINE_VERSION = 2  # 2: segments and classifications may have label null (no known action)
Progress = Callable[[int, int | None], object]


class AnalysisCancelledError(Exception):
    """``cancel`` was set while the video was being analysed; nothing was kept."""


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    """How to analyse: which frames, and the engine's knobs (the service's defaults)."""

    stride: int = 1
    batch_size: int = 4
    lane: LaneOptions = field(default_factory=LaneOptions)
    segments: SegmentParams = field(default_factory=SegmentParams)
    min_draw_confidence: float = 0.3

    def __post_init__(self) -> None:
        if not 1 <= self.stride <= 1000:
            raise ValueError(f"stride must be in 1..1000, got {self.stride}")
        if not 1 <= self.batch_size <= 64:
            raise ValueError(f"AnalyzeOptions.batch_size must be in 1..64, got {self.batch_size}")


@dataclass(frozen=True)
class AnalysisResult:
    """What the analysis found and wrote."""

    video: VideoInfo
    frames_read: int
    frames_analysed: int
    labels: tuple[str, ...]
    segments: tuple[Segment, ...]
    confirmed: tuple[Segment, ...]
    classifications: tuple[dict[str, Any], ...]
    backend: str
    stride: int
    elapsed_s: float
    source_name: str = ""

    def timeline(self) -> dict[str, Any]:
        """The timeline document (``--timeline`` JSON; the web page draws it)."""
        v = self.video
        return {
            "version": TIMELINE_VERSION,
            "source": {
                "name": self.source_name,
                "width": v.width,
                "height": v.height,
                "fps": v.fps,
                "frames": self.frames_read,
                "declared_frames": v.frames,
                "duration_s": round(self.frames_read / v.fps, 3),
            },
            "analysis": {
                "backend": self.backend,
                "labels": list(self.labels),
                "stride": self.stride,
                "frames_analysed": self.frames_analysed,
                "elapsed_s": round(self.elapsed_s, 3),
            },
            "segments": [asdict(s) for s in self.segments],
            "confirmed": [asdict(s) for s in self.confirmed],
            "classifications": list(self.classifications),
        }


def write_timeline(result: AnalysisResult, path: Path) -> None:
    _atomic_write(path, json.dumps(result.timeline(), indent=1) + "\n")


def write_csv(result: AnalysisResult, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["track_id", "label", "start_frame", "end_frame", "start_s", "end_s", "confidence", "confirmed"]
        )
        rows = [(s, 0) for s in result.segments] + [(s, 1) for s in result.confirmed]
        for s, confirmed in rows:
            label = s.label if s.label is not None else NO_ACTION_LABEL
            row = [s.track_id, label, s.start_frame, s.end_frame, s.start_s, s.end_s, f"{s.confidence:.4f}"]
            writer.writerow([*row, confirmed])
    tmp.replace(path)


def analyze_video(
    path: str | Path,
    *,
    backend: PoseBackend,
    classifier: ActionClassifier,
    video_out: Path | None = None,
    options: AnalyzeOptions | None = None,
    info: VideoInfo | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    source_name: str | None = None,
) -> AnalysisResult:
    """Analyse ``path`` with the given models (the caller owns and closes them).

    Raises ``BadVideoError`` for files that cannot be read, ``AnalysisCancelledError`` when ``cancel`` is set,
    ``VideoWriterError`` when ffmpeg fails. ``progress(done, total)`` is called after every frame.
    """
    opts = options or AnalyzeOptions()
    src = Path(path)
    info = info or probe_video(src)
    t_start = time.perf_counter()
    frames = file_frames(src, (info.width, info.height), CAMERA_ID)
    analyzer = FrameAnalyzer(classifier, SegmentTracker(opts.segments))
    analyzer.add_camera(CAMERA_ID, opts.lane)
    writer = H264Writer(video_out, info.width, info.height, info.fps) if video_out else None
    run = _Run(analyzer, opts, writer, info, progress)
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise AnalysisCancelledError(f"analysis of {src.name} cancelled")
            chunk = run.read_chunk(frames)
            if not chunk:
                break
            run.process(chunk, backend)
        final = analyzer.end_camera(CAMERA_ID)
        if final is not None:
            run.keep(final)
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        frames.close()
    if run.frames_read == 0:
        raise BadVideoError("corrupt", f"{src.name}: no frame could be decoded; the file is damaged")
    if info.frames and run.frames_read < info.frames:
        log.warning("%s: decoded %d of the %d frames it declares", src.name, run.frames_read, info.frames)
    return AnalysisResult(
        video=info,
        frames_read=run.frames_read,
        frames_analysed=run.frames_analysed,
        labels=analyzer.labels,
        segments=label_segments(
            run.classifications, run.pts, run.last_seen, max_gap_s=_max_gap_s(opts, info)
        ),
        confirmed=confirmed_segments(run.events, run.pts),
        classifications=tuple(_sample(c) for c in run.classifications),
        backend=getattr(backend, "name", type(backend).__name__),
        stride=opts.stride,
        elapsed_s=time.perf_counter() - t_start,
        source_name=source_name if source_name is not None else src.name,
    )


class _Run:
    """The state of one analysis: frames read so far, their pts, events, the latest people."""

    def __init__(
        self,
        analyzer: FrameAnalyzer,
        opts: AnalyzeOptions,
        writer: H264Writer | None,
        info: VideoInfo,
        progress: Progress | None,
    ) -> None:
        self.analyzer = analyzer
        self.opts = opts
        self.writer = writer
        self.info = info
        self.progress = progress
        self.frames_read = 0
        self.frames_analysed = 0
        self.frames_done = 0
        self.pts: list[float] = []
        self.events: list[ActionEvent] = []
        self.classifications: list[Classification] = []
        self.last_seen: dict[int, int] = {}
        self.latest: FrameResult | None = None

    def read_chunk(self, frames: Generator[Frame, None, None]) -> list[tuple[Frame, bool]]:
        """Frames up to and including the ``batch_size``-th one to analyse, in order."""
        chunk: list[tuple[Frame, bool]] = []
        admitted = 0
        while admitted < self.opts.batch_size:
            frame = next(frames, None)
            if frame is None:
                break
            self.frames_read += 1
            self.pts.append(frame.pts)
            take = frame.seq % self.opts.stride == 0
            admitted += take
            chunk.append((frame, take))
        return chunk

    def keep(self, result: FrameResult) -> None:
        """What the timeline needs of a result: segment ends, classifications, who was seen when."""
        self.events += [e for e in result.events if isinstance(e, ActionEvent) and e.type == "end"]
        self.classifications += result.classifications
        for track_id in result.people.track_ids.tolist():
            self.last_seen[track_id] = result.frame_seq

    def process(self, chunk: Sequence[tuple[Frame, bool]], backend: PoseBackend) -> None:
        todo = [f for f, take in chunk if take]
        poses = iter(backend.infer([f.image for f in todo]) if todo else [])
        for frame, take in chunk:
            if take:
                self.latest = self.analyzer.analyze([(frame, next(poses))])[0]
                self.frames_analysed += 1
                self.keep(self.latest)
            if self.writer is not None:
                latest = self.latest
                self.writer.write(
                    annotate(
                        frame.image,
                        latest.people if latest is not None else TrackedPoses.empty(),
                        latest.actions if latest is not None else (),
                        min_confidence=self.opts.min_draw_confidence,
                        caption=f"{frame.pts:6.2f} s",
                    )
                )
            self.frames_done += 1
            if self.progress is not None:
                self.progress(self.frames_done, self.info.frames)


def _max_gap_s(opts: AnalyzeOptions, info: VideoInfo) -> float:
    """Longest normal gap between two windows of a track: two hops, or two analysed frames."""
    return max(2 * opts.lane.classify_hop_s, 2.5 * opts.stride / info.fps)


def _sample(c: Classification) -> dict[str, Any]:
    return {
        "track_id": c.track_id,
        "frame": c.frame_seq,
        "time_s": round(c.pts, 3),
        "label": c.label,
        "reason": c.prediction.reason,
        "confidence": round(c.confidence, 4),
    }


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
