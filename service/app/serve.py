"""The service as one object: metrics, publisher, HTTP and the pipeline, started in order and
stopped in reverse. ``run()`` blocks until the stop event is set (SIGINT/SIGTERM in the CLI) or
every source has ended, and returns the exit code:

- 0: every file was read to its end, or the service was stopped after frames had been read;
- 1: an inference worker died, or a file could not be read to its end while other sources worked;
- 3: no frame was read from any source (every source unreadable, unreachable or empty).

``failure`` then holds the one line that says why (2, a bad config or argument, is the CLI's).
"""

from __future__ import annotations

import logging
import threading
import time

from capture.sources import open_source
from capture.url import mask_text
from service.app.build import action_classifier_factory, device_backend_factory
from service.app.security import http_access, http_limits, zmq_curve
from service.app.webui import build_web_ui
from service.config import AppConfig
from service.engine.analyzer import BackendFactory, ClassifierFactory, FrameResult
from service.outputs.http import HttpServer, create_app
from service.outputs.metrics import Metrics
from service.outputs.publisher import Publisher
from service.runtime.console import ConsoleLog
from service.runtime.pipeline import CameraRunner, Pipeline, SourceOpener, StatusSink
from service.runtime.sinks import Sinks
from service.runtime.worker import DeviceBackendFactory, ResultSink
from service.web import WebUI
from service.web.live import LivePreviews

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NO_INPUT = 3


class Service:
    """Everything ``actionstream serve`` runs; collaborators can be passed in for tests and benchmarks
    (``backend_factory(device)``: the pose backend a worker on ``device`` runs)."""

    def __init__(
        self,
        config: AppConfig,
        *,
        stop_event: threading.Event | None = None,
        backend_factory: DeviceBackendFactory | None = None,
        classifier_factory: ClassifierFactory | None = None,
        source_opener: SourceOpener = open_source,
        exit_when_finished: bool = True,
    ) -> None:
        self.config = config
        self.stop_event = stop_event or threading.Event()
        self.metrics = Metrics()
        self.exit_when_finished = exit_when_finished
        self.publisher = Publisher(
            config.zmq.bind,
            config.zmq.sndhwm,
            metrics=self.metrics,
            queue_size=config.zmq.queue_size,
            curve=zmq_curve(config.zmq),
            max_subscribers=config.zmq.max_subscribers,
        )
        # The live page's store: references to each camera's latest processed frame and events.
        self.previews: LivePreviews | None = None
        if config.web.enabled:
            self.previews = LivePreviews(
                [c.id for c in config.enabled_cameras], max_events=config.web.live_events
            )
        # What the service finds, in the console: segments, state changes, a summary at exit.
        self.console = ConsoleLog(
            [c.id for c in config.enabled_cameras], self.metrics, stop_event=self.stop_event
        )
        # Every result and state change goes to each sink in turn; one that fails is logged and
        # counted, and the others still get it.
        results: list[tuple[str, ResultSink]] = [
            ("event publisher", self._publish_result),
            ("console", self.console.on_result),
        ]
        statuses: list[tuple[str, StatusSink]] = [
            ("event publisher", self.publisher.publish_event),
            ("console", self.console.on_status),
        ]
        if self.previews is not None:
            results.append(("live preview", self.previews.update))
            statuses.append(("live preview", self.previews.record))
        # The pose workers build their backend on their own device; the upload page on the first one.
        on_device = backend_factory or device_backend_factory(config.pose)
        primary = config.pose.primary_device
        one_backend: BackendFactory = lambda: on_device(primary)  # noqa: E731
        classifier_factory = classifier_factory or action_classifier_factory(config.model, config.pose)
        # Built here (not in run) so a bad source is reported before anything starts.
        self.pipeline = Pipeline(
            config,
            metrics=self.metrics,
            on_result=Sinks(results, self.metrics),
            on_status=Sinks(statuses, self.metrics),
            backend_factory=on_device,
            classifier_factory=classifier_factory,
            stop_event=self.stop_event,
            source_opener=source_opener,
        )
        self.console.live = frozenset(c.camera_id for c in self.pipeline.cameras if c.source.is_live)
        self.web: WebUI | None = None
        if config.web.enabled:
            self.web = build_web_ui(
                config,
                backend_factory=one_backend,
                classifier_factory=classifier_factory,
                previews=self.previews,
                camera_states=self.pipeline.camera_states,
            )
        self.http = HttpServer(
            create_app(
                self.metrics,
                self.pipeline,
                live=self._live,
                routers=[self.web.router] if self.web is not None else [],
                access=http_access(config.http),
            ),
            config.http.host,
            config.http.port,
            limits=http_limits(config.http),
        )
        self._running = False
        self.failure: str | None = None

    def _live(self) -> bool:
        return self._running and self.pipeline.workers_alive()

    def _publish_result(self, result: FrameResult) -> None:
        for event in result.events:
            self.publisher.publish_event(event)

    def start(self) -> None:
        self.publisher.start()
        try:
            if self.web is not None:
                self.web.start()
            self.http.start()
            self.pipeline.start()
        except BaseException:
            self.stop_event.set()
            if self.web is not None:
                self.web.stop()
            self.http.stop()
            self.http.join(3.0)
            if self.web is not None:
                self.web.join(3.0)
            self.publisher.close()
            raise
        self._running = True

    def run(self) -> int:
        """Start, serve until stopped or finished, stop. Returns the exit code (module docstring)."""
        self.start()
        worker_died = False
        try:
            while not self.stop_event.wait(0.5):
                self.pipeline.sync_metrics()
                if self.exit_when_finished and self.pipeline.finished():
                    log.info("every source has ended; stopping")
                    break
                if not self.pipeline.workers_alive() and not self.pipeline.finished():
                    log.error("a pose worker or the analysis stage died; stopping")
                    worker_died = True
                    break
        finally:
            self.shutdown()
        code, self.failure = self._outcome(worker_died)
        return code

    def _outcome(self, worker_died: bool) -> tuple[int, str | None]:
        cameras = self.pipeline.cameras
        if worker_died:
            return EXIT_FAILED, "an inference worker died (its traceback is in the log above)"
        if all(c.capture.frames_captured == 0 for c in cameras):
            why = "; ".join(f"camera {c.camera_id!r}: {_why_no_frames(c)}" for c in cameras)
            return EXIT_NO_INPUT, f"no frame was read from any source ({why})"
        broken = [c for c in cameras if not c.source.is_live and c.capture.error is not None]
        if broken:
            why = "; ".join(f"camera {c.camera_id!r}: {mask_text(str(c.capture.error))}" for c in broken)
            return EXIT_FAILED, f"a file could not be read to its end ({why})"
        return EXIT_OK, None

    def shutdown(self, timeout: float = 3.0) -> None:
        """Reverse order of start; names any thread that will not stop."""
        t0 = time.monotonic()
        self._running = False
        self.stop_event.set()
        ok = self.pipeline.stop(timeout)
        self.publisher.close(linger=1.0)
        if self.web is not None:
            self.web.stop()
        self.http.stop()
        ok &= self.http.join(timeout)
        if self.web is not None:
            ok &= self.web.join(timeout)
        if not ok:
            alive = [
                t.name for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()
            ]
            log.warning("shutdown left threads running: %s", ", ".join(alive))
        self.console.summary()  # the counters are final now: pipeline and publisher have stopped
        log.info("stopped in %.2f s", time.monotonic() - t0)


def _why_no_frames(camera: CameraRunner) -> str:
    if camera.capture.error is not None:
        return mask_text(str(camera.capture.error))
    if not camera.source.is_live:
        return "the file holds no video frame"
    return f"no frame before the service stopped (state {camera.state.value})"
