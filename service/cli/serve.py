"""`actionstream serve`: run the service on the configured cameras until stopped."""

# The service's modules import torch and the pose libraries: imported inside run() so that
# `actionstream --help` and the other subcommands stay fast.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from capture.url import mask_credentials
from service.cli.common import (
    UsageError,
    add_insecure_argument,
    add_model_arguments,
    config_overrides,
    load_or_usage_error,
    model_overrides,
    stop_on_signals,
    warn_if_password_in_argument,
)

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="recognise actions on cameras and publish events",
        description=(
            "Run the service. Settings come from --config (YAML), then ACTIONSTREAM_<SECTION>__<FIELD> "
            "environment variables, then these flags."
        ),
        epilog=(
            "exit codes: 0 every file read to its end, or stopped (SIGINT/SIGTERM) after frames were "
            "read; 1 an inference worker died, or a file could not be read to its end; 2 bad config or "
            "argument, or an unauthenticated non-loopback address without --insecure; 3 no frame was "
            "read from any source (unreadable, unreachable or empty). See docs/SERVICE.md."
        ),
    )
    p.add_argument("--config", metavar="PATH", help="YAML config file (see docs/SERVICE.md)")
    p.add_argument(
        "--source",
        metavar="SPEC",
        help="one camera 'cam0': an rtsp:// URL, a webcam index (0) or /dev/videoN, or a video file",
    )
    add_model_arguments(p)
    p.add_argument("--zmq-bind", metavar="ENDPOINT", help="event socket, e.g. tcp://0.0.0.0:5556")
    p.add_argument("--http-host", metavar="HOST", help="address for /metrics, /livez, /readyz")
    p.add_argument("--http-port", type=int, metavar="PORT", help="port for /metrics, /livez, /readyz")
    p.add_argument("--publish-poses", action="store_true", default=None, help="also publish pose.<camera>")
    add_insecure_argument(p, "HTTP and ZeroMQ")
    p.set_defaults(handler=run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = config_overrides(
        *model_overrides(args),
        ("zmq", "bind", args.zmq_bind),
        ("zmq", "publish_poses", args.publish_poses),
        ("http", "host", args.http_host),
        ("http", "port", args.http_port),
    )
    if args.source is not None:
        out["source"] = args.source
    return out


def run(args: argparse.Namespace) -> int:
    from service.app.security import CurveKeyError, ExposureError, check_http_exposure, check_zmq_exposure
    from service.config import load_config

    if args.config is None and args.source is None:
        raise UsageError("nothing to serve: give --source (RTSP URL, webcam index or file) or --config FILE")
    warn_if_password_in_argument(
        args.source, "--source", "a config file, ACTIONSTREAM_CAMERAS__0__SOURCE or cameras[].source_file"
    )
    config = load_or_usage_error(load_config, args.config, _overrides(args))
    try:
        warnings = [
            check_http_exposure(config.http, insecure=args.insecure),
            check_zmq_exposure(config.zmq.bind, config.zmq.curve_enabled, insecure=args.insecure),
        ]
    except ExposureError as exc:
        raise UsageError(str(exc)) from None
    for warning in filter(None, warnings):
        log.warning("%s", warning)

    # The models and the servers load only now: a refused config is refused in a second.
    from inference.backends import BackendUnavailable
    from inference.model_file import ModelFileError
    from service.app.serve import Service
    from service.outputs.http import HttpServerError
    from service.outputs.publisher import PublisherError
    from service.runtime.pipeline import PipelineError
    from service.web.jobs_dir import JobsDirBusyError

    stop = stop_on_signals()
    try:
        service = Service(config, stop_event=stop)
        for cam in service.pipeline.cameras:
            log.info("serving %s", mask_credentials(cam.source.describe()))
        code = service.run()
    except (
        PipelineError,
        PublisherError,
        HttpServerError,
        ModelFileError,
        BackendUnavailable,
        CurveKeyError,
        JobsDirBusyError,
    ) as exc:
        raise UsageError(str(exc)) from None
    if service.failure:
        print(f"actionstream serve: error: {service.failure}", file=sys.stderr)
    return code
