"""The job runner behind uploads: ``actionstream analyze`` for one job, in a job worker thread."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.engine.analyzer import BackendFactory, ClassifierFactory
from service.offline.analyze import (
    AnalysisCancelledError,
    AnalyzeOptions,
    analyze_video,
    write_csv,
    write_timeline,
)
from service.offline.video_probe import BadVideoError
from service.web.jobs import CSV, TIMELINE, VIDEO, JobCancelledError, JobWork


class AnalyzeJobRunner:
    """Builds the models for each job (in the job's thread: MediaPipe graphs and CUDA contexts are
    not shared) and writes the annotated video, the timeline JSON and the CSV."""

    def __init__(
        self, backend_factory: BackendFactory, classifier_factory: ClassifierFactory, options: AnalyzeOptions
    ) -> None:
        self._backend_factory = backend_factory
        self._classifier_factory = classifier_factory
        self.options = options

    def __call__(self, work: JobWork) -> Mapping[str, Any]:
        classifier = self._classifier_factory()
        backend = self._backend_factory()
        try:
            result = analyze_video(
                work.input,
                backend=backend,
                classifier=classifier,
                video_out=work.directory / VIDEO,
                options=self.options,
                progress=work.progress,
                cancel=work.cancel,
                source_name=work.name,
            )
        except AnalysisCancelledError:
            raise JobCancelledError(work.name) from None
        except BadVideoError as exc:
            raise ValueError(str(exc).replace(work.input.name, work.name)) from None
        finally:
            backend.close()
        write_timeline(result, work.directory / TIMELINE)
        write_csv(result, work.directory / CSV)
        labels = sorted({s.label for s in result.segments if s.label is not None})
        return {
            "frames": result.frames_read,
            "fps": result.video.fps,
            "width": result.video.width,
            "height": result.video.height,
            "segments": len(result.segments),
            "labels": labels,
            "backend": result.backend,
            "elapsed_s": round(result.elapsed_s, 2),
        }
