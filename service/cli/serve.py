"""`actionstream serve`: run the service on the configured cameras until stopped."""

# The service's modules import torch and the pose libraries: imported inside run() so that
# `actionstream --help` and the other subcommands stay fast.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import logging
from typing import Any

from capture.url import mask_credentials
from service.cli.common import (
    UsageError,
    add_model_arguments,
    config_overrides,
    load_or_usage_error,
    model_overrides,
    stop_on_signals,
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
    from inference.backends import BackendUnavailable
    from inference.model_file import ModelFileError
    from service.app.serve import Service
    from service.config import load_config
    from service.outputs.http import HttpServerError
    from service.outputs.publisher import PublisherError
    from service.runtime.pipeline import PipelineError

    if args.config is None and args.source is None:
        raise UsageError("nothing to serve: give --source (RTSP URL, webcam index or file) or --config FILE")
    config = load_or_usage_error(load_config, args.config, _overrides(args))

    stop = stop_on_signals()
    try:
        service = Service(config, stop_event=stop)
        for cam in service.pipeline.cameras:
            log.info("camera %s: %s", cam.camera_id, mask_credentials(cam.source.describe()))
        return service.run()
    except (PipelineError, PublisherError, HttpServerError, ModelFileError, BackendUnavailable) as exc:
        raise UsageError(str(exc)) from None
