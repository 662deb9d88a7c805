"""Authentication, Host and Origin checks on a real uvicorn serving the web UI with a camera:
without the token the UI, its API and the MJPEG preview are refused; the bearer header, the
login form and a one-time ?token= work; cross-origin writes and foreign Host headers are refused;
every response carries the security headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.outputs.http_guard import COOKIE, SECURITY_HEADERS, AccessPolicy
from service.web.live import LivePreviews
from tests.service.web.webtools import FakeRunner, serve_web

TOKEN = "correct-horse-battery-staple-42"
WAVE = "videos/omkarnagarkar55_wave.mp4"


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Any]:
    previews = LivePreviews(["cam0"])
    access = AccessPolicy.for_server(True, token=TOKEN)
    with serve_web(
        tmp_path / "jobs", FakeRunner(steps=1), previews=previews, camera_states=lambda: {"cam0": "online"},
        access=access,
    ) as s:  # fmt: skip
        yield s


def client(url: str, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=url, follow_redirects=False, timeout=30, **kwargs)


def upload(c: httpx.Client, data: bytes, **kwargs: Any) -> httpx.Response:
    return c.post("/api/jobs", files={"file": ("clip.mp4", data, "video/mp4")}, **kwargs)


PROTECTED = [
    "/",
    "/live",
    "/api/config",
    "/api/jobs",
    "/api/cameras",
    "/api/cameras/cam0/mjpeg",
    "/static/app.js",
]


def test_without_credentials_the_ui_api_and_previews_are_refused(guarded: Any) -> None:
    with client(guarded.url) as c:
        for path in PROTECTED:
            r = c.get(path)
            assert r.status_code == 401, path
            if path in ("/", "/live"):
                assert r.headers["content-type"].startswith("text/html") and 'action="/login"' in r.text
            else:
                assert "authentication required" in r.json()["detail"]
                assert r.headers["www-authenticate"].startswith("Bearer")
        assert upload(c, b"x").status_code == 401
        assert c.delete("/api/jobs/" + "0" * 32).status_code == 401
        assert (
            c.get("/api/jobs", headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
        )
        assert c.get("/api/jobs", headers={"Cookie": f"{COOKIE}=forged"}).status_code == 401
        # Health and (by default) metrics stay open for probes and Prometheus.
        assert c.get("/livez").status_code == 200
        assert c.get("/readyz").status_code == 200
        assert c.get("/metrics").status_code == 200
    assert [p.name for p in guarded.jobs_dir.iterdir() if p.name != ".lock"] == []


def test_the_bearer_token_opens_everything(guarded: Any, shared_data: Path) -> None:
    with client(guarded.url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        assert c.get("/").status_code == 200
        assert c.get("/api/cameras").json()["cameras"][0]["id"] == "cam0"
        with c.stream("GET", "/api/cameras/cam0/mjpeg") as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("multipart/x-mixed-replace")
        r = upload(c, (shared_data / WAVE).read_bytes())
        assert r.status_code == 201, r.text


def test_a_token_in_the_url_becomes_an_httponly_strict_cookie(guarded: Any) -> None:
    with client(guarded.url) as c:
        r = c.get(f"/live?token={TOKEN}&x=1")
        assert r.status_code == 303 and r.headers["location"] == "/live?x=1", "the token leaves the URL"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=") and TOKEN not in cookie, "the cookie is not the token"
        for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
            assert attribute in cookie
        assert c.get("/live").status_code == 200, "the cookie is now sent"
        assert c.get("/live", headers={"Authorization": "Basic cHJveHk6cHc="}).status_code == 200, (
            "a reverse proxy's own Basic header does not hide the cookie"
        )
        with c.stream("GET", "/api/cameras/cam0/mjpeg") as stream:
            assert stream.status_code == 200
        assert c.get("/login/status").status_code == 204
        r = c.post("/logout")
        assert r.status_code == 303 and "Max-Age=0" in r.headers["set-cookie"]
        c.cookies.clear()
        assert c.get("/api/jobs").status_code == 401
        assert c.get("/?token=not-the-token-at-all").status_code == 401


def test_the_login_form(guarded: Any) -> None:
    with client(guarded.url) as c:
        page = c.get("/login?next=/live")
        assert page.status_code == 200 and 'name="next" value="/live"' in page.text
        r = c.post("/login", data={"token": "wrong", "next": "/live"})
        assert r.status_code == 401 and "not valid" in r.text
        r = c.post("/login", data={"token": TOKEN, "next": "//evil.example/"})
        assert r.status_code == 303 and r.headers["location"] == "/", "no open redirect"
        assert c.get("/api/jobs").status_code == 200


def test_cross_origin_writes_are_refused(guarded: Any, shared_data: Path) -> None:
    video = (shared_data / WAVE).read_bytes()
    with client(guarded.url) as c:
        c.get(f"/?token={TOKEN}")  # a logged-in browser
        evil = {"Origin": "http://evil.example"}
        r = upload(c, video, headers=evil)
        assert r.status_code == 403 and "cross-origin" in r.json()["detail"]
        assert upload(c, video, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
        assert c.delete("/api/jobs/" + "0" * 32, headers=evil).status_code == 403
        assert c.post("/login", data={"token": TOKEN}, headers=evil).status_code == 403, "no login CSRF"
        assert upload(c, video, headers={"Origin": "null"}).status_code == 403, "a sandboxed page"
        assert c.get("/api/jobs").json() == {"jobs": []}, "nothing was created"
        same = {"Origin": guarded.url, "Sec-Fetch-Site": "same-origin"}
        assert upload(c, video, headers=same).status_code == 201
        hidden = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}  # a browser hiding its origin
        assert c.post("/login", data={"token": TOKEN}, headers=hidden).status_code == 303


def test_foreign_host_headers_are_refused(guarded: Any) -> None:
    with client(guarded.url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        for host in ("evil.example", "evil.example:8080", "127.0.0.1.evil.example"):
            r = c.get("/api/jobs", headers={"Host": host})
            assert r.status_code == 400 and "does not answer to the host" in r.json()["detail"], host
        for host in ("localhost", "127.0.0.1:1234", "[::1]:80", "app.localhost"):
            assert c.get("/api/jobs", headers={"Host": host}).status_code == 200, host
    policy = AccessPolicy.for_server(False, allowed_hosts=["cams.example.com", ".lan"])
    assert policy.host_allowed("cams.example.com:8080") and policy.host_allowed("box.lan")
    assert not policy.host_allowed("evil.example") and not policy.host_allowed("cams.example.com.evil")
    assert AccessPolicy.for_server(False).host_allowed("anything"), "off loopback the token protects"


def test_every_response_has_the_security_headers(guarded: Any) -> None:
    with client(guarded.url) as c:
        responses = [
            c.get("/livez"),
            c.get("/api/jobs"),
            c.get("/api/jobs", headers={"Host": "evil.example"}),
            c.get("/nope", headers={"Authorization": f"Bearer {TOKEN}"}),
            c.get("/", headers={"Authorization": f"Bearer {TOKEN}"}),
        ]
    for r in responses:
        for name, value in SECURITY_HEADERS:
            assert r.headers.get(name.decode()) == value.decode(), (r.request.url, name)
    assert "frame-ancestors 'none'" in responses[0].headers["content-security-policy"]


def test_metrics_can_require_the_token(tmp_path: Path) -> None:
    access = AccessPolicy.for_server(True, token=TOKEN, metrics_auth=True)
    with serve_web(tmp_path / "jobs", FakeRunner(), access=access) as s, client(s.url) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert c.get("/livez").status_code == 200


def test_without_a_token_on_loopback_the_ui_is_open_but_still_checked(tmp_path: Path) -> None:
    with serve_web(tmp_path / "jobs", FakeRunner()) as s, client(s.url) as c:
        assert c.get("/api/jobs").status_code == 200
        assert c.get("/api/jobs", headers={"Host": "rebound.evil.example"}).status_code == 400
        r = c.post("/api/jobs", headers={"Origin": "http://evil.example"}, files={"file": ("a", b"x")})
        assert r.status_code == 403
        assert c.get("/login").status_code == 404, "no login without a token"
