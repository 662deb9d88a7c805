"""The jobs directory: stable under the user's cache by default, owned by one process at a time,
and cleared of what a killed process left (real processes, SIGKILL)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from service.config import AppConfig
from service.web import WebUI
from service.web.jobs import INPUT, JobManager
from service.web.jobs_dir import LOCK_NAME, JobsDirBusyError, default_jobs_dir, jobs_root
from tests.conftest import ROOT
from tests.service.web.webtools import FakeRunner


def entries(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name != LOCK_NAME)


def test_default_is_stable_per_port_under_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert jobs_root() == tmp_path / "cache" / "actionstream" / "jobs"
    assert default_jobs_dir(8080) == (jobs_root() / "port-8080", False)
    ephemeral, is_ephemeral = default_jobs_dir(0)
    assert is_ephemeral and ephemeral.parent == jobs_root() and ephemeral.name.startswith("run-")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert jobs_root() == Path.home() / ".cache" / "actionstream" / "jobs"


def test_two_processes_cannot_share_a_jobs_dir(tmp_path: Path) -> None:
    first = JobManager(tmp_path / "jobs", FakeRunner())
    first.start()
    assert stat.S_IMODE((tmp_path / "jobs").stat().st_mode) == 0o700, "only this user reads uploads"
    second = JobManager(tmp_path / "jobs", FakeRunner())
    try:
        with pytest.raises(
            JobsDirBusyError, match=r"in use by another actionstream process \(pid \d+\).*--jobs-dir"
        ):
            second.start()
    finally:
        first.stop()
        assert first.join(5)
    third = JobManager(tmp_path / "jobs", FakeRunner())
    third.start()  # free again once the first has stopped
    third.stop()
    assert third.join(5)


CRASHING_CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from service.web.jobs import INPUT, JobManager
    jobs = JobManager(Path(sys.argv[1]), lambda work: work.cancel.wait(600) or {})  # an analysis that hangs
    jobs.start()
    half, d = jobs.reserve()                      # an upload arriving...
    (d / INPUT).write_bytes(b"x" * 100_000)       # ...half written
    running, r = jobs.reserve()                   # and one uploaded and being analysed
    (r / INPUT).write_bytes(b"y" * 100_000)
    jobs.submit(running, "clip.mp4", 100_000, 10)
    while jobs.snapshot(running)["state"] != "running":
        time.sleep(0.01)
    print(half, running, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_what_a_killed_process_left_is_cleared_at_the_next_start(tmp_path: Path) -> None:
    jobs_dir = tmp_path / "jobs"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_CHILD, str(jobs_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    half, running = child.stdout.split()
    assert (jobs_dir / half / INPUT).exists() and (jobs_dir / running / INPUT).exists(), (
        "the uploads outlived it"
    )

    manager = JobManager(jobs_dir, FakeRunner())
    manager.start()  # the dead process's lock went with it
    try:
        assert entries(jobs_dir) == [running], "the half upload is gone"
        assert not (jobs_dir / running / INPUT).exists(), "no upload is kept"
        job = manager.snapshot(running)
        assert job is not None and job["state"] == "failed" and "interrupted" in job["error"]
    finally:
        manager.stop()
        assert manager.join(5)


def test_ephemeral_dirs_go_at_stop_and_abandoned_ones_at_the_next_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    abandoned = jobs_root() / "run-deadbeef0000"
    (abandoned / "0123456789abcdef0123456789abcdef").mkdir(parents=True)
    (abandoned / LOCK_NAME).write_text("12345\n")  # its owner was killed: nobody holds the lock
    old = time.time() - 3600
    os.utime(abandoned, (old, old))
    stranger = jobs_root() / "run-not-ours"
    stranger.mkdir()  # no lock file: not a jobs directory of ours, left alone
    empty_port = jobs_root() / "port-9999"  # a killed server on port 9999 left no job, only its lock
    empty_port.mkdir()
    (empty_port / LOCK_NAME).write_text("4242\n")
    kept_port = jobs_root() / "port-9998"  # one with results: kept for its next start
    (kept_port / "0123456789abcdef0123456789abcdef").mkdir(parents=True)
    (kept_port / LOCK_NAME).write_text("4243\n")

    ui = WebUI(AppConfig.model_validate({"cameras": [{"id": "a", "source": "x"}]}).web, runner=FakeRunner())
    assert ui.jobs is not None
    ui.start()
    mine = ui.jobs.jobs_dir
    assert mine.parent == jobs_root() and mine.is_dir()
    assert not abandoned.exists() and stranger.exists()
    assert not empty_port.exists() and kept_port.exists()
    ui.stop()
    assert ui.join(5)
    assert not mine.exists(), "an ephemeral jobs directory is removed at stop"

    stable = WebUI(
        AppConfig.model_validate({"cameras": [{"id": "a", "source": "x"}]}).web,
        runner=FakeRunner(),
        jobs_dir=default_jobs_dir(8123)[0],
    )
    stable.start()
    stable.stop()
    assert stable.join(5)
    assert not (jobs_root() / "port-8123").exists(), "an empty default directory is not left behind"
