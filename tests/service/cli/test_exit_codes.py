"""`actionstream serve` on files that cannot be read exits non-zero with a one-line reason, and 0
when a file was read to its end (real processes, MediaPipe, ffmpeg-made and damaged files)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def serve(
    argv: list[str], env: dict[str, str], source: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*argv, "serve", "--source", str(source), "--backend", "mediapipe", "--http-port", "0",
         "--zmq-bind", "tcp://127.0.0.1:*", *extra],
        capture_output=True, text=True, env=env, timeout=240, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sources")
    (d / "empty.mp4").write_bytes(b"")
    (d / "text.mp4").write_text("Dear diary, this is not a video.\n" * 200)
    moov_last = d / "moov_last.mp4"  # ffmpeg's default MP4: the index (moov) after the frames
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(shared_data / "videos" / "omkarnagarkar55_wave.mp4"),
         "-c", "copy", str(moov_last)],
        check=True, timeout=60,
    )  # fmt: skip
    data = moov_last.read_bytes()
    (d / "cut.mp4").write_bytes(data[: data.index(b"moov") - 8])  # a recording cut off before its index
    short = d / "short.mp4"  # a real, readable file: 2 s of test pattern
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2",
         "-pix_fmt", "yuv420p", str(short)],
        check=True, timeout=60,
    )  # fmt: skip
    return {p.stem: p for p in d.iterdir()}


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("empty", "the file is empty (0 bytes)"),
        ("text", "FFmpeg does not recognise it as a video"),
        ("cut", "an MP4 without its index (moov)"),
    ],
)
def test_an_unreadable_file_exits_3_with_one_line(
    cli_argv: list[str], cli_env: dict[str, str], files: dict[str, Path], name: str, says: str
) -> None:
    res = serve(cli_argv, cli_env, files[name])
    line = res.stderr.strip().splitlines()[-1]
    assert res.returncode == 3, res.stderr[-3000:]
    assert line.startswith("actionstream serve: error: no frame was read from any source"), line
    assert says in line and "camera 'cam0'" in line, line
    assert "Traceback" not in res.stderr


def test_a_file_read_to_its_end_exits_0(
    cli_argv: list[str], cli_env: dict[str, str], files: dict[str, Path]
) -> None:
    res = serve(cli_argv, cli_env, files["short"])
    assert res.returncode == 0, res.stderr[-3000:]
    assert "every source has ended" in res.stderr and "error:" not in res.stderr


def test_insecure_lets_it_start_with_a_warning(
    cli_argv: list[str], cli_env: dict[str, str], files: dict[str, Path]
) -> None:
    res = serve(cli_argv, cli_env, files["short"], "--http-host", "0.0.0.0", "--insecure")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "--insecure: http.host 0.0.0.0 can be reached from other machines" in res.stderr
