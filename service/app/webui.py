"""The web UI as ``serve`` and ``web`` both build it: uploads analysed with the service's own
settings, plus the live page when there are cameras."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from service.app.build import analyze_options
from service.config import WebAppConfig
from service.engine.analyzer import BackendFactory, ClassifierFactory
from service.web import WebUI
from service.web.jobs_dir import default_jobs_dir
from service.web.live import LivePreviews
from service.web.runner import AnalyzeJobRunner


def build_web_ui(
    config: WebAppConfig,
    *,
    backend_factory: BackendFactory,
    classifier_factory: ClassifierFactory,
    previews: LivePreviews | None = None,
    camera_states: Callable[[], Mapping[str, str]] | None = None,
) -> WebUI:
    """The upload page (every ``web.stride``-th frame of an upload through the engine, as a camera's
    frames go) and, with ``previews``, the live page of the cameras."""
    runner = AnalyzeJobRunner(
        backend_factory, classifier_factory, analyze_options(config, stride=config.web.stride)
    )
    jobs_dir = config.web.jobs_dir
    if jobs_dir is None and config.http.port:  # stable per port, so a restart cleans up after a crash
        jobs_dir, _ = default_jobs_dir(config.http.port)
    return WebUI(config.web, runner=runner, previews=previews, camera_states=camera_states, jobs_dir=jobs_dir)
