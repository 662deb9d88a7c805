"""`actionstream analyze`: the real clip through the real engine (MediaPipe, the shipped model, ffmpeg),
stride, bad inputs, and the parts (probe, writer, timeline, engine) on their own."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from capture.frame import Frame
from inference.decision import NO_ACTION_LABEL, DecisionRule, decide
from inference.hysteresis import SegmentParams
from inference.poses import Poses
from service import cli
from service.engine.analyzer import FrameAnalyzer, LaneOptions, TrackAction
from service.engine.segments import Classification, SegmentTracker
from service.offline.analyze import AnalyzeOptions, analyze_video, write_csv
from service.offline.annotate import track_caption
from service.offline.timeline import coverage, label_segments
from service.offline.video_probe import BadVideoError, probe_video
from service.offline.video_writer import H264Writer
from tests.service.doubles import LABELS, TimedBackend, random_classifier

WAVE = "videos/omkarnagarkar55_wave.mp4"


def ffprobe(path: Path) -> dict[str, str]:
    """codec, pixel format and the number of frames actually decoded."""
    done = subprocess.run(
        [
            "ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
            "-show_entries", "stream=codec_name,pix_fmt,nb_read_frames,avg_frame_rate",
            "-of", "json", str(path),
        ],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return dict(json.loads(done.stdout)["streams"][0])


def moov_before_mdat(path: Path) -> bool:
    """+faststart: the index comes first, so a browser can play while downloading."""
    data = path.read_bytes()
    return 0 <= data.find(b"moov") < data.find(b"mdat")


def write_video(path: Path, frames: int, fps: float = 25.0, size: tuple[int, int] = (96, 64)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (i * 5) % 256, np.uint8))
    writer.release()
    return path


@pytest.mark.slow
def test_analyze_the_waving_clip_end_to_end(
    shared_data: Path, tmp_path: Path, cli_argv: list[str], cli_env: dict[str, str]
) -> None:
    out, timeline, table = tmp_path / "wave.mp4", tmp_path / "wave.json", tmp_path / "wave.csv"
    done = subprocess.run(
        [*cli_argv, "analyze", str(shared_data / WAVE), "-o", str(out), "--timeline", str(timeline),
         "--csv", str(table), "--backend", "mediapipe"],
        capture_output=True, text=True, env=cli_env, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "125/125" in done.stderr, "the progress bar reached the end on stderr"

    probe = ffprobe(out)
    assert probe["codec_name"] == "h264" and probe["pix_fmt"] == "yuv420p"
    assert int(probe["nb_read_frames"]) == 125, "the source's frame count"
    assert probe["avg_frame_rate"] == "10/1", "the source's rate"
    assert moov_before_mdat(out)

    doc = json.loads(timeline.read_text())
    assert doc["source"]["frames"] == 125 and doc["analysis"]["frames_analysed"] == 125
    segments = doc["segments"]
    covered = np.zeros(125, bool)
    for s in segments:
        assert 0 <= s["start_frame"] <= s["end_frame"] <= 124
        assert 0.0 <= s["confidence"] <= 1.0 and s["start_s"] <= s["end_s"]
        covered[s["start_frame"] : s["end_frame"] + 1] = True
    assert covered.mean() >= 0.9, f"segments cover {covered.mean():.0%} of the clip: {segments}"
    labels = {s["label"] for s in segments}
    assert labels & {"WAVING_1HAND", "WAVING_2HANDS"}, labels
    # The labelled frames (labels.csv): 0-45 WAVING_1HAND, 48-124 WAVING_2HANDS. The confirmed segments,
    # exactly what `serve` would announce with start/end events, must cover them with the right labels.
    for label, first, last in (("WAVING_1HAND", 0, 45), ("WAVING_2HANDS", 48, 124)):
        hit = np.zeros(125, bool)
        for c in doc["confirmed"]:
            if c["label"] == label:
                hit[c["start_frame"] : c["end_frame"] + 1] = True
        share = hit[first : last + 1].mean()
        assert share >= 0.8, f"{label} confirmed on {share:.0%} of frames {first}-{last}: {doc['confirmed']}"

    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert len([r for r in rows if r["confirmed"] == "0"]) == len(segments)
    assert rows[0]["label"] == segments[0]["label"]
    assert "WAVING_1HAND" in done.stdout


def test_stride_writes_every_frame_and_analyses_every_nth(tmp_path: Path) -> None:
    src = write_video(tmp_path / "in.mp4", frames=40, fps=20.0)
    out = tmp_path / "out.mp4"
    progress: list[tuple[int, int | None]] = []
    result = analyze_video(
        src,
        backend=TimedBackend(),
        classifier=random_classifier(),
        video_out=out,
        options=AnalyzeOptions(stride=3, batch_size=2, segments=SegmentParams(0.0, 0.0, 1, 1)),
        progress=lambda done, total: progress.append((done, total)),
    )
    assert result.frames_read == 40
    assert result.frames_analysed == 14  # frames 0, 3, ..., 39
    probe = ffprobe(out)
    assert probe["codec_name"] == "h264" and int(probe["nb_read_frames"]) == 40
    assert progress[-1] == (40, 40) and [d for d, _ in progress] == list(range(1, 41))
    assert result.segments, "the (random) model's labels became segments"
    assert all(0 <= s.start_frame <= s.end_frame <= 39 for s in result.segments)
    # Skipped frames are drawn with the latest result: the skeleton is on every frame after the first.
    cap = cv2.VideoCapture(str(out))
    drawn = []
    for _ in range(40):
        ok, image = cap.read()
        assert ok
        drawn.append(int((image.max(axis=2).astype(int) - image.min(axis=2) > 60).sum()))
    cap.release()
    assert min(drawn[1:]) > 20, drawn  # coloured pixels on grey frames: the drawing


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "not found"),
        ("empty", "is empty"),
        ("text", "is not a video"),
        ("header_only", "cannot be decoded"),
        ("garbage_after_header", "looks like a MP4/MOV video"),
        ("directory", "not found"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    case: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], shared_data: Path
) -> None:
    path = tmp_path / "input.mp4"
    wave = (shared_data / WAVE).read_bytes()
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("this is not a video\n" * 50)
    elif case == "header_only":
        path.write_bytes(wave[:2500])  # ftyp + moov: the index, none of the frames
    elif case == "garbage_after_header":
        path.write_bytes(wave[:32] + np.random.default_rng(0).bytes(20_000))
    elif case == "directory":
        path.mkdir()
    out = tmp_path / "out.mp4"
    code = cli.main(["analyze", str(path), "-o", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "actionstream analyze: error:" in err
    assert not out.exists()


def test_unwritable_output_is_a_usage_error(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["analyze", str(shared_data / WAVE), "-o", str(tmp_path / "nope" / "out.mp4")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_probe_reports_the_clip(shared_data: Path) -> None:
    info = probe_video(shared_data / WAVE)
    assert (info.width, info.height, info.fps, info.frames) == (420, 420, 10.0, 125)
    assert info.codec == "h264"


def test_probe_calls_a_still_image_not_a_video(shared_data: Path) -> None:
    with pytest.raises(BadVideoError) as err:
        probe_video(shared_data / "images" / "mmpose_coco_000000000785.jpg", name="photo.mp4")
    assert err.value.kind == "not_video" and "photo.mp4 is a still image" in str(err.value)


def test_writer_makes_h264_with_every_frame_and_abort_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    with H264Writer(out, 33, 21, 7.5) as w:  # odd sizes are padded for yuv420p
        for i in range(9):
            w.write(np.full((21, 33, 3), i * 20, np.uint8))
    probe = ffprobe(out)
    assert probe["codec_name"] == "h264" and int(probe["nb_read_frames"]) == 9
    assert probe["avg_frame_rate"] == "15/2"
    aborted = tmp_path / "aborted.mp4"
    w2 = H264Writer(aborted, 32, 32, 10)
    w2.write(np.zeros((32, 32, 3), np.uint8))
    w2.abort()
    assert list(tmp_path.iterdir()) == [out]
    with pytest.raises(ValueError, match="frame must be uint8"):
        H264Writer(tmp_path / "x.mp4", 32, 32, 10).write(np.zeros((10, 10, 3), np.uint8))


def _c(track: int, frame: int, label: str, p: float) -> Classification:
    """A 1.5 s window of a 10 fps video ending at ``frame`` whose top label is ``label`` at ``p``."""
    probs = [(1 - p) / (len(LABELS) - 1)] * len(LABELS)
    probs[LABELS.index(label)] = p
    t = frame / 10.0
    prediction = decide(np.array([probs]), LABELS, DecisionRule())[0]
    return Classification("video", track, prediction, max(0.0, t - 1.5), t, frame, t)


def test_label_segments_cover_each_track_from_its_first_window() -> None:
    pts = [i / 10 for i in range(60)]
    cs = [_c(1, 15, "BOXING", 0.9), _c(1, 18, "BOXING", 0.7), _c(1, 21, "JUMPING", 0.5)]
    cs += [_c(2, 40, "JUMPING", 0.8)]  # another person, later
    segs = label_segments(cs, pts, {1: 23, 2: 59}, max_gap_s=0.5)
    assert [(s.track_id, s.label, s.start_frame, s.end_frame, s.windows) for s in segs] == [
        (1, "BOXING", 0, 18, 2),
        (1, "JUMPING", 19, 23, 1),  # reaches the last frame the person was seen in
        (2, "JUMPING", 25, 40, 1),  # last seen long after its only window: not stretched
    ]
    assert segs[0].confidence == pytest.approx(0.8)
    assert coverage(segs, 60) == pytest.approx(40 / 60)  # frames 0-23 and 25-40


def test_frame_analyzer_labels_tracks_and_reports_its_classifications() -> None:
    analyzer = FrameAnalyzer(random_classifier(), SegmentTracker(SegmentParams(0.0, 0.0, 1, 1)))
    analyzer.add_camera("cam", LaneOptions(classify_hop_s=0.0))
    backend = TimedBackend()
    results = []
    for i in range(50):
        image = np.full((48, 64, 3), i, np.uint8)
        people: Poses = backend.infer([image])[0]
        results += analyzer.analyze([(Frame("cam", i, i / 20, 0.0, image), people)])
    first = next(i for i, r in enumerate(results) if r.classifications)
    assert 25 <= first <= 35, "the first window needs ~1.45 s of poses at 20 fps"
    assert results[first - 1].actions[0].label is None
    labelled = results[-1].actions[0]
    assert labelled.label in LABELS and labelled.confidence is not None
    assert labelled.segment == labelled.label  # thresholds 0: the top label is the running segment
    assert any(e.type == "start" for r in results for e in r.events)  # type: ignore[union-attr]
    ended = analyzer.end_camera("cam")
    assert ended is not None and [e.type for e in ended.events] == ["end"]


def test_frame_analyzer_decides_on_each_persons_last_second_per_camera() -> None:
    """With the model's smoothing_s, a classification carries the mean of the person's raw outputs
    over the windows of the last second (the same weights judging each window alone give them);
    two cameras never mix, and a camera that ends starts afresh."""
    alone = FrameAnalyzer(random_classifier(3), SegmentTracker())
    smooth = FrameAnalyzer(random_classifier(3, smoothing_s=1.0), SegmentTracker())
    for a in (alone, smooth):
        a.add_camera("cam", LaneOptions(classify_hop_s=0.25))
    smooth.add_camera("other", LaneOptions(classify_hop_s=0.25))
    backend = TimedBackend()
    raw: list[tuple[float, np.ndarray]] = []
    got: list[tuple[float, np.ndarray]] = []
    for i in range(90):
        image = np.full((48, 64, 3), i, np.uint8)
        people: Poses = backend.infer([image])[0]
        frame = Frame("cam", i, i / 20, 0.0, image)
        raw += [
            (c.window_end_pts, np.array(c.prediction.probabilities))
            for r in alone.analyze([(frame, people)])
            for c in r.classifications
        ]
        # the other camera sees someone else first (a mirrored person), at the same times
        other = Frame("other", i, i / 20, 0.0, image)
        mirrored = Poses.from_keypoints(people.keypoints[:, ::-1].copy())
        out = smooth.analyze([(frame, people), (other, mirrored)])
        got += [(c.window_end_pts, np.array(c.prediction.probabilities)) for c in out[0].classifications]
    assert len(raw) == len(got) >= 8
    for k, (end, probs) in enumerate(got):
        recent = [p for t, p in raw[: k + 1] if t >= end - 1.0 - 1e-6]
        assert 1 <= len(recent) <= 5
        np.testing.assert_allclose(probs, np.mean(recent, axis=0), rtol=1e-5, atol=1e-6)
    assert any(
        len([t for t, _ in raw[: k + 1] if t >= end - 1.0 - 1e-6]) > 1 for k, (end, _) in enumerate(got)
    )
    assert smooth.end_camera("cam") is not None
    assert len(smooth._evidence) == 1  # only the other camera's person is remembered


def test_no_action_flows_through_timeline_csv_and_captions(tmp_path: Path) -> None:
    """A model that declines every window (reject threshold 1): the timeline's segments say no action
    (label null), nothing is confirmed, the CSV writes the no-action label, the caption a dash."""
    src = write_video(tmp_path / "in.mp4", frames=60, fps=20.0)
    result = analyze_video(
        src,
        backend=TimedBackend(),
        classifier=random_classifier(reject_threshold=1.0),
        options=AnalyzeOptions(segments=SegmentParams(0.0, 0.0, 1, 1)),
    )
    assert result.classifications, "windows were classified"
    assert {c["label"] for c in result.classifications} == {None}
    assert {c["reason"] for c in result.classifications} == {"unsure"}
    assert result.segments and {s.label for s in result.segments} == {None}
    assert all(0.0 <= s.confidence <= 1.0 for s in result.segments)
    assert result.confirmed == (), "no action never starts a segment"
    doc = json.loads(json.dumps(result.timeline()))
    assert doc["version"] == 2 and doc["segments"][0]["label"] is None
    table = tmp_path / "t.csv"
    write_csv(result, table)
    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert {r["label"] for r in rows} == {NO_ACTION_LABEL}
    assert track_caption(3, TrackAction(None, 0.4, None, "unsure")) == "#3 -"
    assert track_caption(3, TrackAction()) == "#3 ..."
    assert track_caption(3, TrackAction("BOXING", 0.87, "BOXING", "action")) == "#3 BOXING 87%"
