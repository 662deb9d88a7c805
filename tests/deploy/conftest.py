"""Fixtures for the deploy tests: paths, promtool, and one real Prometheus scraping a fake target."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.fake_target import FakeMetricsTarget
from tests.prometheus_server import PrometheusServer, find_prometheus

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="session")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (apt-get install prometheus, scripts/install-system-deps.sh)")
    return found


@pytest.fixture(scope="module")
def fake_target() -> Iterator[FakeMetricsTarget]:
    target = FakeMetricsTarget()
    target.start()
    yield target
    target.stop()


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, fake_target: FakeMetricsTarget
) -> Iterator[PrometheusServer]:
    """A real Prometheus process scraping the fake target every 0.5 s, with the deploy rule file loaded.

    One per module: Prometheus applies new scrape targets only every 5 s, so each start costs that.
    """
    if find_prometheus() is None:
        pytest.skip(
            "prometheus is not installed (apt-get install prometheus, scripts/install-system-deps.sh)"
        )
    server = PrometheusServer(
        tmp_path_factory.mktemp("prometheus"),
        targets=[fake_target.address],
        scrape_interval_s=0.5,
        rule_files=[DEPLOY / "prometheus" / "alerts.yml"],
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
