"""What several commands share: the usage error, number arguments, the model flags, config
overrides, the stop event."""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from inference.backends import BACKEND_NAMES
from service.engine.options import LaneOptions

log = logging.getLogger(__name__)


N = TypeVar("N", int, float)
C = TypeVar("C")
HOP_S = LaneOptions().classify_hop_s  # training and judging windows as often as the service classifies


class UsageError(Exception):
    """A mistake the user can fix (bad argument, bad config, bad file): exit code 2."""


def number(
    kind: type[N],
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    what: str | None = None,
) -> Callable[[str], N]:
    """An argparse ``type=`` for a whole number (``kind=int``) or a finite number within bounds;
    a bad value is an argparse error (exit code 2) that names what was expected."""
    what = what or ("a whole number" if kind is int else "a number")
    expected = f"{what} {_interval(kind, gt, ge, lt, le)}".rstrip()

    def parse(text: str) -> N:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        inside = (
            math.isfinite(value)
            and (gt is None or value > gt)
            and (ge is None or value >= ge)
            and (lt is None or value < lt)
            and (le is None or value <= le)
        )
        if not inside:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    return parse


def _interval(kind: type, gt: float | None, ge: float | None, lt: float | None, le: float | None) -> str:
    """``in 1..100``, ``in (0, 1)``, ``>= 1``, ... ('' without bounds)."""
    if kind is int and ge is not None and le is not None:
        return f"in {ge:g}..{le:g}"
    low = f"({gt:g}" if gt is not None else f"[{ge:g}" if ge is not None else ""
    high = f"{lt:g})" if lt is not None else f"{le:g}]" if le is not None else ""
    if low and high:
        return f"in {low}, {high}"
    if low:
        return f"{'>' if gt is not None else '>='} {low[1:]}"
    if high:
        return f"{'<' if lt is not None else '<='} {high[:-1]}"
    return ""


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--backend``, ``--device`` and ``--model``: the flags every command that runs the models takes.

    They default to None so that a config file or the environment decides unless given.
    """
    parser.add_argument("--backend", choices=BACKEND_NAMES, help="pose backend (default: auto)")
    parser.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--model", metavar="PATH", help="action model file (default: the shipped model)")


def model_overrides(args: argparse.Namespace) -> tuple[tuple[str, str, object], ...]:
    """The config overrides of :func:`add_model_arguments`' flags (for :func:`config_overrides`)."""
    return (("pose", "backend", args.backend), ("pose", "device", args.device), ("model", "path", args.model))


def add_hop_argument(parser: argparse.ArgumentParser) -> None:
    """``--hop-s``: seconds between the windows a training command makes (the service's rate)."""
    parser.add_argument(
        "--hop-s",
        type=number(float, gt=0),
        default=HOP_S,
        help="seconds between windows (default: %(default)s, the service's classify_hop_s)",
    )


def load_or_usage_error(loader: Callable[..., C], path: str | None, overrides: Mapping[str, Any]) -> C:
    """``loader(path, env=os.environ, overrides=...)`` (a config loader); a bad config is a usage error."""
    from service.config import ConfigError  # noqa: PLC0415 - pydantic and the sections load on use

    try:
        return loader(path, env=os.environ, overrides=overrides)
    except ConfigError as exc:
        raise UsageError(f"bad config:\n{exc}") from None


def config_overrides(*items: tuple[str, str, object]) -> dict[str, dict[str, object]]:
    """Nested config overrides from ``(section, field, value)`` items, leaving out values not given."""
    out: dict[str, dict[str, object]] = {}
    for section, key, value in items:
        if value is not None:
            out.setdefault(section, {})[key] = value
    return out


def stop_on_signals() -> threading.Event:
    """The process's one stop event, set by SIGINT and SIGTERM (call from the main thread)."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    return stop


def add_insecure_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--insecure``: the explicit consent to serve without authentication off loopback."""
    parser.add_argument(
        "--insecure",
        action="store_true",
        help=f"allow {what} on a non-loopback address without authentication (docs/SECURITY.md)",
    )


def warn_if_password_in_argument(value: str | None, option: str, instead: str) -> None:
    """A URL with a password in argv is readable by every local user (``ps``, /proc/PID/cmdline):
    say so, once, and where it should go instead."""
    if not value or "://" not in value:
        return
    try:
        has_password = urlsplit(value).password is not None
    except ValueError:
        return
    if has_password:
        log.warning(
            "%s holds a password, which every user of this machine can read in the process list; "
            "put the URL in %s instead",
            option,
            instead,
        )
