"""Shared fixtures: where the real data lives, and artifact output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# ../shared/data beside the checkout; ACTIONSTREAM_TEST_DATA points elsewhere (e.g. from a worktree).
SHARED_DATA = Path(os.environ.get("ACTIONSTREAM_TEST_DATA", ROOT.parent / "shared" / "data"))
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real videos, images, the seed checkpoint); skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not present at {SHARED_DATA} (see ../shared/data/README.md)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave files worth looking at (screenshots, plots); kept after the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
