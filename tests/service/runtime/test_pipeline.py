"""The pipeline with test doubles passed in: stride under load, frames of one camera spread over the
pose workers and put back in order, per-camera state for stateful backends, batches across cameras,
isolation of cameras, survival of per-frame errors and of a dead worker, lossless files. Real capture
threads and queues; fake camera and pose model. Assertions are on counts, order and direction, never
on how fast anything ran."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
import torch
import zmq

from capture.state import SourceState
from service.config import AppConfig
from service.engine.analyzer import FrameResult
from service.outputs.events import ActionEvent, StatusEvent
from service.outputs.metrics import Metrics
from service.outputs.publisher import Publisher
from service.runtime.pipeline import Pipeline, PipelineError, workers_per_device
from tests.service.doubles import StatefulBackend, SyntheticCamera, TimedBackend, random_classifier


def _config(cameras: list[str], queue_size: int = 4, **sections: Any) -> AppConfig:
    data: dict[str, Any] = {
        "cameras": [
            {"id": c, "source": f"synthetic:{c}", "queue_size": queue_size, "stall_timeout_s": 1.0}
            for c in cameras
        ],
        "segments": {"enter_threshold": 0.0, "exit_threshold": 0.0, "min_windows": 1},
        "pipeline": {"classify_hop_s": 0.1},
    }
    for k, v in sections.items():
        data.setdefault(k, {}).update(v)
    return AppConfig.model_validate(data)


class FakeClock:
    """Moves on by ``step`` seconds per reading: a worker reads it before and after each call."""

    def __init__(self, step: float) -> None:
        self._lock = threading.Lock()
        self._t = 0.0
        self.step = step

    def __call__(self) -> float:
        with self._lock:
            self._t += self.step
            return self._t


class Harness:
    def __init__(
        self,
        config: AppConfig,
        sources: dict[str, SyntheticCamera],
        backend: TimedBackend | Any,
        *,
        metrics: Metrics | None = None,
        also_publish: Any = None,
        pose_call_s: float | None = None,
    ) -> None:
        """``backend``: one instance every worker shares, or a factory (a new instance per call).
        ``pose_call_s``: every pose call is timed as taking exactly this long (a fake clock), so the
        plans made from those times do not depend on how busy the machine is."""
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
            backend_factory=(lambda device: backend)
            if isinstance(backend, TimedBackend)
            else (lambda device: backend()),
            classifier_factory=random_classifier,
            stop_event=self.stop,
            source_opener=lambda spec, camera_id, options: sources[camera_id],
            **({} if pose_call_s is None else {"clock": FakeClock(pose_call_s)}),
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
    """Pose calls timed at 1 ms (fake clock) for a 15 fps camera: nothing is skipped. The latency
    loop is set out of reach and the queue holds 4 s of frames, so a stall of a busy machine can
    neither raise the stride nor drop a frame."""
    src = SyntheticCamera("a", fps=15)
    config = _config(["a"], queue_size=60, pipeline={"target_latency_s": 30.0})
    h = Harness(config, {"a": src}, TimedBackend(cost_s=0.002), pose_call_s=0.001)
    threads = torch.get_num_threads()
    h.run_for(4.0)
    assert torch.get_num_threads() == threads, "torch's threads are back as they were after the stop"
    captured = h.value("actionstream_frames_captured_total", camera="a")
    processed = h.value("actionstream_frames_processed_total", camera="a")
    assert captured >= 40
    assert h.value("actionstream_frames_skipped_total", camera="a") == 0
    assert h.value("actionstream_frames_dropped_total", camera="a", reason="queue_full") == 0
    # Every frame captured was processed, but for those still in flight when the test stopped: in the
    # camera's queue, in a pose call (one per worker), returned but not yet analysed.
    queued = h.pipeline.cameras[0].frames.qsize()
    assert captured - queued - 8 <= processed <= captured
    assert h.value("actionstream_frame_stride", camera="a") == 1
    assert h.actions("a"), "windows were classified and published"
    for stage in ("decode", "pose", "classify"):
        assert h.value("actionstream_stage_latency_seconds_count", stage=stage) > 0, stage


@pytest.mark.slow
def test_slow_backend_raises_stride() -> None:
    """One worker with a 10 frames/s model and a 30 fps camera: a stride of 3 or more (30 / 10 /
    0.85 headroom; a loaded machine only makes the model slower), frames skipped and counted."""
    src = SyntheticCamera("a", fps=30)
    config = _config(["a"], pipeline={"workers_per_device": 1})
    h = Harness(config, {"a": src}, TimedBackend(cost_s=0.1))
    h.run_for(5.0)
    assert h.value("actionstream_frame_stride", camera="a") >= 3
    captured = h.value("actionstream_frames_captured_total", camera="a")
    processed = h.value("actionstream_frames_processed_total", camera="a")
    skipped = h.value("actionstream_frames_skipped_total", camera="a")
    dropped = h.value("actionstream_frames_dropped_total", camera="a", reason="queue_full")
    assert skipped > processed, "most frames are skipped on purpose, not dropped by a full queue"
    # Every frame is accounted for, but for those in flight at the stop (queue, pose call, analysis).
    assert processed + skipped + dropped >= captured - 10
    assert all(e.latency_s is not None for e in h.actions("a")), "events carry capture-to-publish latency"


@pytest.mark.slow
def test_one_cameras_frames_spread_over_the_workers_and_come_back_in_order() -> None:
    src = SyntheticCamera("a", fps=30)
    backend = TimedBackend(cost_s=0.04)  # one worker could not keep up with 30 fps; two nearly can
    h = Harness(_config(["a"], pipeline={"workers_per_device": 2}), {"a": src}, backend)
    h.run_for(4.0)
    workers = {thread for thread, _ in backend.log}
    assert workers == {"pose-auto-0", "pose-auto-1"}, "both workers ran the camera's frames"
    seqs = [e.frame_seq for e in h.actions("a")]
    assert seqs and seqs == sorted(seqs), "results left in capture order"
    assert h.value("actionstream_frames_dropped_total", camera="a", reason="lost") == 0


@pytest.mark.slow
def test_a_stateful_backend_gets_one_instance_per_camera_in_each_worker() -> None:
    """Each instance sees the frames of one camera only, in capture order (a subsequence of them)."""
    instances: list[StatefulBackend] = []

    def build() -> StatefulBackend:
        instances.append(StatefulBackend(cost_s=0.01))
        return instances[-1]

    sources = {
        "a": SyntheticCamera("a", fps=30, size=(64, 48)),
        "b": SyntheticCamera("b", fps=30, size=(80, 60)),
    }
    h = Harness(_config(["a", "b"], pipeline={"workers_per_device": 2}), sources, build)
    h.run_for(3.0)
    used = [b for b in instances if b.log]
    assert 2 <= len(used) <= 4
    for backend in used:
        frames = [f for _, images in backend.log for f in images]
        assert all(len(images) == 1 for _, images in backend.log), "one frame per call"
        assert len({width for _, width in frames}) == 1, "one camera per instance"
        assert len({thread for thread, _ in backend.log}) == 1, "one worker per instance"
        counters = [counter for counter, _ in frames]
        assert counters == sorted(counters), "in capture order"


@pytest.mark.slow
def test_a_batching_backend_gets_frames_of_several_cameras_in_one_call() -> None:
    sources = {c: SyntheticCamera(c, fps=30) for c in ("a", "b", "c", "d")}
    backend = TimedBackend(cost_s=0.03)  # 30 ms per call whatever its size: batches pay
    config = _config(
        list(sources), pipeline={"workers_per_device": 1}, pose={"batch_budget_s": 0.1, "batch_size": 8}
    )
    h = Harness(config, sources, backend)
    h.run_for(4.0)
    sizes = [len(images) for _, images in backend.log]
    assert max(sizes) > 1 and max(sizes) <= 8
    assert sum(sizes) > len(sizes), "most calls ran more than one frame"
    for cam in sources:
        seqs = [e.frame_seq for e in h.actions(cam)]
        assert seqs and seqs == sorted(seqs)


@pytest.mark.slow
def test_several_devices_each_get_their_workers_and_share_the_cameras() -> None:
    """``pose.device: cuda:0,cuda:1`` with one worker per device: each worker's backend is built for its
    device, and both take frames (of both cameras). A fake backend: no GPU is needed to wire it."""
    built: list[str] = []
    backend = TimedBackend(cost_s=0.03)

    def build(device: str) -> TimedBackend:
        built.append(device)
        return backend

    sources = {c: SyntheticCamera(c, fps=30) for c in ("a", "b")}
    config = _config(list(sources), pose={"device": "cuda:0,cuda:1"}, pipeline={"workers_per_device": 1})
    stop = threading.Event()
    pipeline = Pipeline(
        config,
        metrics=Metrics(),
        on_result=lambda r: None,
        on_status=lambda e: None,
        backend_factory=build,
        classifier_factory=random_classifier,
        stop_event=stop,
        source_opener=lambda spec, camera_id, options: sources[camera_id],
    )
    assert [w.name for w in pipeline.pose_workers] == ["pose-cuda:0-0", "pose-cuda:1-0"]
    pipeline.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len({t for t, _ in backend.log}) < 2:
            time.sleep(0.1)
    finally:
        assert pipeline.stop(timeout=3.0)
    assert sorted(built) == ["cuda:0", "cuda:1"]
    assert {thread for thread, _ in backend.log} == {"pose-cuda:0-0", "pose-cuda:1-0"}


class WorkerKilled(BaseException):
    """Not an Exception: nothing in the worker catches it, so its thread dies holding its frames."""


class DiesOnce(TimedBackend):
    died = threading.Event()

    def infer(self, images: Any) -> Any:
        if self.calls >= 20 and not DiesOnce.died.is_set():
            DiesOnce.died.set()
            raise WorkerKilled("the worker thread dies here")
        return super().infer(images)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_worker_never_leaves_its_camera_waiting() -> None:
    DiesOnce.died.clear()
    src = SyntheticCamera("a", fps=30)
    h = Harness(_config(["a"], pipeline={"workers_per_device": 2}), {"a": src}, lambda: DiesOnce(cost_s=0.01))
    h.pipeline.start()
    assert DiesOnce.died.wait(20.0)
    before = h.value("actionstream_frames_processed_total", camera="a")
    deadline = time.monotonic() + 20.0
    while (
        time.monotonic() < deadline
        and h.value("actionstream_frames_processed_total", camera="a") < before + 30
    ):
        time.sleep(0.1)
    assert not h.pipeline.workers_alive(), "the pipeline knows a worker died"
    assert h.pipeline.stop(timeout=3.0) is True
    assert h.value("actionstream_frames_processed_total", camera="a") >= before + 30, "the camera went on"
    assert h.value("actionstream_frames_dropped_total", camera="a", reason="lost") >= 1
    seqs = [e.frame_seq for e in h.actions("a")]
    assert seqs == sorted(seqs)


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
    """Real ZeroMQ: a SUB socket that connects and never reads, with a pose event per frame. The
    pipeline never waits on the publisher: with pose calls timed by a fake clock (so a busy machine
    cannot raise the stride) nothing is skipped or dropped, stuck subscriber or not, and every frame
    captured is processed but for those in flight at the stop."""
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
                _config(
                    ["a"], queue_size=60, zmq={"publish_poses": True}, pipeline={"target_latency_s": 30.0}
                ),
                {"a": SyntheticCamera("a", fps=15)},
                TimedBackend(cost_s=0.002),
                metrics=metrics,
                also_publish=publisher.publish_event,
                pose_call_s=0.001,
            )
            h.run_for(4.0)
        finally:
            publisher.close(linger=0.2)
            sub.close()
        captured = h.value("actionstream_frames_captured_total", camera="a")
        processed = h.value("actionstream_frames_processed_total", camera="a")
        assert h.value("actionstream_frames_skipped_total", camera="a") == 0, stuck
        assert h.value("actionstream_frames_dropped_total", camera="a", reason="queue_full") == 0, stuck
        assert processed >= captured - h.pipeline.cameras[0].frames.qsize() - 8, stuck
        assert publisher.published > 0


def test_a_bad_source_is_a_config_error_naming_the_camera(tmp_path) -> None:
    cfg = AppConfig.model_validate({"cameras": [{"id": "door", "source": str(tmp_path / "missing.mp4")}]})
    with pytest.raises(PipelineError, match="camera 'door'"):
        Pipeline(
            cfg,
            metrics=Metrics(),
            on_result=lambda r: None,
            on_status=lambda e: None,
            backend_factory=lambda device: TimedBackend(),
            classifier_factory=random_classifier,
            stop_event=threading.Event(),
        )


def test_workers_per_device_default_one_per_core_two_per_gpu() -> None:
    assert workers_per_device(3, "cpu") == 3 and workers_per_device(1, "cuda:0") == 1
    assert workers_per_device(None, "cuda:1") == 2
    assert workers_per_device(None, "cpu") == len(os.sched_getaffinity(0))
