"""Grafana dashboards: structure, metric names, and every query run through a real Prometheus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dashboards import (
    DEFAULT_VARIABLES,
    dashboard_exprs,
    dashboard_files,
    dashboard_queries,
    iter_panels,
    substitute,
)
from tests.deploy.fake_target import FakeMetricsTarget
from tests.deploy.test_prometheus_rules import METRIC_NAME, exposed_names
from tests.prometheus_server import (
    PrometheusServer,
    assert_every_dashboard_query_returns_data,
    assert_every_query_parses,
    query,
)

SCHEMA_VERSION = 39


def _dashboards() -> list[Path]:
    files = dashboard_files()
    assert files, "no dashboards in deploy/grafana/dashboards"
    return files


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_dashboard_structure(path: Path) -> None:
    board = json.loads(path.read_text())
    assert board["schemaVersion"] == SCHEMA_VERSION
    assert board["uid"] and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["camera"]["type"] == "query"
    assert variables["camera"]["multi"] and variables["camera"]["includeAll"]
    assert variables["camera"]["allValue"] == DEFAULT_VARIABLES["camera"]
    assert variables["datasource"]["type"] == "datasource"
    ids = []
    for panel in iter_panels(board["panels"]):
        ids.append(panel["id"])
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        targets = panel["targets"]
        assert targets, f"panel {panel['title']!r} has no query"
        assert len({t["refId"] for t in targets}) == len(targets)
        for target in targets:
            assert target["expr"].strip(), panel["title"]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_dashboards_cover_what_operators_need() -> None:
    exprs = "\n".join(e for p in _dashboards() for e in dashboard_exprs(p).values())
    for needle in (
        "actionstream_source_frames_per_second",
        "actionstream_frame_stride",
        "actionstream_frames_captured_total",
        "actionstream_frames_processed_total",
        "actionstream_frames_skipped_total",
        "actionstream_frames_dropped_total",
        "actionstream_queue_depth",
        "actionstream_reconnects_total",
        "actionstream_camera_state",
        "actionstream_events_published_total",
        "actionstream_worker_errors_total",
        "actionstream_publish_queue_depth",
        "actionstream_events_dropped_total",
        "histogram_quantile(0.5, sum by (stage, le) (rate(actionstream_stage_latency_seconds_bucket",
        "histogram_quantile(0.99, sum by (stage, le)",
        "histogram_quantile(0.95, sum by (camera, le) (rate(actionstream_end_to_end_latency_seconds_bucket",
    ):
        assert needle in exprs, needle
    assert '"$camera"' in exprs


def test_dashboard_queries_use_only_metrics_the_service_exposes() -> None:
    known = exposed_names()
    for path in _dashboards():
        text = path.read_text()
        used = set(METRIC_NAME.findall(text))
        assert used <= known, f"{path.name}: unknown metrics {sorted(used - known)}"


def test_every_template_variable_is_substituted() -> None:
    queries = dashboard_queries()
    assert len(queries) >= 20
    for name, expr in queries.items():
        assert "$" not in expr, f"{name}: {expr}"
    with pytest.raises(KeyError, match="unknown template variable"):
        substitute('up{x="$nope"}')
    assert substitute('rate(x{c=~"${camera}"}[$__rate_interval])') == 'rate(x{c=~".+"}[1m])'


@pytest.mark.slow
def test_every_dashboard_query_parses_in_prometheus(prometheus: PrometheusServer) -> None:
    assert_every_query_parses(prometheus.url, dashboard_queries())
    # The check is real: a broken expression is reported with Prometheus's parse error.
    with pytest.raises(AssertionError, match="bad_data"):
        assert_every_query_parses(prometheus.url, {"broken": "sum(rate(x[1m])"})


@pytest.mark.slow
def test_every_dashboard_query_returns_data_from_real_metric_names(
    prometheus: PrometheusServer, fake_target: FakeMetricsTarget
) -> None:
    prometheus.wait_for_targets_up()
    assert_every_dashboard_query_returns_data(prometheus.url, dashboard_queries(), timeout=20)
    # One camera selected, as Grafana substitutes it.
    only_gate = {**DEFAULT_VARIABLES, "camera": "gate"}
    assert_every_dashboard_query_returns_data(prometheus.url, dashboard_queries(only_gate), timeout=5)
    assert fake_target.scrapes >= 2


@pytest.mark.slow
def test_zero_fallbacks_show_cameras_without_drops(prometheus: PrometheusServer) -> None:
    """'lobby' never dropped a frame (no series): the panel shows it at 0 instead of no data."""
    prometheus.wait_for_targets_up()
    queries = dashboard_queries()
    (expr,) = [e for n, e in queries.items() if "/ Frames dropped /" in n]
    assert_every_dashboard_query_returns_data(prometheus.url, [expr], timeout=20)
    result = {r["metric"]["camera"]: float(r["value"][1]) for r in query(prometheus.url, expr)["result"]}
    assert set(result) == {"gate", "lobby"}
    assert result["lobby"] == 0 and result["gate"] > 0


@pytest.mark.slow
def test_returns_data_check_reports_queries_without_data(prometheus: PrometheusServer) -> None:
    with pytest.raises(AssertionError, match="1 queries returned no data"):
        assert_every_dashboard_query_returns_data(
            prometheus.url, {"missing": "actionstream_no_such_metric"}, timeout=0.5, poll_s=0.1
        )


@pytest.mark.slow
def test_recording_rules_compute_the_slow_share_from_real_metrics(prometheus: PrometheusServer) -> None:
    """Prometheus itself loads alerts.yml; on the fake's 4 observations per scrape (one over 0.5 s)
    the SLO recording rule gives 25 % slow events."""
    prometheus.wait_for_targets_up()
    name = "camera:actionstream_end_to_end_latency_slow:ratio_rate5m"
    assert_every_dashboard_query_returns_data(prometheus.url, [name], timeout=20, poll_s=0.25)
    (sample,) = query(prometheus.url, name)["result"]
    assert sample["metric"] == {"__name__": name, "camera": "gate"}
    assert float(sample["value"][1]) == pytest.approx(0.25)
