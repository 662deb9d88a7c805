"""Everyday arm motion that is none of the six actions: talking with the hands and signing,
drinking and touching the face, reaching, stretching, arms raised and held, arm circles, slow
tai-chi-like forms (with the odd fast strike), throwing and catching, hugging.

Background motion for the model like :mod:`training.everyday_body`; several are chosen because
they look like one of the actions in a single frame (hands meeting at the chest, a hand by the
face, arms overhead, an arm extending forward) and differ only in rhythm, path or repetition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from training.body import LEFT, RIGHT, SIDE_SIGN, BodyShape, Motion, limb_dir
from training.everyday_body import Program, Sampler, hands_ik, smooth_square
from training.motion_parts import DEG, arm, base, relaxed_arm, rhythm_phase, standing_legs

if TYPE_CHECKING:
    from training.motions import MotionParams


def smooth_wander(t: np.ndarray, seed: int, key: int, freq: float, dims: int = 3) -> np.ndarray:
    """A smooth random path ``(T, dims)`` in about [-1, 1]: three sinusoids per axis around ``freq``
    Hz, phases and weights from ``(seed, key)`` (pure in ``t``)."""
    r = np.random.default_rng([seed, key])
    f = freq * r.uniform(0.5, 1.6, (3, dims))
    p = r.uniform(0, 2 * np.pi, (3, dims))
    w = r.uniform(0.3, 1.0, (3, dims))
    w /= w.sum(axis=0, keepdims=True)
    return np.einsum("kd,tkd->td", w, np.sin(2 * np.pi * f[None] * t[:, None, None] + p[None]))


def _gesturing(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Talking with the hands, signing (one hand taps or presses the other at the chest, now and
    then), or looking at a phone held in both hands."""
    m = base(shape, t, v, arms=False)
    tor = shape.torso
    n = t.shape[0]
    centre_y, centre_z = v["cy"] * tor, v["cz"] * tor
    active = [RIGHT, LEFT] if v["two"] > 0.5 else [RIGHT if v["hand"] > 0.5 else LEFT]
    touch = np.zeros(n)
    if v.variant in ("sign", "phone"):
        touch = smooth_square(rhythm_phase(t, v, v["freq"]), v["duty"], v["sharp"])
        if v.variant == "phone":
            touch = np.ones(n)
    for side in (LEFT, RIGHT):
        sg = SIDE_SIGN[side]
        if side not in active and v.variant == "talk":
            m.arm_elbow[:, side], m.arm_wrist[:, side] = relaxed_arm(shape, t, v, side)
            continue
        wander = smooth_wander(t, int(v["path_seed"]), side, v["wander_f"]) * v["amp"] * tor
        apart = v["gap"] * tor * (1 - touch)
        tgt = np.stack(
            [
                -sg * (shape.shoulder_width / 2) + sg * apart / 2 + wander[:, 0],
                centre_y + wander[:, 1],
                centre_z + 0.5 * wander[:, 2],
            ],
            axis=-1,
        )
        hands_ik(shape, m, side, tgt)
    m.head_yaw = m.head_yaw + v["nod"] * np.sin(2 * np.pi * 0.7 * t + v["phase0"])
    return m


def _sample_gesturing(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    variant = str(rng.choice(["talk", "sign", "phone"], p=[0.55, 0.3, 0.15]))
    return variant, {
        "two": float(variant != "talk" or rng.random() < 0.55),
        "hand": float(rng.random() < 0.7),
        "cy": u(-0.55, 0.05) if variant != "phone" else u(-0.5, -0.2),
        "cz": u(0.35, 0.75),
        "gap": u(0.1, 0.6) if variant != "phone" else 0.05,
        "amp": (u(0.05, 0.3) if variant == "talk" else u(0.02, 0.12)) if variant != "phone" else u(0.0, 0.04),
        "wander_f": u(0.3, 1.5),
        "path_seed": float(rng.integers(2**31)),
        "freq": u(0.2, 0.7),
        "duty": u(0.2, 0.6),
        "sharp": u(2.0, 8.0),
        "nod": u(0, 10) * DEG,
    }


def _to_face(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """One hand to the face and back: drinking (hold, head back), wiping the face or rubbing the
    eyes (small strokes at the face), a phone call (held at the ear), scratching the head."""
    m = base(shape, t, v, arms=False)
    side = RIGHT if v["hand"] > 0.5 else LEFT
    other = LEFT if side == RIGHT else RIGHT
    sg = SIDE_SIGN[side]
    tor = shape.torso
    up = smooth_square(rhythm_phase(t, v, v["freq"]), v["duty"], v["sharp"])
    rest = np.array([sg * 0.05, -0.8 * tor, 0.25 * tor])
    face = {
        "drink": np.array(
            [-sg * shape.shoulder_width / 2, shape.nose_up - 0.05 * tor, shape.nose_forward + 0.08]
        ),
        "wipe": np.array([-sg * shape.shoulder_width / 2, shape.nose_up, shape.nose_forward + 0.03]),
        "call": np.array([-sg * (shape.shoulder_width / 2 - shape.ear_sep / 2), shape.nose_up, 0.0]),
        "scratch": np.array([-sg * (shape.shoulder_width / 2 - 0.05), shape.nose_up + 0.12 * tor, -0.02]),
    }[v.variant]
    stroke = np.zeros((t.shape[0], 3))
    if v.variant in ("wipe", "scratch"):
        stroke[:, 0] = v["stroke"] * tor * np.sin(2 * np.pi * v["stroke_f"] * t) * up
        stroke[:, 1] = 0.5 * v["stroke"] * tor * np.sin(4 * np.pi * v["stroke_f"] * t + 1.0) * up
    tgt = rest + up[:, None] * (face - rest) + stroke
    hands_ik(shape, m, side, tgt, np.array([sg, -0.7, -0.2]))
    if v["both"] > 0.5 and v.variant == "wipe":  # both hands on the face
        so = SIDE_SIGN[other]
        face_o = face * np.array([-1.0, 1.0, 1.0])
        rest_o = np.array([so * 0.05, -0.8 * tor, 0.25 * tor])
        hands_ik(
            shape,
            m,
            other,
            rest_o + up[:, None] * (face_o - rest_o) - stroke * [1, 1, 1],
            np.array([so, -0.7, -0.2]),
        )
    else:
        m.arm_elbow[:, other], m.arm_wrist[:, other] = relaxed_arm(shape, t, v, other)
    if v.variant == "drink":
        m.head_pitch = m.head_pitch - v["tilt"] * up
    return m


def _sample_to_face(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    variant = str(rng.choice(["drink", "wipe", "call", "scratch"], p=[0.35, 0.35, 0.15, 0.15]))
    return variant, {
        "hand": float(rng.random() < 0.7),
        "both": float(rng.random() < 0.4),
        "freq": u(0.1, 0.4),
        "duty": u(0.3, 0.8) if variant != "call" else u(0.7, 0.95),
        "sharp": u(2.0, 6.0),
        "stroke": u(0.05, 0.2),
        "stroke_f": u(1.0, 3.5),
        "tilt": u(10, 35) * DEG,
    }


def _reaching(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Reaching for things: one hand (or both) out to a place (forward, up to a shelf, to the side,
    down low), a pause, and back; every reach goes somewhere else. Pointing is a held reach."""
    m = base(shape, t, v, arms=False)
    reach = shape.upper_arm + shape.forearm
    ph = rhythm_phase(t, v, v["freq"])
    out = smooth_square(ph, v["duty"], v["sharp"])
    k = np.floor(ph / (2 * np.pi)).astype(np.int64)  # which reach: a new target each cycle
    for side in (LEFT, RIGHT):
        sg = SIDE_SIGN[side]
        acts = v["both"] > 0.5 or (side == RIGHT) == (v["hand"] > 0.5)
        if not acts:
            m.arm_elbow[:, side], m.arm_wrist[:, side] = relaxed_arm(shape, t, v, side)
            continue
        r = np.random.default_rng([int(v["path_seed"]), side])
        elev = r.uniform(v["elev_lo"], v["elev_hi"], 64)[k % 64]
        azim = r.uniform(-20 * DEG, 80 * DEG, 64)[k % 64]
        far = limb_dir(elev, azim, side) * reach * 0.95
        near = np.array([sg * 0.05, -0.75 * shape.torso, 0.25 * shape.torso])
        tgt = near + out[:, None] * (far - near)
        hands_ik(shape, m, side, tgt, np.array([sg, -1.0, -0.4]))
    m.lean = m.lean + v["lean_in"] * out
    return m


def _sample_reaching(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    variant = str(rng.choice(["reach", "shelf", "point"], p=[0.5, 0.25, 0.25]))
    return variant, {
        "freq": u(0.15, 0.5) if variant != "point" else u(0.08, 0.2),
        "duty": u(0.3, 0.6) if variant != "point" else u(0.6, 0.9),
        "sharp": u(2.0, 8.0),
        "both": float(rng.random() < 0.2),
        "hand": float(rng.random() < 0.7),
        "path_seed": float(rng.integers(2**31)),
        "elev_lo": (u(30, 70) if variant != "shelf" else u(110, 140)) * DEG,
        "elev_hi": (u(90, 130) if variant != "shelf" else u(150, 175)) * DEG,
        "lean_in": u(0, 15) * DEG,
    }


def _raised(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Arms raised and held (both overhead, a T, one up), stretching (overhead reach with slow side
    bends, one arm over the head, arms crossed in front, bent over with one arm up), with slow
    transitions and sway rather than a rhythm."""
    m = base(shape, t, v, arms=False)
    ph = rhythm_phase(t, v, v["freq"])
    hold = smooth_square(ph, v["duty"], v["sharp"])  # 0 arms down .. 1 in the pose
    n = t.shape[0]
    for side in (LEFT, RIGHT):
        sg = SIDE_SIGN[side]
        raised = v["which"] > 1.5 or (side == RIGHT) == (v["which"] > 0.5)
        if not raised:
            m.arm_elbow[:, side], m.arm_wrist[:, side] = relaxed_arm(shape, t, v, side)
            continue
        elev = v["rest"] + (v["elev"] - v["rest"]) * hold
        wob = v["wobble"] * np.sin(2 * np.pi * v["sway_f2"] * t + side)
        upper = limb_dir(elev + wob, v["azim"], side)
        fore = limb_dir(elev + wob + v["bend"] * hold, v["azim"] + v["fore_azim"], side)
        m.arm_elbow[:, side], m.arm_wrist[:, side] = arm(shape, upper, fore)
        if v.variant == "cross_body":  # one arm pulled across the chest
            tgt = np.array([-sg * (shape.shoulder_width + 0.1), -0.1 * shape.torso, 0.2])
            hands_ik(
                shape,
                m,
                side,
                np.broadcast_to(tgt, (n, 3)) * hold[:, None] + (1 - hold[:, None]) * m.arm_wrist[:, side],
            )
    m.side_bend = m.side_bend + v["side_bend"] * np.sin(2 * np.pi * v["bend_f"] * t) * hold
    m.lean = m.lean + v["bend_over"] * hold
    m.leg_knee, m.leg_ankle = standing_legs(shape, t, v, knee=v["knee"] * hold)
    return m


# How high the raised arm(s) go, degrees from hanging, per pose.
_RAISED_ELEV = {
    "overhead": (150, 178),
    "t_pose": (75, 105),
    "one_up": (130, 178),
    "side_stretch": (150, 185),
    "bent_over": (120, 175),
    "cross_body": (80, 100),
}


def _sample_raised(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    variant = str(rng.choice(list(_RAISED_ELEV), p=[0.25, 0.15, 0.15, 0.2, 0.15, 0.1]))
    elev = u(*_RAISED_ELEV[variant])
    return variant, {
        "freq": u(0.04, 0.15),
        "duty": u(0.6, 0.95),
        "sharp": u(3.0, 10.0),
        "which": 2.0 if variant in ("overhead", "t_pose") else float(rng.random() < 0.7),
        "rest": u(5, 20) * DEG,
        "elev": elev * DEG,
        "azim": u(-10, 40) * DEG if variant != "cross_body" else 80 * DEG,
        "fore_azim": u(-10, 10) * DEG,
        "bend": u(-10, 25) * DEG,
        "wobble": u(0, 6) * DEG,
        "side_bend": (u(10, 30) if variant == "side_stretch" else u(0, 4)) * DEG,
        "bend_f": u(0.05, 0.25),
        "bend_over": (u(40, 95) if variant == "bent_over" else 0.0) * DEG,
        "knee": (u(0, 20) if variant == "bent_over" else 0.0) * DEG,
    }


def _arm_circles(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Arm circles: small or large circles of straight arms held out to the sides, forward or
    backward; or big windmills / swimming strokes of whole arms through overhead (both together or
    alternating), as in warm-ups."""
    m = base(shape, t, v, arms=False)
    ph = rhythm_phase(t, v, v["freq"]) * v["direction"]
    for side in (LEFT, RIGHT):
        sg = SIDE_SIGN[side]
        p = ph + (np.pi if (v["alternate"] > 0.5 and side == RIGHT) else 0.0)
        if v.variant == "small":  # the hand traces a circle around "arm straight out to the side"
            r = v["radius"]
            d = np.stack(
                [sg * np.cos(r) * np.ones_like(p), np.sin(r) * np.sin(p), np.sin(r) * np.cos(p)], axis=-1
            )
            d = d + np.array([0.0, np.sin(v["lift"]), 0.0])
        else:  # windmill: the whole arm goes round in a plane between sagittal and frontal
            a = v["plane"]
            d = np.stack([sg * np.sin(a) * np.sin(p), -np.cos(p), np.cos(a) * np.sin(p)], axis=-1)
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        m.arm_elbow[:, side], m.arm_wrist[:, side] = arm(shape, d, d)
    if v.variant != "small":
        m.chest_twist = m.chest_twist + v["twist"] * np.sin(ph)
    return m


def _sample_arm_circles(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    variant = str(rng.choice(["small", "windmill"], p=[0.5, 0.5]))
    return variant, {
        "freq": u(0.6, 2.2) if variant == "small" else u(0.3, 1.2),
        "direction": float(rng.choice([-1.0, 1.0])),
        "alternate": float(variant == "windmill" and rng.random() < 0.5),
        "radius": u(8, 40) * DEG,
        "lift": u(-10, 15) * DEG,
        "plane": u(0, 70) * DEG,
        "twist": u(0, 15) * DEG,
    }


def _slow_form(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Tai-chi-like forms: wide stance with bent knees, weight shifting, arms floating up, pushing
    out and sweeping slowly (0.05-0.3 Hz); martial-arts forms add a few fast single strikes."""
    m = base(shape, t, v, arms=False)
    seed = int(v["path_seed"])
    slow = smooth_wander(t, seed, 7, v["freq"], dims=4)  # shared by the body and both arms
    m.root[:, 0] += v["shift"] * slow[:, 0]
    m.pelvis_yaw = m.pelvis_yaw + v["turn"] * slow[:, 1]
    m.leg_knee, m.leg_ankle = standing_legs(shape, t, v, knee=v["knee"] * (1 + 0.4 * slow[:, 2]))
    # A wide stance: feet further apart than standing.
    m.leg_knee[..., 0] *= v["wide"]
    m.leg_ankle[..., 0] *= v["wide"]
    reach = shape.upper_arm + shape.forearm
    strikes = np.zeros_like(t)
    if v.variant == "form":
        ph = rhythm_phase(t, v, v["strike_rate"])
        strikes = np.clip(np.sin(ph), 0.0, 1.0) ** 24  # short, sparse
    for side in (LEFT, RIGHT):
        sg = SIDE_SIGN[side]
        w = smooth_wander(t, seed, side, v["freq"])
        elev = v["elev"] + v["elev_amp"] * w[:, 0]
        azim = v["azim"] + v["azim_amp"] * w[:, 1]
        dist = reach * (0.65 + 0.3 * (0.5 + 0.5 * w[:, 2]))
        tgt = limb_dir(elev, azim, side) * dist[:, None]
        if v.variant == "form" and (side == RIGHT) == (v["hand"] > 0.5):
            hit = np.array([-sg * 0.2 * shape.shoulder_width, 0.0, 0.97 * reach])
            tgt = tgt + strikes[:, None] * (hit - tgt)
        hands_ik(shape, m, side, tgt, np.array([sg, -1.0, -0.5]))
    return m


def _sample_slow_form(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    variant = str(rng.choice(["tai_chi", "form"], p=[0.65, 0.35]))
    return variant, {
        "freq": u(0.05, 0.3),
        "path_seed": float(rng.integers(2**31)),
        "shift": u(0.03, 0.15),
        "turn": u(5, 35) * DEG,
        "knee": u(10, 40) * DEG,
        "wide": u(1.0, 2.2),
        "elev": u(50, 110) * DEG,
        "elev_amp": u(20, 60) * DEG,
        "azim": u(20, 80) * DEG,
        "azim_amp": u(10, 50) * DEG,
        "strike_rate": u(0.2, 0.6),
        "hand": float(rng.random() < 0.6),
    }


def _throwing(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Throwing and catching: an overhand throw (arm cocked back above the shoulder, then a fast
    swing forward and down), a backhand throw across the body (a frisbee), both hands forward to
    catch; a basketball shot (both hands up from the chest to overhead)."""
    m = base(shape, t, v, arms=False)
    ph = rhythm_phase(t, v, v["freq"])
    c = np.mod(ph / (2 * np.pi), 1.0)  # 0..1 through one throw-catch cycle
    reach = shape.upper_arm + shape.forearm
    tor = shape.torso
    side = RIGHT if v["hand"] > 0.5 else LEFT
    sg = SIDE_SIGN[side]
    ready = np.array([-sg * 0.2, -0.3 * tor, 0.45 * reach])
    if v.variant == "overhand":
        cock = np.array([sg * 0.15, 0.25 * tor, -0.25 * reach])
        release = np.array([-sg * 0.1, -0.4 * tor, 0.9 * reach])
    elif v.variant == "backhand":
        cock = np.array([-sg * (shape.shoulder_width + 0.1), -0.2 * tor, 0.3 * reach])
        release = np.array([sg * 0.7 * reach, -0.1 * tor, 0.6 * reach])
    else:  # shot
        cock = np.array([-sg * 0.15, -0.1 * tor, 0.35 * reach])
        release = np.array([-sg * 0.1, 0.9 * reach, 0.25 * reach])
    a = np.clip((c - 0.1) / 0.35, 0, 1)[:, None]  # wind up (slow)
    b = np.clip((c - 0.45) / v["snap"], 0, 1)[:, None]  # release (fast)
    back = np.clip((c - 0.55) / 0.4, 0, 1)[:, None]  # back to ready / catch
    tgt = ready + (a - b) * (cock - ready) + b * (1 - back) * (release - ready)
    hands_ik(shape, m, side, tgt, np.array([sg, -0.6, -0.5]))
    other = LEFT if side == RIGHT else RIGHT
    so = SIDE_SIGN[other]
    if v.variant == "shot":
        hands_ik(
            shape,
            m,
            other,
            tgt * np.array([-1.0, 1.0, 1.0]) + np.array([so * 0.05, 0, 0]),
            np.array([so, -0.6, -0.5]),
        )
    else:
        catch = np.array([-so * 0.15, -0.25 * tor, 0.8 * reach])
        rest = np.array([so * 0.05, -0.8 * tor, 0.2 * tor])
        near = (np.sin(np.pi * back[:, 0]) ** 2)[:, None]
        hands_ik(shape, m, other, rest + near * (catch - rest), np.array([so, -1.0, -0.3]))
    m.chest_twist = m.chest_twist + v["twist"] * sg * (a[:, 0] - 2 * b[:, 0] * (1 - back[:, 0]))
    m.root[:, 1] += v["jump"] * np.sin(np.pi * np.clip((c - 0.4) / 0.3, 0, 1)) ** 2
    return m


def _sample_throwing(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    variant = str(rng.choice(["overhand", "backhand", "shot"], p=[0.4, 0.35, 0.25]))
    return variant, {
        "freq": u(0.2, 0.6),
        "snap": u(0.05, 0.15),
        "hand": float(rng.random() < 0.8),
        "twist": u(10, 35) * DEG,
        "jump": u(0.0, 0.15) if variant == "shot" else 0.0,
    }


def _hugging(shape: BodyShape, t: np.ndarray, v: MotionParams) -> Motion:
    """Opening the arms and closing them round someone in front (a hug), held, then letting go."""
    m = base(shape, t, v, arms=False)
    hug = smooth_square(rhythm_phase(t, v, v["freq"]), v["duty"], v["sharp"])
    reach = shape.upper_arm + shape.forearm
    for side in (LEFT, RIGHT):
        sg = SIDE_SIGN[side]
        rest = np.array([sg * 0.05, -0.8 * shape.torso, 0.2 * shape.torso])
        wrap = np.array([-sg * v["wrap"] * shape.shoulder_width, v["height"] * shape.torso, 0.55 * reach])
        hands_ik(shape, m, side, rest + hug[:, None] * (wrap - rest), np.array([sg, 0.3, -0.2]))
    m.lean = m.lean + v["lean_in"] * hug
    m.root[:, 2] += v["step_in"] * hug
    return m


def _sample_hugging(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    u = rng.uniform
    return "hug", {
        "freq": u(0.1, 0.3),
        "duty": u(0.4, 0.8),
        "sharp": u(2.0, 6.0),
        "wrap": u(0.2, 0.8),
        "height": u(-0.3, 0.2),
        "lean_in": u(0, 15) * DEG,
        "step_in": u(0.0, 0.3),
    }


PROGRAMS: dict[str, Program] = {
    "GESTURING": _gesturing,
    "TO_FACE": _to_face,
    "REACHING": _reaching,
    "RAISED": _raised,
    "ARM_CIRCLES": _arm_circles,
    "SLOW_FORM": _slow_form,
    "THROWING": _throwing,
    "HUGGING": _hugging,
}
SAMPLERS: dict[str, Sampler] = {
    "GESTURING": _sample_gesturing,
    "TO_FACE": _sample_to_face,
    "REACHING": _sample_reaching,
    "RAISED": _sample_raised,
    "ARM_CIRCLES": _sample_arm_circles,
    "SLOW_FORM": _sample_slow_form,
    "THROWING": _sample_throwing,
    "HUGGING": _sample_hugging,
}
