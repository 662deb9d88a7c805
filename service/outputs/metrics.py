"""Every Prometheus metric of the service, created in one place.

The metrics live in their own ``CollectorRegistry`` (not the process-global default), so a test or
an embedding program can build several services side by side. Build one ``Metrics`` at the entry
point and pass it down; code updates a metric where the event happens.

Labels stay low-cardinality: camera ids come from the config, stages and reasons are fixed sets,
action labels come from the model (six of them).
"""

from __future__ import annotations

import platform
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, disable_created_metrics
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from capture.state import SourceState
from inference.decision import REASONS

PREFIX = "actionstream"
STAGES: tuple[str, ...] = ("decode", "pose", "classify", "publish")
# ``events_published``'s label value for an update that names no known action (a model's own labels
# can never be "none": training reads ``none ...`` as the no-action label).
NO_ACTION_METRIC_LABEL = "none"
DROP_REASONS: tuple[str, ...] = ("queue_full", "subscriber_hwm")
CAMERA_STATES: tuple[str, ...] = tuple(state.value for state in SourceState)
# 1 ms .. 2 s, roughly x2-x2.5 per step: pose on CPU lands around 20-60 ms, end-to-end around 0.1-1 s.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.0,
)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The service's metrics in a dedicated registry; one instance per service."""

    def __init__(self, registry: CollectorRegistry | None = None, version: str = "0.1.0") -> None:
        # The `_created` timestamp series double the series count for nothing a dashboard uses
        # (process-wide setting of prometheus_client; must precede creating the metrics).
        disable_created_metrics()
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        p = PREFIX
        self.frames_captured = Counter(
            f"{p}_frames_captured", "Frames read from the source.", ["camera"], registry=r
        )
        self.frames_processed = Counter(
            f"{p}_frames_processed", "Frames that went through pose estimation.", ["camera"], registry=r
        )
        self.frames_skipped = Counter(
            f"{p}_frames_skipped", "Frames passed over by the adaptive stride.", ["camera"], registry=r
        )
        self.frames_dropped = Counter(
            f"{p}_frames_dropped",
            "Frames lost before processing (queue full, decode error, ...).",
            ["camera", "reason"],
            registry=r,
        )
        self.queue_depth = Gauge(
            f"{p}_queue_depth", "Frames waiting in the camera's capture queue.", ["camera"], registry=r
        )
        self.source_fps = Gauge(
            f"{p}_source_frames_per_second",
            "Frame rate of the source (measured, or declared by the container).",
            ["camera"],
            registry=r,
        )
        self.stride = Gauge(
            f"{p}_frame_stride",
            "Current adaptive stride: frames arriving per frame processed (1: all, 1.5: two in three).",
            ["camera"],
            registry=r,
        )
        self.reconnects = Counter(
            f"{p}_reconnects", "Times the source was reopened after a failure.", ["camera"], registry=r
        )
        self.camera_up = Gauge(
            f"{p}_camera_up",
            "1 while the camera delivers frames (state online), else 0.",
            ["camera"],
            registry=r,
        )
        self.camera_state = Gauge(
            f"{p}_camera_state",
            "1 for the camera's current state, 0 for the others.",
            ["camera", "state"],
            registry=r,
        )
        self.events_published = Counter(
            f"{p}_events_published",
            "Events sent on the ZeroMQ socket (label: action label, 'none' for an update that names no "
            "known action, or the state for status events).",
            ["camera", "type", "label"],
            registry=r,
        )
        self.windows_decided = Counter(
            f"{p}_windows_decided",
            "Windows classified, by the decision's reason (as in update events): action (names one "
            "of the model's labels), incomplete (too many joints missing), background (the model's "
            "'none of these' won), unsure (below the reject threshold).",
            ["camera", "reason"],
            registry=r,
        )
        self.events_dropped = Counter(
            f"{p}_events_dropped",
            "Events lost: queue_full (publisher queue), subscriber_hwm (one per event per subscriber "
            "whose queue was full), serialise, error, shutdown.",
            ["reason"],
            registry=r,
        )
        self.subscribers = Gauge(f"{p}_subscribers", "Subscribers connected to the event socket.", registry=r)
        self.publish_queue_depth = Gauge(
            f"{p}_publish_queue_depth", "Events waiting for the publisher thread.", registry=r
        )
        self.stage_latency = Histogram(
            f"{p}_stage_latency_seconds",
            "Time spent in one pipeline stage per frame or batch.",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.end_to_end_latency = Histogram(
            f"{p}_end_to_end_latency_seconds",
            "From frame capture to the event leaving the ZeroMQ socket.",
            ["camera"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.worker_errors = Counter(
            f"{p}_worker_errors", "Exceptions caught and survived, by stage.", ["stage"], registry=r
        )
        self.model_loaded = Gauge(f"{p}_model_loaded", "1 once the action model is loaded.", registry=r)
        self.build_info = Info(f"{p}_build", "Version of actionstream and Python.", registry=r)
        self.build_info.info({"version": version, "python": platform.python_version()})
        for stage in STAGES:
            self.stage_latency.labels(stage=stage)
            self.worker_errors.labels(stage=stage)
        for reason in DROP_REASONS:  # at zero from the start: rate() and alerts see the first loss
            self.events_dropped.labels(reason=reason)

    def init_camera(self, camera: str) -> None:
        """Create the camera's series at zero, so dashboards and rate() see them from the start."""
        for metric in (self.frames_captured, self.frames_processed, self.frames_skipped, self.reconnects):
            metric.labels(camera=camera)
        self.queue_depth.labels(camera=camera).set(0)
        self.stride.labels(camera=camera).set(1)
        self.camera_up.labels(camera=camera).set(0)
        self.set_camera_state(camera, "connecting")

    def set_camera_state(self, camera: str, state: str) -> None:
        """Set the one-hot state series and ``camera_up``; ``state`` is one of CAMERA_STATES."""
        state = state.lower()
        if state not in CAMERA_STATES:
            raise ValueError(f"camera state must be one of {CAMERA_STATES}, got {state!r}")
        for s in CAMERA_STATES:
            self.camera_state.labels(camera=camera, state=s).set(1.0 if s == state else 0.0)
        self.camera_up.labels(camera=camera).set(1.0 if state == "online" else 0.0)

    def init_labels(self, cameras: Iterable[str], labels: Iterable[str]) -> None:
        """Pre-create ``events_published`` series for the model's labels (start/update/end, and
        ``none`` updates) and the ``windows_decided`` series."""
        labels = tuple(labels)
        for camera in cameras:
            for kind in ("start", "update", "end"):
                for label in labels:
                    self.events_published.labels(camera=camera, type=kind, label=label)
            self.events_published.labels(camera=camera, type="update", label=NO_ACTION_METRIC_LABEL)
            for reason in REASONS:
                self.windows_decided.labels(camera=camera, reason=reason)

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
