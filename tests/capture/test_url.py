"""Credential masking: the one helper every log line, error and description goes through."""

from __future__ import annotations

import pytest

from capture.url import mask_credentials, mask_text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/stream1", "rtsp://***:***@10.0.0.5:554/stream1"),
        ("rtsp://admin@10.0.0.5/stream", "rtsp://***@10.0.0.5/stream"),
        ("rtsp://10.0.0.5/stream", "rtsp://10.0.0.5/stream"),
        ("rtsp://user:p@ss@word@cam.local/x", "rtsp://***:***@cam.local/x"),  # raw '@' in the password
        ("http://u:pw@host", "http://***:***@host"),
        ("rtsp://host/live?user=admin&password=s3cret&ch=1", "rtsp://host/live?user=***&password=***&ch=1"),
        ("rtsp://host/live?channel=1&token=abc#frag", "rtsp://host/live?channel=1&token=***#frag"),
        ("/videos/a@b.mp4", "/videos/a@b.mp4"),
        ("", ""),
    ],
)
def test_mask_credentials(url: str, expected: str) -> None:
    assert mask_credentials(url) == expected


def test_mask_text_finds_urls_inside_messages() -> None:
    message = (
        "OpenCV(5.0) error: could not open 'rtsp://admin:hunter2@10.0.0.5/s' "
        "(fallback http://viewer:pw2@10.0.0.6/mjpg failed); contact ops@example.com"
    )
    masked = mask_text(message)
    assert "hunter2" not in masked and "pw2" not in masked
    assert "admin" not in masked and "viewer" not in masked
    assert "rtsp://***:***@10.0.0.5/s" in masked
    assert "http://***:***@10.0.0.6/mjpg" in masked
    assert "ops@example.com" in masked  # plain e-mail addresses are not URLs


def test_mask_is_idempotent() -> None:
    once = mask_credentials("rtsp://a:b@h/x?pwd=1")
    assert mask_credentials(once) == once == "rtsp://***:***@h/x?pwd=***"
