"""The service on one 30 fps 640x480 camera, against the original app's sequential loop.

    PYTHONPATH=. python bench/bench_service.py [--data ../shared/data] [--seconds 30] [--out result.json]
                                               [--fps 30]

Four measurements in one run (docs/PERFORMANCE.md records them with the machine):

1. ``sequential``: the original app's loop (read → pose → window → LSTM → publish, one frame after
   another) over the same frames as fast as it can go, with torch's default threads, as it ran.
2. ``pipeline``: the real service path (capture thread → queue → admission with the adaptive stride →
   the pool of pose workers, one per core by default → reorder and analysis → ZeroMQ publisher) on a
   30 fps 640x480 stream with the MediaPipe backend and the shipped model. The stream is the exercise
   clip scaled to 640x480 and paced in real time (a file standing in for a camera, with live
   drop-oldest semantics). Every processed frame publishes a ``pose`` event; a subscriber in this
   process reads them, so the latency is capture → leaving the ZeroMQ socket.
3. ``sequential_torch_1_thread``: the original loop again with torch limited to one thread, as the
   service runs it (the fairer comparison: torch's two threads stall the tiny LSTM on a busy machine).
4. ``overhead``: the pipeline with a zero-cost pose backend on a lossless synthetic source: what the
   pipeline itself costs per frame (queues, tracking, windows, classification, events).

``ratio`` is the pipeline's processed fps over the original loop's (1); ``done_when`` checks issue 14's
CPU target (ratio >= 1.6 with p99 latency < 150 ms). The load average before and after is recorded:
on a shared machine the figures are only as good as the quiet they ran in.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import torch
import zmq

from capture.sources import SourceOptions
from inference.backends import create_backend
from inference.backends.base import PoseBackend
from inference.classifier import ActionClassifier
from inference.poses import Poses
from inference.tracker import Tracker
from inference.windows import TrackWindows
from service.app.build import default_model_path
from service.app.serve import Service
from service.config import AppConfig
from service.outputs.events import ActionEvent
from service.outputs.publisher import Publisher

CLIP = "videos/malikmrllh_clapsoverhead.mp4"


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_stream(data: Path, workdir: Path, fps: float = 30.0) -> Path:
    """The 640x360 30 fps clip padded to 640x480 (H.264), as a camera would deliver it; at another
    ``fps`` ffmpeg repeats or drops frames (a faster camera: more frames than one loop can take)."""
    out = workdir / f"stream_640x480_{fps:g}fps.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(data / CLIP),
         "-vf", "scale=640:360,pad=640:480:0:60", "-r", f"{fps:g}", "-c:v", "libx264", "-preset", "veryfast",
         "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    return out


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}
    a = np.asarray(values) * 1000
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99))}


def bench_pipeline(stream: Path, seconds: float, fps: float = 30.0) -> dict[str, Any]:
    config = AppConfig.model_validate(
        {
            "cameras": [
                {"id": "bench", "source": str(stream), "realtime": True, "loop": True, "queue_size": 4}
            ],
            "pose": {"backend": "mediapipe"},
            "zmq": {"bind": "tcp://127.0.0.1:*", "publish_poses": True},
            "http": {"port": 0},
        }
    )
    service = Service(config, exit_when_finished=False)
    service.start()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"pose.")
    assert service.publisher.endpoint
    sub.connect(service.publisher.endpoint)
    latencies: list[float] = []
    strides: list[float] = []
    time.sleep(5.0)  # warm-up: MediaPipe graphs start, first windows, the stride settles
    m = service.metrics.registry

    def counter(name: str) -> float:
        return m.get_sample_value(f"actionstream_frames_{name}_total", {"camera": "bench"}) or 0.0

    service.pipeline.sync_metrics()
    processed0, captured0 = counter("processed"), counter("captured")
    while sub.poll(0):
        sub.recv_multipart()
    cpu0, t0 = cpu_seconds(), time.monotonic()
    while time.monotonic() - t0 < seconds:
        if sub.poll(100):
            _topic, payload = sub.recv_multipart()
            latencies.append(json.loads(payload)["latency_s"])
        strides.append(m.get_sample_value("actionstream_frame_stride", {"camera": "bench"}) or 0.0)
    wall, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
    service.pipeline.sync_metrics()
    processed = (
        m.get_sample_value("actionstream_frames_processed_total", {"camera": "bench"}) or 0
    ) - processed0
    captured = (
        m.get_sample_value("actionstream_frames_captured_total", {"camera": "bench"}) or 0
    ) - captured0
    capacity = service.pipeline.meter.capacity(w.name for w in service.pipeline.pose_workers)
    sub.close(linger=0)
    service.stop_event.set()
    service.shutdown()
    return {
        "source_fps": fps,
        "captured_fps": captured / wall,
        "processed_fps": processed / wall,
        "stride_mean": float(np.mean(strides)) if strides else float("nan"),
        "stride_max": float(np.max(strides)) if strides else float("nan"),
        **percentiles(latencies),
        "cpu_percent": 100 * cpu / wall,
        "frames_measured": len(latencies),
        "pose_workers": [w.name for w in service.pipeline.pose_workers],
        "pool_capacity_fps": capacity,
    }


def bench_sequential(
    stream: Path, seconds: float, torch_threads: int | None = None, fps: float = 30.0
) -> dict[str, Any]:
    """read → pose → window → LSTM → publish, one frame after another (the original app's shape)."""
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    threads = torch.get_num_threads()
    backend = create_backend("mediapipe", stream_mode=True)
    classifier = ActionClassifier.load(default_model_path())
    tracker, windows = Tracker(), TrackWindows(classifier.spec)
    publisher = Publisher("tcp://127.0.0.1:*")
    publisher.start()
    cap = cv2.VideoCapture(str(stream))
    n, pose_s, lstm_s = 0, 0.0, 0.0
    cpu0, t0 = cpu_seconds(), time.monotonic()
    while time.monotonic() - t0 < seconds:
        ok, image = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        pts = n / fps
        a = time.perf_counter()
        poses = backend.infer([image])[0]
        b = time.perf_counter()
        people = tracker.update(poses, pts)
        for track_id, keypoints in zip(people.track_ids.tolist(), people.keypoints, strict=True):
            windows.add(track_id, pts, keypoints)
        ready = windows.ready(pts)
        if ready:
            probs = classifier.predict_windows(ready)
            for w, p in zip(ready, probs, strict=True):
                label = classifier.labels[int(p.argmax())]
                probabilities = dict(zip(classifier.labels, map(float, p), strict=True))
                publisher.publish_event(
                    ActionEvent(
                        type="update", camera="bench", track_id=w.track_id, label=label,
                        confidence=float(p.max()), probabilities=probabilities,
                        window_start_pts=w.start_pts, window_end_pts=w.end_pts, frame_seq=n, pts=pts,
                    )
                )  # fmt: skip
        lstm_s += time.perf_counter() - b
        pose_s += b - a
        n += 1
    wall, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
    cap.release()
    backend.close()
    publisher.close(linger=0.2)
    return {
        "processed_fps": n / wall,
        "pose_ms_per_frame": 1000 * pose_s / n,
        "track_window_lstm_publish_ms_per_frame": 1000 * lstm_s / n,
        "cpu_percent": 100 * cpu / wall,
        "torch_threads": threads,
        "note": "processes every frame; below the camera's rate it falls behind it without bound",
    }


class ZeroCostBackend(PoseBackend):
    """One fixed person per frame, instantly: isolates what the pipeline itself costs."""

    name: ClassVar[str] = "zero-cost"

    def __init__(self) -> None:
        self.device = "cpu"
        rng = np.random.default_rng(0)
        kp = np.concatenate([rng.uniform(100, 300, (1, 17, 2)), np.full((1, 17, 1), 0.9)], axis=2)
        self._poses = Poses.from_keypoints(kp.astype(np.float32))

    def infer(self, images: Sequence[np.ndarray]) -> list[Poses]:
        return [self._poses for _ in images]


class SyntheticFile:
    """A lossless source of ``total`` tiny frames, as fast as they are taken."""

    is_live = False
    kind: ClassVar[str] = "synthetic"

    def __init__(self, camera_id: str, total: int) -> None:
        self.camera_id, self.total, self.n = camera_id, total, 0
        self.options = SourceOptions()
        self.image = np.zeros((48, 64, 3), np.uint8)
        self.fps: float | None = 30.0

    def describe(self) -> str:
        return "synthetic"

    def open(self) -> None:
        self.n = 0

    def read(self) -> tuple[float, np.ndarray] | None:
        if self.n >= self.total:
            return None
        self.n += 1
        return self.n / 30.0, self.image

    def release(self) -> None:
        pass


def bench_overhead(frames: int) -> dict[str, Any]:
    config = AppConfig.model_validate(
        {
            "cameras": [{"id": "zero", "source": "synthetic", "queue_size": 8}],
            "zmq": {"bind": "tcp://127.0.0.1:*"},
            "http": {"port": 0},
        }
    )
    service = Service(
        config,
        backend_factory=lambda device: ZeroCostBackend(),
        source_opener=lambda spec, camera_id, options: SyntheticFile(camera_id, frames),
    )
    cpu0, t0 = cpu_seconds(), time.monotonic()
    code = service.run()  # returns once the source has ended and every frame went through
    wall, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
    processed = service.metrics.registry.get_sample_value(
        "actionstream_frames_processed_total", {"camera": "zero"}
    )
    return {
        "exit_code": code,
        "frames": processed,
        "ms_per_frame_wall": 1000 * wall / max(1.0, processed or 0.0),
        "ms_per_frame_cpu": 1000 * cpu / max(1.0, processed or 0.0),
        "note": "includes start-up and shutdown of the service (about 1 s)",
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--overhead-frames", type=int, default=3000)
    ap.add_argument(
        "--fps", type=float, default=30.0, help="the camera's frame rate (30: issue 14's measurement)"
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        stream = make_stream(args.data, Path(tmp), args.fps)
        load_before = os.getloadavg()
        # First the original loop with torch's defaults, as it ran (the pipeline sets one thread).
        sequential = bench_sequential(stream, args.seconds, fps=args.fps)
        pipeline = bench_pipeline(stream, args.seconds, args.fps)
        one_thread = bench_sequential(stream, args.seconds, torch_threads=1, fps=args.fps)
        result = {
            "machine": {
                "cpus": len(os.sched_getaffinity(0)),
                "platform": platform.platform(),
                "processor": platform.processor() or platform.machine(),
                "python": sys.version.split()[0],
                "load_average_before": load_before,
            },
            "sequential": sequential,
            "pipeline": pipeline,
            "sequential_torch_1_thread": one_thread,
            "overhead": bench_overhead(args.overhead_frames),
        }  # fmt: skip
        result["machine"]["load_average_after"] = os.getloadavg()
        ratio = pipeline["processed_fps"] / sequential["processed_fps"]
        result["ratio"] = ratio
        result["ratio_to_torch_1_thread"] = (
            pipeline["processed_fps"] / result["sequential_torch_1_thread"]["processed_fps"]
        )
        # The pool's measured throughput (what its workers get through per second when busy) against
        # the loop's: what the pipeline could process from a faster source or from more cameras.
        result["capacity_ratio"] = (pipeline["pool_capacity_fps"] or 0.0) / sequential["processed_fps"]
        result["done_when"] = {
            "target": "pipeline processed fps >= 1.6 x the original loop's, p99 latency < 150 ms",
            "met": bool(ratio >= 1.6 and pipeline["p99_ms"] < 150),
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
