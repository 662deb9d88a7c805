"""Metric names and exposition: parse with prometheus_client's own text parser."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from service.outputs.metrics import CAMERA_STATES, LATENCY_BUCKETS, STAGES, Metrics

EXPECTED = {
    "actionstream_frames_captured": "counter",
    "actionstream_frames_processed": "counter",
    "actionstream_frames_skipped": "counter",
    "actionstream_frames_dropped": "counter",
    "actionstream_queue_depth": "gauge",
    "actionstream_source_frames_per_second": "gauge",
    "actionstream_frame_stride": "gauge",
    "actionstream_reconnects": "counter",
    "actionstream_camera_up": "gauge",
    "actionstream_camera_state": "gauge",
    "actionstream_events_published": "counter",
    "actionstream_windows_decided": "counter",
    "actionstream_events_dropped": "counter",
    "actionstream_publish_queue_depth": "gauge",
    "actionstream_subscribers": "gauge",
    "actionstream_stage_latency_seconds": "histogram",
    "actionstream_end_to_end_latency_seconds": "histogram",
    "actionstream_worker_errors": "counter",
    "actionstream_model_loaded": "gauge",
    "actionstream_build_info": "gauge",
}


def exercised() -> Metrics:
    m = Metrics()
    m.init_camera("cam0")
    m.init_labels(["cam0"], ["BOXING", "WAVING_1HAND"])
    m.frames_captured.labels(camera="cam0").inc(3)
    m.frames_dropped.labels(camera="cam0", reason="queue_full").inc()
    m.source_fps.labels(camera="cam0").set(25)
    m.events_dropped.labels(reason="queue_full").inc()
    m.end_to_end_latency.labels(camera="cam0").observe(0.3)
    m.set_camera_state("cam0", "online")
    m.model_loaded.set(1)
    return m


def test_every_metric_parses_with_the_prometheus_parser() -> None:
    text = exercised().render().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    types = {name: f.type for name, f in families.items() if name.startswith("actionstream_")}
    assert types == EXPECTED
    for f in families.values():
        assert f.name.startswith("actionstream_") and f.documentation
        for s in f.samples:
            if f.type == "counter":
                assert s.name.endswith("_total"), s.name
            assert set(s.labels) <= {
                "camera",
                "stage",
                "reason",
                "label",
                "type",
                "state",
                "le",
                "version",
                "python",
            }


def test_histograms_cover_1ms_to_2s() -> None:
    assert LATENCY_BUCKETS[0] == 0.001 and LATENCY_BUCKETS[-1] == 2.0
    text = exercised().render().decode()
    fam = next(
        f for f in text_string_to_metric_families(text) if f.name == "actionstream_stage_latency_seconds"
    )
    stages = {s.labels["stage"] for s in fam.samples}
    assert stages == set(STAGES)


def test_camera_state_is_one_hot_and_drives_camera_up() -> None:
    m = exercised()
    values = {s: m.camera_state.labels(camera="cam0", state=s)._value.get() for s in CAMERA_STATES}
    assert values["online"] == 1 and sum(values.values()) == 1
    assert m.camera_up.labels(camera="cam0")._value.get() == 1
    m.set_camera_state("cam0", "RECONNECTING")
    assert m.camera_up.labels(camera="cam0")._value.get() == 0
    with pytest.raises(ValueError, match="camera state must be one of"):
        m.set_camera_state("cam0", "asleep")


def test_registries_are_independent_and_not_global() -> None:
    a, b = Metrics(), Metrics()
    a.frames_captured.labels(camera="x").inc(5)
    assert b.frames_captured.labels(camera="x")._value.get() == 0
    assert REGISTRY.get_sample_value("actionstream_frames_captured_total", {"camera": "x"}) is None


def test_promtool_lint_is_clean() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (apt-get install prometheus)")
    res = subprocess.run(
        [promtool, "check", "metrics"],
        input=exercised().render(),
        check=False,
        capture_output=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == b"" and res.stderr.strip() == b""
