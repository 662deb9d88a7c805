"""A pinhole camera looking at the synthetic person: framing, perspective, roll and shake.

The camera stands in front of the person (the person turns by ``yaw`` instead of the camera
orbiting), aims at the pelvis (full body) or the chest (upper-body framing), and the principal
point is shifted so the person lands anywhere in the picture. The distance follows from how
tall the person should look, so perspective (close, wide-angle cameras; high cameras looking
down) comes out of real geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.body import BodyShape

DEG = np.pi / 180.0

# (width, height) of common cameras and clips, with how often to draw them.
IMAGE_SIZES: tuple[tuple[int, int], ...] = (
    (640, 480),
    (1280, 720),
    (640, 360),
    (420, 420),
    (1920, 1080),
    (384, 288),
    (480, 640),
    (426, 240),
    (320, 240),
    (160, 120),
    (720, 1280),
)
IMAGE_SIZE_WEIGHTS: tuple[float, ...] = (0.22, 0.17, 0.13, 0.08, 0.08, 0.06, 0.06, 0.06, 0.06, 0.04, 0.04)


@dataclass(frozen=True)
class CameraParams:
    """Where the camera is and how it images; angles in radians, lengths in metres."""

    image_size: tuple[int, int]
    focal_px: float
    distance: float
    pitch: float  # looking down is positive
    roll: float
    yaw: float  # the person's turn about the vertical; positive turns their left side away
    aim_height: float
    offset_px: tuple[float, float]  # principal point minus image centre
    shake_px: float
    shake_f: float
    shake_phase: float

    def __post_init__(self) -> None:
        w, h = self.image_size
        if w <= 0 or h <= 0:
            raise ValueError(
                f"CameraParams.image_size must be positive (width, height), got {self.image_size}"
            )
        if not self.focal_px > 0 or not self.distance > 0:
            raise ValueError(
                f"CameraParams.focal_px and distance must be positive, got {self.focal_px}, {self.distance}"
            )

    @property
    def height(self) -> float:
        """Camera height above the ground (metres)."""
        return self.aim_height + self.distance * float(np.tan(self.pitch))

    @classmethod
    def sample(cls, rng: np.random.Generator, body: BodyShape, reach_up: float = 0.55) -> CameraParams:
        """A random but plausible camera for ``body``: webcam, phone, wall-mounted, far or close.

        ``reach_up`` is how high above the pelvis the action reaches (in body heights), so a
        camera operator would keep raised hands in the picture; about one time in ten they do not.
        About one person in six is small in the picture (8-30 % of its height: far away, a wide
        shot), one in seven is seen from high above (a wall or ceiling camera looking down 30-60
        degrees), and one in six is framed from the waist or knees up (legs out of the picture).
        """
        w, h = IMAGE_SIZES[int(rng.choice(len(IMAGE_SIZES), p=IMAGE_SIZE_WEIGHTS))]
        fov = rng.uniform(45, 85) * DEG  # across the long side
        focal = max(w, h) / 2 / np.tan(fov / 2)
        upper_body = rng.random() < 0.16
        top = reach_up if rng.random() < 0.9 else 0.5
        small = not upper_body and rng.random() < 0.18
        # Person height / image height: a webcam close-up loses the legs; otherwise the whole body,
        # from the feet to the highest hand, fits with a small margin.
        if upper_body:
            frac = rng.uniform(1.05, 1.7)
        elif small:
            frac = float(np.exp(rng.uniform(np.log(0.08), np.log(0.3))))
        else:
            frac = min(rng.uniform(0.28, 0.92), 0.96 / (top + 0.5))
        distance = max(focal * body.height / (frac * h), 0.8)
        h_px = focal * body.height / distance
        aim = body.hip_height + (0.75 * body.torso if upper_body else 0.0)
        room_x = max(w / 2 - 0.32 * h_px, 0.0)  # arms out to the side stay in
        if upper_body:
            off_y = rng.uniform(-0.05, 0.15) * h
        else:  # pelvis row between "hands touch the top" and "feet touch the bottom"
            lo, hi = top * h_px - h / 2, h / 2 - 0.5 * h_px
            off_y = rng.uniform(min(lo, hi), max(lo, hi))
        yaw = rng.uniform(-25, 25) * DEG if rng.random() < 0.55 else rng.uniform(-65, 65) * DEG
        pitch = rng.uniform(30, 60) if rng.random() < 0.14 else rng.uniform(-8, 28)
        return cls(
            image_size=(int(w), int(h)),
            focal_px=float(focal),
            distance=float(distance),
            pitch=float(pitch * DEG),
            roll=float(rng.normal(0, 2.0) * DEG),
            yaw=float(yaw),
            aim_height=float(aim),
            offset_px=(float(rng.uniform(-room_x, room_x)), float(off_y)),
            shake_px=float(rng.uniform(0, 0.006) * h * (rng.random() < 0.3)),
            shake_f=float(rng.uniform(0.3, 2.0)),
            shake_phase=float(rng.uniform(0, 2 * np.pi)),
        )


def camera_space(points: np.ndarray, cam: CameraParams) -> np.ndarray:
    """World points ``(..., 3)`` into camera coordinates (x right, y down, z forward), metres."""
    centre = np.array([0.0, cam.height, cam.distance])
    cp, sp = np.cos(cam.pitch), np.sin(cam.pitch)
    fwd = np.array([0.0, -sp, -cp])
    right = np.array([1.0, 0.0, 0.0])
    down = np.cross(fwd, right)
    rel = np.asarray(points) - centre
    return np.stack([rel @ right, rel @ down, rel @ fwd], axis=-1)


def project(points: np.ndarray, cam: CameraParams, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``(T, K, 2)`` and camera-space points ``(T, K, 3)`` of world points ``(T, K, 3)``."""
    pc = camera_space(points, cam)
    z = np.maximum(pc[..., 2], 0.05)
    x, y = pc[..., 0] / z, pc[..., 1] / z
    cr, sr = np.cos(cam.roll), np.sin(cam.roll)
    xr, yr = cr * x - sr * y, sr * x + cr * y
    w, h = cam.image_size
    shake = cam.shake_px * np.sin(2 * np.pi * cam.shake_f * times + cam.shake_phase)
    shake_y = cam.shake_px * np.sin(2 * np.pi * 1.37 * cam.shake_f * times + 2.0 * cam.shake_phase)
    u = cam.focal_px * xr + w / 2 + cam.offset_px[0] + shake[:, None]
    v = cam.focal_px * yr + h / 2 + cam.offset_px[1] + shake_y[:, None]
    return np.stack([u, v], axis=-1), pc
