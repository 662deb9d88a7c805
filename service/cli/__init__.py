"""The `actionstream` command line: one entry point, a module per subcommand.

Each module in ``COMMAND_MODULES`` has ``register(subparsers)`` that adds its parser and
sets ``handler`` to a function ``(args) -> int``; what several commands share (the usage error,
the model flags, config overrides, the stop event) is in :mod:`service.cli.common`. Exit codes:
0 ok, 1 runtime failure, 2 bad argument or config (argparse's own convention), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from service.cli.common import UsageError

COMMAND_MODULES: tuple[str, ...] = (
    "service.cli.serve",
    "service.cli.subscribe",
    "service.cli.probe",
    "service.cli.proxy",
    "service.cli.keys",
    "service.cli.model",
    "service.cli.analyze",
    "service.cli.web",
    "service.cli.train",
    "service.cli.evaluate",
    "service.cli.dataset",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actionstream", description="Real-time human action recognition on video streams."
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging verbosity (default: %(default)s; DEBUG adds thread names)",
    )
    verbosity.add_argument(
        "-q",
        "--quiet",
        dest="log_level",
        action="store_const",
        const="WARNING",
        help="only warnings and errors (--log-level WARNING)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def configure_logging(level: str) -> None:
    # Thread names only when debugging: at INFO the message says which camera (a capture thread's
    # name would repeat it) and the console stays readable.
    thread = "%(threadName)s " if level == "DEBUG" else ""
    logging.basicConfig(
        level=getattr(logging, level),
        format=f"%(asctime)s %(levelname)-7s {thread}%(name)s: %(message)s",
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
