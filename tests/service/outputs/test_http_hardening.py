"""The HTTP server against hostile clients, over raw sockets on a real uvicorn: oversized request
lines and headers get 414/431 (read by the client, not a reset), incomplete requests and stalled
bodies are closed by the timeouts, the connection cap answers 503, and no malformed request of
any shape gets a 500."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.outputs.http_protocol import HttpLimits
from tests.service.web.webtools import FakeRunner, serve_web

LIMITS = HttpLimits(header_timeout_s=1.0, idle_timeout_s=1.0, max_connections=8)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    with serve_web(tmp_path / "jobs", FakeRunner(steps=1), limits=LIMITS, max_upload_mb=1.0) as s:
        yield s


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def exchange(url: str, data: bytes, *, wait_s: float = 10.0) -> tuple[bytes, bool]:
    """Send ``data``, read until the server closes. (response bytes, whether it was a clean close)."""
    with socket.create_connection(address(url), timeout=wait_s) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused before the end
            sock.sendall(data)
        return read_all(sock)


def read_all(sock: socket.socket) -> tuple[bytes, bool]:
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except ConnectionResetError:
        return out, False
    return out, True


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


def test_a_huge_url_gets_414_and_the_client_reads_it(server: Any) -> None:
    host, _ = address(server.url)
    request = b"GET /" + b"a" * (1024 * 1024) + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n"
    response, clean = exchange(server.url, request)
    assert status_of(response) == 414 and b"request line is longer than 8 KiB" in response
    assert clean, "answered and closed, not reset"


def test_a_huge_header_gets_431(server: Any) -> None:
    host, _ = address(server.url)
    request = b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\nX-Big: " + b"b" * (200 * 1024) + b"\r\n\r\n"
    response, clean = exchange(server.url, request)
    assert status_of(response) == 431 and b"headers are larger than 32 KiB" in response
    assert clean


def test_an_incomplete_request_is_closed_by_the_header_timeout(server: Any) -> None:
    host, _ = address(server.url)
    t0 = time.monotonic()
    response, _ = exchange(server.url, f"GET /livez HTTP/1.1\r\nHost: {host}\r\n".encode())
    elapsed = time.monotonic() - t0
    assert status_of(response) == 408 and b"did not arrive within 1 s" in response
    assert elapsed < 10, "closed by the server, not by the client's own timeout"


def test_trickling_headers_do_not_extend_the_header_timeout(server: Any) -> None:
    host, _ = address(server.url)
    with socket.create_connection(address(server.url), timeout=10) as sock:
        sock.sendall(f"GET /livez HTTP/1.1\r\nHost: {host}\r\n".encode())
        closed = False
        for _ in range(20):  # one header byte every 0.25 s: 5 s if it were allowed
            try:
                sock.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.25)
        response, _ = read_all(sock)
    assert closed or status_of(response) == 408


def test_an_idle_connection_is_closed(server: Any) -> None:
    with socket.create_connection(address(server.url), timeout=10) as sock:
        response, clean = read_all(sock)
    assert response == b"" and clean


def test_a_stalled_body_is_cut(server: Any) -> None:
    host, _ = address(server.url)
    head = (
        f"POST /api/jobs HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        "Content-Length: 100000\r\n\r\n"
    ).encode()
    with socket.create_connection(address(server.url), timeout=10) as sock:
        sock.sendall(head + b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n')
        read_all(sock)  # returns once the server gave up on the body
    assert httpx.get(f"{server.url}/api/jobs").json() == {"jobs": []}
    assert [p.name for p in server.jobs_dir.iterdir() if p.name != ".lock"] == []


def test_connections_beyond_the_cap_get_503(server: Any) -> None:
    host, _ = address(server.url)
    held = [socket.create_connection(address(server.url), timeout=10) for _ in range(LIMITS.max_connections)]
    try:
        for sock in held:
            sock.sendall(b"GET /livez HTTP/1.1\r\n")  # incomplete: each holds a connection
        time.sleep(0.2)
        response, _ = exchange(server.url, f"GET /livez HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert status_of(response) == 503
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the held connections close; the server serves again
        if httpx.get(f"{server.url}/livez", timeout=5).status_code == 200:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the server did not recover after the connections closed")


def _multipart(boundary: str, parts: list[tuple[str, bytes]]) -> bytes:
    body = b""
    for name, data in parts:
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="v.mp4"\r\n'
                "Content-Type: video/mp4\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return body + f"--{boundary}--\r\n".encode()


def _post(host: str, content_type: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST /api/jobs HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    ).encode() + body


def malformed(host: str) -> dict[str, bytes]:
    h = host.encode()
    long_boundary = "x" * 300
    return {
        "garbage": b"GARBAGE\r\n\r\n",
        "no host": b"GET /livez HTTP/1.1\r\n\r\n",
        "two hosts": b"GET /livez HTTP/1.1\r\nHost: " + h + b"\r\nHost: other\r\n\r\n",
        "non-ascii target": b"GET /\xff\xfe HTTP/1.1\r\nHost: " + h + b"\r\n\r\n",
        "nul in target": b"GET /a\x00b HTTP/1.1\r\nHost: " + h + b"\r\n\r\n",
        "bad version": b"GET / HTTP/9.9\r\nHost: " + h + b"\r\n\r\n",
        "header without colon": b"GET / HTTP/1.1\r\nHost: " + h + b"\r\nNoColonHere\r\n\r\n",
        "negative length": b"POST /api/jobs HTTP/1.1\r\nHost: " + h + b"\r\nContent-Length: -1\r\n\r\n",
        "two lengths": b"POST /api/jobs HTTP/1.1\r\nHost: "
        + h
        + b"\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "bad chunk": b"POST /api/jobs HTTP/1.1\r\nHost: "
        + h
        + b"\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "absolute target": b"GET http://evil.example/ HTTP/1.1\r\nHost: " + h + b"\r\n\r\n",
        "percent junk": b"GET /api/jobs/%zz%00%ff HTTP/1.1\r\nHost: " + h + b"\r\nConnection: close\r\n\r\n",
        "bad query": b"GET /api/jobs/x/video?download=%ff%fe HTTP/1.1\r\nHost: "
        + h
        + b"\r\nConnection: close\r\n\r\n",
        "latin-1 header": b"GET /livez HTTP/1.1\r\nHost: "
        + h
        + b"\r\nX-Name: \xe9\xff\r\nConnection: close\r\n\r\n",
        "long boundary": _post(
            host,
            f"multipart/form-data; boundary={long_boundary}",
            _multipart(long_boundary, [("file", b"x")]),
        ),
        "two file parts": _post(
            host,
            "multipart/form-data; boundary=bb",
            _multipart("bb", [("file", b"x" * 10), ("file", b"y" * 10)]),
        ),
        "no boundary": _post(host, "multipart/form-data", b"--x\r\n\r\n--x--\r\n"),
        "empty boundary": _post(host, 'multipart/form-data; boundary=""', b"----\r\n"),
        "truncated multipart": _post(host, "multipart/form-data; boundary=cc", b"--cc\r\nContent-Disp"),
        "broken part headers": _post(
            host, "multipart/form-data; boundary=dd", b"--dd\r\n\x00\x01\x02\r\n\r\n--dd--"
        ),
        "json body": _post(host, "application/json", b'{"file": 1}'),
        "huge content-length": b"POST /api/jobs HTTP/1.1\r\nHost: "
        + h
        + b"\r\nContent-Type: multipart/form-data; boundary=q\r\nContent-Length: 99999999999999\r\n\r\n",
        "delete unknown": b"DELETE /api/jobs/../../etc HTTP/1.1\r\nHost: "
        + h
        + b"\r\nConnection: close\r\n\r\n",
        "method": b"BREW /api/jobs HTTP/1.1\r\nHost: " + h + b"\r\nConnection: close\r\n\r\n",
    }


def test_no_request_shape_gets_a_500(server: Any) -> None:
    host, _ = address(server.url)
    statuses = {}
    for name, request in malformed(host).items():
        response, _ = exchange(server.url, request)
        statuses[name] = status_of(response)
    print(statuses)
    assert all(s < 500 for s in statuses.values()), statuses
    lenient = {"bad version", "latin-1 header"}  # h11 accepts these as the requests they nearly are
    assert all(400 <= s < 500 for name, s in statuses.items() if name not in lenient), statuses
    assert statuses["long boundary"] == 400 and statuses["two file parts"] == 400
    assert httpx.get(f"{server.url}/livez").status_code == 200, "the server is still fine"
    assert [p.name for p in server.jobs_dir.iterdir() if p.name != ".lock"] == []


def test_upload_errors_say_what_was_wrong(server: Any) -> None:
    boundary = "z" * 300
    r = httpx.post(
        f"{server.url}/api/jobs",
        content=_multipart(boundary, [("file", b"x")]),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 400 and "boundary is 300 characters long" in r.json()["detail"]
    r = httpx.post(
        f"{server.url}/api/jobs",
        content=_multipart("bb", [("file", b"x" * 10), ("file", b"y" * 10)]),
        headers={"Content-Type": "multipart/form-data; boundary=bb"},
    )
    assert r.status_code == 400 and "more than one 'file' part" in r.json()["detail"]
