"""Where upload jobs live, and the lock that gives a jobs directory to one process at a time.

The default is stable, under the user's cache directory: ``$XDG_CACHE_HOME/actionstream/jobs/
port-<http port>`` (``~/.cache/...`` without XDG_CACHE_HOME), so a service restarted after a crash
or a SIGKILL finds what the previous run left and its janitor clears it (unfinished uploads are
removed at start, finished results expire with their TTL). A server on port 0 (tests, embedding)
gets ``run-<random>`` there instead, removed when it stops; one left by a killed process is removed
by the next server that starts. Each jobs directory holds a ``.lock`` file locked (``flock``) by its
owner for as long as it runs, which is how a directory is known to be in use or abandoned.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
RUN_PREFIX = "run-"
PORT_PREFIX = "port-"
_YOUNG_S = 60.0


class JobsDirBusyError(RuntimeError):
    """Another process uses this jobs directory; the message says what to do."""


def jobs_root() -> Path:
    """``$XDG_CACHE_HOME/actionstream/jobs`` (default ``~/.cache/actionstream/jobs``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "actionstream" / "jobs"


def default_jobs_dir(port: int) -> tuple[Path, bool]:
    """(directory, ephemeral) for a server on ``port``: stable per port, ephemeral for port 0."""
    root = jobs_root()
    if port:
        return root / f"{PORT_PREFIX}{port}", False
    return root / f"{RUN_PREFIX}{uuid.uuid4().hex[:12]}", True


class JobsDirLock:
    """An exclusive, non-blocking ``flock`` on ``<jobs dir>/.lock``, released by :meth:`release`
    or when the process dies (the kernel drops it), so a crashed owner never blocks the next."""

    def __init__(self, jobs_dir: Path) -> None:
        self.jobs_dir = jobs_dir
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        # 0700: uploads are other people's videos; other users of the machine have no business there.
        self.jobs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        f = (self.jobs_dir / LOCK_NAME).open("a+", encoding="ascii")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            owner = f.read().strip() or "?"
            f.close()
            raise JobsDirBusyError(
                f"the jobs directory {self.jobs_dir} is in use by another actionstream process "
                f"(pid {owner}); give this one its own with --jobs-dir or web.jobs_dir"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def remove_if_empty(jobs_dir: Path) -> bool:
    """Remove a jobs directory that holds nothing but its (released) lock; True if it went."""
    try:
        if any(p.name != LOCK_NAME for p in jobs_dir.iterdir()):
            return False
        (jobs_dir / LOCK_NAME).unlink(missing_ok=True)
        jobs_dir.rmdir()
    except OSError:
        return False
    return True


def _unowned(jobs_dir: Path) -> bool:
    """True when no process holds the directory's lock (checked by taking it for a moment)."""
    if not (jobs_dir / LOCK_NAME).is_file():
        return False
    lock = JobsDirLock(jobs_dir)
    try:
        lock.acquire()
    except (JobsDirBusyError, OSError):
        return False
    lock.release()
    return True


def remove_abandoned_runs(root: Path) -> list[Path]:
    """Remove the ``run-*`` directories under ``root`` whose owner is gone (nobody holds the lock),
    and ``port-*`` ones that such an owner left empty."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    now = time.time()
    for entry in root.iterdir():
        if entry.name.startswith(PORT_PREFIX) and _unowned(entry) and remove_if_empty(entry):
            removed.append(entry)  # a killed server's empty default directory
            continue
        try:
            if not entry.name.startswith(RUN_PREFIX) or not (entry / LOCK_NAME).is_file():
                continue  # not a jobs directory of ours
            if now - entry.stat().st_mtime < _YOUNG_S:  # its owner may be taking its lock right now
                continue
        except OSError:
            continue
        lock = JobsDirLock(entry)
        try:
            lock.acquire()
        except (JobsDirBusyError, OSError):
            continue
        try:
            shutil.rmtree(entry, ignore_errors=True)  # under the lock: nobody can take it meanwhile
        finally:
            lock.release()
        removed.append(entry)
    if removed:
        log.info("removed %d jobs directories left by processes that are gone", len(removed))
    return removed
