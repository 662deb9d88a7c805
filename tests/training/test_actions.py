"""Each synthetic action has its signature, checked numerically in body-centred coordinates.

Checked on clean renderings (a perfect detector) of many random people, cameras and styles,
plus a looser check that the signature survives the detector noise.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from training.body import forward_kinematics
from training.motions import run_motion
from training.posestats import (
    L_AN,
    L_SH,
    L_WR,
    R_AN,
    R_SH,
    R_WR,
    body_centred,
    dominant_frequency,
    pose_stats,
)
from training.synthetic import SyntheticSequence, generate_sequence, sample_params

N = 24


def _clean(action: str, i: int, duration: float = 4.0, fps: float = 22.0) -> SyntheticSequence:
    """A perfect detector; the signatures are checked in pictures from about eye level (a camera
    high above, looking down steeply, turns 'above the shoulders' into 'in front of them')."""
    params = sample_params(action, np.random.default_rng([17, i])).without_noise()
    camera = dataclasses.replace(params.camera, pitch=min(params.camera.pitch, np.radians(28)))
    params = dataclasses.replace(params, camera=camera)
    return generate_sequence(action, fps, duration, np.random.default_rng(0), params)


def _noisy(action: str, i: int, duration: float = 4.0) -> SyntheticSequence:
    return generate_sequence(action, 22.0, duration, np.random.default_rng([18, i]))


def _tempo_ok(seq: SyntheticSequence, signal: np.ndarray) -> bool:
    """The signal's strongest rhythm is the action's tempo."""
    got, _ = dominant_frequency(seq.times, signal)
    want = seq.params.motion["freq"]
    return abs(got - want) < 0.2 * want + 0.15


def test_jumping_jacks_hands_over_head_and_feet_apart_in_sync() -> None:
    tempo_ok = 0
    for i in range(N):
        seq = _clean("JUMPING_JACKS", i)
        rel, _ = body_centred(seq.keypoints)
        wrist_y = rel[:, [L_WR, R_WR], 1].mean(axis=1)
        ankle_gap = np.abs(rel[:, L_AN, 0] - rel[:, R_AN, 0])
        assert wrist_y.min() < -0.3, "arms come down to the sides"
        if seq.params.motion.variant == "full":
            assert (wrist_y > rel[:, 0, 1]).any(), "wrists go above the head"
        assert np.percentile(ankle_gap, 95) > 1.3 * np.percentile(ankle_gap, 5), "feet spread and close"
        assert np.corrcoef(wrist_y, ankle_gap)[0, 1] > 0.6, "arms and legs open together"
        tempo_ok += _tempo_ok(seq, wrist_y)
    assert tempo_ok >= 0.85 * N


# Views vary (turned 65 degrees, seen from above, whole-arm swings that dip below the shoulder):
# a signature must hold for nearly everyone, and the odd extreme person may break it.
MAY_BREAK = 2


def test_waving_one_hand_raised_wrist_moves_sideways_other_hangs() -> None:
    broken = []
    for i in range(N):
        seq = _clean("WAVING_1HAND", i)
        rel, _ = body_centred(seq.keypoints)
        up, down = (L_WR, R_WR) if seq.params.motion.variant == "left" else (R_WR, L_WR)
        assert np.percentile(rel[:, down, 1], 90) < 0.0, "the other wrist stays below the shoulders"
        sway = np.percentile(rel[:, up, 0], 95) - np.percentile(rel[:, up, 0], 5)
        assert sway > 0.12, f"the waving wrist moves sideways (moved {sway:.2f} torso)"
        if not np.median(rel[:, up, 1]) > 0.0:  # the waving wrist is above the shoulders
            broken.append(i)
    assert len(broken) <= MAY_BREAK, f"waving wrist mostly below the shoulders for people {broken}"


def test_waving_two_hands_both_raised_and_moving() -> None:
    broken = []
    for i in range(N):
        seq = _clean("WAVING_2HANDS", i)
        rel, _ = body_centred(seq.keypoints)
        for j in (L_WR, R_WR):
            assert np.median(rel[:, j, 1]) > -0.1, "both wrists up"
            if not np.ptp(rel[:, j, 0]) > 0.1:  # and moving sideways in the picture
                broken.append(i)
    assert len(set(broken)) <= MAY_BREAK, f"wrists hardly move sideways for people {broken}"


def test_clapping_wrists_meet_periodically() -> None:
    tempo_ok = 0
    for i in range(N):
        seq = _clean("CLAPPING_HANDS", i)
        rel, _ = body_centred(seq.keypoints)
        gap = np.linalg.norm(rel[:, L_WR] - rel[:, R_WR], axis=-1)
        closed = 0.75 if seq.params.motion.variant == "overhead" else 0.4
        assert gap.min() < closed, f"hands meet ({seq.params.motion.variant}: min gap {gap.min():.2f})"
        if abs(seq.params.camera.yaw) < np.radians(35):  # seen from the side, the gap shrinks in the picture
            assert np.percentile(gap, 95) > 1.8 * gap.min(), "and part again"
        tempo_ok += _tempo_ok(seq, gap)
    assert tempo_ok >= 0.85 * N


def test_boxing_wrists_extend_from_shoulders_alternately() -> None:
    """In 3D (the motion itself): each fist goes out and back, left and right take turns."""
    one_sided = []
    for i in range(N):
        params = sample_params("BOXING", np.random.default_rng([19, i]))
        # at a bag a boxer punches now and then (down to 0.35 a second): watch long enough
        t = np.arange(0, max(4.0, 8.0 / params.motion["punch_rate"]), 1 / 60)
        world = forward_kinematics(params.body, run_motion(params.body, t, params.motion))
        reach = params.body.upper_arm + params.body.forearm
        ext = np.stack([np.linalg.norm(world[:, w] - world[:, s], axis=1) for w, s in ((9, 5), (10, 6))], 1)
        ext /= reach
        if not np.all(np.ptp(ext, axis=0) > 0.2):  # both fists punch out (hooks and skips aside)
            one_sided.append(i)
        assert ext.max() > 0.8, "a punch (nearly) straightens the arm"
        out = ext > ext.min(axis=0) + 0.6 * np.ptp(ext, axis=0)
        assert (out[:, 0] & out[:, 1]).mean() < 0.3 * max(out.any(axis=1).mean(), 1e-9), "they take turns"
    assert len(one_sided) <= MAY_BREAK, f"only one fist punched for people {one_sided}"
    # And in the picture: the wrist-to-shoulder distance changes much more than when standing idle.
    boxing = np.median(
        [
            pose_stats(s.times, s.keypoints)["wrist_reach_std"]
            for s in map(lambda i: _clean("BOXING", i), range(N))
        ]
    )
    idle = np.median(
        [
            pose_stats(s.times, s.keypoints)["wrist_reach_std"]
            for s in map(lambda i: _clean("IDLE", i), range(N))
        ]
    )
    assert boxing > 2 * idle


def test_jumping_hips_bounce_hands_mostly_low() -> None:
    tempo_ok = 0
    for i in range(N):
        seq = _clean("JUMPING", i)
        stats = pose_stats(seq.times, seq.keypoints)
        rel, torso_px = body_centred(seq.keypoints)
        hip_y = -seq.keypoints[:, 11:13, 1].mean(axis=1) / torso_px
        assert stats["hip_y_std"] > 0.03, "the hips go up and down"
        assert stats["high_wrist_y_p50"] < 0.0, "hands are mostly below the shoulders"
        if seq.params.motion.variant == "hop":  # big jumps swing the arms up at take-off
            assert stats["high_wrist_y_p90"] < 0.0, "hands stay below the shoulders"
            spread = np.abs(rel[:, [L_WR, R_WR], 0] - rel[:, [L_SH, R_SH], 0])
            assert np.percentile(spread, 95) < 0.75, "wrists stay near the body sideways"
        # Flight and crouch make a lopsided wave: check the period by self-similarity one jump later.
        lag = round(seq.fps / seq.params.motion["freq"])
        tempo_ok += np.corrcoef(hip_y[:-lag], hip_y[lag:])[0, 1] > 0.5
    assert tempo_ok >= 0.85 * N


@pytest.mark.parametrize(
    ("action", "check"),
    [
        ("JUMPING", lambda s: s["hip_y_std"] > 0.03 and s["high_wrist_y_p50"] < 0),
        (
            "JUMPING_JACKS",
            lambda s: s["high_wrist_y_p90"] > 0.3 and s["ankle_gap_p95"] > 1.2 * s["ankle_gap_p05"],
        ),
        ("WAVING_1HAND", lambda s: s["high_wrist_y_p50"] > 0 and s["low_wrist_y_p50"] < 0),
        ("WAVING_2HANDS", lambda s: s["low_wrist_y_p50"] > -0.2),
        ("CLAPPING_HANDS", lambda s: s["wrist_gap_p95"] > 1.5 * s["wrist_gap_p05"]),
        ("BOXING", lambda s: s["high_wrist_y_p50"] > -0.8 and s["hip_y_std"] < 0.1),
    ],
)
def test_signatures_survive_detector_noise(action: str, check: object) -> None:
    passed = sum(bool(check(pose_stats(s.times, s.keypoints))) for s in (_noisy(action, i) for i in range(N)))  # type: ignore[operator]
    assert passed >= 0.8 * N, f"{action}: signature held in {passed}/{N} noisy sequences"
