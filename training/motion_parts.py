"""Building blocks of the motion programs: rhythms, limb directions, arms and legs at rest.

Shared by the six actions (:mod:`training.motions`) and the everyday non-action motions
(:mod:`training.everyday`). Everything is vectorised over time and reads its scalars from
:class:`training.motions.MotionParams` (only imported for type checking: no import cycle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from training.body import LEFT, RIGHT, SIDE_SIGN, BodyShape, Motion, two_bone_ik

if TYPE_CHECKING:
    from training.motions import MotionParams

DEG = np.pi / 180.0
TAU = 2 * np.pi


def rhythm_phase(t: np.ndarray, v: MotionParams, freq: float) -> np.ndarray:
    """Phase (radians) of a rhythm at ``freq`` Hz whose tempo drifts slowly (+-tempo_mod)."""
    fm, d, psi = v["tempo_mod_f"], v["tempo_mod"], v["tempo_mod_p"]
    drift = -(freq * d / (2 * np.pi * fm)) * (np.cos(2 * np.pi * fm * t + psi) - np.cos(psi))
    return v["phase0"] + 2 * np.pi * (freq * t + drift)


def dwell(c: np.ndarray, k: float) -> np.ndarray:
    """Shape an oscillation in [-1, 1] so it lingers at the extremes (k -> 0: sinusoid)."""
    k = max(k, 1e-3)
    return np.tanh(k * c) / np.tanh(k)


def swing_dir(abd: np.ndarray | float, fwd: np.ndarray | float, side: int) -> np.ndarray:
    """A segment hanging down, raised sideways by ``abd`` and then forwards by ``fwd`` (radians)."""
    ca, sa, cf, sf = np.cos(abd), np.sin(abd), np.cos(fwd), np.sin(fwd)
    shape = np.broadcast_shapes(np.shape(abd), np.shape(fwd))
    out = np.empty((*shape, 3))
    out[..., 0] = SIDE_SIGN[side] * sa
    out[..., 1] = -ca * cf
    out[..., 2] = ca * sf
    return out


def frontal_dir(theta: np.ndarray | float, tilt: np.ndarray | float, side: int) -> np.ndarray:
    """A segment pointing up, tipped outward by ``theta`` in the frontal plane and forward by ``tilt``."""
    shape = np.broadcast_shapes(np.shape(theta), np.shape(tilt))
    ct = np.cos(tilt)
    out = np.empty((*shape, 3))
    out[..., 0] = SIDE_SIGN[side] * np.sin(theta) * ct
    out[..., 1] = np.cos(theta) * ct
    out[..., 2] = np.sin(tilt)
    return out


def arm(shape: BodyShape, upper: np.ndarray, fore: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    elbow = shape.upper_arm * upper
    return elbow, elbow + shape.forearm * fore


def relaxed_arm(
    shape: BodyShape, t: np.ndarray, v: MotionParams, side: int, prefix: str = "rest"
) -> tuple[np.ndarray, np.ndarray]:
    """An arm hanging by the side with a little passive swing."""
    sw = v[f"{prefix}_swing"] * np.sin(2 * np.pi * v["sway_f1"] * t + v["sway_p1"] + side)
    upper = swing_dir(v[f"{prefix}_abd"], v[f"{prefix}_fwd"] + sw, side)
    fore = swing_dir(v[f"{prefix}_abd"] * 0.7, v[f"{prefix}_fwd"] + v[f"{prefix}_flex"] + 1.3 * sw, side)
    return arm(shape, upper, fore)


def held_arm(shape: BodyShape, t: np.ndarray, v: MotionParams, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The arm that does not act: hanging (most people), hand on the hip, or hand on the belly."""
    style = v.values.get("other_style", 0.0)
    if style < 1.0:
        return relaxed_arm(shape, t, v, side)
    s = SIDE_SIGN[side]
    if style < 2.0:  # hand on hip, elbow out
        target = np.array([s * 0.05 * shape.torso, -0.85 * shape.torso, 0.02 * shape.torso])
        pole = np.array([s, 0.0, -0.5])
    else:  # hand resting in front of the belly
        target = np.array([-s * (shape.shoulder_width / 2 - 0.05), -0.75 * shape.torso, 0.35 * shape.torso])
        pole = np.array([s, -1.0, -0.3])
    wob = 0.03 * shape.torso * np.sin(2 * np.pi * v["sway_f2"] * t + v["sway_p2"])[:, None]
    return two_bone_ik(target[None] + wob * np.array([0.0, 1.0, 0.5]), shape.upper_arm, shape.forearm, pole)


def standing_legs(
    shape: BodyShape,
    t: np.ndarray,
    v: MotionParams,
    knee: np.ndarray | float = 0.0,
    air: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Both legs in a relaxed stance; ``knee`` bends hips and knees (a crouch), ``air`` tucks the feet."""
    n = t.shape[0]
    kn = np.broadcast_to(np.asarray(knee, dtype=np.float64), (n,)) + v["knee_bend"]
    tuck = np.broadcast_to(np.asarray(air, dtype=np.float64), (n,))
    knees, ankles = np.empty((n, 2, 3)), np.empty((n, 2, 3))
    for side in (LEFT, RIGHT):
        lat = v["stance"] + (v["stance_asym"] if side == LEFT else -v["stance_asym"])
        fwd = v["foot_fwd"] * (1 if side == LEFT else -1)
        thigh = swing_dir(lat, fwd + 0.55 * kn, side)
        shin = swing_dir(lat, fwd - 0.55 * kn - tuck, side)
        knees[:, side] = shape.thigh * thigh
        ankles[:, side] = knees[:, side] + shape.shin * shin
    return knees, ankles


def base(shape: BodyShape, t: np.ndarray, v: MotionParams, arms: bool = True) -> Motion:
    """A person standing and breathing: sway, drift, head movement, arms down (unless the action
    sets both arms itself: ``arms=False``), legs straight."""
    n = t.shape[0]
    w1 = np.sin(2 * np.pi * v["sway_f1"] * t + v["sway_p1"])
    w2 = np.sin(2 * np.pi * v["sway_f2"] * t + v["sway_p2"])
    root = np.zeros((n, 3))
    root[:, 0] = v["sway_x"] * w1 + v["drift_x"] * t
    root[:, 2] = v["sway_z"] * w2 + v["drift_z"] * t
    elbows, wrists = np.empty((n, 2, 3)), np.empty((n, 2, 3))
    for side in (LEFT, RIGHT) if arms else ():
        elbows[:, side], wrists[:, side] = relaxed_arm(shape, t, v, side)
    knees, ankles = standing_legs(shape, t, v)
    return Motion(
        root=root,
        pelvis_yaw=v["pelvis_yaw"] + v["yaw_sway"] * w2,
        chest_twist=np.zeros(n),
        lean=v["lean"] + v["lean_sway"] * w2,
        side_bend=v["bend_sway"] * w1,
        head_yaw=v["head_yaw"] * np.sin(2 * np.pi * v["head_f"] * t + v["head_p"]),
        head_pitch=v["head_pitch"] + 0.3 * v["head_yaw"] * w1,
        arm_elbow=elbows,
        arm_wrist=wrists,
        leg_knee=knees,
        leg_ankle=ankles,
    )


def bump(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """A smooth 0 -> 1 -> 0 pulse over ``lo <= x <= hi`` (zero elsewhere)."""
    y = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return np.sin(np.pi * y) ** 2


def loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
