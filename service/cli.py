"""The `actionstream` command line: one entry point, a module per subcommand.

Each module in ``COMMAND_MODULES`` has ``register(subparsers)`` that adds its parser and
sets ``handler`` to a function ``(args) -> int``. Exit codes: 0 ok, 1 runtime failure,
2 bad argument or config (argparse's own convention), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence

COMMAND_MODULES: tuple[str, ...] = (
    "service.cmd_serve",
    "service.cmd_subscribe",
    "service.cmd_probe",
    "service.cmd_proxy",
    "service.cmd_model",
    "service.cmd_analyze",
    "service.cmd_web",
    "service.cmd_train",
)

log = logging.getLogger(__name__)


class UsageError(Exception):
    """A mistake the user can fix (bad argument, bad config, bad file): exit code 2."""


BACKEND_CHOICES: tuple[str, ...] = ("auto", "mediapipe", "torchvision", "detectron2")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--backend``, ``--device`` and ``--model``: the flags every command that runs the models takes.

    They default to None so that a config file or the environment decides unless given.
    """
    parser.add_argument("--backend", choices=BACKEND_CHOICES, help="pose backend (default: auto)")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actionstream", description="Real-time human action recognition on video streams."
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging verbosity (default: %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        return int(args.handler(args))
    except UsageError as exc:
        print(f"actionstream {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
