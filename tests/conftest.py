"""Shared fixtures (where the real data lives, artifact output) and the one rule for skips."""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from collections.abc import Generator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# ../shared/data beside the checkout; ACTIONSTREAM_TEST_DATA points elsewhere (e.g. from a worktree).
SHARED_DATA = Path(os.environ.get("ACTIONSTREAM_TEST_DATA", ROOT.parent / "shared" / "data"))
ARTIFACTS = ROOT / "test-artifacts"

# -- skips ------------------------------------------------------------------------------------------
# Tests skip, saying why, when a part they need is missing. Under CI (CI=true) a missing package,
# system tool or the shared data is a broken install step, not a reason to skip: such a skip FAILS.
# Only hardware no CI machine has may skip there, and its reason must start with one of these.
HARDWARE_SKIP_PREFIXES = ("no CUDA", "no GPU", "no Docker engine")
SKIP_FAILS_IN_CI = (
    "CI=true: a required part is missing, so this fails instead of skipping: {reason}. "
    "Only tests that need a CUDA GPU or a Docker engine may skip in CI; install the missing part "
    "(make test does: make system-deps, venv-dev, venv-detectron2)."
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def skip_allowed_in_ci(reason: str) -> bool:
    return reason.startswith(HARDWARE_SKIP_PREFIXES)


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


_failed_in_ci: dict[str, list[str]] = defaultdict(list)  # reason -> node ids


def _enforce(report: pytest.CollectReport | pytest.TestReport) -> None:
    """Under CI, turn a skip whose reason is not a missing-hardware one into a failure."""
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if skip_allowed_in_ci(reason):
        return
    report.outcome = "failed"
    report.longrepr = SKIP_FAILS_IN_CI.format(reason=reason)
    _failed_in_ci[reason].append(report.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    _enforce(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield  # a module-level importorskip ends here
    _enforce(report)
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What was skipped and why, grouped by reason, so a missing install step cannot look like success."""
    skipped: dict[str, list[str]] = defaultdict(list)
    for report in terminalreporter.stats.get("skipped", []):
        if not hasattr(report, "wasxfail"):
            skipped[_skip_reason(report)].append(report.nodeid)
    if not skipped and not _failed_in_ci:
        return
    write = terminalreporter.write_line
    terminalreporter.section("skips", sep="=", bold=True)
    for reason, nodes in sorted(skipped.items(), key=lambda kv: -len(kv[1])):
        verdict = "ok in CI" if skip_allowed_in_ci(reason) else "FAILS under CI=true"
        write(f"{len(nodes):3d} skipped ({verdict}): {reason}   e.g. {nodes[0]}")
    for reason, nodes in sorted(_failed_in_ci.items(), key=lambda kv: -len(kv[1])):
        write(f"{len(nodes):3d} FAILED (CI=true, required part missing): {reason}   e.g. {nodes[0]}")
    if not in_ci() and any(not skip_allowed_in_ci(r) for r in skipped):
        write("Parts are missing here; `make test` installs them and CI (CI=true) fails on such skips.")


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real videos, images, the seed checkpoint); skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not present at {SHARED_DATA} (see ../shared/data/README.md)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ffprobe() -> str:
    """The ``ffprobe`` executable (Debian's ffmpeg package); skip when absent."""
    found = shutil.which("ffprobe")
    if found is None:
        pytest.skip("ffprobe not found: apt-get install ffmpeg (make system-deps)")
    return found


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave files worth looking at (screenshots, plots); kept after the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
