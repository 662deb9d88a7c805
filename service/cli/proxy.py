"""`actionstream proxy`: one subscribe endpoint in front of many service shards."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from service.app.security import ExposureError, check_zmq_exposure
from service.cli.common import UsageError, add_insecure_argument, stop_on_signals
from service.outputs.curve import (
    CurveClient,
    CurveKeyError,
    CurveServer,
    load_public_key,
    load_public_keys,
    load_secret_key,
    parse_key,
    public_key_of,
)
from service.outputs.proxy import EventProxy, ProxyError

SECRET_ENV = "ACTIONSTREAM_PROXY_CURVE_SECRET_KEY"  # noqa: S105 - the variable's name
CLIENTS_ENV = "ACTIONSTREAM_PROXY_CURVE_CLIENT_KEYS"
UPSTREAM_ENV = "ACTIONSTREAM_PROXY_UPSTREAM_SERVER_KEY"

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
    p.add_argument(
        "--bind",
        default="tcp://127.0.0.1:5560",
        help="XPUB endpoint subscribers connect to (default %(default)s; another address needs "
        "CURVE or --insecure)",
    )
    p.add_argument("--xsub-bind", default=None, help="XSUB endpoint services may connect their PUB to")
    p.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="a service's PUB endpoint to connect to (repeat for each shard)",
    )
    p.add_argument(
        "--curve-secret-key",
        metavar="FILE",
        help=f"CURVE: the proxy's secret key file; subscribers must then authenticate (or ${SECRET_ENV})",
    )
    p.add_argument(
        "--curve-client-keys",
        metavar="FILE",
        help=f"CURVE: authorized_keys file or directory of *.key of the subscribers (or ${CLIENTS_ENV})",
    )
    p.add_argument(
        "--upstream-server-key",
        metavar="FILE",
        help=f"CURVE towards the shards: their public key file (server.key; or ${UPSTREAM_ENV})",
    )
    p.add_argument(
        "--upstream-shared-key",
        action="store_true",
        help="CURVE towards the shards, which use the proxy's own keypair (the Helm chart's set-up)",
    )
    add_insecure_argument(p, "subscribers")
    p.set_defaults(handler=run)


def _curve(args: argparse.Namespace, env: Any) -> tuple[CurveServer | None, CurveClient | None]:
    secret = load_secret_key(args.curve_secret_key) if args.curve_secret_key else None
    if secret is None and env.get(SECRET_ENV):
        secret = parse_key(env[SECRET_ENV], SECRET_ENV)
    clients: list[bytes] = []
    if args.curve_client_keys:
        clients += load_public_keys(args.curve_client_keys)
    clients += [parse_key(k, CLIENTS_ENV) for k in (env.get(CLIENTS_ENV) or "").replace(",", " ").split()]
    if clients and secret is None:
        raise UsageError("--curve-client-keys needs --curve-secret-key (the proxy's own keypair)")
    server = CurveServer(secret, frozenset(clients)) if secret is not None else None
    upstream_key = load_public_key(args.upstream_server_key) if args.upstream_server_key else None
    if upstream_key is None and env.get(UPSTREAM_ENV):
        upstream_key = parse_key(env[UPSTREAM_ENV], UPSTREAM_ENV)
    if args.upstream_shared_key:
        if secret is None:
            raise UsageError("--upstream-shared-key needs --curve-secret-key (the keypair the shards share)")
        upstream_key = public_key_of(secret)
    if upstream_key is not None and secret is None:
        raise UsageError("--upstream-server-key needs --curve-secret-key (the proxy's key as a client)")
    upstream = CurveClient(secret, upstream_key) if upstream_key is not None and secret is not None else None
    return server, upstream


def run(args: argparse.Namespace) -> int:
    if not args.xsub_bind and not args.upstream:
        raise UsageError("give --xsub-bind, one or more --upstream endpoints, or both")
    try:
        curve, upstream_curve = _curve(args, os.environ)
    except CurveKeyError as exc:
        raise UsageError(str(exc)) from None
    fix = "give --curve-secret-key and --curve-client-keys"
    try:
        warnings = [
            check_zmq_exposure(
                args.bind, curve is not None, insecure=args.insecure, setting="--bind", fix=fix
            ),
            check_zmq_exposure(
                args.xsub_bind, curve is not None, insecure=args.insecure, setting="--xsub-bind", fix=fix
            )
            if args.xsub_bind
            else None,
        ]
    except ExposureError as exc:
        raise UsageError(str(exc)) from None
    for warning in filter(None, warnings):
        log.warning("%s", warning)
    stop = stop_on_signals()
    proxy = EventProxy(
        args.bind,
        xsub_bind=args.xsub_bind,
        upstreams=args.upstream,
        curve=curve,
        upstream_curve=upstream_curve,
    )
    try:
        proxy.start()
    except ProxyError as exc:
        raise UsageError(str(exc)) from exc

    while not stop.wait(0.5):
        pass
    proxy.stop()
    return 0 if proxy.join(timeout=3.0) else 1
