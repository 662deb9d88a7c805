"""Analysis jobs for uploaded videos: a bounded queue, a fixed pool of worker threads, and a
janitor that deletes expired results and anything left behind.

The manager owns ``jobs_dir`` while it runs (``jobs_dir/.lock``, see :mod:`.jobs_dir`): a second
process on the same directory is refused at start instead of deleting the first one's jobs.
Every job lives in ``jobs_dir/<id>/`` where ``<id>`` is generated here (32 hex digits) and every
file has a fixed name (``input``, ``annotated.mp4``, ``timeline.json``, ``timeline.csv``,
``job.json``): nothing the client sends ever becomes part of a path. ``job.json`` is rewritten at
each state change, so finished jobs survive a restart; jobs that were waiting or running when the
process stopped come back as failed ("interrupted").
"""

from __future__ import annotations

import json
import logging
import queue
import re
import shutil
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from service.web.jobs_dir import LOCK_NAME, JobsDirLock

log = logging.getLogger(__name__)

INPUT = "input"
VIDEO = "annotated.mp4"
TIMELINE = "timeline.json"
CSV = "timeline.csv"
META = "job.json"
JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobsFullError(RuntimeError):
    """Too many jobs are waiting; the client should try again later."""


class JobsClosedError(RuntimeError):
    """The manager is stopping; no new jobs."""


class JobCancelledError(Exception):
    """Raised by a runner when the job's cancel event was set (the job was deleted)."""


@dataclass
class Job:
    """One uploaded video and its analysis. Mutated only under the manager's lock."""

    id: str
    name: str
    size: int
    created: float
    state: JobState = JobState.QUEUED
    frames_done: int = 0
    frames_total: int | None = None
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    deleted: bool = False
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def progress(self) -> float:
        if self.state is JobState.DONE:
            return 1.0
        if not self.frames_total:
            return 0.0
        return min(1.0, self.frames_done / self.frames_total)

    def to_dict(self) -> dict[str, Any]:
        done = self.state is JobState.DONE
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "state": self.state.value,
            "progress": round(self.progress, 4),
            "frames_done": self.frames_done,
            "frames_total": self.frames_total,
            "error": self.error,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "summary": self.summary,
            "video_url": f"/api/jobs/{self.id}/video" if done else None,
            "timeline_url": f"/api/jobs/{self.id}/timeline.json" if done else None,
            "csv_url": f"/api/jobs/{self.id}/timeline.csv" if done else None,
        }


class Progress(Protocol):
    def __call__(self, done: int, total: int | None) -> object: ...


@dataclass(frozen=True)
class JobWork:
    """What a runner gets: the uploaded file, the directory for the results (fixed names), the name
    to show, where to report progress, and the event that cancels it."""

    input: Path
    directory: Path
    name: str
    progress: Progress
    cancel: threading.Event


# runner(work) -> summary for the job list. It writes VIDEO, TIMELINE and CSV into work.directory;
# raises JobCancelledError when cancelled, any other exception (whose message the user sees) on failure.
JobRunner = Callable[[JobWork], Mapping[str, Any]]


def display_name(filename: str | None) -> str:
    """The client's file name reduced to something safe to show (never used in a path)."""
    text = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in unicodedata.normalize("NFC", text) if unicodedata.category(ch)[0] != "C")
    text = text.strip().strip(".")[:120]
    return text or "video"


class JobManager:
    """Jobs, their worker threads and the janitor. ``start()``/``stop()``/``join(timeout)``."""

    def __init__(
        self,
        jobs_dir: Path,
        runner: JobRunner,
        *,
        max_concurrent: int = 1,
        max_queued: int = 16,
        ttl_s: float = 86_400.0,
        janitor_interval_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be >= 1, got {max_concurrent}")
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        self.jobs_dir = Path(jobs_dir)
        self._runner = runner
        self.max_concurrent = max_concurrent
        self.max_queued = max_queued
        self.ttl_s = ttl_s
        self._janitor_interval_s = janitor_interval_s or min(60.0, max(0.5, ttl_s / 4))
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._uploading: set[str] = set()
        self._queue: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"web-job-{i}", daemon=True)
            for i in range(max_concurrent)
        ]
        self._threads.append(threading.Thread(target=self._janitor, name="web-janitor", daemon=True))
        self._started = False
        self._lock_file = JobsDirLock(self.jobs_dir)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Take the directory (``JobsDirBusyError`` if another process has it), take over the jobs a
        previous run left, start the threads."""
        if self._started:
            raise RuntimeError("JobManager.start() called twice")
        self._lock_file.acquire()
        self._started = True
        self._load()
        self.sweep()  # what a crashed run left half-done (an upload cut off by a SIGKILL) goes now
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """No new jobs; running analyses are cancelled (they end as failed: "interrupted")."""
        self._stop.set()
        with self._lock:
            for job in self._jobs.values():
                if job.state is JobState.RUNNING:
                    job.cancel.set()

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        ok = True
        for t in self._threads:
            if t.is_alive():
                t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                log.warning("web job thread %s did not stop within %.1f s", t.name, timeout)
                ok = False
        if ok:
            self._lock_file.release()
        return ok

    # -- uploads -----------------------------------------------------------------------------------

    def reserve(self) -> tuple[str, Path]:
        """A new job id and its (empty) directory, for an upload about to be received."""
        if self._stop.is_set():
            raise JobsClosedError("the server is shutting down; try again in a moment")
        with self._lock:
            # Counted with the running ones, so it does not matter whether a worker took a job yet.
            active = len(self._uploading) + sum(
                j.state in (JobState.QUEUED, JobState.RUNNING) and not j.deleted for j in self._jobs.values()
            )
            if active >= self.max_queued + self.max_concurrent:
                raise JobsFullError(
                    f"{active - self.max_concurrent} videos are already waiting to be analysed; "
                    "try again when some have finished"
                )
            job_id = uuid.uuid4().hex
            self._uploading.add(job_id)
        path = self.jobs_dir / job_id
        path.mkdir()
        return job_id, path

    def submit(self, job_id: str, name: str, size: int, frames_total: int | None) -> dict[str, Any]:
        """The upload of ``job_id`` is complete and checked: queue it. Returns the job as queued."""
        now = self._clock()
        job = Job(job_id, display_name(name), size, now, frames_total=frames_total)
        with self._lock:
            self._uploading.discard(job_id)
            self._jobs[job_id] = job
            self._save(job)
            queued = job.to_dict()
        self._queue.put(job_id)
        log.info("job %s queued: %s (%d bytes)", job_id, job.name, size)
        return queued

    def discard(self, job_id: str) -> None:
        """An upload failed or was rejected: remove everything it wrote."""
        with self._lock:
            self._uploading.discard(job_id)
        _remove(self.jobs_dir / job_id)

    # -- queries and deletion ----------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        if not JOB_ID.match(job_id):
            return None
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None or job.deleted else job

    def snapshot(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id) if JOB_ID.match(job_id) else None
            return None if job is None or job.deleted else job.to_dict() | {"version": job.version}

    def all(self) -> list[dict[str, Any]]:
        """Newest first."""
        with self._lock:
            jobs = [j.to_dict() for j in self._jobs.values() if not j.deleted]
        return sorted(jobs, key=lambda j: j["created"], reverse=True)

    def file(self, job_id: str, name: str) -> Path | None:
        """A result file of a finished job (``name`` is one of the fixed names)."""
        if name not in (VIDEO, TIMELINE, CSV):
            raise ValueError(f"not a result file: {name!r}")
        job = self.get(job_id)
        if job is None or job.state is not JobState.DONE:
            return None
        path = self.jobs_dir / job.id / name
        return path if path.is_file() else None

    def delete(self, job_id: str) -> bool:
        """Remove a job and its files; a running one is cancelled first (its files go when it stops)."""
        with self._lock:
            job = self._jobs.get(job_id) if JOB_ID.match(job_id) else None
            if job is None or job.deleted:
                return False
            job.deleted = True
            job.cancel.set()
            running = job.state is JobState.RUNNING
            if not running:
                del self._jobs[job_id]
        if not running:
            _remove(self.jobs_dir / job_id)
        log.info("job %s deleted", job_id)
        return True

    # -- workers -----------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                job_id = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            with self._lock:
                job = self._jobs.get(job_id)
                if job is None or job.deleted or job.state is not JobState.QUEUED:
                    continue
                job.state, job.started = JobState.RUNNING, self._clock()
                job.version += 1
                self._save(job)
            self._run(job)

    def _run(self, job: Job) -> None:
        directory = self.jobs_dir / job.id

        def progress(done: int, total: int | None) -> None:
            with self._lock:
                job.frames_done = done
                if total:
                    job.frames_total = max(total, done)
                job.version += 1

        try:
            summary = dict(
                self._runner(JobWork(directory / INPUT, directory, job.name, progress, job.cancel))
            )
        except JobCancelledError:
            self._finish(job, JobState.FAILED, error="interrupted: the job was deleted or the server stopped")
        except Exception as exc:
            log.warning(
                "job %s (%s) failed: %s", job.id, job.name, exc, exc_info=not isinstance(exc, ValueError)
            )
            self._finish(job, JobState.FAILED, error=str(exc) or type(exc).__name__)
        else:
            self._finish(job, JobState.DONE, summary=summary)
        (directory / INPUT).unlink(missing_ok=True)  # the results are what is kept

    def _finish(
        self, job: Job, state: JobState, *, error: str | None = None, summary: dict[str, Any] | None = None
    ) -> None:
        with self._lock:
            job.state, job.error, job.finished = state, error, self._clock()
            if summary is not None:
                job.summary = summary
                job.frames_total = job.frames_done = int(summary.get("frames", job.frames_done))
            job.version += 1
            deleted = job.deleted
            if deleted:
                self._jobs.pop(job.id, None)
            else:
                self._save(job)
        if deleted:
            _remove(self.jobs_dir / job.id)
        log.info("job %s %s%s", job.id, state.value, f": {error}" if error else "")

    # -- janitor -----------------------------------------------------------------------------------

    def _janitor(self) -> None:
        while not self._stop.wait(self._janitor_interval_s):
            try:
                self.sweep()
            except Exception:
                log.exception("the jobs janitor failed; trying again later")

    def sweep(self) -> list[str]:
        """Delete expired jobs and whatever in ``jobs_dir`` belongs to no job (failed uploads, files
        of deleted jobs). Returns what was removed."""
        now = self._clock()
        removed: list[str] = []
        with self._lock:
            expired = [
                j.id
                for j in self._jobs.values()
                if j.finished is not None and not j.deleted and now - j.finished > self.ttl_s
            ]
        for job_id in expired:
            if self.delete(job_id):
                removed.append(job_id)
        with self._lock:
            known = set(self._jobs) | set(self._uploading)
        for entry in self.jobs_dir.iterdir():
            if entry.name not in known and entry.name != LOCK_NAME:
                _remove(entry)
                removed.append(entry.name)
        if removed:
            log.info("janitor removed %d job entries", len(removed))
        return removed

    # -- persistence -------------------------------------------------------------------------------

    def _save(self, job: Job) -> None:
        """Write job.json (under the lock, at state changes only)."""
        directory = self.jobs_dir / job.id
        if not directory.is_dir():
            return
        data = job.to_dict()
        tmp = directory / f".{META}.partial"
        try:
            tmp.write_text(json.dumps(data), encoding="utf-8")
            tmp.replace(directory / META)
        except OSError as exc:
            log.warning("cannot save %s: %s", directory / META, exc)

    def _load(self) -> None:
        """Jobs from a previous run: finished ones are kept, unfinished ones marked interrupted."""
        for entry in sorted(self.jobs_dir.iterdir()):
            meta = entry / META
            if not (JOB_ID.match(entry.name) and meta.is_file()):
                continue
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
                job = Job(
                    id=entry.name,
                    name=display_name(str(data.get("name"))),
                    size=int(data.get("size") or 0),
                    created=float(data["created"]),
                    state=JobState(data["state"]),
                    frames_done=int(data.get("frames_done") or 0),
                    frames_total=data.get("frames_total"),
                    error=data.get("error"),
                    started=data.get("started"),
                    finished=data.get("finished"),
                    summary=dict(data.get("summary") or {}),
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring unreadable job %s: %s", entry.name, exc)
                continue
            if job.state in (JobState.QUEUED, JobState.RUNNING):
                job.state, job.error, job.finished = (
                    JobState.FAILED,
                    "interrupted by a restart",
                    self._clock(),
                )
            (entry / INPUT).unlink(missing_ok=True)  # never needed again (a crash may have left it)
            self._jobs[job.id] = job
            self._save(job)
        if self._jobs:
            log.info("found %d jobs from an earlier run in %s", len(self._jobs), self.jobs_dir)


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot remove %s: %s", path, exc)
