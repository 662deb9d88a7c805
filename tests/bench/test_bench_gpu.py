"""bench/bench_gpu.py on the CPU with tiny settings, so the GPU benchmark cannot rot while no GPU is
here: the real pipeline and the original loop run for both Keypoint R-CNN backends (random weights),
and the report has its shape and sane values. Speed is never asserted."""

from __future__ import annotations

import importlib.util
import json
import math
import os
from pathlib import Path

import pytest

from bench import bench_gpu

TINY = [
    "--device", "cpu", "--cameras", "2", "--seconds", "4", "--warmup", "2", "--sequential-seconds", "2",
    "--size", "160x120", "--input-size", "96", "--max-people", "2", "--clip-frames", "12",
]  # fmt: skip


def _installed(module: str) -> bool:
    if importlib.util.find_spec(module) is not None:
        return True
    if os.environ.get("CI") == "true":
        pytest.fail(f"{module} is required in CI for this test")
    return False


@pytest.mark.slow
def test_tiny_cpu_run_reports_every_figure(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backends = [b for b in ("torchvision", "detectron2") if _installed(b)]
    if not backends:
        pytest.skip("neither torchvision nor detectron2 is installed")
    out = tmp_path / "gpu.json"
    code = bench_gpu.main(
        [*TINY, "--backends", ",".join(backends), "--data", str(shared_data), "--out", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "x original" in printed and "random weights" in printed, "one table and the weights note"
    result = json.loads(out.read_text())
    assert result["settings"]["cameras"] == 2 and result["settings"]["device"] == "cpu"
    assert "score threshold 0" in result["weights"]
    modes = [(r["backend"], r["mode"]) for r in result["runs"]]
    assert modes == [m for b in backends for m in ((b, "original loop"), (b, "pipeline"))]
    for run in result["runs"]:
        assert run["frames_per_s"] > 0, run
        assert run["gpu_util_percent"] == "n/a" and run["torch_peak_allocated_mib"] == "n/a", "no GPU here"
        if run["mode"] == "pipeline":
            assert run["cameras"] == 2 and len(run["pose_workers"]) >= 1
            assert run["latency_samples"] > 0 and 0 < run["p50_ms"] <= run["p99_ms"]
            assert 1 <= run["stride_mean"] <= 8 and run["batch_mean"] >= 1
            assert 0 < run["share_processed"] <= 1
            assert run["frames_lost"] == 0
            assert math.isfinite(run["ratio_to_original"]) and run["ratio_to_original"] > 0
