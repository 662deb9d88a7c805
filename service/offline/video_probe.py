"""Is this file a video we can analyse? One check shared by ``actionstream analyze`` and uploads.

``probe_video`` asks ffprobe what the file holds (when ffprobe is installed) and then decodes the
first frame with OpenCV, the reader the analysis uses. Failures are ``BadVideoError`` with a kind the
HTTP layer maps to a status code and a message for the user:

- ``missing``: no such file; ``empty``: zero bytes;
- ``not_video``: not a container we know (text, an image, audio only);
- ``corrupt``: it starts like a video container (MP4, AVI, MKV, ...) but cannot be read or decoded.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import cv2

from capture.sources import MAX_SANE_FPS

BadVideoKind = Literal["missing", "empty", "not_video", "corrupt"]


class BadVideoError(ValueError):
    """The file cannot be analysed; ``kind`` says why, the message says what to do."""

    def __init__(self, kind: BadVideoKind, message: str) -> None:
        super().__init__(message)
        self.kind: BadVideoKind = kind


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the analysis needs to know before reading: size, rate and (when known) frame count."""

    width: int
    height: int
    fps: float
    frames: int | None = None
    duration_s: float | None = None
    codec: str | None = None
    container: str | None = None

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"VideoInfo needs a positive size, got {self.width}x{self.height}")
        if not (math.isfinite(self.fps) and 0 < self.fps <= MAX_SANE_FPS):
            raise ValueError(f"VideoInfo.fps must be in (0, {MAX_SANE_FPS}], got {self.fps}")


def probe_video(path: str | Path, *, name: str | None = None, timeout_s: float = 60.0) -> VideoInfo:
    """Check ``path`` holds a decodable video and describe it; raises ``BadVideoError``. ``name`` is
    what messages call the file (default: its file name)."""
    p = Path(path)
    if not p.is_file():
        raise BadVideoError("missing", f"video file not found: {p} (check the path; it must be a file)")
    shown = name or p.name
    size = p.stat().st_size
    if size == 0:
        raise BadVideoError("empty", f"{shown} is empty (0 bytes): choose a video file")
    looks_like_video = sniff_container(p)
    meta = _ffprobe(p, timeout_s) if shutil.which("ffprobe") else {}
    if meta.get("error"):
        if looks_like_video:
            raise BadVideoError(
                "corrupt",
                f"{shown} looks like a {looks_like_video} video but cannot be read ({meta['error']}): "
                "the file is damaged or incomplete; export or download it again",
            )
        raise BadVideoError(
            "not_video",
            f"{shown} is not a video (ffprobe: {meta['error']}): choose an MP4, AVI, MKV, MOV or WebM file",
        )
    container = str(meta.get("format_name") or "") or None
    if container and (container.endswith("_pipe") or container == "image2"):
        raise BadVideoError("not_video", f"{shown} is a still image ({container}), not a video")
    if meta and not meta.get("video"):
        raise BadVideoError("not_video", f"{shown} has no video stream (audio only?): choose a video file")
    return _decode_first_frame(p, shown, meta, looks_like_video)


def _decode_first_frame(
    p: Path, shown: str, meta: dict[str, object], looks_like_video: str | None
) -> VideoInfo:
    cap = cv2.VideoCapture(str(p), cv2.CAP_FFMPEG)
    try:
        ok, image = cap.read() if cap.isOpened() else (False, None)
        if not ok or image is None:
            if meta or looks_like_video:
                raise BadVideoError(
                    "corrupt",
                    f"{shown} is a video container but its first frame cannot be decoded: the file is "
                    "damaged or incomplete, or uses a codec this build cannot read",
                )
            raise BadVideoError("not_video", f"{shown} cannot be opened as a video: choose a video file")
        height, width = image.shape[:2]
        fps = _float(meta.get("fps")) or _float(cap.get(cv2.CAP_PROP_FPS))
        frames = _int(meta.get("frames")) or _int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    if not (fps and 0 < fps <= MAX_SANE_FPS):
        fps = 25.0  # containers without a usable rate: assume the common one (output timing only)
    duration = _float(meta.get("duration"))
    if frames is None and duration:
        frames = max(1, round(duration * fps))
    return VideoInfo(
        width=int(width),
        height=int(height),
        fps=float(fps),
        frames=frames,
        duration_s=duration,
        codec=str(meta["codec"]) if meta.get("codec") else None,
        container=str(meta["format_name"]) if meta.get("format_name") else None,
    )


def _ffprobe(p: Path, timeout_s: float) -> dict[str, object]:
    """ffprobe's view: ``{"error": ...}`` when it cannot parse the file, else the first video stream."""
    argv = [
        "ffprobe", "-v", "error", "-of", "json",
        "-show_entries", "format=format_name,duration:stream=codec_type,codec_name,nb_frames,"
        "avg_frame_rate,r_frame_rate,duration",
        str(p),
    ]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"ffprobe took longer than {timeout_s:.0f} s"}
    except OSError as exc:  # ffprobe vanished or cannot run: fall back to OpenCV alone
        return {"ffprobe_failed": str(exc)}
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        return {"error": reason.replace(f"{p}: ", "").replace(str(p), "the file")[:300]}
    try:
        data = json.loads(done.stdout or "{}")
    except json.JSONDecodeError:
        return {"error": "unreadable ffprobe output"}
    fmt = data.get("format") or {}
    out: dict[str, object] = {"format_name": fmt.get("format_name"), "duration": fmt.get("duration")}
    video = [s for s in data.get("streams") or [] if s.get("codec_type") == "video"]
    out["video"] = bool(video)
    if video:
        s = video[0]
        out["codec"] = s.get("codec_name")
        out["frames"] = s.get("nb_frames")
        out["fps"] = _rate(s.get("avg_frame_rate")) or _rate(s.get("r_frame_rate"))
        out["duration"] = s.get("duration") or out["duration"]
    return out


# (offset, magic bytes, container) for the video containers people upload.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    *((4, tag, "MP4/MOV") for tag in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")),
    (8, b"AVI ", "AVI"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
    (0, b"FLV", "FLV"),
    (0, b"OggS", "Ogg"),
    (0, b"\x00\x00\x01\xba", "MPEG"),
    (0, b"\x00\x00\x01\xb3", "MPEG"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "ASF/WMV"),
)


def sniff_container(path: Path) -> str | None:
    """The video container the file's first bytes announce (``"MP4/MOV"``, ...), or None."""
    with path.open("rb") as f:
        head = f.read(512)
    for offset, magic, name in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "MPEG-TS"
    return None


def _rate(text: object) -> float | None:
    try:
        value = float(Fraction(str(text)))
    except (ValueError, ZeroDivisionError):
        return None
    return value if 0 < value <= MAX_SANE_FPS else None


def _float(value: object) -> float | None:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f > 0 else None


def _int(value: object) -> int | None:
    f = _float(value)
    return round(f) if f is not None and f >= 1 else None
