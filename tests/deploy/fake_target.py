"""A scrape target serving the real ``service.outputs.metrics.Metrics`` exposition with simulated activity.

Every scrape advances the counters and histograms a little, so rate() and histogram_quantile()
over the real metric names have data after two scrapes. Some series are deliberately left out
(frames dropped on "lobby", events dropped) to exercise the dashboards' zero fallbacks.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from service.outputs.metrics import CONTENT_TYPE, STAGES, Metrics

CAMERAS = ("gate", "lobby")
LABELS = ("JUMPING", "BOXING", "WAVING_2HANDS")


class FakeMetricsTarget:
    """HTTP server on 127.0.0.1 answering GET /metrics; ``start()``/``stop()``."""

    def __init__(self) -> None:
        self.metrics = Metrics(version="0.0.0-test")
        self.scrapes = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        m = self.metrics
        for cam in CAMERAS:
            m.init_camera(cam)
        m.init_labels(CAMERAS, LABELS)
        m.model_loaded.set(1)
        m.set_camera_state("gate", "online")
        m.set_camera_state("lobby", "reconnecting")

    @property
    def address(self) -> str:
        assert self._server is not None, "not started"
        port = self._server.server_address[1]
        return f"127.0.0.1:{port}"

    def tick(self) -> None:
        """One scrape interval's worth of activity."""
        m = self.metrics
        with self._lock:
            self.scrapes += 1
            n = self.scrapes
            for cam, fps in (("gate", 25.0), ("lobby", 15.0)):
                m.frames_captured.labels(camera=cam).inc(fps)
                m.frames_processed.labels(camera=cam).inc(fps / 3)
                m.frames_skipped.labels(camera=cam).inc(fps * 2 / 3)
                m.source_fps.labels(camera=cam).set(fps)
                m.stride.labels(camera=cam).set(3)
                m.queue_depth.labels(camera=cam).set(n % 4)
            m.frames_dropped.labels(camera="gate", reason="queue_full").inc(2)
            m.reconnects.labels(camera="lobby").inc()
            for i, stage in enumerate(STAGES):
                m.stage_latency.labels(stage=stage).observe(0.002 * (i + 1) * (1 + n % 3))
            for label in LABELS:
                for kind in ("start", "update", "end"):
                    m.events_published.labels(camera="gate", type=kind, label=label).inc()
            m.events_published.labels(camera="gate", type="status", label="online").inc()
            for latency in (0.08, 0.15, 0.3, 0.7):
                m.end_to_end_latency.labels(camera="gate").observe(latency)
            m.worker_errors.labels(stage="pose").inc()
            m.publish_queue_depth.set(n % 5)

    def start(self) -> None:
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                target.tick()
                body = target.metrics.render()
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-target", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
