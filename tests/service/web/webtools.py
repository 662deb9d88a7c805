"""Helpers for the web UI tests: a served WebUI on a real uvicorn, a job runner double, and headless
Chromium driven by Playwright (skipped with the reason when either is missing)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.config import WebConfig
from service.outputs.http import HttpServer, create_app
from service.outputs.http_guard import AccessPolicy
from service.outputs.http_protocol import HttpLimits
from service.outputs.metrics import Metrics
from service.web import WebUI
from service.web.jobs import CSV, TIMELINE, VIDEO, JobCancelledError, JobWork
from service.web.live import LivePreviews

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


class FakeRunner:
    """Stands in for the analysis: reports ``steps`` progress steps, writes the result files.

    ``gate``: each step waits for it (the test decides when the job may go on); ``fail``: raise
    ValueError(fail) instead of finishing. Records the inputs it saw."""

    def __init__(self, steps: int = 5, gate: threading.Event | None = None, fail: str | None = None) -> None:
        self.steps = steps
        self.gate = gate
        self.fail = fail
        self.started = threading.Event()
        self.seen: list[JobWork] = []

    def __call__(self, work: JobWork) -> Mapping[str, Any]:
        self.seen.append(work)
        self.started.set()
        for i in range(self.steps):
            while self.gate is not None and not self.gate.wait(0.05):
                if work.cancel.is_set():
                    raise JobCancelledError(work.name)
            if work.cancel.is_set():
                raise JobCancelledError(work.name)
            work.progress(i + 1, self.steps)
            time.sleep(0.01)
        if self.fail:
            raise ValueError(self.fail)
        shutil.copyfile(work.input, work.directory / VIDEO)
        timeline = {"source": {"frames": self.steps, "fps": 10.0, "duration_s": 0.5}, "segments": []}
        (work.directory / TIMELINE).write_text(json.dumps(timeline))
        (work.directory / CSV).write_text("track_id,label\n")
        return {"frames": self.steps, "labels": []}


@dataclass
class Served:
    url: str
    web: WebUI
    server: HttpServer
    jobs_dir: Path


@contextmanager
def serve_web(
    jobs_dir: Path,
    runner: Any,
    *,
    previews: LivePreviews | None = None,
    camera_states: Any = None,
    access: AccessPolicy | None = None,
    limits: HttpLimits | None = None,
    **web: Any,
) -> Iterator[Served]:
    """The web UI (``WebConfig(**web)``) on a free port; stopped and checked at the end.
    ``access``/``limits``: the HTTP server's policy and limits (default: no token, the defaults)."""
    config = WebConfig(jobs_dir=jobs_dir, **web)
    ui = WebUI(config, runner=runner, previews=previews, camera_states=camera_states)

    class Health:
        def camera_states(self) -> Mapping[str, str]:
            return {}

        def model_loaded(self) -> bool:
            return True

    app = create_app(Metrics(), Health(), routers=[ui.router], require_cameras=False, access=access)
    server = HttpServer(app, port=0, limits=limits)
    ui.start()
    server.start()
    try:
        yield Served(server.url, ui, server, jobs_dir)
    finally:
        ui.stop()
        server.stop()
        assert server.join(10), "uvicorn did not stop (an open stream held it?)"
        assert ui.join(10), "job threads did not stop"


def browser_unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found: apt-get install chromium (scripts/install-system-deps.sh)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed: pip install playwright (no browser download needed)"
    return None


@contextmanager
def chromium_page(profile: Path) -> Iterator[Any]:
    """A page in Debian's headless Chromium with a fresh profile; skips when it cannot run."""
    reason = browser_unavailable()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional dependency

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1360, "height": 900},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            violations: list[str] = []  # the pages must work under their own CSP
            page.on(
                "console",
                lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
            )
            yield page
            assert not violations, violations
        finally:
            context.close()


def wait_until(page: Any, expression: str, timeout_ms: float = 30_000) -> Any:
    """Poll a JavaScript expression until it is truthy (Playwright's wait_for_function evaluates
    strings with eval, which the pages' CSP forbids)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_ms / 1000:g} s: {expression}")
        time.sleep(0.1)
