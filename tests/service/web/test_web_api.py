"""The web API on a real uvicorn server: every way an upload can be wrong gets a 4xx with a message
and leaves nothing behind; file names never reach the disk; jobs queue, run, stream their progress,
serve their results with range requests, and go away when deleted or expired."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from service.web.jobs import CSV, INPUT, META, TIMELINE, VIDEO, JobManager, JobState, display_name
from service.web.jobs_dir import LOCK_NAME
from tests.service.web.webtools import FakeRunner, serve_web

WAVE = "videos/omkarnagarkar55_wave.mp4"


@pytest.fixture
def wave(shared_data: Path) -> bytes:
    return (shared_data / WAVE).read_bytes()


def upload(url: str, name: str, data: bytes, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{url}/api/jobs", files={"file": (name, data, "video/mp4")}, timeout=60, **kwargs)


def wait_state(url: str, job_id: str, states: set[str], timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{url}/api/jobs/{job_id}", timeout=10).json()
        if job.get("state") in states:
            return dict(job)
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {states}")


def leftovers(jobs_dir: Path) -> list[str]:
    return sorted(p.name for p in jobs_dir.iterdir() if p.name != LOCK_NAME)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    with serve_web(tmp_path / "jobs", FakeRunner(), max_upload_mb=4.0) as s:
        yield s


BAD_UPLOADS = {  # case -> (status, what the message says)
    "empty": (400, "is empty"),
    "text": (415, "is not a video"),
    "image": (415, "still image"),
    "header_only": (422, "cannot be decoded"),
    "garbage_after_header": (422, "cannot be read"),
}


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_bad_uploads_get_a_4xx_with_a_message_and_leave_nothing(
    served: Any, shared_data: Path, wave: bytes, case: str
) -> None:
    status, message = BAD_UPLOADS[case]
    data = {
        "empty": b"",
        "text": b"hello, I am a text file\n" * 100,
        "image": (shared_data / "images" / "mmpose_coco_000000000785.jpg").read_bytes(),
        "header_only": wave[:2500],
        "garbage_after_header": wave[:32] + np.random.default_rng(1).bytes(30_000),
    }[case]
    r = upload(served.url, "clip.mp4", data)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"] and "clip.mp4" in r.json()["detail"]
    assert leftovers(served.jobs_dir) == []
    assert httpx.get(f"{served.url}/api/jobs").json() == {"jobs": []}


def test_too_large_is_413_from_content_length_and_while_streaming(tmp_path: Path, wave: bytes) -> None:
    with serve_web(tmp_path / "jobs", FakeRunner(), max_upload_mb=1.0) as s:
        r = upload(s.url, "big.mp4", wave)  # 2.9 MiB, Content-Length says so: refused before reading
        assert r.status_code == 413 and "larger than the 1.0 MiB limit" in r.json()["detail"]

        boundary = "xyzzy"

        def chunked() -> Iterator[bytes]:  # no Content-Length: the limit is counted as bytes arrive
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
                "Content-Type: video/mp4\r\n\r\n"
            ).encode()
            for i in range(0, len(wave), 256 * 1024):
                yield wave[i : i + 256 * 1024]
            yield f"\r\n--{boundary}--\r\n".encode()

        r = httpx.post(
            f"{s.url}/api/jobs",
            content=chunked(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            timeout=60,
        )
        assert r.status_code == 413 and "1.0 MiB limit" in r.json()["detail"]
        assert leftovers(s.jobs_dir) == []


def test_an_abandoned_upload_leaves_nothing(served: Any, wave: bytes) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    boundary = "b0undary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n').encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            (
                f"POST /api/jobs HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(head) + len(wave) + 100}\r\n\r\n"
            ).encode()
            + head
            + wave[:500_000]
        )
        deadline = time.monotonic() + 10
        while not any((served.jobs_dir / d / INPUT).exists() for d in leftovers(served.jobs_dir)):
            assert time.monotonic() < deadline, "the upload never started arriving"
            time.sleep(0.02)
    # The client went away mid-body: the half-received file is removed.
    deadline = time.monotonic() + 10
    while leftovers(served.jobs_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers(served.jobs_dir) == []
    assert httpx.get(f"{served.url}/api/jobs").json() == {"jobs": []}


def test_not_multipart_and_no_file_field_are_400(served: Any, wave: bytes) -> None:
    r = httpx.post(f"{served.url}/api/jobs", content=wave[:1000], headers={"Content-Type": "video/mp4"})
    assert r.status_code == 400 and "multipart/form-data" in r.json()["detail"]
    r = httpx.post(f"{served.url}/api/jobs", data={"note": "no file here"}, files={"other": ("a", b"x")})
    assert r.status_code == 400 and "no 'file' field" in r.json()["detail"]
    assert leftovers(served.jobs_dir) == []


@pytest.mark.parametrize(
    "name",
    ["../../evil.mp4", "..\\..\\evil.mp4", "/etc/passwd", "a/../../../evil.mp4", "..", "clip\x00.mp4", ""],
)
def test_file_names_never_reach_the_disk(tmp_path: Path, wave: bytes, name: str) -> None:
    root = tmp_path / "root"
    jobs_dir = root / "jobs"
    with serve_web(jobs_dir, FakeRunner(steps=1)) as s:
        r = upload(s.url, name, wave)
        assert r.status_code == 201, r.text
        job = r.json()
        assert "/" not in job["name"] and "\\" not in job["name"] and "\x00" not in job["name"]
        if name.isprintable():  # httpx escapes a NUL in the name as %00 on the wire
            assert job["name"] == display_name(name)
        wait_state(s.url, job["id"], {"done"})
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        assert files == sorted(
            ["jobs", f"jobs/{LOCK_NAME}", f"jobs/{job['id']}"]
            + [f"jobs/{job['id']}/{n}" for n in (VIDEO, TIMELINE, CSV, META)]
        )
        assert not (tmp_path / "evil.mp4").exists()


def test_a_job_runs_streams_progress_and_serves_results(served: Any, wave: bytes) -> None:
    r = upload(served.url, "wave.mp4", wave)
    assert r.status_code == 201
    job = r.json()
    assert job["state"] == "queued" and job["frames_total"] == 125
    kinds, progress = [], []
    with httpx.stream("GET", f"{served.url}/api/jobs/{job['id']}/events", timeout=30) as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in events.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
                kinds.append(kind)
            elif line.startswith("data: "):
                progress.append(json.loads(line[6:])["progress"])
    assert kinds[-1] == "done" and set(kinds[:-1]) <= {"progress"}
    assert progress == sorted(progress) and progress[-1] == 1.0

    done = httpx.get(f"{served.url}/api/jobs/{job['id']}").json()
    assert done["state"] == "done" and done["video_url"] == f"/api/jobs/{job['id']}/video"
    full = httpx.get(served.url + done["video_url"])
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    assert full.content == wave  # the double "annotates" by copying
    part = httpx.get(served.url + done["video_url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == wave[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(wave)}"
    attachment = httpx.get(served.url + done["video_url"] + "?download=1")
    assert 'filename="wave.annotated.mp4"' in attachment.headers["content-disposition"]
    assert httpx.get(served.url + done["timeline_url"]).json()["source"]["frames"] == 5
    assert httpx.get(served.url + done["csv_url"]).text.startswith("track_id")
    assert not (served.jobs_dir / job["id"] / INPUT).exists(), "the upload is dropped once analysed"


def test_jobs_are_listed_newest_first_and_deleted(served: Any, wave: bytes) -> None:
    ids = [upload(served.url, f"v{i}.mp4", wave).json()["id"] for i in range(3)]
    for job_id in ids:
        wait_state(served.url, job_id, {"done"})
    listed = httpx.get(f"{served.url}/api/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == ids[::-1]
    assert httpx.delete(f"{served.url}/api/jobs/{ids[1]}").status_code == 204
    assert not (served.jobs_dir / ids[1]).exists()
    assert [j["id"] for j in httpx.get(f"{served.url}/api/jobs").json()["jobs"]] == [ids[2], ids[0]]
    assert httpx.delete(f"{served.url}/api/jobs/{ids[1]}").status_code == 404
    assert httpx.get(f"{served.url}/api/jobs/{ids[1]}/video").status_code == 404
    for bogus in ("nope", "../../etc", "0" * 32):
        assert httpx.get(f"{served.url}/api/jobs/{bogus}").status_code == 404
        assert httpx.delete(f"{served.url}/api/jobs/{bogus}").status_code == 404


def test_one_job_at_a_time_others_queue_and_a_full_queue_is_429(tmp_path: Path, wave: bytes) -> None:
    gate = threading.Event()
    runner = FakeRunner(gate=gate)
    with serve_web(tmp_path / "jobs", runner, max_concurrent_jobs=1, max_queued_jobs=1) as s:
        first = upload(s.url, "a.mp4", wave).json()
        assert runner.started.wait(10)
        second = upload(s.url, "b.mp4", wave).json()
        assert wait_state(s.url, first["id"], {"running"})["state"] == "running"
        time.sleep(0.3)
        assert httpx.get(f"{s.url}/api/jobs/{second['id']}").json()["state"] == "queued"
        refused = upload(s.url, "c.mp4", wave)
        assert refused.status_code == 429 and "waiting" in refused.json()["detail"]
        assert len(leftovers(s.jobs_dir)) == 2
        gate.set()
        wait_state(s.url, second["id"], {"done"})
        assert [w.name for w in runner.seen] == ["a.mp4", "b.mp4"]


def test_deleting_a_running_job_cancels_it_and_removes_its_files(tmp_path: Path, wave: bytes) -> None:
    gate = threading.Event()  # never set: the job runs until cancelled
    runner = FakeRunner(gate=gate)
    with serve_web(tmp_path / "jobs", runner) as s:
        job = upload(s.url, "a.mp4", wave).json()
        assert runner.started.wait(10)
        assert httpx.delete(f"{s.url}/api/jobs/{job['id']}").status_code == 204
        assert httpx.get(f"{s.url}/api/jobs").json() == {"jobs": []}
        deadline = time.monotonic() + 10
        while (s.jobs_dir / job["id"]).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leftovers(s.jobs_dir) == []


def test_a_failed_analysis_is_reported_not_stuck(tmp_path: Path, wave: bytes) -> None:
    with serve_web(tmp_path / "jobs", FakeRunner(fail="the video ends after 3 frames")) as s:
        job = upload(s.url, "a.mp4", wave).json()
        with httpx.stream("GET", f"{s.url}/api/jobs/{job['id']}/events", timeout=30) as events:
            lines = list(events.iter_lines())
        assert "event: failed" in lines
        failed = wait_state(s.url, job["id"], {"failed"})
        assert failed["error"] == "the video ends after 3 frames" and failed["video_url"] is None
        assert httpx.get(f"{s.url}/api/jobs/{job['id']}/video").status_code == 404


def test_an_open_progress_stream_does_not_hold_the_server_at_shutdown(tmp_path: Path, wave: bytes) -> None:
    gate = threading.Event()
    got_first = threading.Event()
    with serve_web(tmp_path / "jobs", FakeRunner(gate=gate)) as s:
        job = upload(s.url, "a.mp4", wave).json()

        def listen() -> None:
            try:
                with httpx.stream("GET", f"{s.url}/api/jobs/{job['id']}/events", timeout=30) as r:
                    for _ in r.iter_lines():
                        got_first.set()
            except httpx.HTTPError:
                pass

        threading.Thread(target=listen, daemon=True).start()
        assert got_first.wait(10)
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 5  # serve_web asserts that uvicorn and the job threads stopped


# -- the job manager on its own: expiry, the janitor, restarts ---------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _finished_job(manager: JobManager, clock: Clock) -> str:
    job_id, directory = manager.reserve()
    (directory / INPUT).write_bytes(b"video")
    manager.submit(job_id, "a.mp4", 5, 5)
    deadline = time.monotonic() + 10
    while (job := manager.get(job_id)) is not None and job.state is not JobState.DONE:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return job_id


def test_expired_jobs_and_stray_files_are_swept(tmp_path: Path) -> None:
    clock = Clock()
    jobs_dir = tmp_path / "jobs"
    manager = JobManager(jobs_dir, FakeRunner(steps=1), ttl_s=3600, janitor_interval_s=3600, clock=clock)
    manager.start()
    try:
        old = _finished_job(manager, clock)
        clock.now += 1800
        young = _finished_job(manager, clock)
        uploading, _ = manager.reserve()  # an upload in progress must survive the sweep
        (jobs_dir / "0123456789abcdef0123456789abcdef").mkdir()  # a failed upload nobody cleaned
        (jobs_dir / "stray.tmp").write_text("x")
        assert sorted(manager.sweep()) == sorted(["0123456789abcdef0123456789abcdef", "stray.tmp"])
        clock.now += 1801  # old is now 3601 s past its end, young 1801 s
        assert manager.sweep() == [old]
        assert sorted(leftovers(jobs_dir)) == sorted([young, uploading])
        assert manager.get(old) is None and manager.get(young) is not None
        clock.now += 1800
        assert manager.sweep() == [young]
        manager.discard(uploading)
        assert leftovers(jobs_dir) == []
    finally:
        manager.stop()
        assert manager.join(5)


def test_the_janitor_thread_expires_jobs_by_itself(tmp_path: Path) -> None:
    clock = Clock()
    manager = JobManager(tmp_path / "j", FakeRunner(steps=1), ttl_s=60, janitor_interval_s=0.1, clock=clock)
    manager.start()
    try:
        job_id = _finished_job(manager, clock)
        clock.now += 61
        deadline = time.monotonic() + 10
        while (manager.get(job_id) is not None or leftovers(tmp_path / "j")) and time.monotonic() < deadline:
            time.sleep(0.05)  # the entry goes first, its files just after (outside the lock)
        assert manager.get(job_id) is None and leftovers(tmp_path / "j") == []
    finally:
        manager.stop()
        assert manager.join(5)


def test_finished_jobs_survive_a_restart_and_unfinished_ones_come_back_failed(tmp_path: Path) -> None:
    clock = Clock()
    jobs_dir = tmp_path / "jobs"
    first = JobManager(jobs_dir, FakeRunner(steps=1), clock=clock)
    first.start()
    done = _finished_job(first, clock)
    first.stop()
    assert first.join(5)
    # A job that was running when the process died: its job.json still says so.
    running = "f" * 32
    (jobs_dir / running).mkdir()
    (jobs_dir / running / INPUT).write_bytes(b"x")
    meta = json.loads((jobs_dir / done / META).read_text()) | {"id": running, "state": "running"}
    (jobs_dir / running / META).write_text(json.dumps(meta))

    second = JobManager(jobs_dir, FakeRunner(steps=1), clock=clock)
    second.start()
    try:
        by_id = {j["id"]: j for j in second.all()}
        assert by_id[done]["state"] == "done" and second.file(done, VIDEO) is not None
        assert by_id[running]["state"] == "failed" and "restart" in by_id[running]["error"]
        assert not (jobs_dir / running / INPUT).exists()
    finally:
        second.stop()
        assert second.join(5)


def test_display_names_are_reduced_to_a_safe_label() -> None:
    assert display_name("../../evil.mp4") == "evil.mp4"
    assert display_name("C:\\Users\\me\\clip.avi") == "clip.avi"
    assert display_name("a\x00b\x1b[31m.mp4") == "ab[31m.mp4"
    assert display_name("..") == "video" and display_name(None) == "video"
    assert len(display_name("x" * 1000 + ".mp4")) == 120
    assert os.sep not in display_name("a/b/c")


def test_web_config_has_bounds_descriptions_and_a_cameraless_loader(tmp_path: Path) -> None:
    from service.config import ConfigError, WebAppConfig, WebConfig, load_config, load_web_config  # noqa: PLC0415

    for model in (WebConfig, WebAppConfig):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
    yaml = tmp_path / "c.yaml"
    yaml.write_text(
        "cameras:\n  - id: a\n    source: rtsp://h/s\nzmq:\n  bind: tcp://0.0.0.0:1\nweb:\n  stride: 2\n"
    )
    env = {"ACTIONSTREAM_WEB__MAX_UPLOAD_MB": "12.5", "ACTIONSTREAM_ZMQ__BIND": "bad"}
    web = load_web_config(yaml, env=env, overrides={"http": {"port": 0}})
    assert (web.web.stride, web.web.max_upload_mb, web.http.port) == (2, 12.5, 0)
    assert load_config(yaml).web.stride == 2, "the service reads the same section"
    with pytest.raises(
        ConfigError, match=r"web\.max_concurrent_jobs.*\[from ACTIONSTREAM_WEB__MAX_CONCURRENT_JOBS\]"
    ):
        load_web_config(env={"ACTIONSTREAM_WEB__MAX_CONCURRENT_JOBS": "0"})
    with pytest.raises(ConfigError, match=r"web\.max_upload_mb"):
        load_web_config(overrides={"web": {"max_upload_mb": -1}})
