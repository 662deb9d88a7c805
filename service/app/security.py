"""Who may reach the programs, decided once at start from the config.

- the HTTP access policy (token, Host allow-list, whether /metrics needs the token);
- the ZeroMQ CURVE server keys (files are read here, so a bad key is an error at start);
- the rule: a server reachable from other machines (HTTP host or ZeroMQ bind not on loopback)
  must require authentication, unless the operator says ``--insecure``. On loopback it is
  optional: only local users can connect there, and the Host and Origin checks still stop web
  pages from using the browser to reach it.
"""

from __future__ import annotations

from service.config import HttpConfig, ZmqConfig
from service.outputs.curve import CurveKeyError, CurveServer, load_public_keys, load_secret_key, parse_key
from service.outputs.endpoints import EndpointError, is_loopback_host, parse_endpoint
from service.outputs.http_guard import AccessPolicy
from service.outputs.http_protocol import HttpLimits

__all__ = [
    "CurveKeyError",
    "ExposureError",
    "check_http_exposure",
    "check_zmq_exposure",
    "http_access",
    "http_limits",
    "zmq_curve",
]


class ExposureError(ValueError):
    """Serving without authentication where others can connect; the message says what to do."""


def http_access(http: HttpConfig) -> AccessPolicy:
    return AccessPolicy.for_server(
        is_loopback_host(http.host),
        token=http.token.get_secret_value() if http.token is not None else None,
        metrics_auth=http.metrics_auth,
        allowed_hosts=http.allowed_hosts,
    )


def http_limits(http: HttpConfig) -> HttpLimits:
    return HttpLimits(
        header_timeout_s=http.header_timeout_s,
        idle_timeout_s=http.idle_timeout_s,
        max_connections=http.max_connections,
    )


def zmq_curve(zmq: ZmqConfig) -> CurveServer | None:
    """The CURVE server keys of the event socket, or None when CURVE is off (``CurveKeyError``)."""
    if not zmq.curve_enabled:
        return None
    if zmq.curve_secret_key_file is not None:
        secret = load_secret_key(zmq.curve_secret_key_file)
    else:
        assert zmq.curve_secret_key is not None
        secret = parse_key(zmq.curve_secret_key.get_secret_value(), "zmq.curve_secret_key")
    clients = [parse_key(k, "a key in zmq.curve_client_keys") for k in zmq.curve_client_keys]
    if zmq.curve_client_keys_file is not None:
        clients += load_public_keys(zmq.curve_client_keys_file)
    return CurveServer(secret, frozenset(clients))


def check_http_exposure(http: HttpConfig, *, insecure: bool) -> str | None:
    """``ExposureError`` for an unauthenticated server off loopback; with ``insecure``, a warning."""
    if http.token is not None or is_loopback_host(http.host):
        return None
    what = (
        f"http.host {http.host} can be reached from other machines and no access token is set "
        "(anyone could upload videos, delete jobs and watch the cameras)"
    )
    if insecure:
        return f"--insecure: {what}"
    raise ExposureError(
        f"{what}: set http.token_file or ACTIONSTREAM_HTTP__TOKEN (`actionstream keys DIR` writes "
        "DIR/http-token), listen on 127.0.0.1, or pass --insecure to serve it unauthenticated"
    )


def check_zmq_exposure(
    bind: str,
    curve_enabled: bool,
    *,
    insecure: bool,
    setting: str = "zmq.bind",
    fix: str = "set zmq.curve_secret_key_file and zmq.curve_client_keys_file",
) -> str | None:
    """Like :func:`check_http_exposure` for a ZeroMQ endpoint that subscribers connect to."""
    try:
        local = parse_endpoint(bind, bind=True).is_local
    except EndpointError:
        return None  # the socket reports a bad endpoint itself, with the right words
    if curve_enabled or local:
        return None
    what = f"{setting} {bind} can be reached from other machines and CURVE is off (anyone could subscribe)"
    if insecure:
        return f"--insecure: {what}"
    raise ExposureError(
        f"{what}: {fix} (`actionstream keys DIR` writes the keys), bind to 127.0.0.1, "
        "or pass --insecure to publish to anyone"
    )
