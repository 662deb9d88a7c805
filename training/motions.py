"""Motion programs: one continuous function of time per action, driven by sampled parameters.

Every program is a pure function of ``t`` (seconds) and :class:`MotionParams`, so the same
parameters describe the same motion at any frame rate. Randomness lives only in
:func:`sample_motion_params` (and in schedules drawn from ``MotionParams.seed``, indexed by
slot, never by frame). Ranges are documented in docs/SYNTHETIC.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from inference.labels import ORIGINAL_ACTIONS
from training import everyday_arms, everyday_body
from training.body import LEFT, RIGHT, SIDE_SIGN, BodyShape, Motion, limb_dir, two_bone_ik
from training.motion_parts import (
    arm,
    base,
    bump,
    dwell,
    frontal_dir,
    held_arm,
    loguniform,
    rhythm_phase,
    standing_legs,
    swing_dir,
)

ACTIONS: tuple[str, ...] = ORIGINAL_ACTIONS
IDLE = "IDLE"
# Everyday motion that is none of the actions (training.everyday_body / everyday_arms): the
# background a model learns as "no known action", with IDLE (standing still).
EVERYDAY: tuple[str, ...] = (*everyday_body.PROGRAMS, *everyday_arms.PROGRAMS)
BACKGROUND: tuple[str, ...] = (IDLE, *EVERYDAY)
DEG = np.pi / 180.0
TAU = 2 * np.pi


@dataclass(frozen=True)
class MotionParams:
    """How one person performs one action: a variant name and named scalars (SI units, radians)."""

    action: str
    variant: str
    values: dict[str, float]
    seed: int

    def __post_init__(self) -> None:
        if self.action not in _PROGRAMS:
            raise ValueError(f"unknown action {self.action!r}; expected one of {sorted(_PROGRAMS)}")
        bad = [k for k, v in self.values.items() if not np.isfinite(v)]
        if bad:
            raise ValueError(f"MotionParams values must be finite numbers, got non-finite {bad}")

    def __getitem__(self, key: str) -> float:
        return self.values[key]


# --------------------------------------------------------------------------------------------
# The actions


def _jumping(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Jumps in place: crouch, push off, flight (ballistic), land.

    ``hop``: quick small rebounds, arms swinging a little by the sides. ``big``: slower
    counter-movement jumps with a deep crouch, arms swinging back and then forward-up and out.
    """
    m = base(shape, t, v, arms=False)
    u = np.mod(rhythm_phase(t, v, v["freq"]) / (2 * np.pi), 1.0)
    flight = 2.0 * np.sqrt(2.0 * v["hop"] / 9.81)  # seconds in the air for that jump height
    air_frac = float(np.clip(flight * v["freq"], 0.15, 0.65))
    in_air = u < air_frac
    x = np.where(in_air, u / air_frac, 0.0)
    g = np.where(in_air, -1.0, (u - air_frac) / (1 - air_frac))  # -1: not on the ground
    m.root[:, 1] = v["hop"] * 4 * x * (1 - x)
    lift = np.sin(np.pi * x)
    if v.variant == "big":
        landing, loading = bump(g, 0.0, 0.4), bump(g, 0.4, 1.0)
        crouch = v["crouch"] * (0.6 * landing + loading)
        swing = v["arm_swing"] * lift - v["arm_back"] * loading
        abd = v["arm_abd"] + v["arm_spread"] * lift
    else:
        ground = np.where(g >= 0, np.sin(np.pi * np.clip(g, 0, 1)) ** 1.5, 0.0)
        crouch = v["crouch"] * ground
        swing = v["arm_swing"] * (lift * 0.8 - ground)
        abd = v["arm_abd"] + v["arm_spread"] * lift
    m.leg_knee, m.leg_ankle = standing_legs(shape, t, v, knee=crouch, air=v["tuck"] * lift)
    m.lean = m.lean + 0.45 * crouch
    flail = v.values.get("flail", 0.0)
    if flail > 0:  # bouncing on something soft: the whole body wobbles for balance
        f2 = 2 * np.pi * v["flail_f"] * t
        m.side_bend = m.side_bend + 0.6 * flail * np.sin(0.7 * f2 + 1.0)
        m.lean = m.lean + 0.3 * flail * np.sin(0.5 * f2 + 2.0)
        m.root[:, 0] += 0.15 * flail * shape.torso * np.sin(0.3 * f2)
    for side in (LEFT, RIGHT):
        wob = flail * np.sin(2 * np.pi * v.values.get("flail_f", 1.0) * t + 2.0 * side)
        upper = swing_dir(abd + wob, v["arm_fwd"] + swing, side)
        fore = swing_dir((abd + wob) * 0.8, v["arm_fwd"] + swing + v["elbow_flex"] * (1 - 0.5 * lift), side)
        m.arm_elbow[:, side], m.arm_wrist[:, side] = arm(shape, upper, fore)
    return m


def _jumping_jacks(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Arms sweep from the sides to overhead while the feet hop apart, and back, in one rhythm."""
    m = base(shape, t, v, arms=False)
    ph = rhythm_phase(t, v, v["freq"])
    s_arm = 0.5 - 0.5 * dwell(np.cos(ph), v["dwell"])
    s_leg = 0.5 - 0.5 * dwell(np.cos(ph - v["leg_lag"]), v["dwell"])
    # Two hops per cycle, at the moments the limbs move fastest.
    m.root[:, 1] = v["hop"] * np.clip((np.abs(np.sin(ph)) - 0.35) / 0.65, 0, 1) ** 1.5
    land = v["crouch"] * np.clip(1 - np.abs(np.sin(ph)) * 1.6, 0, 1)
    elev = v["arm_low"] + s_arm * (v["arm_top"] - v["arm_low"])
    bend = v["elbow_bend"] * np.sin(np.pi * s_arm) + v["wrist_in"] * s_arm**3
    for side in (LEFT, RIGHT):
        upper = limb_dir(elev, v["arm_plane"], side)
        fore = limb_dir(elev + bend, v["arm_plane"] + v["fore_plane"], side)
        m.arm_elbow[:, side], m.arm_wrist[:, side] = arm(shape, upper, fore)
        lat = v["stance"] + s_leg * v["leg_spread"]
        kn = land + v["knee_bend"]
        m.leg_knee[:, side] = shape.thigh * swing_dir(lat, v["leg_fwd"] + 0.55 * kn, side)
        m.leg_ankle[:, side] = m.leg_knee[:, side] + shape.shin * swing_dir(
            lat, v["leg_fwd"] - 0.55 * kn, side
        )
    m.head_pitch = m.head_pitch + v["head_bob"] * s_arm
    return m


def _punch_schedule(v: MotionParams, t_max: float) -> np.ndarray:
    """Punches as rows (start_s, side, duration_s, amount, kind); drawn per slot, not per frame."""
    rate = v["punch_rate"]
    n = int(np.ceil((t_max + 1.0) * rate)) + 2
    r = np.random.default_rng(v.seed).random((n, 6))  # one row per slot: same prefix for any n
    start = (np.arange(n) - 1 + (r[:, 0] - 0.5) * v["punch_irregular"]) / rate
    # Mostly alternating, sometimes a double: the side flips unless the slot draws a double.
    flips = np.cumsum(r[:, 1] >= v["double_prob"])
    side = np.mod((0 if v["lead"] < 0.5 else 1) + flips, 2).astype(np.float64)
    dur = v["punch_dur"] * (0.8 + 0.4 * r[:, 2])
    amount = np.where(r[:, 3] < v["skip_prob"], 0.0, 0.75 + 0.25 * r[:, 4])
    kind = (r[:, 5] < v["hook_prob"]).astype(np.float64)
    return np.stack([start, side, dur, amount, kind], axis=1)


def _boxing(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Fighting stance with a guard at the chin and alternating straight punches (some hooks)."""
    m = base(shape, t, v, arms=False)
    n = t.shape[0]
    lead = LEFT if v["lead"] < 0.5 else RIGHT
    turn = -v["stance_turn"] if lead == LEFT else v["stance_turn"]
    m.pelvis_yaw = m.pelvis_yaw + turn
    t_max = float(t.max()) if n else 0.0
    start, side, dur, amount, kind = _punch_schedule(v, t_max).T
    # Each frame only looks at the few slots that can cover it (memory stays O(T) for long clips).
    rate = v["punch_rate"]
    back = int(np.ceil(float(dur.max()) * rate + 0.5 * v["punch_irregular"])) + 1
    idx = np.floor(t * rate).astype(np.int64)[:, None] + 1 + np.arange(-back, 2)[None, :]  # (T, K)
    valid = (idx >= 0) & (idx < start.shape[0])
    idx = np.clip(idx, 0, start.shape[0] - 1)
    x = (t[:, None] - start[idx]) / dur[idx]
    pulse = np.where(valid & (x > 0) & (x < 1), np.sin(np.pi * np.clip(x, 0, 1) ** 0.7), 0.0) * amount[idx]
    on_side = [side[idx] == s_ for s_ in (LEFT, RIGHT)]
    ext = np.stack([np.sum(pulse * o, axis=1) for o in on_side], axis=1)
    hook = np.clip(np.stack([np.sum(pulse * kind[idx] * o, axis=1) for o in on_side], axis=1), 0.0, 1.0)
    ext = np.clip(ext, 0.0, 1.0)
    reach = (shape.upper_arm + shape.forearm) * v["reach"]
    tor = shape.torso
    for side in (LEFT, RIGHT):
        s = SIDE_SIGN[side]
        half = shape.shoulder_width / 2
        guard = np.array([s * (v["guard_x"] * tor - half), v["guard_y"] * tor, v["guard_z"] * tor])
        jab = np.array([-s * v["punch_in"] * half, v["punch_y"] * tor, reach])
        hk = np.array([-s * 0.6 * half, v["punch_y"] * tor + 0.05 * tor, 0.65 * reach])
        e, h = ext[:, side : side + 1], hook[:, side : side + 1]
        target = guard + e * ((1 - h) * jab + h * hk - guard)
        pole = np.array([s * 0.6, -1.0, -0.2]) + h * np.array([s * 1.5, 1.4, 0.0])
        m.arm_elbow[:, side], m.arm_wrist[:, side] = two_bone_ik(target, shape.upper_arm, shape.forearm, pole)
    # The punching shoulder comes forward: twist the chest (+x forward needs a negative y-rotation).
    m.chest_twist = -v["twist"] * (ext[:, LEFT] - ext[:, RIGHT])
    bounce = 0.5 + 0.5 * np.sin(2 * np.pi * v["bounce_f"] * t + v["phase0"])
    m.root[:, 1] = v["bounce"] * bounce
    m.root[:, 0] += v["shuffle"] * np.sin(2 * np.pi * v["sway_f2"] * 2 * t)
    # A fighting stance: the lead foot forward, the rear foot back (a long stride), knees bent.
    kn = v["stance_knee"] * (1 - 0.3 * bounce) + v["knee_bend"]
    for side in (LEFT, RIGHT):
        fwd = v["stagger"] if side == lead else -v["stagger"]
        lat = v["stance"] + 0.5 * v["stagger"]
        m.leg_knee[:, side] = shape.thigh * swing_dir(lat, fwd + 0.55 * kn, side)
        m.leg_ankle[:, side] = m.leg_knee[:, side] + shape.shin * swing_dir(lat, fwd - 0.55 * kn, side)
    m.lean = m.lean + v["guard_lean"]
    m.head_pitch = m.head_pitch + v["chin_down"]
    # Head movement between punches: slipping side to side, dipping the knees.
    weave = np.sin(2 * np.pi * v["weave_f"] * t + v["phase0"])
    m.side_bend = m.side_bend + v["weave"] * weave
    m.root[:, 0] += 0.5 * v["weave"] * shape.torso * weave
    return m


def _wave_arm(
    shape: BodyShape, t: np.ndarray, v: MotionParams, side: int, *, p: str, sign: float
) -> tuple[np.ndarray, np.ndarray]:
    """One raised arm whose forearm (and some of the upper arm) swings side to side."""
    ph = rhythm_phase(t, v, v["freq"]) + v[f"{p}_phase"]
    osc = sign * dwell(np.sin(ph), v["dwell"])
    lag = sign * dwell(np.sin(ph - v["upper_lag"]), v["dwell"])
    elev = v[f"{p}_elev"] - v[f"{p}_upper_amp"] * lag  # a raised arm goes outward as its elevation drops
    upper = limb_dir(elev, v[f"{p}_azim"], side)
    # follow = 0: the forearm waves about the elbow; 1: the whole arm swings from the shoulder.
    follow = v[f"{p}_follow"]
    theta = (1 - follow) * (v[f"{p}_tilt0"] + v[f"{p}_amp"] * osc) + follow * (np.pi - elev + v[f"{p}_bend"])
    fore = frontal_dir(theta, v[f"{p}_fwd"], side)
    return arm(shape, upper, fore)


def _waving_common(shape: BodyShape, t: np.ndarray, v: MotionParams, m: Motion) -> None:
    ph = rhythm_phase(t, v, v["freq"])
    m.side_bend = m.side_bend + v["body_bend"] * np.sin(ph - v["body_lag"])
    m.root[:, 0] += v["body_shift"] * np.sin(ph - v["body_lag"])
    m.root[:, 1] += v["body_bob"] * (0.5 - 0.5 * np.cos(2 * (ph - v["body_lag"])))  # rising on the toes


def _waving_2hands(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Both arms raised, forearms waving overhead; mirrored or parallel ("windscreen wipers"); or
    big arcs of whole arms between out to the side and overhead (the feet stay put, unlike
    jumping jacks, and the arms never come down to the hips)."""
    m = base(shape, t, v, arms=False)
    if v.variant == "arcs":
        ph = rhythm_phase(t, v, v["freq"])
        for side in (LEFT, RIGHT):
            phase = ph + (v["arc_lag"] if side == RIGHT else 0.0)
            s = 0.5 - 0.5 * dwell(np.cos(phase), v["dwell"])
            elev = v["arc_lo"] + (v["arc_hi"] - v["arc_lo"]) * s
            upper = limb_dir(elev, v["a_azim"] * 0.5, side)
            fore = limb_dir(elev + v["a_bend"] * (1 - s), v["a_azim"] * 0.5, side)
            m.arm_elbow[:, side], m.arm_wrist[:, side] = arm(shape, upper, fore)
        _waving_common(shape, t, v, m)
        return m
    parallel = v.variant in ("parallel", "overhead")
    for side, p in ((LEFT, "a"), (RIGHT, "b")):
        sign = -1.0 if (parallel and side == RIGHT) else 1.0
        m.arm_elbow[:, side], m.arm_wrist[:, side] = _wave_arm(shape, t, v, side, p=p, sign=sign)
    if parallel:
        _waving_common(shape, t, v, m)
    return m


def _waving_1hand(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """One raised arm waving (left or right); the other arm hangs, rests on the hip or the belly."""
    m = base(shape, t, v, arms=False)
    side = LEFT if v.variant == "left" else RIGHT
    other = RIGHT if side == LEFT else LEFT
    m.arm_elbow[:, side], m.arm_wrist[:, side] = _wave_arm(shape, t, v, side, p="a", sign=1.0)
    m.arm_elbow[:, other], m.arm_wrist[:, other] = held_arm(shape, t, v, other)
    _waving_common(shape, t, v, m)
    # Leaning away from the waving arm is common; the sign follows the side.
    m.side_bend = m.side_bend * SIDE_SIGN[side]
    return m


def _overhead_tops(shape: BodyShape, v: MotionParams) -> tuple[float, float]:
    """Upper-arm and forearm elevation at which the wrists meet above the head."""
    e_top = v["top_elev"]
    lift = min(max((e_top - np.pi / 2) / (np.pi / 2), 0.0), 1.0) * 0.12 * shape.torso
    half_sh = shape.shoulder_width / 2 - 0.4 * lift
    need = (v["gap_closed"] * shape.torso / 2 - half_sh - shape.upper_arm * np.sin(e_top)) / shape.forearm
    return e_top, float(np.pi - np.arcsin(np.clip(need, -0.98, 0.98)))


def _clapping(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Hands meet in front of the chest or face, or overhead from arms-out (the exercise variant)."""
    m = base(shape, t, v, arms=False)
    ph = rhythm_phase(t, v, v["freq"])
    tor = shape.torso
    if v.variant == "overhead":
        # Arms swing out to the side (dwell), then up to clap above the head (dwell), and back.
        s = 0.5 - 0.5 * dwell(np.cos(ph), v["dwell"])
        e_top, f_top = _overhead_tops(shape, v)
        e_u = v["out_elev"] + s * (e_top - v["out_elev"])
        e_f = v["out_elev"] + v["out_bend"] + s * (f_top - v["out_elev"] - v["out_bend"])
        for side in (LEFT, RIGHT):
            upper = limb_dir(e_u, v["arm_plane"], side)
            fore = limb_dir(e_f, v["arm_plane"] * (1 - s) + v["top_plane"] * s, side)
            m.arm_elbow[:, side], m.arm_wrist[:, side] = arm(shape, upper, fore)
        m.head_pitch = m.head_pitch - v["look_up"] * s
        return m
    # Front claps: wrists open and close around a centre in front of the body.
    open_amt = ((1 - np.cos(ph)) / 2) ** v["snap"]
    gap = (v["gap_closed"] + (v["gap_open"] - v["gap_closed"]) * open_amt) * tor
    cy = v["centre_y"] * tor + v["bob"] * tor * np.sin(ph + 1.0)
    cz = v["centre_z"] * tor + 0.3 * v["bob"] * tor * np.cos(ph)
    for side in (LEFT, RIGHT):
        s = SIDE_SIGN[side]
        target = np.stack([s * (gap / 2 - shape.shoulder_width / 2), cy, cz], axis=-1)
        pole = np.array([s * v["elbow_out"], -1.0, -0.3])
        m.arm_elbow[:, side], m.arm_wrist[:, side] = two_bone_ik(target, shape.upper_arm, shape.forearm, pole)
    return m


def _idle(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Standing still: weight shifts, looking around, arms hanging, on hips, crossed or clasped."""
    m = base(shape, t, v)
    tor = shape.torso
    if v.variant == "hanging":
        return m
    for side in (LEFT, RIGHT):
        s = SIDE_SIGN[side]
        if v.variant == "hips":
            target = np.array([s * 0.08 * tor, -0.85 * tor, 0.0])
            pole = np.array([s, 0.0, -0.6])
        elif v.variant == "crossed":
            target = np.array([-s * (shape.shoulder_width / 2 + 0.1 * tor), -0.35 * tor, 0.28 * tor])
            pole = np.array([s, -1.0, 0.0])
        else:  # clasped in front
            target = np.array([-s * (shape.shoulder_width / 2 - 0.04 * tor), -0.8 * tor, 0.3 * tor])
            pole = np.array([s, -1.0, -0.2])
        wob = v["idle_wobble"] * tor * np.sin(2 * np.pi * v["sway_f2"] * t + v["sway_p2"] + side)
        tg = target[None] + wob[:, None] * np.array([0.3, 1.0, 0.5])
        m.arm_elbow[:, side], m.arm_wrist[:, side] = two_bone_ik(tg, shape.upper_arm, shape.forearm, pole)
    return m


Program = Callable[[BodyShape, np.ndarray, MotionParams], Motion]
_PROGRAMS: dict[str, Program] = {
    "JUMPING": _jumping,
    "JUMPING_JACKS": _jumping_jacks,
    "BOXING": _boxing,
    "WAVING_2HANDS": _waving_2hands,
    "WAVING_1HAND": _waving_1hand,
    "CLAPPING_HANDS": _clapping,
    IDLE: _idle,
    **everyday_body.PROGRAMS,
    **everyday_arms.PROGRAMS,
}


def run_motion(shape: BodyShape, t: np.ndarray, params: MotionParams) -> Motion:
    """Evaluate the action's motion program at times ``t`` (seconds)."""
    return _PROGRAMS[params.action](shape, np.asarray(t, dtype=np.float64), params)


# --------------------------------------------------------------------------------------------
# Parameter sampling


# Shared by every action: (low, high) of a uniform draw; angles in radians, lengths in metres, Hz.
_COMMON_RANGES: dict[str, tuple[float, float]] = {
    "sway_x": (0.0, 0.025),
    "sway_z": (0.0, 0.025),
    "sway_f1": (0.12, 0.5),
    "sway_f2": (0.12, 0.5),
    "sway_p1": (0.0, TAU),
    "sway_p2": (0.0, TAU),
    "drift_x": (-0.06, 0.06),  # only for 30% of people (the others stay in place)
    "drift_z": (-0.04, 0.04),  # only for 20%
    "yaw_sway": (0.0, 4 * DEG),
    "lean": (-3 * DEG, 8 * DEG),
    "lean_sway": (0.0, 2 * DEG),
    "bend_sway": (0.0, 2.5 * DEG),
    "head_yaw": (0.0, 12 * DEG),
    "head_f": (0.1, 0.5),
    "head_p": (0.0, TAU),
    "head_pitch": (-10 * DEG, 10 * DEG),
    "tempo_mod": (0.0, 0.1),
    "tempo_mod_f": (0.05, 0.25),
    "tempo_mod_p": (0.0, TAU),
    "phase0": (0.0, TAU),
    "stance": (1 * DEG, 8 * DEG),
    "stance_asym": (-2 * DEG, 2 * DEG),
    "foot_fwd": (-4 * DEG, 4 * DEG),
    "knee_bend": (0.0, 8 * DEG),
    "rest_abd": (3 * DEG, 14 * DEG),
    "rest_fwd": (-5 * DEG, 12 * DEG),
    "rest_flex": (5 * DEG, 35 * DEG),
    "rest_swing": (0.0, 4 * DEG),
}
_COMMON_LO = np.array([lo for lo, _ in _COMMON_RANGES.values()])
_COMMON_HI = np.array([hi for _, hi in _COMMON_RANGES.values()])


def _common(rng: np.random.Generator) -> dict[str, float]:
    """Posture, sway, drift, head movement and tempo drift of one person (one draw for all)."""
    values = dict(zip(_COMMON_RANGES, rng.uniform(_COMMON_LO, _COMMON_HI).tolist(), strict=True))
    gate, style = rng.random(2)
    values["drift_x"] *= float(gate < 0.3)
    values["drift_z"] *= float(gate > 0.8)
    values["pelvis_yaw"] = 0.0
    # The arm that does not act: hanging (0.5), on the hip (1.5) or on the belly (2.5).
    values["other_style"] = 0.5 if style < 0.8 else (1.5 if style < 0.9 else 2.5)
    return values


def _sample_jumping(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    if rng.random() < 0.45:  # counter-movement jumps, like the MHAD recordings
        return "big", {
            "freq": u(0.5, 1.3),
            "hop": u(0.12, 0.4),
            "crouch": u(35, 75) * DEG,
            "tuck": u(5, 35) * DEG,
            "arm_abd": u(4, 15) * DEG,
            "arm_spread": u(5, 45) * DEG,
            "arm_fwd": u(-5, 10) * DEG,
            "arm_swing": u(30, 110) * DEG,
            "arm_back": u(15, 50) * DEG,
            "elbow_flex": u(5, 45) * DEG,
        }
    bounce = rng.random() < 0.35  # bouncing (on a bed, a trampoline) with the arms out for balance
    return ("bounce" if bounce else "hop"), {
        "freq": u(1.2, 2.8),
        "hop": u(0.05, 0.2),
        "crouch": u(12, 45) * DEG,
        "tuck": u(0, 25) * DEG,
        "arm_abd": (u(35, 90) if bounce else u(4, 18)) * DEG,
        "arm_spread": u(0, 10) * DEG,
        "flail": (u(10, 35) if bounce else 0.0) * DEG,
        "flail_f": u(0.8, 2.5),
        "arm_fwd": u(-5, 15) * DEG,
        "arm_swing": u(0, 35) * DEG,
        "arm_back": 0.0,
        "elbow_flex": u(10, 70) * DEG,
    }


def _sample_jumping_jacks(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    low_arms = rng.random() < 0.12
    return ("low_arms" if low_arms else "full"), {
        "freq": u(0.6, 1.5),
        "dwell": u(0.3, 2.0),
        "arm_low": u(4, 25) * DEG,
        "arm_top": (u(100, 145) if low_arms else u(150, 184)) * DEG,
        "arm_plane": u(-5, 25) * DEG,
        "fore_plane": u(-10, 10) * DEG,
        "elbow_bend": u(0, 30) * DEG,
        "wrist_in": u(0, 20) * DEG,
        "leg_spread": u(8, 20) * DEG,
        "leg_lag": u(-0.3, 0.3),
        "leg_fwd": u(-3, 6) * DEG,
        "hop": u(0.02, 0.11),
        "crouch": u(5, 25) * DEG,
        "head_bob": u(-8, 5) * DEG,
    }


def _sample_boxing(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    lead = float(rng.random() < 0.3)  # 0 = left foot forward (orthodox)
    return ("southpaw" if lead else "orthodox"), {
        "lead": lead,
        "stance_turn": u(10, 40) * DEG,
        "stance_knee": u(5, 25) * DEG,
        # Shadow boxing throws punches all the time; at a bag or sparring, one now and then.
        "punch_rate": u(1.2, 3.8) if rng.random() < 0.7 else u(0.35, 1.2),
        "punch_dur": u(0.2, 0.42),
        "punch_irregular": u(0.0, 0.5),
        "double_prob": u(0.0, 0.3),
        "skip_prob": u(0.0, 0.2),
        "hook_prob": u(0.0, 0.25),
        "reach": u(0.85, 0.98),
        "punch_in": u(0.2, 1.0),
        "punch_y": u(-0.05, 0.2),
        "guard_x": u(0.05, 0.25),
        "guard_y": u(-0.15, 0.45),  # from the chest up to the face (gloves at the cheeks)
        "guard_z": u(0.15, 0.45),
        "twist": u(6, 22) * DEG,
        "bounce": u(0.0, 0.03),
        "bounce_f": u(1.2, 3.0),
        "shuffle": u(0.0, 0.04),
        "guard_lean": u(2, 12) * DEG,
        "chin_down": u(0, 12) * DEG,
        "weave": u(0, 10) * DEG,
        "stagger": u(8, 28) * DEG,
        "weave_f": u(0.3, 1.2),
    }


def _wave_arm_params(rng: np.random.Generator, p: str) -> dict[str, float]:
    u = rng.uniform
    style = rng.random()
    follow = 0.0 if style < 0.55 else (1.0 if style < 0.8 else u(0.0, 1.0))
    return {
        f"{p}_elev": (u(110, 168) if follow > 0.5 else u(70, 168)) * DEG,
        f"{p}_azim": u(-10, 70) * DEG,
        f"{p}_tilt0": u(-25, 25) * DEG,
        f"{p}_amp": u(15, 55) * DEG,
        f"{p}_upper_amp": (u(12, 40) if follow > 0.5 else u(0, 35)) * DEG,
        f"{p}_fwd": u(-10, 30) * DEG,
        f"{p}_follow": follow,
        f"{p}_bend": u(-25, 10) * DEG,
        f"{p}_phase": 0.0,
    }


def _sample_waving(rng: np.random.Generator, two: bool) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    values = {
        "freq": loguniform(rng, 0.25, 3.0),
        "dwell": u(0.2, 1.5),
        "upper_lag": u(-0.6, 0.6),
        "body_bend": u(0, 6) * DEG,
        "body_shift": u(0, 0.05),
        "body_bob": u(0, 0.025),
        "body_lag": u(-0.5, 0.5),
        **_wave_arm_params(rng, "a"),
    }
    if not two:
        return ("left" if rng.random() < 0.5 else "right"), values
    b = _wave_arm_params(rng, "b")
    for key in (
        "elev",
        "azim",
        "tilt0",
        "amp",
        "upper_amp",
        "fwd",
        "follow",
        "bend",
    ):  # similar arms, not identical
        b[f"b_{key}"] = 0.7 * values[f"a_{key}"] + 0.3 * b[f"b_{key}"]
    b["b_phase"] = u(-0.4, 0.4)
    variant = str(rng.choice(["parallel", "mirror", "overhead", "arcs"], p=[0.28, 0.28, 0.24, 0.2]))
    if variant == "arcs":
        values["freq"] = u(0.5, 1.6)
        b.update(
            {
                "arc_lo": u(55, 110) * DEG,
                "arc_hi": u(140, 182) * DEG,
                "arc_lag": u(-0.3, 0.3) + (np.pi if rng.random() < 0.3 else 0.0),
            }
        )
    if variant == "overhead":  # both straight arms sweep side to side above the head, hands pass close
        for p in ("a", "b"):
            b[f"{p}_follow"], b[f"{p}_elev"] = 1.0, u(140, 172) * DEG
            b[f"{p}_upper_amp"], b[f"{p}_bend"] = u(18, 40) * DEG, u(-15, 5) * DEG
        values.update({k: v for k, v in b.items() if k.startswith("a_")})
    return variant, {**values, **b}


def _sample_clapping(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    variant = str(rng.choice(["chest", "face", "overhead"], p=[0.42, 0.18, 0.4]))
    if variant == "overhead":
        return variant, {
            "freq": u(0.45, 1.4),
            "dwell": u(0.5, 2.5),
            "out_elev": u(55, 100) * DEG,
            "out_bend": u(0, 20) * DEG,
            "top_elev": u(145, 172) * DEG,
            "gap_closed": u(0.08, 0.6),
            "arm_plane": u(-5, 20) * DEG,
            "top_plane": u(0, 30) * DEG,
            "look_up": u(0, 12) * DEG,
        }
    return variant, {
        "freq": loguniform(rng, 0.8, 4.5),
        "snap": u(0.5, 1.1),
        "gap_closed": u(0.08, 0.25),
        "gap_open": u(0.45, 0.95),
        "centre_y": u(-0.55, -0.05) if variant == "chest" else u(0.0, 0.35),
        "centre_z": u(0.45, 0.8),
        "bob": u(0.0, 0.06),
        "elbow_out": u(0.4, 1.5),
    }


def _sample_idle(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    variant = str(rng.choice(["hanging", "hips", "crossed", "clasped"], p=[0.5, 0.15, 0.15, 0.2]))
    return variant, {"idle_wobble": rng.uniform(0.0, 0.06)}


_SAMPLERS: dict[str, Callable[[np.random.Generator], tuple[str, dict[str, float]]]] = {
    "JUMPING": _sample_jumping,
    "JUMPING_JACKS": _sample_jumping_jacks,
    "BOXING": _sample_boxing,
    "WAVING_2HANDS": lambda rng: _sample_waving(rng, two=True),
    "WAVING_1HAND": lambda rng: _sample_waving(rng, two=False),
    "CLAPPING_HANDS": _sample_clapping,
    IDLE: _sample_idle,
    **everyday_body.SAMPLERS,
    **everyday_arms.SAMPLERS,
}
# Background motions that raise the hands above the head (camera framing keeps them in).
_HANDS_UP = {"RAISED", "ARM_CIRCLES", "THROWING", "LUNGING", "REACHING", "SLOW_FORM"}


def reach_up(params: MotionParams) -> float:
    """How high above the pelvis the action's hands get, in body heights (for camera framing)."""
    if params.action == "JUMPING_JACKS":
        return 0.9  # arms overhead plus the hop
    if params.action in ("WAVING_2HANDS", "WAVING_1HAND"):
        return 0.8
    if params.action == "CLAPPING_HANDS" and params.variant == "overhead":
        return 0.8
    if params.action in _HANDS_UP:
        return 0.8
    return 0.58


def sample_motion_params(action: str, rng: np.random.Generator) -> MotionParams:
    """Draw how a random person performs ``action`` (tempo, amplitude, phase, handedness, style)."""
    if action not in _SAMPLERS:
        raise ValueError(f"unknown action {action!r}; expected one of {sorted(_SAMPLERS)}")
    values = {k: float(v) for k, v in _common(rng).items()}
    variant, specific = _SAMPLERS[action](rng)
    values.update({k: float(v) for k, v in specific.items()})
    return MotionParams(action=action, variant=variant, values=values, seed=int(rng.integers(2**31)))
