"""`actionstream proxy`: one subscribe endpoint in front of many service shards."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from service.cli.common import UsageError, stop_on_signals
from service.outputs.proxy import EventProxy, ProxyError

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "proxy",
        help="forward events from many services to one subscribe endpoint (ZeroMQ XSUB/XPUB)",
        description=(
            "Subscribers connect to --bind. Services either connect their publisher to --xsub-bind, "
            "or the proxy connects to each service's publish endpoint given with --upstream."
        ),
    )
    p.add_argument("--bind", default="tcp://0.0.0.0:5560", help="XPUB endpoint subscribers connect to")
    p.add_argument("--xsub-bind", default=None, help="XSUB endpoint services may connect their PUB to")
    p.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="a service's PUB endpoint to connect to (repeat for each shard)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.xsub_bind and not args.upstream:
        raise UsageError("give --xsub-bind, one or more --upstream endpoints, or both")
    stop = stop_on_signals()
    proxy = EventProxy(args.bind, xsub_bind=args.xsub_bind, upstreams=args.upstream)
    try:
        proxy.start()
    except ProxyError as exc:
        raise UsageError(str(exc)) from exc

    while not stop.wait(0.5):
        pass
    proxy.stop()
    return 0 if proxy.join(timeout=3.0) else 1
