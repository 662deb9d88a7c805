"""The web UI: upload a video and get it back annotated with its timeline, and watch the cameras
live. Served by the same FastAPI app as /metrics (see docs/WEB.md)."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from fastapi import APIRouter

from service.config import WebConfig
from service.web.jobs import JobManager, JobRunner
from service.web.jobs_dir import default_jobs_dir, jobs_root, remove_abandoned_runs, remove_if_empty
from service.web.live import LivePreviews
from service.web.routes import WebSettings, web_router

log = logging.getLogger(__name__)

__all__ = ["WebUI"]


class WebUI:
    """The UI's parts with one lifecycle: the job manager's threads and the routes.

    ``runner`` None: no uploads (live page only). ``previews`` None: no cameras (``actionstream
    web``). Jobs live in ``jobs_dir``, else ``config.jobs_dir``, else an ephemeral directory under
    the user's cache removed at ``join`` (see :mod:`.jobs_dir`).
    """

    def __init__(
        self,
        config: WebConfig,
        *,
        runner: JobRunner | None,
        previews: LivePreviews | None = None,
        camera_states: Callable[[], Mapping[str, str]] | None = None,
        jobs_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.closing = threading.Event()
        self._ephemeral: Path | None = None
        self.jobs: JobManager | None = None
        if runner is not None:
            jobs_dir = jobs_dir or config.jobs_dir
            if jobs_dir is None:
                jobs_dir, _ = default_jobs_dir(0)
                self._ephemeral = jobs_dir
            self.jobs = JobManager(
                jobs_dir,
                runner,
                max_concurrent=config.max_concurrent_jobs,
                max_queued=config.max_queued_jobs,
                ttl_s=config.job_ttl_s,
            )
        settings = WebSettings(
            max_upload_bytes=int(config.max_upload_mb * 1024 * 1024),
            live_fps=config.live_fps,
            cameras_enabled=previews is not None,
        )
        self.router: APIRouter = web_router(
            settings, jobs=self.jobs, previews=previews, camera_states=camera_states, closing=self.closing
        )

    def start(self) -> None:
        """Take the jobs directory (``JobsDirBusyError`` when another process has it) and start."""
        if self.jobs is not None:
            if self.jobs.jobs_dir.parent == jobs_root():  # the default place: clear what crashes left
                remove_abandoned_runs(jobs_root())
            self.jobs.start()
            log.info("web UI: jobs in %s", self.jobs.jobs_dir)

    def stop(self) -> None:
        """End streaming responses and cancel running analyses."""
        self.closing.set()
        if self.jobs is not None:
            self.jobs.stop()

    def join(self, timeout: float) -> bool:
        ok = self.jobs.join(timeout) if self.jobs is not None else True
        if self._ephemeral is not None and ok:
            shutil.rmtree(self._ephemeral, ignore_errors=True)
        elif ok and self.jobs is not None and self.jobs.jobs_dir.parent == jobs_root():
            remove_if_empty(self.jobs.jobs_dir)  # the default place keeps no empty directories
        return ok
