"""Motions for synthetic videos: walking, waving, jumping, turning and random smooth motion.

A motion maps time (seconds) to a pose vector and a pelvis displacement in the body's world
frame (metres, y up). All angles stay inside :data:`pose_studio.synth.body.LIMITS_DEG`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pose_studio.synth import body as B

MOTIONS = ("walk", "wave", "jump", "turn", "random")
P = B.P
Motion = Callable[[float], tuple[np.ndarray, np.ndarray]]


def _base(rng: np.random.Generator, yaw: float) -> np.ndarray:
    pose = np.zeros(B.N_POSE)
    pose[P["root_yaw"]] = yaw
    for side in ("l", "r"):
        pose[P[f"{side}_sh_abd"]] = np.radians(rng.uniform(5, 15))
        pose[P[f"{side}_elbow"]] = np.radians(rng.uniform(5, 25))
    pose[P["head_yaw"]] = np.radians(rng.uniform(-20, 20))
    return pose


def make_motion(kind: str, rng: np.random.Generator, *, yaw: float, speed_m_s: float = 1.0
                ) -> Motion:
    """A motion function ``t -> (pose, pelvis displacement)`` of the given ``kind``."""
    if kind not in MOTIONS:
        raise ValueError(f"unknown motion {kind!r}; choose from {', '.join(MOTIONS)}")
    base = _base(rng, yaw)
    phase0 = rng.uniform(0, 2 * np.pi)
    forward = B.ry(yaw) @ np.array([0.0, 0.0, 1.0])

    if kind == "walk":
        freq = rng.uniform(0.8, 1.1)  # strides per second

        def walk(t: float) -> tuple[np.ndarray, np.ndarray]:
            ph = 2 * np.pi * freq * t + phase0
            p = base.copy()
            for side, sgn in (("l", 1.0), ("r", -1.0)):
                s = np.sin(ph) * sgn
                p[P[f"{side}_hip_flex"]] = np.radians(10 + 25 * s)
                p[P[f"{side}_knee"]] = np.radians(15 + 30 * max(0.0, np.sin(ph + sgn * 1.2)))
                p[P[f"{side}_sh_flex"]] = np.radians(-20 * s)
                p[P[f"{side}_elbow"]] = np.radians(20 + 10 * max(0.0, -s))
            p[P["spine_twist"]] = np.radians(6 * np.sin(ph))
            bob = 0.02 * np.cos(2 * ph)
            return p, forward * speed_m_s * t + np.array([0.0, bob, 0.0])

        return walk
    if kind == "wave":
        side = "l" if rng.random() < 0.5 else "r"
        freq = rng.uniform(1.0, 2.0)

        def wave(t: float) -> tuple[np.ndarray, np.ndarray]:
            p = base.copy()
            ramp = min(1.0, t / 0.5)
            p[P[f"{side}_sh_abd"]] = np.radians(10 + 110 * ramp)
            p[P[f"{side}_sh_flex"]] = np.radians(20 * ramp)
            p[P[f"{side}_sh_twist"]] = np.radians(60 * ramp)
            p[P[f"{side}_elbow"]] = np.radians(
                20 + ramp * (55 + 35 * np.sin(2 * np.pi * freq * t + phase0))
            )
            p[P["head_yaw"]] += np.radians(10 * np.sin(0.5 * t))
            return p, np.zeros(3)

        return wave
    if kind == "jump":
        period = rng.uniform(0.9, 1.3)

        def jump(t: float) -> tuple[np.ndarray, np.ndarray]:
            p = base.copy()
            ph = ((t / period) + phase0 / (2 * np.pi)) % 1.0
            if ph < 0.3:  # crouch
                c = np.sin(ph / 0.3 * np.pi)
                h = 0.0
            else:  # flight
                c = 0.15
                h = 0.35 * np.sin((ph - 0.3) / 0.7 * np.pi)
            for s in ("l", "r"):
                p[P[f"{s}_hip_flex"]] = np.radians(10 + 70 * c)
                p[P[f"{s}_knee"]] = np.radians(10 + 110 * c)
                p[P[f"{s}_sh_flex"]] = np.radians(-30 * c + 150 * (h / 0.35))
            p[P["root_pitch"]] = np.radians(25 * c)
            drop = -0.12 * c * 1.75
            return p, np.array([0.0, h + drop, 0.0])

        return jump
    if kind == "turn":
        rate = rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 3.0)  # rad/s

        def turn(t: float) -> tuple[np.ndarray, np.ndarray]:
            p = base.copy()
            p[P["root_yaw"]] = yaw + rate * t
            p[P["l_sh_abd"]] = p[P["r_sh_abd"]] = np.radians(20 + 15 * np.sin(3 * t))
            return p, np.zeros(3)

        return turn

    # random smooth motion: each angle follows a sum of slow sinusoids inside its range
    n_waves = 3
    amp = rng.uniform(0.2, 1.0, (n_waves, B.N_POSE)) / n_waves
    freqs = rng.uniform(0.1, 0.8, (n_waves, B.N_POSE))
    phase = rng.uniform(0, 2 * np.pi, (n_waves, B.N_POSE))
    centre = B.random_pose(rng, activity=0.5)
    half = (B.HIGH - B.LOW) / 2

    def random_motion(t: float) -> tuple[np.ndarray, np.ndarray]:
        offs = (amp * np.sin(2 * np.pi * freqs * t + phase)).sum(0) * half
        p = centre + offs
        p[P["root_yaw"]] = yaw + 0.8 * np.sin(0.3 * t + phase0)
        return B.clamp_pose(p), np.zeros(3)

    return random_motion
