"""Keypoint R-CNN on a GPU: the service's pipeline on N live cameras, against the original app's loop.

    PYTHONPATH=. python bench/bench_gpu.py --device cuda --cameras 10 --out bench_gpu.json

For each backend (``--backends``, default: torchvision and detectron2, those installed):

1. ``original loop``: the original app's shape on the same device: one frame -> a
   ``DefaultPredictor``-style call (Detectron2's own ``DefaultPredictor``; for torchvision the same:
   one frame, converted on the CPU, float32, no batching) -> tracker -> window -> LSTM -> next frame,
   as fast as it goes.
2. ``pipeline``: the real service (capture threads, bounded queues, admission and stride, the pool of
   pose workers with batches sized by the latency budget, reorder, analysis, ZeroMQ publisher) on
   ``--cameras`` synthetic live cameras: real clips from ``--data`` decoded once, letterboxed to
   640x480 and paced at 30 fps each (drop-oldest queues as for a camera; decoding is not measured).
   Latency is capture -> the pose event leaving the ZeroMQ socket, read by a subscriber here.

Reported: aggregate processed frames/s (and what share of the captured frames that is), p50/p99
latency, stride, mean batch size, GPU memory (peak allocated by torch; used, from nvidia-smi or
pynvml), GPU utilisation (pynvml or nvidia-smi, sampled; "n/a" where neither exists), and the
pipeline / original-loop ratio. One table on stdout, everything in JSON (``--out``).

RANDOM WEIGHTS: no weights can be downloaded where this runs, so both models have random weights.
Real weights find a few people per frame and run the keypoint head on each; random weights find
nobody at the default threshold, so the keypoint head would never run and the figures would flatter
the model. Both modes therefore run with person score threshold 0 and ``--max-people`` (default 3)
detections per frame: the keypoint head runs on that many people in every frame, as it would on
footage with that many people. The poses themselves mean nothing.

On a CPU (``--device cpu``, tiny sizes) the same code runs in the test suite; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import zmq

from capture.sources import SourceOptions
from inference.backends import available_backends, create_backend
from inference.backends.base import PoseBackend, clip_to_image
from inference.classifier import ActionClassifier
from inference.poses import Poses
from inference.tracker import Tracker
from inference.windows import TrackWindows
from service.app.build import default_model_path
from service.app.serve import Service
from service.config import AppConfig

# 30 fps clips with people in them (one to a crowd); cameras take them in turn, each from its own offset.
CLIPS = (
    "videos/malikmrllh_clapsoverhead.mp4",
    "videos/Walter0807_motionbert_boxing2.mp4",
    "videos/roboflow_supervision_walking.mp4",
    "videos/facebookresearch_sam2_bedroom.mp4",
)
RANDOM_WEIGHTS_NOTE = (
    "random weights (nothing can be downloaded here): person score threshold 0 and at most "
    "{max_people} people per frame, so the keypoint head runs on {max_people} people in every frame as "
    "it would with real weights on footage with that many people; the poses mean nothing"
)


@dataclass(frozen=True)
class Settings:
    backend: str
    device: str
    cameras: int
    seconds: float
    warmup_s: float
    sequential_seconds: float
    width: int
    height: int
    fps: float
    input_size: int | None
    max_people: int
    precision: str
    batch_size: int
    batch_budget_s: float
    workers_per_device: int | None
    clip_frames: int


# -- the cameras ---------------------------------------------------------------------------------


def letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to fit ``width`` x ``height`` and pad with black, as a camera of that size would deliver."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.zeros((height, width, 3), np.uint8)
    y, x = (height - nh) // 2, (width - nw) // 2
    out[y : y + nh, x : x + nw] = resized
    return out


def decode_clips(data: Path, n: int, frames: int, width: int, height: int) -> list[list[np.ndarray]]:
    """The first ``frames`` frames of ``n`` clips (fewer if fewer exist), letterboxed."""
    clips = []
    for rel in CLIPS[:n]:
        cap = cv2.VideoCapture(str(data / rel))
        got: list[np.ndarray] = []
        while len(got) < frames:
            ok, image = cap.read()
            if not ok:
                break
            got.append(letterbox(image, width, height))
        cap.release()
        if not got:
            raise SystemExit(f"cannot decode {data / rel}: is --data the shared data directory?")
        clips.append(got)
    return clips


class PacedClip:
    """A live camera: a decoded clip played in a loop at ``fps`` in real time (drop-oldest downstream)."""

    is_live: ClassVar[bool] = True
    kind: ClassVar[str] = "bench"

    def __init__(self, camera_id: str, frames: list[np.ndarray], fps: float, offset: int) -> None:
        self.camera_id = camera_id
        self.options = SourceOptions()
        self.fps: float | None = fps
        self._frames = frames
        self._i = offset
        self._n = 0
        self._next = 0.0

    def describe(self) -> str:
        return f"bench:{self.camera_id}"

    def open(self) -> None:
        self._next = time.monotonic()

    def read(self) -> tuple[float, np.ndarray] | None:
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next += 1.0 / (self.fps or 30.0)
        image = self._frames[self._i % len(self._frames)]
        self._i += 1
        self._n += 1
        return self._n / (self.fps or 30.0), image

    def release(self) -> None:
        pass


# -- the GPU side ----------------------------------------------------------------------------------


class GpuSampler:
    """Utilisation and memory of the GPUs, sampled twice a second (pynvml, else nvidia-smi, else n/a)."""

    def __init__(self, device: str) -> None:
        self.is_cuda = device.startswith("cuda")
        self.indices = sorted({int(d.split(":")[1]) if ":" in d else 0 for d in device.split(",")})
        self.samples: list[tuple[float, float]] = []  # (utilisation %, memory used MiB), summed over GPUs
        self.tool = "n/a"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpu-sampler", daemon=True)
        self._nvml: Any = None
        if not self.is_cuda:
            return
        try:
            import pynvml  # noqa: PLC0415 - optional

            pynvml.nvmlInit()
            self._nvml = pynvml
            self.tool = "pynvml"
        except Exception:
            if shutil.which("nvidia-smi"):
                self.tool = "nvidia-smi"

    def start(self) -> None:
        if self.tool != "n/a":
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def _sample(self) -> tuple[float, float] | None:
        if self._nvml is not None:
            nv = self._nvml
            util = mem = 0.0
            for i in self.indices:
                handle = nv.nvmlDeviceGetHandleByIndex(i)
                util += nv.nvmlDeviceGetUtilizationRates(handle).gpu
                mem += nv.nvmlDeviceGetMemoryInfo(handle).used / 2**20
            return util / len(self.indices), mem
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,utilization.gpu,memory.used", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
        rows = [[float(v) for v in line.split(",")] for line in out.strip().splitlines() if line.strip()]
        rows = [r for r in rows if int(r[0]) in self.indices]
        if not rows:
            return None
        return sum(r[1] for r in rows) / len(rows), sum(r[2] for r in rows)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                got = self._sample()
            except Exception:
                continue
            if got is not None:
                self.samples.append(got)

    def summary(self) -> dict[str, Any]:
        if self.tool == "n/a" or not self.samples:
            return {"gpu_util_percent": "n/a", "gpu_mem_used_mib": "n/a", "gpu_tool": self.tool}
        util = [u for u, _ in self.samples]
        return {
            "gpu_util_percent": float(np.mean(util)),
            "gpu_mem_used_mib": float(max(m for _, m in self.samples)),
            "gpu_tool": self.tool,
        }


def torch_memory(device: str, reset: bool = False) -> dict[str, Any]:
    """Peak memory torch allocated on the devices since the last reset (MiB); n/a on a CPU."""
    import torch  # noqa: PLC0415

    if not device.startswith("cuda"):
        return {"torch_peak_allocated_mib": "n/a"}
    devices = [d.strip() for d in device.split(",")]
    if reset:
        for d in devices:
            torch.cuda.reset_peak_memory_stats(d)
        return {}
    return {"torch_peak_allocated_mib": sum(torch.cuda.max_memory_allocated(d) for d in devices) / 2**20}


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}
    a = np.asarray(values) * 1000
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99))}


# -- the pipeline --------------------------------------------------------------------------------


def random_weights_backend(s: Settings, device: str) -> PoseBackend:
    """The chosen Keypoint R-CNN with random weights, its keypoint head kept busy (see the module doc)."""
    options: dict[str, Any] = {
        "weights": None,
        "score_threshold": 0.0,
        "max_people": s.max_people,
        "precision": s.precision,
    }
    if s.input_size is not None:
        options["min_size"] = s.input_size
    return create_backend(s.backend, device=device, **options)


def pipeline_config(s: Settings) -> AppConfig:
    """The service's config for the run: the cameras, the pose section, one pose event per frame."""
    return AppConfig.model_validate(
        {
            "cameras": [{"id": f"cam{i}", "source": f"bench:{i}", "queue_size": 4} for i in range(s.cameras)],
            "pose": {
                "backend": s.backend,
                "device": s.device,
                "max_people": s.max_people,
                "score_threshold": 0.0,
                "batch_size": s.batch_size,
                "batch_budget_s": s.batch_budget_s,
            },
            "pipeline": {"workers_per_device": s.workers_per_device},
            "zmq": {"bind": "tcp://127.0.0.1:*", "publish_poses": True, "queue_size": 100_000},
            "http": {"port": 0},
            "web": {"enabled": False},
        }
    )


def warm_up(seconds: float, calls: Any, at_least: int) -> None:
    """CUDA/cuDNN start-up, each worker's first batches, the stride settling: at least ``seconds``,
    and until the pose workers have made ``at_least`` calls (minutes at most: a CPU's are slow)."""
    deadline = time.monotonic() + max(seconds, 300.0)
    time.sleep(seconds)
    while calls() < at_least and time.monotonic() < deadline:
        time.sleep(0.2)


def bench_pipeline(s: Settings, clips: list[list[np.ndarray]]) -> dict[str, Any]:
    config = pipeline_config(s)
    offsets = np.random.default_rng(0).integers(0, 10_000, s.cameras)
    sources = {
        f"cam{i}": PacedClip(f"cam{i}", clips[i % len(clips)], s.fps, int(offsets[i]))
        for i in range(s.cameras)
    }
    service = Service(
        config,
        backend_factory=lambda device: random_weights_backend(s, device),
        source_opener=lambda spec, camera_id, options: sources[camera_id],
        exit_when_finished=False,
    )
    service.start()
    registry = service.metrics.registry
    cams = list(sources)

    def total(name: str, **labels: str) -> float:
        return sum(registry.get_sample_value(name, {"camera": c, **labels}) or 0.0 for c in cams)

    def pose_calls() -> float:
        return registry.get_sample_value("actionstream_stage_latency_seconds_count", {"stage": "pose"}) or 0.0

    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"pose.")
    sub.setsockopt(zmq.RCVHWM, 0)
    assert service.publisher.endpoint
    sub.connect(service.publisher.endpoint)
    warm_up(s.warmup_s, pose_calls, 2 * len(service.pipeline.pose_workers))
    service.pipeline.sync_metrics()
    while sub.poll(0):
        sub.recv_multipart()
    torch_memory(s.device, reset=True)
    gpu = GpuSampler(s.device)
    gpu.start()
    processed0, captured0 = (
        total("actionstream_frames_processed_total"),
        total("actionstream_frames_captured_total"),
    )
    calls0 = pose_calls()
    latencies: list[float] = []
    strides: list[float] = []
    cpu0, t0 = cpu_seconds(), time.monotonic()
    next_sample = t0
    # At least `seconds`, and on until a frame has been processed (tiny CPU runs, minutes at most).
    while time.monotonic() - t0 < s.seconds or (not latencies and time.monotonic() - t0 < 300.0):
        if sub.poll(50):
            while True:
                try:
                    _topic, payload = sub.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                latencies.append(json.loads(payload)["latency_s"])
        if time.monotonic() >= next_sample:
            next_sample += 0.5
            strides += [
                registry.get_sample_value("actionstream_frame_stride", {"camera": c}) or 0.0 for c in cams
            ]
    wall, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
    gpu.stop()
    service.pipeline.sync_metrics()
    processed = total("actionstream_frames_processed_total") - processed0
    captured = total("actionstream_frames_captured_total") - captured0
    calls = pose_calls() - calls0
    capacity = service.pipeline.meter.capacity(w.name for w in service.pipeline.pose_workers)
    result = {
        "mode": "pipeline",
        "cameras": s.cameras,
        "pose_workers": [f"{w.name}" for w in service.pipeline.pose_workers],
        "frames_per_s": processed / wall,
        "captured_per_s": captured / wall,
        "share_processed": processed / captured if captured else float("nan"),
        **percentiles(latencies),
        "latency_samples": len(latencies),
        "stride_mean": float(np.mean(strides)) if strides else float("nan"),
        "stride_max": float(np.max(strides)) if strides else float("nan"),
        "batch_mean": processed / calls if calls else float("nan"),
        "pool_capacity_fps": capacity,
        "frames_dropped_queue_full": total("actionstream_frames_dropped_total", reason="queue_full"),
        "frames_lost": total("actionstream_frames_dropped_total", reason="lost"),
        "cpu_percent": 100 * cpu / wall,
        **torch_memory(s.device),
        **gpu.summary(),
    }
    sub.close(linger=0)
    service.stop_event.set()
    service.shutdown()
    return result


# -- the original app's loop ---------------------------------------------------------------------


class OriginalPredictor:
    """One frame per call, as the original app ran it: Detectron2's ``DefaultPredictor`` (CPU resize,
    float32 upload, fp32, no batching), or the torchvision model called the same way."""

    def __init__(self, s: Settings, device: str) -> None:
        import torch  # noqa: PLC0415

        self._torch = torch
        self.device = device
        if s.backend == "detectron2":
            from detectron2 import model_zoo  # noqa: PLC0415
            from detectron2.config import get_cfg  # noqa: PLC0415
            from detectron2.engine import DefaultPredictor  # noqa: PLC0415

            from inference.backends.detectron2_backend import _IMAGENET_STD_BGR, CONFIG  # noqa: PLC0415

            cfg = get_cfg()
            cfg.merge_from_file(model_zoo.get_config_file(CONFIG))
            cfg.MODEL.DEVICE = device
            cfg.MODEL.WEIGHTS = ""  # random weights (see the module doc)
            cfg.MODEL.PIXEL_STD = _IMAGENET_STD_BGR
            cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = 0.0
            cfg.TEST.DETECTIONS_PER_IMAGE = s.max_people
            if s.input_size is not None:
                cfg.INPUT.MIN_SIZE_TEST = s.input_size
            self._d2 = DefaultPredictor(cfg)
        else:
            from torchvision.models.detection import keypointrcnn_resnet50_fpn  # noqa: PLC0415

            self._d2 = None
            self._model = (
                keypointrcnn_resnet50_fpn(
                    weights=None,
                    weights_backbone=None,
                    num_classes=2,
                    num_keypoints=17,
                    min_size=s.input_size or 800,
                    box_score_thresh=0.0,
                    box_detections_per_img=s.max_people,
                )
                .eval()
                .to(device)
            )

    def __call__(self, image: np.ndarray) -> Poses:
        torch = self._torch
        h, w = image.shape[:2]
        if self._d2 is not None:
            inst = self._d2(image)["instances"].to("cpu")
            kp = inst.pred_keypoints.numpy().astype(np.float32)
            boxes, scores = inst.pred_boxes.tensor.numpy().astype(np.float32), inst.scores.numpy()
            np.clip(kp[:, :, 2], 0, 1, out=kp[:, :, 2])
        else:
            x = torch.from_numpy(image[:, :, ::-1].copy()).permute(2, 0, 1).float().div(255).to(self.device)
            with torch.no_grad():
                out = self._model([x])[0]
            kp = out["keypoints"].cpu().numpy().astype(np.float32)
            kp[:, :, 2] = 1 / (1 + np.exp(-out["keypoints_scores"].cpu().numpy()))
            boxes, scores = out["boxes"].cpu().numpy().astype(np.float32), out["scores"].cpu().numpy()
        if len(kp) == 0:
            return Poses.empty()
        clip_to_image(kp, boxes, h, w)
        return Poses(keypoints=kp, boxes=boxes, scores=scores.astype(np.float32))


def bench_original(s: Settings, clips: list[list[np.ndarray]]) -> dict[str, Any]:
    """One frame -> predictor -> tracker -> window -> LSTM -> next, on the first device, flat out."""
    import torch  # noqa: PLC0415

    device = s.device.split(",")[0].strip()
    predictor = OriginalPredictor(s, device)
    classifier = ActionClassifier.load(default_model_path(), device=device)
    tracker, windows = Tracker(), TrackWindows(classifier.spec)
    frames = clips[0]
    for image in frames[:3]:  # warm-up
        predictor(image)
    torch_memory(s.device, reset=True)
    gpu = GpuSampler(device)
    gpu.start()
    n, pose_s = 0, 0.0
    cpu0, t0 = cpu_seconds(), time.monotonic()
    while time.monotonic() - t0 < s.sequential_seconds:
        pts = n / s.fps
        a = time.perf_counter()
        poses = predictor(frames[n % len(frames)])
        pose_s += time.perf_counter() - a
        people = tracker.update(poses, pts)
        for track_id, keypoints in zip(people.track_ids.tolist(), people.keypoints, strict=True):
            windows.add(track_id, pts, keypoints)
        ready = windows.ready(pts)
        if ready:
            classifier.predict_windows(ready)
        n += 1
    wall, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
    gpu.stop()
    return {
        "mode": "original loop",
        "cameras": 1,
        "frames_per_s": n / wall,
        "pose_ms_per_frame": 1000 * pose_s / max(1, n),
        "latency_note": "every frame of one camera; below the camera's rate it falls behind without bound",
        "batch_mean": 1.0,
        "cpu_percent": 100 * cpu / wall,
        "torch_threads": torch.get_num_threads(),
        **torch_memory(s.device),
        **gpu.summary(),
    }


# -- the report ----------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}f}"
    return "—" if value is None else str(value)


def table(runs: list[dict[str, Any]]) -> str:
    head = (
        "backend", "mode", "cams", "frames/s", "of captured", "p50 ms", "p99 ms", "stride", "batch",
        "torch peak MiB", "GPU used MiB", "GPU util %", "x original",
    )  # fmt: skip
    rows = [head]
    for r in runs:
        rows.append(
            (
                r["backend"], r["mode"], _fmt(r.get("cameras")), _fmt(r.get("frames_per_s")),
                _fmt(r.get("share_processed"), 2), _fmt(r.get("p50_ms")), _fmt(r.get("p99_ms")),
                _fmt(r.get("stride_mean"), 2), _fmt(r.get("batch_mean"), 1),
                _fmt(r.get("torch_peak_allocated_mib"), 0), _fmt(r.get("gpu_mem_used_mib"), 0),
                _fmt(r.get("gpu_util_percent"), 0), _fmt(r.get("ratio_to_original"), 1),
            )
        )  # fmt: skip
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine(device: str) -> dict[str, Any]:
    import torch  # noqa: PLC0415

    info: dict[str, Any] = {
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "load_average": os.getloadavg(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    try:
        import torchvision  # noqa: PLC0415

        info["torchvision"] = torchvision.__version__
        import detectron2  # noqa: PLC0415

        info["detectron2"] = detectron2.__version__
    except ImportError:
        pass
    return info


def run(s: Settings, backends: Sequence[str], data: Path) -> dict[str, Any]:
    """Every backend's original loop and pipeline; the JSON document the script writes."""
    clips = decode_clips(data, min(len(CLIPS), s.cameras), s.clip_frames, s.width, s.height)
    installed = set(available_backends())
    runs: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for backend in backends:
        if backend not in installed:
            skipped[backend] = "not installed here"
            continue
        bs = replace(s, backend=backend)
        original = {"backend": backend, **bench_original(bs, clips)}
        pipeline = {"backend": backend, **bench_pipeline(bs, clips)}
        pipeline["ratio_to_original"] = pipeline["frames_per_s"] / original["frames_per_s"]
        runs += [original, pipeline]
    return {
        "machine": machine(s.device),
        "settings": {k: v for k, v in asdict(s).items() if k != "backend"},
        "weights": RANDOM_WEIGHTS_NOTE.format(max_people=s.max_people),
        "clips": list(CLIPS[: len(clips)]),
        "runs": runs,
        "skipped": skipped,
    }


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x480, got {text!r}") from None
    if w < 32 or h < 32:
        raise argparse.ArgumentTypeError(f"size must be at least 32x32, got {text!r}")
    return w, h


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
    ap.add_argument(
        "--backends", default="torchvision,detectron2", help="comma-separated; missing ones are skipped"
    )
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N, several as cuda:0,cuda:1, or cpu")
    ap.add_argument("--cameras", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=30.0, help="pipeline measurement, after the warm-up")
    ap.add_argument("--warmup", type=float, default=8.0)
    ap.add_argument("--sequential-seconds", type=float, default=15.0)
    ap.add_argument("--size", type=parse_size, default=(640, 480), help="camera frame size, WxH")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--input-size", type=int, default=None, help="shorter side the model resizes to (800)")
    ap.add_argument("--max-people", type=int, default=3)
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--batch-budget", type=float, default=0.05, help="seconds a pose call may take")
    ap.add_argument("--workers", type=int, default=None, help="pose workers per device (default: 2 per GPU)")
    ap.add_argument("--clip-frames", type=int, default=150)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.cameras < 1 or args.seconds <= 0 or args.sequential_seconds <= 0 or args.max_people < 1:
        ap.error("--cameras and --max-people must be >= 1, --seconds and --sequential-seconds > 0")
    settings = Settings(
        backend="",
        device=args.device,
        cameras=args.cameras,
        seconds=args.seconds,
        warmup_s=args.warmup,
        sequential_seconds=args.sequential_seconds,
        width=args.size[0],
        height=args.size[1],
        fps=args.fps,
        input_size=args.input_size,
        max_people=args.max_people,
        precision=args.precision,
        batch_size=args.batch_size,
        batch_budget_s=args.batch_budget,
        workers_per_device=args.workers,
        clip_frames=args.clip_frames,
    )
    result = run(settings, [b.strip() for b in args.backends.split(",") if b.strip()], args.data)
    print(table([{**r} for r in result["runs"]]))
    print(f"\n{result['weights']}")
    for backend, why in result["skipped"].items():
        print(f"{backend}: skipped ({why})")
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
        print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
