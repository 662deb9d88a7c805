"""`actionstream web`: only the upload page (no cameras), for people who want the original app:
upload a video, watch the progress, get it back annotated with its timeline."""

# FastAPI, torch and the pose libraries load inside run(), so `actionstream --help` stays fast.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from typing import Any

from service.cli.common import (
    UsageError,
    add_insecure_argument,
    add_model_arguments,
    config_overrides,
    load_or_usage_error,
    model_overrides,
    stop_on_signals,
)

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "web",
        help="serve the upload page only: analyse videos in the browser (no cameras)",
        description=(
            "Serve the web UI without cameras: upload a video, follow the analysis, watch and download "
            "the annotated result and its timeline. Settings come from --config (the service's YAML; "
            "cameras and zmq are ignored), ACTIONSTREAM_<SECTION>__<FIELD> variables and these flags."
        ),
    )
    p.add_argument("--config", metavar="PATH", help="YAML config file (see docs/WEB.md)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, help="TCP port (default 8080; 0 picks a free one)")
    add_model_arguments(p)
    p.add_argument("--max-upload-mb", type=float, metavar="MIB", help="largest accepted upload")
    p.add_argument(
        "--jobs-dir",
        metavar="DIR",
        help="keep jobs here (default: $XDG_CACHE_HOME/actionstream/jobs/port-<PORT>)",
    )
    p.add_argument("--max-concurrent-jobs", type=int, metavar="N", help="analyses at once (default 1)")
    add_insecure_argument(p, "the upload page")
    p.set_defaults(handler=run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return config_overrides(
        ("http", "host", args.host),
        ("http", "port", args.port),
        *model_overrides(args),
        ("web", "max_upload_mb", args.max_upload_mb),
        ("web", "jobs_dir", args.jobs_dir),
        ("web", "max_concurrent_jobs", args.max_concurrent_jobs),
    )


class _NoCameras:
    """Readiness for the upload-only server: no cameras, the models were checked at start."""

    def camera_states(self) -> Mapping[str, str]:
        return {}

    def model_loaded(self) -> bool:
        return True


def _config(args: argparse.Namespace) -> Any:
    """The web app's config, refused (exit 2) when bad or exposed without a token."""
    from service.app.security import ExposureError, check_http_exposure
    from service.config import load_web_config

    config = load_or_usage_error(load_web_config, args.config, _overrides(args))
    try:
        warning = check_http_exposure(config.http, insecure=args.insecure)
    except ExposureError as exc:
        raise UsageError(str(exc)) from None
    if warning:
        log.warning("%s", warning)
    if not config.web.enabled:
        raise UsageError("web.enabled is false in the config: set it to true to serve the upload page")
    return config


def run(args: argparse.Namespace) -> int:
    config = _config(args)  # before the heavy imports: a refused config is refused in a second
    from inference.backends import BackendUnavailable
    from inference.model_file import ModelFileError
    from service.app.build import action_classifier_factory, pose_backend_factory
    from service.app.security import http_access, http_limits
    from service.app.webui import build_web_ui
    from service.outputs.http import HttpServer, HttpServerError, create_app
    from service.outputs.metrics import Metrics
    from service.web.jobs_dir import JobsDirBusyError

    # Build the models once now: a missing library or model file is reported at start, with what
    # to do, rather than at the first upload.
    try:
        backend_factory = pose_backend_factory(config.pose)
        backend_factory().close()
        classifier_factory = action_classifier_factory(config.model, config.pose)
        classifier_factory()
    except (BackendUnavailable, ModelFileError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    web = build_web_ui(config, backend_factory=backend_factory, classifier_factory=classifier_factory)
    app = create_app(
        Metrics(), _NoCameras(), routers=[web.router], require_cameras=False, access=http_access(config.http)
    )
    http = HttpServer(app, config.http.host, config.http.port, limits=http_limits(config.http))

    stop = stop_on_signals()
    try:
        web.start()
    except JobsDirBusyError as exc:
        raise UsageError(str(exc)) from None
    try:
        http.start()
    except HttpServerError as exc:
        web.stop()
        web.join(3.0)
        raise UsageError(str(exc)) from None
    log.info("upload page: %s/", http.url)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        web.stop()
        http.stop()
        ok = http.join(3.0)
        ok &= web.join(5.0)
        if not ok:
            log.warning("web: some threads did not stop in time")
    return 0
