"""The console sink: one line per segment start and end and per state change, the summary read
from the metrics; and the same lines from a whole Service on a file (test doubles for the models)."""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import datetime

import pytest

from service.app.serve import Service
from service.config import AppConfig
from service.outputs.events import ActionEvent, StatusEvent
from service.outputs.metrics import Metrics
from service.runtime.console import ConsoleLog
from tests.service.doubles import SyntheticCamera, TimedBackend, random_classifier

LOGGER = "service.runtime.console"


def _action(
    kind: str, *, start: float, end: float, pts: float, conf: float = 0.93, **kw: object
) -> ActionEvent:
    probs = {"WAVING_2HANDS": conf, "BOXING": 1.0 - conf} if kind != "end" else {}
    return ActionEvent(
        type=kind,  # type: ignore[arg-type]
        camera="cam0",
        track_id=1,
        label="WAVING_2HANDS",
        confidence=conf,
        probabilities=probs,
        window_start_pts=start,
        window_end_pts=end,
        frame_seq=int(pts * 10),
        pts=pts,
        **kw,  # type: ignore[arg-type]
    )


def _lines(caplog: pytest.LogCaptureFixture, level: int | None = None) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == LOGGER and (level is None or r.levelno == level)
    ]


def test_segment_start_and_end_of_a_file_in_source_seconds(caplog: pytest.LogCaptureFixture) -> None:
    console = ConsoleLog(["cam0"], Metrics())
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        console.on_action(_action("start", start=4.8, end=6.3, pts=6.3))
        console.on_action(_action("update", start=5.0, end=6.5, pts=6.5, conf=0.9))
        console.on_action(_action("end", start=4.8, end=12.3, pts=13.1, conf=0.91))
    assert _lines(caplog, logging.INFO) == [
        "cam0 person 1: WAVING_2HANDS started at 4.8 s (0.93)",
        "cam0 person 1: WAVING_2HANDS ended at 12.3 s after 7.5 s (mean 0.91)",
    ]
    assert _lines(caplog, logging.DEBUG) == ["cam0 person 1: WAVING_2HANDS 0.90 at 6.5 s"]


def test_a_live_camera_tells_wall_clock_times(caplog: pytest.LogCaptureFixture) -> None:
    console = ConsoleLog(["cam0"], Metrics())
    console.live = frozenset({"cam0"})
    # The event's frame was read 1 s ago; the segment began 1.5 s of stream time before that frame.
    read_at = time.monotonic() - 1.0
    expected = time.time() - 2.5
    with caplog.at_level(logging.INFO, logger=LOGGER):
        console.on_action(_action("start", start=6170.8, end=6172.3, pts=6172.3, capture_time=read_at))
    (line,) = _lines(caplog)
    m = re.fullmatch(r"cam0 person 1: WAVING_2HANDS started at (\d\d:\d\d:\d\d\.\d) \(0\.93\)", line)
    assert m, line
    told = datetime.strptime(m.group(1), "%H:%M:%S.%f").time()
    want = datetime.fromtimestamp(expected)
    told_s = told.hour * 3600 + told.minute * 60 + told.second + told.microsecond / 1e6
    want_s = want.hour * 3600 + want.minute * 60 + want.second + want.microsecond / 1e6
    assert abs((told_s - want_s + 43200) % 86400 - 43200) < 0.3, (line, want)


def test_each_state_change_once_its_reason_only_when_new(caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    console = ConsoleLog(["cam0", "cam1"], Metrics(), stop_event=stop)
    stall = "no frame for 3.0 s (stall timeout 3 s)"
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for camera, state, reason in [
            ("cam0", "connecting", "opening"),
            ("cam1", "connecting", "opening"),
            ("cam0", "online", "receiving 420x420 at 10.0 fps"),
            ("cam0", "stalled", stall),
            ("cam0", "reconnecting", stall),  # the same cause: not said twice
            ("cam1", "offline", "cannot open rtsp://***:***@10.0.0.9/x: connection refused; retrying"),
            ("cam0", "online", "receiving 420x420 at 10.0 fps"),
        ]:
            console.on_status(StatusEvent(camera=camera, state=state, reason=reason))
        stop.set()
        console.on_status(StatusEvent(camera="cam0", state="offline", reason="capture stopped"))
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LOGGER]
    assert lines == [
        ("INFO", "cam0 connecting: opening"),
        ("INFO", "cam1 connecting: opening"),
        ("INFO", "cam0 online: receiving 420x420 at 10.0 fps"),
        ("WARNING", f"cam0 stalled: {stall}"),
        ("WARNING", "cam0 reconnecting"),
        ("WARNING", "cam1 offline: cannot open rtsp://***:***@10.0.0.9/x: connection refused; retrying"),
        ("INFO", "cam0 online: receiving 420x420 at 10.0 fps"),
        ("INFO", "cam0 offline: capture stopped"),  # while stopping: expected, not a warning
    ]


def test_summary_per_camera_from_the_metrics(caplog: pytest.LogCaptureFixture) -> None:
    m = Metrics()
    for cam in ("cam0", "cam1"):
        m.init_camera(cam)
    m.init_labels(["cam0", "cam1"], ["WAVING_2HANDS", "BOXING"])
    m.frames_captured.labels(camera="cam0").inc(150)
    m.frames_processed.labels(camera="cam0").inc(53)
    m.frames_skipped.labels(camera="cam0").inc(84)
    m.frames_dropped.labels(camera="cam0", reason="queue_full").inc(12)
    m.frames_dropped.labels(camera="cam0", reason="stopped").inc(1)
    for kind, label, n in [
        ("start", "WAVING_2HANDS", 2),
        ("end", "WAVING_2HANDS", 2),
        ("update", "BOXING", 5),
    ]:
        m.events_published.labels(camera="cam0", type=kind, label=label).inc(n)
    m.events_published.labels(camera="cam0", type="status", label="online").inc(3)
    m.frames_captured.labels(camera="cam1").inc(7)
    m.events_dropped.labels(reason="queue_full").inc(4)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        lines = ConsoleLog(["cam0", "cam1"], m).summary()
    assert lines == [
        "cam0: 150 frames captured, 53 processed, 84 skipped, 13 dropped (queue_full 12, stopped 1); "
        "12 events published (2 start, 2 end, 5 update, 3 status)",
        "cam1: 7 frames captured, 0 processed, 0 skipped, 0 dropped; 0 events published",
        "4 events dropped (queue_full 4)",
    ]
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LOGGER] == [
        ("INFO", lines[0]),
        ("INFO", lines[1]),
        ("WARNING", lines[2]),
    ]


def _file_config() -> AppConfig:
    return AppConfig.model_validate(
        {
            "cameras": [{"id": "cam0", "source": "synthetic:cam0"}],
            # A segment starts at the first window: the random model keeps it or changes its label.
            "segments": {"enter_threshold": 0.0, "exit_threshold": 0.0, "min_windows": 1, "exit_windows": 1},
            "pipeline": {"classify_hop_s": 0.1},
            "zmq": {"bind": "tcp://127.0.0.1:*"},
            "http": {"port": 0},
            "web": {"enabled": False},
        }
    )


def test_service_on_a_file_says_its_segments_states_and_a_summary(caplog: pytest.LogCaptureFixture) -> None:
    source = SyntheticCamera("cam0", fps=30, live=False, total_frames=60)
    service = Service(
        _file_config(),
        backend_factory=lambda *_: TimedBackend(),  # (device) on the worker-pool branch
        classifier_factory=random_classifier,
        source_opener=lambda spec, camera_id, options: source,
    )
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert service.run() == 0
    lines = _lines(caplog)
    value = service.metrics.registry.get_sample_value
    starts = [s for s in lines if " started at " in s]
    ends = [s for s in lines if " ended at " in s]
    assert starts and len(starts) == len(ends), lines
    assert len(starts) == sum(
        value("actionstream_events_published_total", {"camera": "cam0", "type": "start", "label": label}) or 0
        for label in service.pipeline.analysis.labels
    )
    assert all(
        re.fullmatch(r"cam0 person \d+: [A-Z_0-9]+ started at \d+\.\d s \(\d\.\d\d\)", s) for s in starts
    )
    assert [s for s in lines if not (s in starts or s in ends)][:-1] == [
        "cam0 connecting: opening",
        "cam0 online: receiving 64x48 at 30.0 fps",
        "cam0 ended: end of file after 60 frames",
    ]
    summary = lines[-1]
    assert summary.startswith("cam0: 60 frames captured, 60 processed, 0 skipped, 0 dropped; "), summary
    published = re.search(
        r"; (\d+) events published \((\d+) start, (\d+) end, (?:\d+ update, )?3 status\)$", summary
    )
    assert published, summary
    assert int(published.group(2)) == int(published.group(3)) == len(starts), summary
    total = sum(
        s.value for s in service.metrics.events_published.collect()[0].samples if s.name.endswith("_total")
    )
    assert int(published.group(1)) == total
