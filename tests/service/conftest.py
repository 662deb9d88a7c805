"""Helpers for service tests: how to run the CLI in another process."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from service import cli
from tests.conftest import ROOT


def _cli_argv() -> list[str]:
    missing = [m for m in cli.COMMAND_MODULES if importlib.util.find_spec(m) is None]
    if not missing:
        return [sys.executable, "-m", "service"]
    # Another subcommand is being written on another branch: run the same cli.main with the modules
    # that exist here, so this branch's commands can still be tested end to end.
    present = tuple(m for m in cli.COMMAND_MODULES if m not in missing)
    code = f"import sys; from service import cli; cli.COMMAND_MODULES = {present!r}; sys.exit(cli.main())"
    return [sys.executable, "-c", code]


@pytest.fixture(scope="session")
def cli_argv() -> list[str]:
    """argv prefix for ``actionstream`` in a subprocess (``python -m service`` when complete)."""
    return _cli_argv()


@pytest.fixture(scope="session")
def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env
