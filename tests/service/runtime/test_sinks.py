"""Sinks: every sink gets every result; one that raises is logged, counted and isolated."""

from __future__ import annotations

import pytest

from service.outputs.metrics import Metrics
from service.runtime.sinks import Sinks


def test_a_failing_sink_is_logged_counted_and_isolated(caplog: pytest.LogCaptureFixture) -> None:
    got: list[int] = []

    def broken(item: int) -> None:
        raise RuntimeError(f"broken on {item}")

    metrics = Metrics()
    sinks = Sinks([("broken sink", broken), ("recorder", got.append)], metrics)
    for i in range(5):
        sinks(i)
    assert got == [0, 1, 2, 3, 4], "the sink after the broken one still got everything"
    assert sinks.failures == {"broken sink": 5}
    assert metrics.registry.get_sample_value("actionstream_worker_errors_total", {"stage": "publish"}) == 5
    logged = [r for r in caplog.records if "broken sink failed" in r.getMessage()]
    assert len(logged) == 1 and "broken on 0" in caplog.text, "logged once (rate-limited), with the traceback"
