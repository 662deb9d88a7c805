"""What several commands share: the usage error, the model flags, config overrides, the stop event."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from urllib.parse import urlsplit

from inference.backends import BACKEND_NAMES

log = logging.getLogger(__name__)


class UsageError(Exception):
    """A mistake the user can fix (bad argument, bad config, bad file): exit code 2."""


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--backend``, ``--device`` and ``--model``: the flags every command that runs the models takes.

    They default to None so that a config file or the environment decides unless given.
    """
    parser.add_argument("--backend", choices=BACKEND_NAMES, help="pose backend (default: auto)")
    parser.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--model", metavar="PATH", help="action model file (default: the shipped model)")


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
