"""Receiving an upload: a multipart/form-data body streamed straight into the job's directory.

The body is parsed as it arrives (python-multipart's streaming parser), so a file larger than the
limit is refused as soon as it passes the limit (or at once, from Content-Length) instead of
being spooled somewhere first. Only the part named ``file`` is kept, under the fixed name it is
given; the client's file name is returned for display and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MAX_BOUNDARY_LENGTH, MultipartParser, parse_options_header
from starlette.requests import Request

FIELD = "file"
_FORM_OVERHEAD = 64 * 1024  # headers and boundaries around the file in a multipart body
_MAX_OTHER_FIELD = 64 * 1024


class UploadError(Exception):
    """The upload was refused; ``status`` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    size: int


def human_size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class _Receiver:
    """python-multipart callbacks: route the ``file`` part into ``dest``, count its bytes."""

    def __init__(self, dest: Path, max_bytes: int) -> None:
        self.dest = dest
        self.max_bytes = max_bytes
        self.size = 0
        self.filename: str | None = None
        self.found = False
        self._out: IO[bytes] | None = None
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._in_file = False
        self._other = 0

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field_data,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._in_file = False

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if params.get(b"name") == FIELD.encode() and self.found:
            raise UploadError(400, f"the upload has more than one '{FIELD}' part: send one video per upload")
        if params.get(b"name") == FIELD.encode():
            self.found = self._in_file = True
            self.filename = params.get(b"filename", b"").decode("utf-8", "replace")
            self._out = self.dest.open("wb")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        n = end - start
        if not self._in_file:
            self._other += n
            if self._other > _MAX_OTHER_FIELD:
                raise UploadError(400, f"form fields other than '{FIELD}' are too large")
            return
        self.size += n
        if self.size > self.max_bytes:
            raise UploadError(413, f"the file is larger than the {human_size(self.max_bytes)} limit")
        assert self._out is not None
        self._out.write(data[start:end])

    def _part_end(self) -> None:
        if self._in_file and self._out is not None:
            self._out.close()
            self._out = None
            self._in_file = False

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


async def receive_upload(request: Request, dest: Path, max_bytes: int) -> Upload:
    """Stream the ``file`` part of a multipart body into ``dest``; ``UploadError`` on refusal."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UploadError(
            400, f"send the video as multipart/form-data with a '{FIELD}' field (the upload form does)"
        )
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes + _FORM_OVERHEAD:
        raise UploadError(
            413,
            f"the file ({human_size(int(length))}) is larger than the {human_size(max_bytes)} limit",
        )
    if len(boundary) > MAX_BOUNDARY_LENGTH:
        raise UploadError(
            400,
            f"the multipart boundary is {len(boundary)} characters long; at most {MAX_BOUNDARY_LENGTH} "
            "are accepted (browsers use about 40)",
        )
    receiver = _Receiver(dest, max_bytes)
    try:
        parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise UploadError(400, f"the upload is not valid multipart/form-data ({exc})") from None
    except OSError as exc:  # the disk is full, the directory went away: not the client's fault
        raise UploadError(
            507, f"the server could not store the upload ({exc.strerror or exc}); try again later"
        ) from None
    finally:
        receiver.close()
    if not receiver.found:
        raise UploadError(400, f"no '{FIELD}' field in the upload: choose a video file")
    if receiver.size == 0:
        raise UploadError(400, f"{receiver.filename or 'the file'} is empty (0 bytes): choose a video file")
    return Upload(receiver.filename or "", receiver.size)
