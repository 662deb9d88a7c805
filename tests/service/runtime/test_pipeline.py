"""The pipeline with test doubles passed in: stride under load, ordering, isolation of cameras,
survival of per-frame errors, lossless files. Real capture threads and queues; fake camera and
pose model (their speeds are what these tests control)."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest
import zmq

from capture.state import SourceState
from service.config import AppConfig
from service.engine.analyzer import FrameResult
from service.outputs.events import ActionEvent, StatusEvent
from service.outputs.metrics import Metrics
from service.outputs.publisher import Publisher
from service.runtime.pipeline import Pipeline, PipelineError
from tests.service.doubles import SyntheticCamera, TimedBackend, random_classifier


def _config(cameras: list[str], **sections: Any) -> AppConfig:
    data: dict[str, Any] = {
        "cameras": [
            {"id": c, "source": f"synthetic:{c}", "queue_size": 4, "stall_timeout_s": 1.0} for c in cameras
        ],
        "segments": {"enter_threshold": 0.0, "exit_threshold": 0.0, "min_windows": 1},
        "pipeline": {"classify_hop_s": 0.1},
    }
    for k, v in sections.items():
        data.setdefault(k, {}).update(v)
    return AppConfig.model_validate(data)


class Harness:
    def __init__(
        self,
        config: AppConfig,
        sources: dict[str, SyntheticCamera],
        backend: TimedBackend,
        metrics: Metrics | None = None,
        also_publish: Any = None,
    ) -> None:
        self.events: list[Any] = []
        self.lock = threading.Lock()
        self.metrics = metrics or Metrics()
        self.also_publish = also_publish
        self.stop = threading.Event()
        self.sources = sources
        self.pipeline = Pipeline(
            config,
            metrics=self.metrics,
            on_result=self._result,
            on_status=self._publish,
            backend_factory=lambda: backend,
            classifier_factory=random_classifier,
            stop_event=self.stop,
            source_opener=lambda spec, camera_id, options: sources[camera_id],
        )

    def _result(self, result: FrameResult) -> None:
        for event in result.events:
            self._publish(event)

    def _publish(self, event: Any) -> None:
        if self.also_publish is not None:
            self.also_publish(event)
        event = event.stamped() if hasattr(event, "stamped") else event
        with self.lock:
            self.events.append(event)

    def run_for(self, seconds: float) -> None:
        self.pipeline.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.pipeline.finished():
            time.sleep(0.1)
            self.pipeline.sync_metrics()
        assert self.pipeline.stop(timeout=3.0)

    def value(self, name: str, **labels: str) -> float:
        v = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if v is None else v

    def actions(self, camera: str) -> list[ActionEvent]:
        return [e for e in self.events if isinstance(e, ActionEvent) and e.camera == camera]

    def states(self, camera: str) -> list[str]:
        return [e.state for e in self.events if isinstance(e, StatusEvent) and e.camera == camera]


@pytest.mark.slow
def test_fast_backend_processes_every_frame() -> None:
    src = SyntheticCamera("a", fps=15)
    h = Harness(_config(["a"]), {"a": src}, TimedBackend(cost_s=0.002))
    h.run_for(4.0)
    captured = h.value("actionstream_frames_captured_total", camera="a")
    processed = h.value("actionstream_frames_processed_total", camera="a")
    assert captured >= 40
    assert h.value("actionstream_frames_skipped_total", camera="a") == 0
    assert h.value("actionstream_frames_dropped_total", camera="a", reason="queue_full") == 0
    # Every frame captured was processed, but for those still queued when the test stopped.
    assert captured - 4 <= processed <= captured
    assert h.value("actionstream_frame_stride", camera="a") == 1
    assert h.actions("a"), "windows were classified and published"
    for stage in ("decode", "pose", "classify"):
        assert h.value("actionstream_stage_latency_seconds_count", stage=stage) > 0, stage


@pytest.mark.slow
def test_slow_backend_raises_stride_and_keeps_latency_bounded() -> None:
    src = SyntheticCamera("a", fps=30)
    h = Harness(_config(["a"]), {"a": src}, TimedBackend(cost_s=0.1))  # 10 fps model, 30 fps camera
    h.run_for(5.0)
    stride = h.value("actionstream_frame_stride", camera="a")
    assert stride >= 3
    assert h.value("actionstream_frames_skipped_total", camera="a") > 0
    latencies = [e.latency_s for e in h.actions("a") if e.latency_s is not None]
    assert latencies, "events carry capture-to-publish latency"
    # Without the stride, the queue (4 frames) would add ~0.4 s on top of the 0.1 s model.
    assert float(np.percentile(latencies[len(latencies) // 2 :], 90)) < 0.35


@pytest.mark.slow
def test_events_of_a_camera_leave_in_capture_order() -> None:
    sources = {c: SyntheticCamera(c, fps=30) for c in ("a", "b", "c")}
    h = Harness(_config(list(sources), pipeline={"workers_per_device": 2}), sources, TimedBackend(0.005))
    h.run_for(3.0)
    for cam in sources:
        seqs = [e.frame_seq for e in h.actions(cam)]
        assert seqs, f"camera {cam} produced events"
        assert seqs == sorted(seqs)


@pytest.mark.slow
def test_one_camera_going_down_does_not_disturb_the_other() -> None:
    sources = {"up": SyntheticCamera("up", fps=10), "down": SyntheticCamera("down", fps=10, fail_after=10)}
    h = Harness(_config(["up", "down"]), sources, TimedBackend(cost_s=0.005))
    h.run_for(5.0)
    down_states = h.states("down")
    assert SourceState.ONLINE.value in down_states
    assert {SourceState.STALLED.value, SourceState.RECONNECTING.value} & set(down_states)
    assert sources["down"].opens >= 2, "the failed camera is being reopened"
    # The healthy camera never left ONLINE (until the stop) and was served all along.
    assert h.states("up") == ["connecting", "online", "offline"]  # offline: the stop at the end
    captured = h.value("actionstream_frames_captured_total", camera="up")
    processed = h.value("actionstream_frames_processed_total", camera="up")
    skipped = h.value("actionstream_frames_skipped_total", camera="up")
    dropped = h.value("actionstream_frames_dropped_total", camera="up", reason="queue_full")
    assert captured >= 40
    assert processed >= 20
    assert processed + skipped + dropped >= captured - 4, "every frame of the healthy camera is accounted for"
    seqs = [e.frame_seq for e in h.actions("up")]
    assert seqs and max(seqs) >= captured - 10, "events for the healthy camera kept coming to the end"


@pytest.mark.slow
def test_an_exception_on_a_frame_is_counted_and_the_pipeline_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    src = SyntheticCamera("a", fps=30)
    h = Harness(_config(["a"]), {"a": src}, TimedBackend(cost_s=0.002, fail_every=10))
    h.run_for(2.5)
    errors = h.value("actionstream_worker_errors_total", stage="pose")
    processed = h.value("actionstream_frames_processed_total", camera="a")
    assert errors >= 3
    assert processed >= 5 * errors
    assert "synthetic failure" in caplog.text and "Traceback" in caplog.text


@pytest.mark.slow
def test_a_file_is_processed_losslessly_and_then_finishes() -> None:
    src = SyntheticCamera("f", live=False, total_frames=90, fps=30)
    h = Harness(_config(["f"]), {"f": src}, TimedBackend(cost_s=0.004))
    h.run_for(20.0)
    assert h.pipeline.finished()
    assert h.value("actionstream_frames_processed_total", camera="f") == 90
    assert h.value("actionstream_frames_skipped_total", camera="f") == 0
    assert h.states("f")[-1] == SourceState.ENDED.value


@pytest.mark.slow
def test_a_subscriber_that_never_reads_does_not_slow_the_pipeline() -> None:
    """Real ZeroMQ: a SUB socket that connects and never reads, with a pose event per frame."""
    ratios = {}
    for stuck in (False, True):
        metrics = Metrics()
        publisher = Publisher("tcp://127.0.0.1:*", sndhwm=10, metrics=metrics, queue_size=100)
        publisher.start()
        ctx = zmq.Context.instance()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 1)
        sub.setsockopt(zmq.LINGER, 0)
        if stuck:
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            assert publisher.endpoint
            sub.connect(publisher.endpoint)
        try:
            h = Harness(
                _config(["a"], zmq={"publish_poses": True}),
                {"a": SyntheticCamera("a", fps=15)},
                TimedBackend(cost_s=0.002),
                metrics=metrics,
                also_publish=publisher.publish_event,
            )
            h.run_for(4.0)
        finally:
            publisher.close(linger=0.2)
            sub.close()
        captured = h.value("actionstream_frames_captured_total", camera="a")
        ratios[stuck] = h.value("actionstream_frames_processed_total", camera="a") / captured
        assert publisher.published > 0
    assert ratios[False] >= 0.9
    assert ratios[True] >= 0.9


def test_a_bad_source_is_a_config_error_naming_the_camera(tmp_path) -> None:
    cfg = AppConfig.model_validate({"cameras": [{"id": "door", "source": str(tmp_path / "missing.mp4")}]})
    with pytest.raises(PipelineError, match="camera 'door'"):
        Pipeline(
            cfg,
            metrics=Metrics(),
            on_result=lambda r: None,
            on_status=lambda e: None,
            backend_factory=TimedBackend,
            classifier_factory=random_classifier,
            stop_event=threading.Event(),
        )
