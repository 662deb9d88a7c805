"""Prometheus config, alert rules and their unit tests, checked with promtool."""

from __future__ import annotations

import re
import subprocess

import yaml

from service.outputs.metrics import LATENCY_BUCKETS, Metrics
from tests.deploy.conftest import DEPLOY

PROM = DEPLOY / "prometheus"
# actionstream_* metric names, not the tails of recording rules (camera:actionstream_...:ratio).
METRIC_NAME = re.compile(r"(?<![:\w])actionstream_[a-z0-9_]+")


def _promtool(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60, check=False)


def exposed_names() -> set[str]:
    """Every sample name the real Metrics class exposes once a camera and labels exist."""
    m = Metrics()
    m.init_camera("cam0")
    m.init_labels(["cam0"], ["JUMPING"])
    m.frames_dropped.labels(camera="cam0", reason="queue_full").inc()
    m.events_dropped.labels(reason="queue_full").inc()
    m.end_to_end_latency.labels(camera="cam0").observe(0.1)
    m.source_fps.labels(camera="cam0").set(25)
    text = m.render().decode()
    return {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")
    }


def test_prometheus_config_is_valid(promtool: str) -> None:
    result = _promtool(promtool, "check", "config", str(PROM / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_alert_rules_are_valid(promtool: str) -> None:
    result = _promtool(promtool, "check", "rules", str(PROM / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rule_unit_tests_pass(promtool: str) -> None:
    tests = sorted((PROM / "tests").glob("*.yml"))
    assert tests, "no rule unit tests in deploy/prometheus/tests"
    result = _promtool(promtool, "test", "rules", *map(str, tests))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_unit_test() -> None:
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    fired = set()
    for path in (PROM / "tests").glob("*.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    fired.add(check["alertname"])
    assert alerts == fired, f"alerts without a firing test: {sorted(alerts - fired)}"
    assert {
        "ActionstreamServiceDown",
        "ActionstreamCameraOffline",
        "ActionstreamFramesDropped",
        "ActionstreamLatencySLOBurnFast",
        "ActionstreamLatencySLOBurnSlow",
        "ActionstreamNoActionEvents",
        "ActionstreamWorkerErrors",
    } <= alerts


def test_rules_use_only_metrics_the_service_exposes() -> None:
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())
    used = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            used |= set(METRIC_NAME.findall(rule["expr"]))
    assert used, "no actionstream metric found in the rules"
    assert used <= exposed_names(), f"unknown metrics: {sorted(used - exposed_names())}"


def test_latency_slo_threshold_is_a_histogram_bucket() -> None:
    text = (PROM / "alerts.yml").read_text()
    bounds = {float(b) for b in re.findall(r'le="([0-9.]+)"', text)}
    assert bounds == {0.5}
    assert bounds <= set(LATENCY_BUCKETS)
