"""An articulated 3D body: proportions, limb helpers and forward kinematics to COCO-17 joints.

Coordinates are metres in a right-handed frame: x = the person's left, y = up, z = the
person's forward (towards a camera that faces them). Motion programs (``training.motions``)
describe a :class:`Motion`: where the pelvis is, how the torso and head turn, and where each
elbow/wrist sits relative to its shoulder (chest frame) and each knee/ankle relative to its hip
(pelvis frame). :func:`forward_kinematics` turns that into ``(T, 17, 3)`` world positions with
the lower foot on the ground.

Proportions are measured in torso lengths (mid-hip to mid-shoulder) because that is what a
2D detector sees; the ranges come from MediaPipe BlazePose on real people (see docs/SYNTHETIC.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEFT, RIGHT = 0, 1
SIDE_SIGN = np.array([1.0, -1.0])  # +x is the person's left


@dataclass(frozen=True)
class BodyShape:
    """Segment lengths in metres of one synthetic person."""

    height: float
    torso: float
    shoulder_width: float
    hip_width: float
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    nose_up: float  # nose above the shoulder line
    nose_forward: float
    eye_sep: float
    ear_sep: float
    ankle_height: float

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"BodyShape.{name} must be a positive length in metres, got {value!r}")

    @classmethod
    def sample(cls, rng: np.random.Generator) -> BodyShape:
        """A random body, adult or teen, or (one time in eight) a child: shorter legs and a
        bigger head for the torso; ratios are relative to the torso length."""
        child = rng.random() < 0.125
        height = float(rng.uniform(0.95, 1.45) if child else rng.uniform(1.45, 1.98))
        torso = height * float(rng.uniform(0.30, 0.35) if child else rng.uniform(0.28, 0.33))
        u = rng.uniform
        legs = 0.85 if child else 1.0
        return cls(
            height=height,
            torso=torso,
            shoulder_width=torso * float(u(0.55, 0.80)),
            hip_width=torso * float(u(0.30, 0.45)),
            upper_arm=torso * float(u(0.42, 0.58)),
            forearm=torso * float(u(0.42, 0.54)),
            thigh=torso * legs * float(u(0.64, 0.80)),
            shin=torso * legs * float(u(0.60, 0.74)),
            nose_up=torso * float(u(0.28, 0.42)) * (1.2 if child else 1.0),
            nose_forward=torso * float(u(0.10, 0.18)),
            eye_sep=torso * float(u(0.10, 0.14)),
            ear_sep=torso * float(u(0.20, 0.27)),
            ankle_height=float(u(0.06, 0.09)),
        )

    @property
    def hip_height(self) -> float:
        """Pelvis height standing straight, used to aim the camera."""
        return self.ankle_height + self.thigh + self.shin


@dataclass
class Motion:
    """One action over ``T`` time steps, in body-local terms (angles in radians).

    ``arm_elbow``/``arm_wrist``: ``(T, 2, 3)``, relative to the shoulder in the chest frame;
    ``leg_knee``/``leg_ankle``: ``(T, 2, 3)``, relative to the hip in the pelvis frame;
    index 0 is the left side. ``root``: ``(T, 3)`` pelvis offset (x, z drift; y = time in the
    air, added above ground contact).
    """

    root: np.ndarray
    pelvis_yaw: np.ndarray
    chest_twist: np.ndarray
    lean: np.ndarray
    side_bend: np.ndarray
    head_yaw: np.ndarray
    head_pitch: np.ndarray
    arm_elbow: np.ndarray
    arm_wrist: np.ndarray
    leg_knee: np.ndarray
    leg_ankle: np.ndarray
    shrug: float = 0.12  # shoulder rise (torso lengths) when the arms are straight up


def limb_dir(elev: np.ndarray | float, azim: np.ndarray | float, side: int) -> np.ndarray:
    """Unit vectors ``(T, 3)`` for a limb segment.

    ``elev`` is measured from straight down (0 = hanging, pi/2 = horizontal, pi = straight up;
    values past pi lean across the midline); ``azim`` turns from outward-lateral (0) to forward
    (pi/2) and backward (-pi/2). ``side`` mirrors the lateral component for the right limbs.
    """
    e = np.asarray(elev, dtype=np.float64)
    a = np.asarray(azim, dtype=np.float64)
    e, a = np.broadcast_arrays(e, a)
    s = np.sin(e)
    return np.stack([SIDE_SIGN[side] * s * np.cos(a), -np.cos(e), s * np.sin(a)], axis=-1)


def two_bone_ik(target: np.ndarray, a: float, b: float, pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end joint ``(T, 3)`` of a two-segment limb reaching for ``target`` from the origin.

    Unreachable targets are clamped to the limb's reach; ``pole`` (``(3,)`` or ``(T, 3)``) is the
    direction the middle joint (elbow, knee) bends towards.
    """
    tgt = np.asarray(target, dtype=np.float64)
    dist = np.linalg.norm(tgt, axis=-1, keepdims=True)
    u = tgt / np.maximum(dist, 1e-9)
    d = np.clip(dist, abs(a - b) + 1e-4, a + b - 1e-4)
    along = (a * a - b * b + d * d) / (2.0 * d)
    h = np.sqrt(np.maximum(a * a - along * along, 0.0))
    p = np.broadcast_to(np.asarray(pole, dtype=np.float64), tgt.shape)
    q = p - np.sum(p * u, axis=-1, keepdims=True) * u
    q /= np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-9)
    return along * u + h * q, d * u


def _rot(a: np.ndarray, i: int, j: int) -> np.ndarray:
    """Rotation matrices ``(T, 3, 3)`` by angles ``a`` in the plane of axes ``i`` -> ``j``."""
    c, s = np.cos(a), np.sin(a)
    r = np.zeros((*np.shape(a), 3, 3))
    r[..., 0, 0] = r[..., 1, 1] = r[..., 2, 2] = 1.0
    r[..., i, i] = c
    r[..., j, j] = c
    r[..., j, i] = s
    r[..., i, j] = -s
    return r


def _rot_y(a: np.ndarray) -> np.ndarray:
    return _rot(a, 2, 0)  # z -> x: turns +x towards -z


def _rot_x(a: np.ndarray) -> np.ndarray:
    return _rot(a, 1, 2)  # y -> z: tips up towards forward


def _rot_z(a: np.ndarray) -> np.ndarray:
    return _rot(a, 0, 1)  # x -> y


def _apply(rot: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Rotate ``pts (T, K, 3)`` by ``rot (T, 3, 3)``."""
    return np.einsum("tij,tkj->tki", rot, pts)


def forward_kinematics(shape: BodyShape, m: Motion, yaw: float = 0.0) -> np.ndarray:
    """World joint positions ``(T, 17, 3)`` in COCO-17 order; ``yaw`` turns the whole body (radians)."""
    n = m.root.shape[0]
    out = np.empty((n, 17, 3))
    r_pelvis = _rot_y(m.pelvis_yaw + yaw)
    # Lean forward tips the spine towards +z (rotation about x), side bend towards +x.
    r_chest = r_pelvis @ _rot_y(m.chest_twist) @ _rot_x(m.lean) @ _rot_z(-m.side_bend)
    r_head = r_chest @ _rot_y(m.head_yaw) @ _rot_x(m.head_pitch)

    # Ground contact: the lower ankle rests at ankle height, the root y channel lifts it (a hop).
    ankle_drop = np.max(-m.leg_ankle[:, :, 1], axis=1)
    pelvis = _apply(_rot_y(np.full(n, yaw)), m.root[:, None, :])[:, 0]
    pelvis[:, 1] = shape.ankle_height + ankle_drop + m.root[:, 1]

    hips = np.zeros((n, 2, 3))
    hips[:, :, 0] = SIDE_SIGN * shape.hip_width / 2
    hips = pelvis[:, None] + _apply(r_pelvis, hips)
    out[:, 11:13] = hips
    out[:, 13:15] = hips + _apply(r_pelvis, m.leg_knee)
    out[:, 15:17] = hips + _apply(r_pelvis, m.leg_ankle)

    # Shoulders rise and come in as the upper arm goes overhead (scapular rhythm).
    el = m.arm_elbow
    elev = np.arccos(np.clip(-el[..., 1] / np.maximum(np.linalg.norm(el, axis=-1), 1e-9), -1, 1))
    lift = np.clip((elev - np.pi / 2) / (np.pi / 2), 0.0, 1.0) * m.shrug * shape.torso
    sh_local = np.zeros((n, 2, 3))
    sh_local[:, :, 0] = SIDE_SIGN * (shape.shoulder_width / 2 - 0.4 * lift)
    sh_local[:, :, 1] = shape.torso + lift
    shoulders = pelvis[:, None] + _apply(r_chest, sh_local)
    out[:, 5:7] = shoulders
    out[:, 7:9] = shoulders + _apply(r_chest, m.arm_elbow)
    out[:, 9:11] = shoulders + _apply(r_chest, m.arm_wrist)

    neck = pelvis + _apply(r_chest, np.array([[[0.0, shape.torso, 0.0]]]).repeat(n, 0))[:, 0]
    nu, nf = shape.nose_up, shape.nose_forward
    face = np.array(
        [
            [0.0, nu, nf],
            [shape.eye_sep / 2, nu + 0.05 * shape.torso, nf - 0.03 * shape.torso],
            [-shape.eye_sep / 2, nu + 0.05 * shape.torso, nf - 0.03 * shape.torso],
            [shape.ear_sep / 2, nu + 0.02 * shape.torso, nf - 0.20 * shape.torso],
            [-shape.ear_sep / 2, nu + 0.02 * shape.torso, nf - 0.20 * shape.torso],
        ]
    )
    out[:, 0:5] = neck[:, None] + _apply(r_head, np.broadcast_to(face, (n, 5, 3)))
    return out
