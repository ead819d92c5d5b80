"""Clips of people crossing each other: the test and benchmark scenes for tracking and labeling.

People walk sideways across the frame in alternating directions, so every pair crosses once,
while swinging their arms fast (a few swings a second: wrists move tens of pixels a frame).
Two layouts:

* ``occlude=True``: everyone walks on about the same image row at different depths, so the
  nearer person hides the farther one while they pass (identity switches are easy here).
* ``occlude=False``: each person walks on their own row, the rows more than ``gap`` body
  heights apart, so bodies never overlap (a good tracker makes no identity switch).

Ground truth is exact, as in :func:`pose_studio.synth.render_clip`; ``track_ids[p]`` is the
person index, constant over the clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose_studio.synth import body as B
from pose_studio.synth import scene as S
from pose_studio.synth.clip import SynthError, _camera
from pose_studio.synth.render import FrameGT, PersonState, place_person, render_people, sample_look

P = B.P


@dataclass(frozen=True)
class CrossingClip:
    frames: list[np.ndarray]
    gts: list[FrameGT]
    body_px: float  # nominal body height in pixels
    min_gap_bodies: float  # smallest distance between two people's pelvises, in body heights


def _pose_at(t: float, yaw: float, stride_hz: float, arm_hz: float, phase: np.ndarray
             ) -> np.ndarray:
    """Walking legs with fast, large arm swings (the hard case for interpolation)."""
    p = np.zeros(B.N_POSE)
    p[P["root_yaw"]] = yaw
    ph = 2 * np.pi * stride_hz * t + phase[0]
    for side, sgn, k in (("l", 1.0, 1), ("r", -1.0, 2)):
        s = np.sin(ph) * sgn
        p[P[f"{side}_hip_flex"]] = np.radians(10 + 28 * s)
        p[P[f"{side}_knee"]] = np.radians(15 + 35 * max(0.0, np.sin(ph + sgn * 1.2)))
        a = 2 * np.pi * arm_hz * t + phase[k]
        p[P[f"{side}_sh_flex"]] = np.radians(35 + 65 * np.sin(a))
        p[P[f"{side}_sh_abd"]] = np.radians(25 + 20 * np.sin(0.5 * a + 1.0))
        p[P[f"{side}_elbow"]] = np.radians(50 + 45 * np.sin(a + 0.8))
    p[P["spine_twist"]] = np.radians(8 * np.sin(ph))
    p[P["head_yaw"]] = np.radians(20 * np.sin(0.7 * t + phase[3]))
    return B.clamp_pose(p)


def render_crossing_clip(
    seed: int,
    n_frames: int = 300,
    size: tuple[int, int] = (480, 270),
    n_people: int = 3,
    *,
    occlude: bool = True,
    gap: float = 0.6,
    fps: float = 25.0,
    arm_hz: float = 1.6,
    effects: float = 0.4,
) -> CrossingClip:
    """A clip of ``n_people`` (2..4) walking across each other; see the module docstring.

    Args:
        gap: With ``occlude=False``, the distance between walking rows in body heights.
        arm_hz: Arm swings per second (fast limb motion).
    """
    if not 2 <= n_people <= 4:
        raise SynthError(f"a crossing clip needs 2 to 4 people, not {n_people}")
    if n_frames < 2:
        raise SynthError(f"n_frames must be at least 2, not {n_frames}")
    w, h = size
    rng = np.random.default_rng(seed)
    cam = _camera(rng, w, h)
    bg = S.background(rng, h, w, "default")
    effect_seed = int(rng.integers(2**31))
    body_px = (0.42 if occlude else 0.8 / ((1.0 + gap) * (n_people - 1) + 1.0)) * h
    duration = n_frames / fps
    actors = []
    for p in range(n_people):
        prop = B.sample_proportions(rng, "default")
        look = sample_look(rng, "default")
        direction = 1.0 if p % 2 == 0 else -1.0
        # start on one side, end on the other: everyone passes everyone once
        margin = 0.12 + 0.05 * p
        u0 = (margin if direction > 0 else 1 - margin) * w
        u1 = (1 - margin if direction > 0 else margin) * w
        if occlude:
            v = (0.55 + 0.03 * (p - (n_people - 1) / 2)) * h
            ph = body_px * (1.0 - 0.12 * p)  # farther people a little smaller
        else:
            top = 0.1 * h + 0.5 * body_px
            v = top + p * (1.0 + gap) * body_px
            ph = body_px
        root0 = place_person(cam, prop, u0, v, ph)
        root1 = place_person(cam, prop, u1, v, ph)
        yaw = direction * np.pi / 2 + float(rng.uniform(-0.25, 0.25))
        phase = rng.uniform(0, 2 * np.pi, 4)
        stride = float(rng.uniform(0.8, 1.1))
        hz = arm_hz * float(rng.uniform(0.85, 1.15))
        actors.append((prop, look, root0, root1, yaw, stride, hz, phase))
    frames, gts = [], []
    pelvis = np.zeros((n_frames, n_people, 2))
    for i in range(n_frames):
        t = i / fps
        people = []
        for prop, look, root0, root1, yaw, stride, hz, phase in actors:
            a = t / max(duration, 1e-6)
            root = root0 + (root1 - root0) * a
            people.append(PersonState(prop, look, _pose_at(t, yaw, stride, hz, phase), root))
        out, gt, _ = render_people(bg, cam, people, [])
        frames.append(S.post_effects(np.random.default_rng(effect_seed), out, effects))
        gts.append(gt)
        pelvis[i] = gt.keypoints[:, 11:13].mean(axis=1)
    d = np.inf
    for a in range(n_people):
        for b in range(a + 1, n_people):
            d = min(d, float(np.linalg.norm(pelvis[:, a] - pelvis[:, b], axis=1).min()))
    return CrossingClip(frames, gts, float(body_px), d / body_px)
