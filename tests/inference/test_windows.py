"""Windows from timestamps: resampling, missing joints, normalisation, per-track buffers."""

from __future__ import annotations

import numpy as np
import pytest

from inference.keypoints import COCO17_INDEX
from inference.windows import (
    NoConfidentKeypointsError,
    TrackWindows,
    Window,
    WindowSpec,
    make_features,
    resample_poses,
)
from tests.inference.skeletons import LEFT_WRIST, person, sequence

SPEC = WindowSpec()  # 32 steps at 22 Hz, raw pixels
END = 2.0


def grid(fps: int, end: float = END, seconds: float = 2.0) -> np.ndarray:
    """Frame times k / fps up to ``end`` exactly (so every rate shares the same last instant)."""
    n = round(seconds * fps)
    return end - np.arange(n, -1, -1) / fps


def truth(spec: WindowSpec, end: float = END, **kwargs: float) -> np.ndarray:
    """The exact features: the synthetic motion evaluated at the spec's instants."""
    t = end - (spec.steps - 1 - np.arange(spec.steps)) / spec.rate_hz
    return make_features(t, sequence(t, **kwargs), spec)


def test_spec_duration_and_validation() -> None:
    assert SPEC.duration_s == pytest.approx(31 / 22)
    with pytest.raises(ValueError, match="normalisation"):
        WindowSpec(normalisation="zscore")
    with pytest.raises(ValueError, match="rate_hz"):
        WindowSpec(rate_hz=0)


def test_resampling_at_the_trained_rate_is_identity() -> None:
    t = np.arange(32) / 22.0
    kp = sequence(t)
    f = make_features(t, kp, SPEC)
    assert f.shape == (32, 34) and f.dtype == np.float32
    np.testing.assert_allclose(f, kp[:, :, :2].reshape(32, 34), atol=1e-4)


@pytest.mark.parametrize("normalisation", ["raw_pixels", "body_centred"])
def test_30fps_and_10fps_give_nearly_the_same_features(normalisation: str) -> None:
    spec = WindowSpec(normalisation=normalisation)
    f30 = make_features(grid(30), sequence(grid(30)), spec)
    f10 = make_features(grid(10), sequence(grid(10)), spec)
    exact = truth(spec)
    # Linear interpolation of a 1.5 Hz wave of amplitude A (30 px) errs by at most
    # A (2 pi f)^2 dt^2 / 8: 0.37 px at 30 fps, 3.3 px at 10 fps. Everything else moves slower.
    scale = 1.0 if normalisation == "raw_pixels" else 0.33 * 300  # torso length in pixels
    assert np.abs(f30 - exact).max() < 0.4 / scale
    assert np.abs(f10 - exact).max() < 3.4 / scale
    assert np.abs(f30 - f10).max() < 3.4 / scale
    # Only the waving wrist differs noticeably; the other 16 joints agree to a fraction of a pixel.
    others = np.delete(np.abs(f30 - f10).reshape(32, 17, 2), LEFT_WRIST, axis=1)
    assert others.max() < 0.3 / scale


def test_jittered_timestamps() -> None:
    rng = np.random.default_rng(7)
    t = grid(30) + rng.uniform(-0.01, 0.01, size=len(grid(30)))  # +-10 ms jitter, still increasing
    t[-1] = END
    f = make_features(t, sequence(t), SPEC)
    # Intervals are now up to 53 ms: the bound A (2 pi f)^2 dt^2 / 8 is 0.93 px.
    assert np.abs(f - truth(SPEC)).max() < 0.95


def test_short_input_holds_the_first_pose() -> None:
    t = np.array([0.0, 0.5, 1.0])
    kp = sequence(t, wave_amp=0.0)
    f = make_features(t, kp, SPEC)
    np.testing.assert_allclose(f[0], kp[0, :, :2].reshape(34), atol=1e-4)


def test_times_must_increase() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        make_features(np.array([0.0, 0.2, 0.1]), sequence(np.zeros(3)), SPEC)
    with pytest.raises(ValueError, match=r"\(2, 17, 3\)"):
        make_features(np.array([0.0, 0.1]), np.zeros((3, 17, 3)), SPEC)


def test_missing_joint_is_interpolated_in_time_not_zero() -> None:
    t = grid(30)
    kp = sequence(t)
    gap = (t > 1.0) & (t < 1.3)
    kp[gap, LEFT_WRIST] = (0.0, 0.0, 0.0)  # what OpenPose and many backends emit when lost
    f = make_features(t, kp, SPEC).reshape(32, 17, 2)
    assert not np.any(np.all(f == 0, axis=-1)), "a missing joint was fed as (0, 0)"
    exact = truth(SPEC).reshape(32, 17, 2)
    # Interpolating straight across a 0.3 s gap of a 1.5 Hz wave is off by at most the wave's sag.
    assert np.abs(f[:, LEFT_WRIST] - exact[:, LEFT_WRIST]).max() < 30
    # Joints that were seen are untouched.
    np.testing.assert_allclose(
        np.delete(f, LEFT_WRIST, axis=1), np.delete(exact, LEFT_WRIST, axis=1), atol=0.4
    )


def test_never_seen_joint_is_mirrored_from_its_partner() -> None:
    t = grid(30)
    kp = sequence(t, wave_amp=0.0)
    rk = COCO17_INDEX["right_knee"]
    kp[:, rk, 2] = 0.05  # present but below min_confidence all window
    kp[:, rk, :2] = 0.0
    poses = resample_poses(t, kp, SPEC)
    assert not poses.seen[rk]
    # The template is symmetric, so the mirrored left knee is exactly where the right knee was.
    np.testing.assert_allclose(
        poses.xy[:, rk], np.broadcast_to(person(0.0, wave_amp=0.0)[rk, :2], (32, 2)), atol=1e-3
    )


def test_never_seen_head_and_unpaired_joints_have_documented_fallbacks() -> None:
    t = grid(30)
    kp = sequence(t, wave_amp=0.0)
    nose = COCO17_INDEX["nose"]
    kp[:, nose, 2] = 0.0
    poses = resample_poses(t, kp, SPEC)
    head = [COCO17_INDEX[n] for n in ("left_eye", "right_eye", "left_ear", "right_ear")]
    np.testing.assert_allclose(poses.xy[:, nose], poses.xy[:, head].mean(axis=1))
    # No head joint at all: the nose falls back to the body centroid.
    kp[:, [nose, *head], 2] = 0.0
    poses = resample_poses(t, kp, SPEC)
    body = [j for j in range(17) if j not in (nose, *head)]
    np.testing.assert_allclose(poses.xy[:, nose], poses.xy[:, body].mean(axis=1))


def test_missing_fraction_and_all_missing() -> None:
    t = grid(30)
    kp = sequence(t)
    kp[:, :5, 2] = 0.0  # the head is never confident: 5 of 17 joints
    poses = resample_poses(t, kp, SPEC)
    assert poses.missing_fraction == pytest.approx(5 / 17)
    kp[:, :, 2] = 0.1
    with pytest.raises(NoConfidentKeypointsError, match=r"no joint reaches confidence 0\.3"):
        make_features(t, kp, SPEC)


@pytest.mark.parametrize("drop_hips", [False, True])
def test_body_centred_is_invariant_to_translation_and_scale(drop_hips: bool) -> None:
    spec = WindowSpec(normalisation="body_centred")
    t = grid(30)
    kp = sequence(t)
    if drop_hips:  # centred on mid-shoulder, scaled by body height
        kp[:, [COCO17_INDEX["left_hip"], COCO17_INDEX["right_hip"]], 2] = 0.0
    base = make_features(t, kp, spec)
    for scale, dx, dy in [(0.4, -80.0, 15.0), (2.7, 400.0, -120.0)]:
        moved = kp.copy()
        moved[:, :, 0] = kp[:, :, 0] * scale + dx
        moved[:, :, 1] = kp[:, :, 1] * scale + dy
        np.testing.assert_allclose(make_features(t, moved, spec), base, atol=1e-4)
    # Motion within the window survives: the waving wrist still moves (60 px of a 100 px torso,
    # or of a 290 px body height when the hips are missing).
    wrist_x = base.reshape(32, 17, 2)[:, LEFT_WRIST, 0]
    assert np.ptp(wrist_x) > (0.15 if drop_hips else 0.5)
    # And the torso is about one unit long.
    assert np.abs(base).max() < 3


def test_body_centred_keeps_whole_body_motion() -> None:
    """Jumping moves the whole body: per-window centring must not remove it."""
    spec = WindowSpec(normalisation="body_centred")
    t = grid(30)
    kp = np.stack([person(float(s), cy=300 - 40 * abs(np.sin(np.pi * s)), wave_amp=0.0) for s in t])
    hip_y = make_features(t, kp, spec).reshape(32, 17, 2)[:, COCO17_INDEX["left_hip"], 1]
    assert np.ptp(hip_y) > 0.3


def feed(windows: TrackWindows, times: np.ndarray, track_id: int = 1, **kwargs: float) -> list[Window]:
    out: list[Window] = []
    for t in times:
        windows.add(track_id, float(t), person(float(t), **kwargs))
        out.extend(windows.ready(now_pts=float(t)))
    return out


def test_track_is_ready_once_its_poses_span_the_window() -> None:
    tw = TrackWindows(SPEC)
    t = np.arange(0, 60) / 30.0
    out = feed(tw, t)
    first = out[0]
    assert first.end_pts >= SPEC.duration_s - 1e-9
    assert first.end_pts < SPEC.duration_s + 1 / 30
    assert first.start_pts == pytest.approx(first.end_pts - SPEC.duration_s)
    assert len(out) == sum(t >= SPEC.duration_s - 1e-9)  # hop 0: one window per new pose
    np.testing.assert_allclose(
        first.features,
        make_features(t[: len(t) - len(out) + 1], sequence(t[: len(t) - len(out) + 1]), SPEC),
        atol=1e-4,
    )
    assert first.missing_fraction == 0.0 and first.samples >= 43


def test_ten_fps_window_needs_sixteen_frames() -> None:
    tw = TrackWindows(SPEC)
    out = feed(tw, np.arange(0, 16) / 10.0)
    assert len(out) == 1 and out[0].end_pts == pytest.approx(1.5)


def test_hop_limits_how_often_a_track_is_classified() -> None:
    tw = TrackWindows(SPEC, hop_s=0.25)
    out = feed(tw, np.arange(0, 180) / 30.0)
    ends = np.array([w.end_pts for w in out])
    gaps = np.diff(ends)
    assert np.all(gaps >= 0.25 - 1e-9) and np.all(gaps < 0.25 + 1 / 30 + 1e-9)
    assert 15 <= len(out) <= 18  # about (6 - 1.43) / 0.267 + 1


def test_buffer_is_bounded_in_time() -> None:
    tw = TrackWindows(SPEC)
    feed(tw, np.arange(0, 600) / 30.0)  # 20 s
    assert tw.buffered(1) <= SPEC.duration_s * 30 + 2


def test_long_gap_restarts_the_window() -> None:
    tw = TrackWindows(SPEC, max_gap_s=0.5)
    assert feed(tw, np.arange(0, 50) / 30.0)  # ready before the gap
    after = np.arange(0, 50) / 30.0 + 3.0  # 1.37 s later
    out = feed(tw, after)
    assert out and out[0].end_pts >= 3.0 + SPEC.duration_s - 1e-9
    assert all(w.start_pts >= 3.0 - 1e-9 for w in out)


def test_stale_tracks_drop_and_drop_forgets() -> None:
    tw = TrackWindows(SPEC, max_gap_s=0.5)
    feed(tw, np.arange(0, 50) / 30.0, track_id=1)
    feed(tw, np.arange(0, 50) / 30.0, track_id=2)
    assert tw.track_ids == [1, 2]
    tw.drop(2)
    assert tw.track_ids == [1]
    assert tw.ready(now_pts=10.0) == []
    assert tw.track_ids == []


def test_pts_going_back_restarts_the_track() -> None:
    tw = TrackWindows(SPEC)
    feed(tw, np.arange(0, 50) / 30.0)
    tw.add(1, 0.1, person(0.1))
    assert tw.buffered(1) == 1 and tw.ready() == []


def test_unusable_window_is_skipped() -> None:
    tw = TrackWindows(SPEC)
    for t in np.arange(0, 50) / 30.0:
        kp = person(float(t))
        kp[:, 2] = 0.0
        tw.add(7, float(t), kp)
    assert tw.ready() == []
    tw.add(7, 50 / 30.0, person(50 / 30.0))  # a confident pose again: that window is made
    assert tw.ready() != []


def test_window_validation() -> None:
    with pytest.raises(ValueError, match=r"\(steps, 34\)"):
        Window(track_id=1, start_pts=0.0, end_pts=1.0, features=np.zeros((32, 30), np.float32))
    with pytest.raises(ValueError, match="before start_pts"):
        Window(track_id=1, start_pts=2.0, end_pts=1.0, features=np.zeros((32, 34), np.float32))
