"""HTTP routes of the web UI, mounted on the same FastAPI app as /metrics.

Pages: ``/`` (upload and results), ``/live`` (cameras). API: ``/api/jobs`` (POST an upload, list,
get, DELETE, ``/events`` server-sent progress, result files with range requests), ``/api/cameras``
(state and latest events) and ``/api/cameras/<id>/mjpeg`` (the annotated preview).

Long-lived responses (SSE, MJPEG) poll cheap in-memory state and end when the client goes away
or ``closing`` is set, so the server can always stop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.requests import ClientDisconnect

from service.offline.video_probe import BadVideoError, probe_video
from service.web.jobs import (
    CSV,
    INPUT,
    TIMELINE,
    VIDEO,
    JobManager,
    JobsClosedError,
    JobsFullError,
    display_name,
)
from service.web.live import LivePreviews
from service.web.uploads import UploadError, human_size, receive_upload

log = logging.getLogger(__name__)

STATIC = resources.files("service.web") / "static"
_STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}
_BAD_VIDEO_STATUS = {"empty": 400, "missing": 400, "not_video": 415, "corrupt": 422}
_SSE_POLL_S = 0.25
_KEEPALIVE_S = 15.0


@dataclass
class WebSettings:
    """What the routes need besides the jobs and the cameras."""

    max_upload_bytes: int
    live_fps: float = 5.0
    cameras_enabled: bool = True


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def _static(name: str) -> Response:
    item = STATIC / name
    suffix = "." + name.rsplit(".", 1)[-1]
    return Response(
        content=item.read_bytes(),
        media_type=_STATIC_TYPES[suffix],
        headers={"Cache-Control": "no-cache"},
    )


def _static_names() -> set[str]:
    return {p.name for p in STATIC.iterdir() if "." + p.name.rsplit(".", 1)[-1] in _STATIC_TYPES}


def web_router(
    settings: WebSettings,
    *,
    jobs: JobManager | None,
    previews: LivePreviews | None = None,
    camera_states: Callable[[], Mapping[str, str]] | None = None,
    closing: threading.Event | None = None,
) -> APIRouter:
    """The UI's routes; ``jobs`` None hides uploads, ``previews`` None means no cameras here."""
    router = APIRouter()
    stopping = closing or threading.Event()
    static_names = _static_names()

    @router.get("/", include_in_schema=False)
    def index() -> Response:
        return _static("index.html")

    @router.get("/live", include_in_schema=False)
    def live_page() -> Response:
        return _static("live.html")

    @router.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in static_names:  # a fixed list: no path from the request reaches the disk
            return _error(404, "no such file")
        return _static(name)

    @router.get("/api/config")
    def config() -> dict[str, Any]:
        return {
            "uploads": jobs is not None,
            "max_upload_bytes": settings.max_upload_bytes,
            "max_upload": human_size(settings.max_upload_bytes),
            "max_concurrent_jobs": jobs.max_concurrent if jobs else 0,
            "job_ttl_s": jobs.ttl_s if jobs else None,
            "cameras": list(previews.cameras) if previews else [],
        }

    if jobs is not None:
        _job_routes(router, jobs, settings, stopping)
    _camera_routes(router, settings, previews, camera_states, stopping)
    return router


def _job_routes(
    router: APIRouter, jobs: JobManager, settings: WebSettings, stopping: threading.Event
) -> None:
    @router.post("/api/jobs")
    async def create_job(request: Request) -> JSONResponse:
        try:
            job_id, directory = jobs.reserve()
        except JobsFullError as exc:
            return _error(429, str(exc))
        except JobsClosedError as exc:
            return _error(503, str(exc))
        try:
            upload = await receive_upload(request, directory / INPUT, settings.max_upload_bytes)
            info = await anyio.to_thread.run_sync(
                lambda: probe_video(directory / INPUT, name=display_name(upload.filename))
            )
        except UploadError as exc:
            jobs.discard(job_id)
            return _error(exc.status, str(exc))
        except BadVideoError as exc:
            jobs.discard(job_id)
            return _error(_BAD_VIDEO_STATUS[exc.kind], str(exc))
        except ClientDisconnect:
            jobs.discard(job_id)
            log.info("an upload was abandoned by the client; removed what had arrived")
            return _error(400, "the upload was interrupted")
        except BaseException:
            jobs.discard(job_id)  # client went away, server stopping: leave nothing behind
            raise
        queued = jobs.submit(job_id, upload.filename, upload.size, info.frames)
        return JSONResponse(queued, status_code=201)

    @router.get("/api/jobs")
    def list_jobs() -> dict[str, Any]:
        return {"jobs": jobs.all()}

    @router.get("/api/jobs/{job_id}")
    def get_job(job_id: str) -> JSONResponse:
        snap = jobs.snapshot(job_id)
        return JSONResponse(snap) if snap else _error(404, "no such job (it may have expired)")

    @router.delete("/api/jobs/{job_id}")
    def delete_job(job_id: str) -> Response:
        if not jobs.delete(job_id):
            return _error(404, "no such job")
        return Response(status_code=204)

    @router.get("/api/jobs/{job_id}/events")
    async def job_events(job_id: str) -> Response:
        if jobs.snapshot(job_id) is None:
            return _error(404, "no such job")
        return StreamingResponse(
            _progress_stream(jobs, job_id, stopping),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    def _result(job_id: str, name: str, media_type: str, download: bool, suffix: str) -> Response:
        path = jobs.file(job_id, name)
        if path is None:
            return _error(404, "no such result (the job is unknown, not finished, or failed)")
        job = jobs.get(job_id)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", (job.name if job else "video").rsplit(".", 1)[0])[:80]
        return FileResponse(
            path,
            media_type=media_type,
            filename=f"{stem or 'video'}{suffix}" if download else None,
            content_disposition_type="attachment" if download else "inline",
        )

    @router.get("/api/jobs/{job_id}/video")
    def job_video(job_id: str, download: bool = False) -> Response:
        return _result(job_id, VIDEO, "video/mp4", download, ".annotated.mp4")

    @router.get("/api/jobs/{job_id}/timeline.json")
    def job_timeline(job_id: str, download: bool = False) -> Response:
        return _result(job_id, TIMELINE, "application/json", download, ".timeline.json")

    @router.get("/api/jobs/{job_id}/timeline.csv")
    def job_csv(job_id: str) -> Response:
        return _result(job_id, CSV, "text/csv", True, ".timeline.csv")


async def _progress_stream(jobs: JobManager, job_id: str, stopping: threading.Event) -> AsyncIterator[str]:
    """Server-sent events: ``progress`` while queued/running, then ``done`` or ``failed``."""
    last_version = -1
    quiet = 0.0
    while not stopping.is_set():
        snap = jobs.snapshot(job_id)
        if snap is None:
            yield _sse("gone", {"id": job_id, "detail": "the job was deleted"})
            return
        if snap["version"] != last_version:
            last_version = snap["version"]
            kind = snap["state"] if snap["state"] in ("done", "failed") else "progress"
            yield _sse(kind, snap)
            quiet = 0.0
            if kind != "progress":
                return
        elif quiet >= _KEEPALIVE_S:
            yield ": keep-alive\n\n"
            quiet = 0.0
        await asyncio.sleep(_SSE_POLL_S)
        quiet += _SSE_POLL_S


def _sse(event: str, data: Mapping[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _camera_routes(
    router: APIRouter,
    settings: WebSettings,
    previews: LivePreviews | None,
    camera_states: Callable[[], Mapping[str, str]] | None,
    stopping: threading.Event,
) -> None:
    @router.get("/api/cameras")
    def cameras() -> dict[str, Any]:
        if previews is None:
            return {"cameras": []}
        states = dict(camera_states()) if camera_states else {}
        out = []
        for cam in previews.cameras:
            snap = previews.latest(cam)
            out.append(
                {
                    "id": cam,
                    "state": str(getattr(states.get(cam), "value", states.get(cam, "unknown"))),
                    "mjpeg_url": f"/api/cameras/{cam}/mjpeg",
                    "frame": None
                    if snap is None
                    else {"seq": snap.frame.seq, "width": snap.frame.width, "height": snap.frame.height},
                    "people": []
                    if snap is None
                    else [
                        {
                            "track_id": track_id,
                            "label": action.label,
                            "reason": action.reason,
                            "confidence": action.confidence,
                            "segment": action.segment,
                        }
                        for track_id, action in zip(
                            snap.result.people.track_ids.tolist(), snap.result.actions, strict=True
                        )
                    ],
                    "events": previews.events(cam),
                }
            )
        return {"cameras": out}

    @router.get("/api/cameras/{camera_id}/mjpeg")
    def mjpeg(camera_id: str) -> Response:
        if previews is None or camera_id not in previews.cameras:
            return _error(404, "no such camera")
        return StreamingResponse(
            _mjpeg_stream(previews, camera_id, settings.live_fps, stopping),
            media_type="multipart/x-mixed-replace; boundary=frame",
            headers={"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"},
        )


async def _mjpeg_stream(
    previews: LivePreviews, camera_id: str, fps: float, stopping: threading.Event
) -> AsyncIterator[bytes]:
    """A new JPEG part whenever the camera has a new processed frame, at most ``fps`` a second."""
    period = 1.0 / fps
    loop = asyncio.get_running_loop()
    last = -1
    due = loop.time()
    while not stopping.is_set():
        now = loop.time()
        if now < due:  # short naps, so a shutdown is noticed whatever the rate
            await asyncio.sleep(min(_SSE_POLL_S, due - now))
            continue
        snap = previews.latest(camera_id)
        if snap is None or snap.version == last:
            await asyncio.sleep(min(_SSE_POLL_S, 0.02))  # wait for the next processed frame
            continue
        encoded = await anyio.to_thread.run_sync(previews.jpeg, camera_id)
        if encoded is not None:
            last, data = encoded
            head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
            yield head.encode("ascii") + data + b"\r\n"
            due = now + period
