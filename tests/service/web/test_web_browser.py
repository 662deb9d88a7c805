"""The upload page in headless Chromium against `actionstream web` (MediaPipe, the shipped model,
ffmpeg): the waving clip goes up, the progress bar reaches 100 %, the annotated video plays in the
page beside a timeline that shows waving; a text file named .mp4 gets a clear message instead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.rtsp_server import free_port
from tests.service.web.webtools import browser_unavailable, chromium_page, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
WAVE = "videos/omkarnagarkar55_wave.mp4"


TOKEN = "browser-test-token-0123456789"


@contextmanager
def running_web(tmp: Path, **env_extra: str) -> Iterator[str]:
    """`actionstream web` in its own process until the block ends; it must exit 0 on SIGTERM."""
    reason = browser_unavailable()
    if reason:
        pytest.skip(reason)
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    log = tmp / "web.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **env_extra)
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "web", "--port", str(port), "--backend", "mediapipe",
             "--jobs-dir", str(tmp / "jobs")],
            cwd=ROOT, env=env, stderr=err,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"actionstream web exited:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    try:
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        assert proc.returncode == 0, log.read_text()[-3000:]
        assert not list((tmp / "jobs").glob("*/input")), "uploads are not left behind"


@pytest.fixture(scope="module")
def web_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """On loopback without a token: the page is open (the Host and Origin checks still apply)."""
    with running_web(tmp_path_factory.mktemp("web")) as url:
        yield url


def test_upload_analyse_and_play_in_the_browser(
    web_url: str, shared_data: Path, tmp_path: Path, artifacts_dir: Path
) -> None:
    with chromium_page(tmp_path / "profile") as page:
        page.goto(web_url + "/")
        page.set_input_files("#file-input", str(shared_data / WAVE))
        assert "omkarnagarkar55_wave.mp4" in page.inner_text("#chosen")
        page.click("#upload-button")

        seen: list[str] = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            text = page.inner_text("#progress-text")
            if not seen or seen[-1] != text:
                seen.append(text)
            if text.startswith("Done"):  # (the upload has its own 0-100 % before the analysis)
                break
            assert page.is_hidden("#error"), page.inner_text("#error")
            time.sleep(0.2)
        assert page.evaluate("document.getElementById('progress').value") == 100, seen
        assert any(t.startswith("Analysing…") and "/125 frames" in t for t in seen), seen
        assert "100 %" in page.inner_text("#progress-text")

        page.wait_for_selector("#result", state="visible")
        wait_until(page, "document.getElementById('result-video').readyState >= 2", timeout_ms=60_000)
        played = page.evaluate(
            """async () => {
                const v = document.getElementById('result-video');
                v.muted = true;
                await v.play();
                await new Promise((r) => setTimeout(r, 1200));
                return {paused: v.paused, t: v.currentTime, w: v.videoWidth, d: v.duration,
                        ready: v.readyState, error: v.error && v.error.code};
            }"""
        )
        assert played["error"] is None and played["ready"] >= 2, played
        assert not played["paused"] and played["t"] > 0.2, played
        assert played["w"] == 420 and abs(played["d"] - 12.5) < 0.2, played

        page.wait_for_selector("#segments tbody tr")
        table = page.inner_text("#segments tbody").lower()
        assert "waving" in table, table
        assert page.locator("#timeline-chart .seg").count() >= 1
        assert "done" in page.inner_text("#job-list").lower()
        href = page.get_attribute("#download-video", "href")
        assert href and href.endswith("/video?download=1")
        download = httpx.get(web_url + href, timeout=30)
        assert download.status_code == 200 and download.content[4:8] == b"ftyp"

        # A frame with both hands up, for the screenshot.
        page.evaluate(
            "() => { const v = document.getElementById('result-video'); v.pause(); v.currentTime = 7.0; }"
        )
        wait_until(page, "document.getElementById('result-video').seeking === false")
        time.sleep(0.5)
        page.screenshot(path=str(artifacts_dir / "web-upload.png"), full_page=True)


def test_the_timeline_draws_no_action_grey_and_names_it(web_url: str, tmp_path: Path) -> None:
    """A timeline (version 2) whose segments include label null: the page calls it "no action",
    in grey, beside the action's own colour; the legend lists both."""
    doc = {
        "version": 2,
        "source": {"name": "x.mp4", "fps": 10, "frames": 100, "duration_s": 10.0},
        "analysis": {"labels": ["BOXING", "JUMPING"]},
        "segments": [
            {"track_id": 1, "label": None, "start_s": 0.0, "end_s": 4.9, "confidence": 0.8},
            {"track_id": 1, "label": "BOXING", "start_s": 5.0, "end_s": 9.9, "confidence": 0.9},
        ],
        "confirmed": [{"track_id": 1, "label": "BOXING", "start_s": 5.5, "end_s": 9.9, "confidence": 0.9}],
    }
    with chromium_page(tmp_path / "profile") as page:
        page.goto(web_url + "/")
        page.evaluate("(doc) => renderTimeline(doc)", doc)
        rows = page.inner_text("#segments tbody").lower()
        assert "no action" in rows and "boxing" in rows, rows
        colours = page.evaluate(
            "() => [...document.querySelectorAll('#timeline-chart .lane:not(.thin) .seg')]"
            ".map((s) => [s.textContent, getComputedStyle(s).backgroundColor])"
        )
        assert colours[0] == ["no action", "rgb(134, 142, 150)"], colours
        assert colours[1][0] == "boxing" and colours[1][1] != colours[0][1], colours
        assert "no action" in page.inner_text("#legend").lower()


def test_a_text_file_named_mp4_gets_a_clear_message(
    web_url: str, tmp_path: Path, artifacts_dir: Path
) -> None:
    fake = tmp_path / "holiday.mp4"
    fake.write_text("Dear diary, this is not a video.\n" * 200)
    with chromium_page(tmp_path / "profile") as page:
        page.goto(web_url + "/")
        page.set_input_files("#file-input", str(fake))
        page.click("#upload-button")
        page.wait_for_selector("#error", state="visible", timeout=30_000)
        message = page.inner_text("#error")
        assert "This is not a video. (HTTP 415)" in message, message
        assert "holiday.mp4 is not a video" in message and "choose an MP4" in message, message
        assert page.is_hidden("#status"), "no progress bar left spinning"
        page.screenshot(path=str(artifacts_dir / "web-upload-error.png"), full_page=True)
        assert not page.evaluate(
            "[...document.querySelectorAll('#job-list li')].some(li => li.textContent.includes('holiday'))"
        ), "a refused upload is not a job"


def test_with_a_token_the_browser_logs_in_and_keeps_an_httponly_cookie(
    tmp_path: Path, artifacts_dir: Path
) -> None:
    with running_web(tmp_path / "web", ACTIONSTREAM_HTTP__TOKEN=TOKEN) as url:
        assert httpx.get(f"{url}/api/config").status_code == 401
        with chromium_page(tmp_path / "profile") as page:
            response = page.goto(url + "/")
            assert response is not None and response.status == 401
            page.wait_for_selector("form[action='/login']")
            page.screenshot(path=str(artifacts_dir / "web-login.png"))
            page.fill("input[name=token]", "not-the-token")
            page.click("button[type=submit]")
            assert "not valid" in page.inner_text("#message")
            page.fill("input[name=token]", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_selector("#upload-form")
            wait_until(page, "document.getElementById('limits').textContent.includes('up to')")
            assert page.evaluate("document.cookie") == "", "the session cookie is HttpOnly"
            cookies = page.context.cookies()
            (session,) = [c for c in cookies if c["name"] == "actionstream_session"]
            assert session["httpOnly"] and session["sameSite"] == "Strict" and TOKEN not in session["value"]
            # The page's own requests carry the cookie: the API answers (a text file gets its 415).
            fake = tmp_path / "notes.mp4"
            fake.write_text("not a video\n" * 100)
            page.set_input_files("#file-input", str(fake))
            page.click("#upload-button")
            page.wait_for_selector("#error", state="visible", timeout=30_000)
            assert "(HTTP 415)" in page.inner_text("#error")
        with chromium_page(tmp_path / "profile2") as page:  # a fresh browser, the token in the URL once
            page.goto(f"{url}/?token={TOKEN}")
            page.wait_for_selector("#upload-form")
            assert "token=" not in page.url, page.url
