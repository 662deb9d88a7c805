"""Everyday whole-body motion that is none of the six actions: walking, running, turning, sitting
down and standing up, squats, lunges, picking things up, kicks, crunches, dribbling, wall push-ups.

These are the *background* of a model (docs/MODEL.md): what people do in front of a camera when
they do none of its actions. Each program is a pure function of time and :class:`MotionParams`
like the actions in :mod:`training.motions`; each sampler draws one person's way of doing it.
Ranges are rough human values (cadences, depths, angles), wide on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from training.body import LEFT, RIGHT, SIDE_SIGN, BodyShape, Motion, two_bone_ik
from training.motion_parts import DEG, arm, base, relaxed_arm, rhythm_phase, standing_legs, swing_dir

if TYPE_CHECKING:
    from training.motions import MotionParams

Sampler = Callable[[np.random.Generator], tuple[str, dict[str, float]]]
Program = Callable[[BodyShape, np.ndarray, "MotionParams"], Motion]


def smooth_square(phase: np.ndarray, duty: float, sharp: float) -> np.ndarray:
    """0..1, high for about ``duty`` of each cycle, with smooth edges (``sharp`` ~2 soft .. 12 hard)."""
    c = np.cos(np.pi * np.clip(duty, 0.02, 0.98))
    y = np.tanh(sharp * (np.sin(phase) - c))
    lo, hi = np.tanh(sharp * (-1 - c)), np.tanh(sharp * (1 - c))
    return (y - lo) / (hi - lo)


def hands_ik(
    shape: BodyShape, m: Motion, side: int, target: np.ndarray, pole: np.ndarray | None = None
) -> None:
    """Put one hand at ``target`` (chest frame, relative to that shoulder), elbow out and down."""
    s = SIDE_SIGN[side]
    p = np.array([s, -1.0, -0.3]) if pole is None else pole
    m.arm_elbow[:, side], m.arm_wrist[:, side] = two_bone_ik(target, shape.upper_arm, shape.forearm, p)


def _gait(shape: BodyShape, t: np.ndarray, v: MotionParams, m: Motion) -> np.ndarray:
    """Alternating legs and counter-swinging arms at ``v['freq']`` strides/s; returns the phase."""
    ph = rhythm_phase(t, v, v["freq"])
    n = t.shape[0]
    knees, ankles = np.empty((n, 2, 3)), np.empty((n, 2, 3))
    for side in (LEFT, RIGHT):
        p = ph + (0.0 if side == LEFT else np.pi)
        hip = v["stride"] * np.sin(p) + v["hip_fwd"]
        knee = v["knee0"] + v["knee_amp"] * np.clip(np.sin(p + 1.1), 0.0, 1.0) ** 1.5
        lat = v["stance"]
        knees[:, side] = shape.thigh * swing_dir(lat, hip, side)
        ankles[:, side] = knees[:, side] + shape.shin * swing_dir(lat, hip - knee, side)
        sw = -v["arm_swing"] * np.sin(p)
        upper = swing_dir(v["rest_abd"], v["arm_fwd"] + sw, side)
        fore = swing_dir(
            v["rest_abd"] * 0.7, v["arm_fwd"] + sw + v["elbow"] + 0.3 * np.clip(sw, 0, None), side
        )
        m.arm_elbow[:, side], m.arm_wrist[:, side] = arm(shape, upper, fore)
    m.leg_knee, m.leg_ankle = knees, ankles
    # Two bounces per stride; running adds a flight phase.
    m.root[:, 1] += v["bob"] * (0.5 - 0.5 * np.cos(2 * ph))
    m.lean = m.lean + v["gait_lean"]
    return ph


def _walking(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Walking or running: across the picture, towards or away from the camera, diagonally, on a
    curve, or on the spot; carrying something in one hand (elbow bent, no swing) now and then."""
    m = base(shape, t, v, arms=False)
    _gait(shape, t, v, m)
    heading = v["heading"] + v["turn_rate"] * t
    m.pelvis_yaw = m.pelvis_yaw + heading
    # Distance walked along the heading; the person passes the camera's aim point at t0.
    d = v["speed"] * (t - v["t0"])
    z = np.cos(heading) * d
    x = np.sin(heading) * d
    # Walking up to the camera ends at arm's length from where it aims (then on the spot).
    m.root[:, 0] += np.clip(x, -6.0, 6.0)
    m.root[:, 2] += np.clip(z, -8.0, 0.8)
    if v["carry"] > 0.5:
        side = LEFT if v["carry"] < 1.5 else RIGHT
        s = SIDE_SIGN[side]
        tgt = np.array([s * 0.02, -0.6 * shape.torso, 0.35 * shape.torso])
        hands_ik(shape, m, side, np.broadcast_to(tgt, (t.shape[0], 3)))
    return m


def _sample_walking(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    variant = str(rng.choice(["across", "towards", "away", "diagonal", "curve", "on_the_spot"],
                             p=[0.3, 0.15, 0.15, 0.2, 0.1, 0.1]))  # fmt: skip
    running = rng.random() < 0.25
    heading = {
        "across": rng.choice([-1, 1]) * u(75, 105),
        "towards": u(-15, 15),
        "away": 180 + u(-15, 15),
        "diagonal": rng.choice([-1, 1]) * rng.choice([u(30, 60), u(120, 150)]),
        "curve": u(-180, 180),
        "on_the_spot": u(-30, 30),
    }[variant] * DEG
    speed = (u(1.8, 4.0) if running else u(0.6, 1.6)) * (variant != "on_the_spot")
    return ("run_" if running else "walk_") + variant, {
        "freq": u(1.2, 1.6) if running else u(0.75, 1.05),
        "stride": (u(25, 45) if running else u(12, 25)) * DEG,
        "hip_fwd": (u(5, 15) if running else u(0, 6)) * DEG,
        "knee0": (u(10, 25) if running else u(3, 12)) * DEG,
        "knee_amp": (u(60, 100) if running else u(35, 60)) * DEG,
        "arm_swing": (u(25, 50) if running else u(5, 25)) * DEG,
        "arm_fwd": u(0, 12) * DEG,
        "elbow": (u(70, 100) if running else u(5, 30)) * DEG,
        "bob": u(0.04, 0.1) if running else u(0.01, 0.04),
        "gait_lean": (u(5, 15) if running else u(0, 5)) * DEG,
        "heading": heading,
        "turn_rate": u(-40, 40) * DEG if variant == "curve" else 0.0,
        "speed": speed,
        "t0": u(0.0, 5.0),
        "carry": float(rng.choice([0.0, 1.0, 2.0], p=[0.8, 0.1, 0.1])) if not running else 0.0,
    }


def _turning(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Standing and turning round (to look, to leave), with a few small steps."""
    m = base(shape, t, v)
    x = np.clip((t - v["t0"]) / v["dur"], 0.0, 1.0)
    turn = v["angle"] * (3 * x**2 - 2 * x**3)
    m.pelvis_yaw = m.pelvis_yaw + turn
    m.head_yaw = m.head_yaw + v["lead"] * np.sin(np.pi * x)
    step = np.sin(2 * np.pi * 1.6 * t) * np.sin(np.pi * x)
    m.leg_knee, m.leg_ankle = standing_legs(shape, t, v, knee=v["step_knee"] * np.abs(step))
    return m


def _sample_turning(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    return "turn", {
        "angle": rng.choice([-1, 1]) * u(60, 200) * DEG,
        "t0": u(0.0, 3.0),
        "dur": u(0.6, 2.5),
        "lead": u(0, 30) * DEG,
        "step_knee": u(0, 25) * DEG,
    }


def _crouch_cycle(t: np.ndarray, v: MotionParams) -> np.ndarray:
    """0 standing .. 1 at the bottom: repeated (squats) or held (sitting), from ``v['freq']``/``duty``."""
    return smooth_square(rhythm_phase(t, v, v["freq"]), v["duty"], v["sharp"])


def _squatting(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Squats (repeated), sitting down and standing up (long holds), or picking something up from
    the floor (deep lean, one or both hands down), each with a typical arm style."""
    m = base(shape, t, v, arms=False)
    s = _crouch_cycle(t, v)
    knee = v["depth"] * s
    m.leg_knee, m.leg_ankle = standing_legs(shape, t, v, knee=knee)
    m.lean = m.lean + v["lean_down"] * s
    m.head_pitch = m.head_pitch + v["look_down"] * s
    tor = shape.torso
    n = t.shape[0]
    for side in (LEFT, RIGHT):
        sg = SIDE_SIGN[side]
        style = v["arms"]
        if style < 1.0:  # arms rise forward as the body goes down (balance), level at the bottom
            elev = v["arm_low"] + (v["arm_high"] - v["arm_low"]) * s
            upper = swing_dir(v["rest_abd"] * (1 - s), elev, side)
            fore = swing_dir(v["rest_abd"] * (1 - s) * 0.7, elev + v["elbow"] * (1 - s), side)
            m.arm_elbow[:, side], m.arm_wrist[:, side] = arm(shape, upper, fore)
        elif style < 2.0:  # hands together at the chest
            tgt = np.array([-sg * (shape.shoulder_width / 2 - 0.04), -0.3 * tor, 0.3 * tor])
            hands_ik(shape, m, side, np.broadcast_to(tgt, (n, 3)))
        elif style < 3.0:  # hands behind the head
            tgt = np.array([-sg * 0.3 * shape.shoulder_width, 0.35 * tor, -0.05 * tor])
            hands_ik(shape, m, side, np.broadcast_to(tgt, (n, 3)), np.array([sg, 0.2, -0.5]))
        elif style < 4.0:  # reach down to the floor (picking up): the hand follows the lean
            reach = s[:, None] * (1.0 if (side == RIGHT or v["both"] > 0.5) else 0.25)
            hang = np.array([sg * 0.05, -(shape.upper_arm + shape.forearm) * 0.97, 0.05])
            fwd = np.array([-sg * 0.1 * tor, -(shape.upper_arm + shape.forearm) * 0.75, 0.45 * tor])
            hands_ik(shape, m, side, hang + reach * (fwd - hang), np.array([sg, 0.0, -1.0]))
        else:  # hanging, or on the hips
            m.arm_elbow[:, side], m.arm_wrist[:, side] = relaxed_arm(shape, t, v, side)
    return m


def _sample_squatting(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    variant = str(rng.choice(["squats", "sit_stand", "pick_up"], p=[0.45, 0.3, 0.25]))
    if variant == "squats":
        return variant, {
            "freq": u(0.25, 0.9),
            "duty": u(0.3, 0.6),
            "sharp": u(1.5, 4.0),
            "depth": u(50, 120) * DEG,
            "lean_down": u(15, 45) * DEG,
            "look_down": u(-5, 10) * DEG,
            "arms": float(rng.choice([0.5, 1.5, 2.5, 4.5], p=[0.45, 0.2, 0.2, 0.15])),
            "arm_low": u(0, 20) * DEG,
            "arm_high": u(60, 100) * DEG,
            "elbow": u(0, 30) * DEG,
            "both": 1.0,
        }
    if variant == "sit_stand":
        return variant, {
            "freq": u(0.08, 0.25),
            "duty": u(0.3, 0.7),
            "sharp": u(3.0, 10.0),
            "depth": u(80, 120) * DEG,
            "lean_down": u(10, 35) * DEG,
            "look_down": u(0, 15) * DEG,
            "arms": float(rng.choice([0.5, 1.5, 4.5], p=[0.3, 0.2, 0.5])),
            "arm_low": u(0, 15) * DEG,
            "arm_high": u(30, 80) * DEG,
            "elbow": u(20, 60) * DEG,
            "both": 1.0,
        }
    return variant, {
        "freq": u(0.12, 0.35),
        "duty": u(0.2, 0.45),
        "sharp": u(2.0, 6.0),
        "depth": u(20, 100) * DEG,
        "lean_down": u(45, 90) * DEG,
        "look_down": u(10, 30) * DEG,
        "arms": 3.5,
        "arm_low": 0.0,
        "arm_high": 0.0,
        "elbow": 0.0,
        "both": float(rng.random() < 0.4),
    }


def _lunging(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Forward or side lunges, alternating legs or one side; arms on the hips, hanging, forward
    or raised overhead (a warrior pose); held lunges (yoga, stretching) too."""
    m = base(shape, t, v, arms=False)
    ph = rhythm_phase(t, v, v["freq"])
    down = smooth_square(2 * ph, v["duty"], v["sharp"])  # one lunge per half cycle
    lead = np.where(np.sin(ph) >= 0, 1.0, 0.0) if v["alternate"] > 0.5 else np.ones_like(t)
    n = t.shape[0]
    knees, ankles = np.empty((n, 2, 3)), np.empty((n, 2, 3))
    for side in (LEFT, RIGHT):
        front = lead if side == LEFT else 1.0 - lead
        if v.variant == "side":
            lat = v["stance"] + v["spread"] * down
            kn = v["depth"] * down * front
            thigh = swing_dir(lat, 0.55 * kn, side)
            shin = swing_dir(lat * (1 - 0.5 * front * down), -0.55 * kn, side)
        else:
            hip = down * (front * v["step"] - (1 - front) * v["step"] * 0.6)
            kn = down * (front * v["depth"] + (1 - front) * v["depth"] * 0.9)
            thigh = swing_dir(v["stance"], hip + 0.3 * kn * front, side)
            shin = swing_dir(v["stance"], hip + 0.3 * kn * front - kn, side)
        knees[:, side] = shape.thigh * thigh
        ankles[:, side] = knees[:, side] + shape.shin * shin
    m.leg_knee, m.leg_ankle = knees, ankles
    m.lean = m.lean + v["lean_down"] * down
    if v.variant == "side":
        m.root[:, 0] += SIDE_SIGN[LEFT] * (2 * lead - 1) * v["shift"] * down
    tor = shape.torso
    for side in (LEFT, RIGHT):
        sg = SIDE_SIGN[side]
        style = v["arms"]
        if style < 1.0:  # hands on the hips
            tgt = np.array([sg * 0.05 * tor, -0.85 * tor, 0.02 * tor])
            hands_ik(shape, m, side, np.broadcast_to(tgt, (n, 3)), np.array([sg, 0.0, -0.5]))
        elif style < 2.0:  # overhead (raised with the lunge, or held)
            elev = v["arm_rest"] + (np.pi - 0.15 - v["arm_rest"]) * (down if v["arm_follow"] > 0.5 else 1.0)
            upper = swing_dir(v["arm_abd"], elev, side)
            m.arm_elbow[:, side], m.arm_wrist[:, side] = arm(shape, upper, upper)
        elif style < 3.0:  # reaching forward at chest height (arms nearly straight)
            tgt = np.array(
                [-sg * 0.25 * shape.shoulder_width, -0.15 * tor, 0.75 * (shape.upper_arm + shape.forearm)]
            )
            hands_ik(shape, m, side, np.broadcast_to(tgt, (n, 3)))
        elif style < 4.0:  # fists clasped in front of the chest, elbows bent (like a guard, but still)
            tgt = np.array([-sg * (shape.shoulder_width / 2 - 0.03), v["fist_y"] * tor, 0.3 * tor])
            hands_ik(shape, m, side, np.broadcast_to(tgt, (n, 3)))
        else:
            m.arm_elbow[:, side], m.arm_wrist[:, side] = relaxed_arm(shape, t, v, side)
    return m


def _sample_lunging(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    variant = str(rng.choice(["forward", "side"], p=[0.55, 0.45]))
    held = rng.random() < 0.25
    return variant, {
        "freq": u(0.05, 0.12) if held else u(0.15, 0.45),
        "duty": u(0.5, 0.9) if held else u(0.3, 0.6),
        "sharp": u(2.0, 6.0),
        "alternate": float(rng.random() < 0.7),
        "step": u(25, 45) * DEG,
        "spread": u(20, 40) * DEG,
        "depth": u(50, 100) * DEG,
        "lean_down": u(0, 30) * DEG,
        "shift": u(0.1, 0.3),
        "arms": float(rng.choice([0.5, 1.5, 2.5, 3.5, 4.5], p=[0.25, 0.15, 0.15, 0.25, 0.2])),
        "fist_y": u(-0.4, 0.1),
        "arm_rest": u(5, 20) * DEG,
        "arm_abd": u(0, 20) * DEG,
        "arm_follow": float(rng.random() < 0.5),
    }


def _leg_moves_arms(
    shape: BodyShape, t: np.ndarray, v: MotionParams, m: Motion, *, lift: np.ndarray, ph: np.ndarray
) -> None:
    """The arms of :func:`_leg_moves`: elbow to the opposite knee (crunches), a hand holding the
    raised foot (quad stretch), out for balance (kicks), or pumping (marching)."""
    n = t.shape[0]
    tor = shape.torso
    if v.variant == "crunch":  # fists by the head; the elbow comes down to meet the other knee
        for side in (LEFT, RIGHT):
            sg = SIDE_SIGN[side]
            other = lift[:, RIGHT if side == LEFT else LEFT]
            tgt = np.array([-sg * 0.1, 0.25 * tor, 0.15 * tor]) + other[:, None] * np.array(
                [-sg * 0.2, -0.35 * tor, 0.1]
            )
            hands_ik(shape, m, side, tgt, np.array([sg, -0.2, -0.2]))
        m.chest_twist = v["twist"] * (lift[:, LEFT] - lift[:, RIGHT])
        m.lean = m.lean + v["crunch_lean"] * lift.max(axis=1)
        m.side_bend = m.side_bend + v["twist"] * 0.5 * (lift[:, RIGHT] - lift[:, LEFT])
    else:
        for side in (LEFT, RIGHT):
            if v.variant == "quad_stretch" and side == RIGHT:  # hand holds the raised foot
                tgt = np.array([0.02, -0.95 * tor, -0.25 * tor])
                hands_ik(
                    shape, m, side, np.broadcast_to(tgt, (n, 3)), np.array([-SIDE_SIGN[side], -1.0, 0.3])
                )
            elif v["arms_out"] > 0.5:
                upper = swing_dir(v["abd"], v["arm_fwd"], side)
                m.arm_elbow[:, side], m.arm_wrist[:, side] = arm(
                    shape, upper, swing_dir(v["abd"], v["arm_fwd"] + 0.4, side)
                )
            else:
                sw = -v["pump"] * np.sin(ph + (0.0 if side == LEFT else np.pi))
                upper = swing_dir(v["rest_abd"], sw, side)
                m.arm_elbow[:, side], m.arm_wrist[:, side] = arm(
                    shape, upper, swing_dir(v["rest_abd"], sw + v["elbow"], side)
                )


def _leg_moves(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """One leg at a time: standing crunches (knee to the opposite elbow), high knees / marching,
    butt kicks, front kicks and keepy-uppy, a held quad stretch (foot pulled up behind)."""
    m = base(shape, t, v, arms=False)
    ph = rhythm_phase(t, v, v["freq"])
    n = t.shape[0]
    lift = np.empty((n, 2))
    for side in (LEFT, RIGHT):
        p = ph + (0.0 if side == LEFT else np.pi)
        on = np.clip(np.sin(p), 0.0, 1.0) ** v["snap"]
        if v["one_leg"] > 0.5:
            on = on * (side == RIGHT) + 0.0
        lift[:, side] = on
    if v.variant == "quad_stretch":
        lift[:] = 0.0
        lift[:, RIGHT] = smooth_square(ph, 0.7, 6.0)
    knees, ankles = np.empty((n, 2, 3)), np.empty((n, 2, 3))
    for side in (LEFT, RIGHT):
        up = lift[:, side]
        if v.variant == "kicks":
            hip, knee = v["hip"] * up, v["knee"] * (np.sin(np.pi * up) ** 2)
        elif v.variant in ("butt_kicks", "quad_stretch"):
            hip, knee = -0.15 * up, v["knee"] * up
        else:  # crunches, high knees
            hip, knee = v["hip"] * up, v["knee"] * up
        thigh = swing_dir(v["stance"] + v["cross"] * up, hip, side)
        knees[:, side] = shape.thigh * thigh
        ankles[:, side] = knees[:, side] + shape.shin * swing_dir(v["stance"], hip - knee, side)
    m.leg_knee, m.leg_ankle = knees, ankles
    _leg_moves_arms(shape, t, v, m, lift=lift, ph=ph)
    m.root[:, 1] += v["hop"] * lift.max(axis=1)
    return m


def _sample_leg_moves(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    variant = str(rng.choice(["crunch", "high_knees", "butt_kicks", "kicks", "quad_stretch"],
                             p=[0.3, 0.2, 0.1, 0.25, 0.15]))  # fmt: skip
    fast = variant in ("high_knees", "butt_kicks")
    return variant, {
        "freq": u(0.8, 1.6) if fast else (u(0.05, 0.15) if variant == "quad_stretch" else u(0.3, 0.9)),
        "snap": u(0.6, 1.5),
        "one_leg": float(variant == "kicks" and rng.random() < 0.4),
        "hip": (u(40, 100) if variant != "kicks" else u(30, 80)) * DEG,
        "knee": (u(60, 130) if variant != "kicks" else u(20, 90)) * DEG,
        "cross": (u(-15, 0) if variant == "crunch" else u(-5, 5)) * DEG,
        "twist": u(15, 40) * DEG,
        "crunch_lean": u(5, 25) * DEG,
        "arms_out": float(variant == "kicks" and rng.random() < 0.6),
        "abd": u(20, 60) * DEG,
        "arm_fwd": u(0, 30) * DEG,
        "pump": (u(20, 50) if fast else u(0, 20)) * DEG,
        "elbow": u(40, 100) * DEG,
        "hop": u(0.0, 0.05) if fast else 0.0,
    }


def _forward_arms(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Both arms push forward together, slowly, over and over: wall push-ups (the body leans and
    comes back, hands stay on the wall), front raises, chest presses; or dribbling a ball (one hand
    pumping down by the hip, bent over)."""
    m = base(shape, t, v, arms=False)
    ph = rhythm_phase(t, v, v["freq"])
    e = 0.5 - 0.5 * np.cos(ph)  # 0 arms bent .. 1 extended
    tor = shape.torso
    reach = shape.upper_arm + shape.forearm
    n = t.shape[0]
    if v.variant == "dribble":
        m.lean = m.lean + v["lean_fwd"]
        m.leg_knee, m.leg_ankle = standing_legs(shape, t, v, knee=v["knee"])
        side = RIGHT if v["hand"] > 0.5 else LEFT
        sg = SIDE_SIGN[side]
        tgt = np.stack([np.full(n, sg * 0.1), -(0.45 + 0.4 * e) * reach, np.full(n, 0.25 * reach)], axis=-1)
        hands_ik(shape, m, side, tgt, np.array([sg, 0.0, -1.0]))
        other = LEFT if side == RIGHT else RIGHT
        m.arm_elbow[:, other], m.arm_wrist[:, other] = relaxed_arm(shape, t, v, other)
        return m
    for side in (LEFT, RIGHT):
        sg = SIDE_SIGN[side]
        p = e if v["alternate"] < 0.5 else 0.5 - 0.5 * np.cos(ph + (0.0 if side == LEFT else np.pi))
        if v.variant == "front_raise":
            elev = v["low"] + (v["high"] - v["low"]) * p
            d = swing_dir(v["abd"], elev, side)
            m.arm_elbow[:, side], m.arm_wrist[:, side] = arm(shape, d, d)
            continue
        dist = (v["bent"] + (0.97 - v["bent"]) * p) * reach
        x = np.full(n, -sg * v["inward"] * shape.shoulder_width / 2)
        tgt = np.stack([x, np.full(n, v["height"] * tor), dist], axis=-1)
        hands_ik(shape, m, side, tgt, np.array([sg, -0.6, -0.4]))
    if v.variant == "wall_push":  # the body, not the hands, moves: lean grows as the arms bend
        m.lean = m.lean + v["lean_fwd"] * (1 - 0.5 * e)
        m.root[:, 2] += v["sway_fwd"] * (1 - e)
    return m


def _sample_forward_arms(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    variant = str(rng.choice(["wall_push", "front_raise", "press", "dribble"], p=[0.4, 0.2, 0.2, 0.2]))
    return variant, {
        "freq": u(1.2, 2.5) if variant == "dribble" else u(0.25, 0.9),
        "bent": u(0.3, 0.55),
        "inward": u(-0.2, 0.5),
        "height": u(-0.1, 0.2),
        "low": u(0, 20) * DEG,
        "high": u(70, 100) * DEG,
        "abd": u(0, 15) * DEG,
        "alternate": float(variant == "press" and rng.random() < 0.3),
        "lean_fwd": (u(15, 35) if variant in ("wall_push", "dribble") else 0.0) * DEG,
        "sway_fwd": u(0.05, 0.2) if variant == "wall_push" else 0.0,
        "knee": u(10, 40) * DEG,
        "hand": float(rng.random() < 0.7),
    }


PROGRAMS: dict[str, Program] = {
    "WALKING": _walking,
    "TURNING": _turning,
    "SQUATTING": _squatting,
    "LUNGING": _lunging,
    "LEG_MOVES": _leg_moves,
    "FORWARD_ARMS": _forward_arms,
}
SAMPLERS: dict[str, Sampler] = {
    "WALKING": _sample_walking,
    "TURNING": _sample_turning,
    "SQUATTING": _sample_squatting,
    "LUNGING": _sample_lunging,
    "LEG_MOVES": _sample_leg_moves,
    "FORWARD_ARMS": _sample_forward_arms,
}
