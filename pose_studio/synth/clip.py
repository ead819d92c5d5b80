"""Scenes and clips: random still scenes (training data) and moving clips (demo, tests, bench)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from pose_studio.core.errors import PoseStudioError
from pose_studio.synth import body as B
from pose_studio.synth import motion as M
from pose_studio.synth import scene as S
from pose_studio.synth.render import (
    STYLES,
    Camera,
    FrameGT,
    Look,
    PersonState,
    place_person,
    render_people,
    sample_look,
)


class SynthError(PoseStudioError):
    """Bad arguments to the synthetic renderer, or a clip that cannot be written."""


def _check(size: tuple[int, int], n_people: int, style: str) -> None:
    if style not in STYLES:
        raise SynthError(f"unknown style {style!r}; choose from {', '.join(STYLES)}")
    if size[0] < 32 or size[1] < 32:
        raise SynthError(f"frame size {size} is too small (need at least 32x32)")
    if not 0 <= n_people <= 8:
        raise SynthError(f"n_people must be between 0 and 8, not {n_people}")


def _camera(rng: np.random.Generator, w: int, h: int) -> Camera:
    return Camera(w, h, float(rng.uniform(0.9, 2.0) * max(w, h)), float(np.radians(rng.uniform(-8, 15))))


def _slots(rng: np.random.Generator, n: int, w: int) -> list[float]:
    if n == 0:
        return []
    edges = np.linspace(0, w, n + 1)
    us = [float(rng.uniform(edges[i] + 0.2 * (edges[1] - edges[0]),
                            edges[i + 1] - 0.2 * (edges[1] - edges[0]))) for i in range(n)]
    rng.shuffle(us)
    return us


def render_scene(
    rng: np.random.Generator,
    size: tuple[int, int] = (320, 320),
    *,
    n_people: int | None = None,
    style: str = "default",
    truncate: float = 0.2,
    occlude: float = 0.35,
    effects: float = 1.0,
) -> tuple[np.ndarray, FrameGT]:
    """One random still scene with people in random poses (the training distribution).

    Args:
        rng: Random generator (the only source of randomness).
        size: ``(width, height)``.
        n_people: People in the scene; random 1..4 (mostly 1-2) when None.
        truncate: Probability that a person is placed partly outside the frame.
        occlude: Probability of each occluding object.
        effects: Strength of lighting/blur/noise effects (0 disables them).

    Returns:
        The BGR uint8 image and its ground truth.
    """
    w, h = size
    if n_people is None:
        n_people = int(rng.choice([1, 1, 1, 2, 2, 3, 4]))
    _check(size, n_people, style)
    cam = _camera(rng, w, h)
    img = S.background(rng, h, w, style)
    people = []
    for u in _slots(rng, n_people, w):
        prop = B.sample_proportions(rng, style)
        ph = float(rng.uniform(0.45, 0.95) * h) / (1.0 if n_people == 1 else rng.uniform(1.0, 1.6))
        v = float(rng.uniform(0.4, 0.6) * h)
        if rng.random() < truncate:  # push partly out of frame
            if rng.random() < 0.5:
                u = float(rng.choice([-0.15, 1.15]) * w * rng.uniform(0.1, 1.0))
                u = float(np.clip(u, -0.15 * w, 1.15 * w))
            else:
                v = float(rng.choice([0.15, 0.9]) * h)
        pose = B.random_pose(rng, activity=float(rng.uniform(0.3, 1.0)))
        if rng.random() < 0.08:  # lying / acrobatic: big whole-body roll
            pose[B.P["root_roll"]] = rng.uniform(-1.6, 1.6)
        people.append(PersonState(prop, sample_look(rng, style), pose, place_person(cam, prop, u, v, ph)))
    # nearest person drawn last: sort far-to-near is done by depth inside render_people
    occ = []
    for person in people:
        if rng.random() < occlude:
            near = cam.project(person.root_cam + np.array([0.0, rng.uniform(-0.4, 0.6), 0.0]))
            size_px = person.prop.height * cam.focal / person.root_cam[2] * rng.uniform(0.2, 0.6)
            occ.append(S.occluder(rng, h, w, (float(near[0]), float(near[1])), float(size_px)))
    out, gt, _ = render_people(img, cam, people, occ)
    return S.post_effects(rng, out, effects), gt


def render_clip(
    seed: int,
    n_frames: int = 48,
    size: tuple[int, int] = (320, 240),
    n_people: int = 1,
    style: str = "default",
    *,
    motions: Sequence[str] | None = None,
    fps: float = 25.0,
    occlude: float = 0.3,
    effects: float = 0.6,
) -> tuple[list[np.ndarray], list[FrameGT]]:
    """A short video of moving people and its per-frame ground truth.

    Args:
        seed: Everything is determined by the seed.
        n_frames: Number of frames.
        size: ``(width, height)``.
        n_people: Number of people (0..8).
        style: "default" (what the bundled model saw) or "cartoon" (proportions/colours it
            has not seen; the retraining target).
        motions: One motion per person from :data:`pose_studio.synth.motion.MOTIONS`;
            random when None.
        fps: Frame rate used to time the motion.
        occlude: Probability of a static occluding object per person.
        effects: Strength of lighting/blur/noise (same every frame of a clip).

    Returns:
        ``(frames, gt)``: BGR uint8 frames and one :class:`FrameGT` per frame.
    """
    if n_frames < 1:
        raise SynthError(f"n_frames must be positive, not {n_frames}")
    _check(size, n_people, style)
    w, h = size
    rng = np.random.default_rng(seed)
    cam = _camera(rng, w, h)
    bg = S.background(rng, h, w, style)
    effect_seed = int(rng.integers(2**31))
    duration = n_frames / fps
    actors: list[tuple[B.Proportions, Look, np.ndarray, M.Motion]] = []
    for u in _slots(rng, n_people, w):
        prop = B.sample_proportions(rng, style)
        look = sample_look(rng, style)
        kind = (motions[len(actors)] if motions else str(rng.choice(M.MOTIONS)))
        ph = float(rng.uniform(0.5, 0.8) * h) / (1.0 if n_people == 1 else rng.uniform(1.0, 1.4))
        root0 = place_person(cam, prop, u, float(rng.uniform(0.45, 0.55) * h), ph)
        if kind == "walk":
            yaw = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.9, 2.2))  # mostly sideways
            room = 0.3 * w * root0[2] / cam.focal
            speed = min(1.2, room / max(duration, 1e-3))
        else:
            yaw = float(rng.uniform(-np.pi, np.pi)) if rng.random() < 0.4 else float(
                rng.uniform(-0.8, 0.8))
            speed = 0.0
        fn = M.make_motion(kind, rng, yaw=yaw, speed_m_s=speed)
        actors.append((prop, look, root0, fn))
    occ = []
    for _, _, root0, _ in actors:
        if rng.random() < occlude:
            near = cam.project(root0 + np.array([0.0, rng.uniform(-0.2, 0.6), 0.0]))
            size_px = 0.35 * h * rng.uniform(0.5, 1.0)
            occ.append(S.occluder(rng, h, w, (float(near[0]), float(near[1])), float(size_px)))
    rot = cam.rotation()
    frames, gts = [], []
    for i in range(n_frames):
        t = i / fps
        people = []
        for prop, look, root0, fn in actors:
            pose, disp = fn(t)
            people.append(PersonState(prop, look, pose, root0 + rot @ disp))
        out, gt, _ = render_people(bg, cam, people, occ)
        frames.append(S.post_effects(np.random.default_rng(effect_seed), out, effects))
        gts.append(gt)
    return frames, gts


def write_clip(path: str | Path, frames: Sequence[np.ndarray], fps: float = 25.0) -> Path:
    """Writes frames as a video file (``.mp4`` MPEG-4, ``.avi`` MJPG) with OpenCV."""
    path = Path(path)
    if not frames:
        raise SynthError(f"{path}: no frames to write")
    h, w = frames[0].shape[:2]
    fourcc = {".avi": "MJPG", ".mkv": "MJPG"}.get(path.suffix.lower(), "mp4v")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), float(fps), (w, h))
    if not writer.isOpened():
        raise SynthError(f"{path}: OpenCV cannot open a {fourcc} video writer here")
    try:
        for f in frames:
            writer.write(np.ascontiguousarray(f))
    finally:
        writer.release()
    if not path.exists() or path.stat().st_size == 0:
        raise SynthError(f"{path}: the video writer produced no file")
    return path


def gt_to_json(gts: Sequence[FrameGT]) -> list[dict]:
    """Plain-JSON ground truth: one dict per frame (keypoints, visibility, boxes, areas)."""
    return [
        {
            "keypoints": g.keypoints.round(3).tolist(),
            "visibility": g.visibility.tolist(),
            "boxes": g.boxes.tolist(),
            "areas": g.areas.tolist(),
        }
        for g in gts
    ]


def write_gt(path: str | Path, gts: Sequence[FrameGT]) -> Path:
    path = Path(path)
    path.write_text(json.dumps({"format": "pose-studio-synth-gt/1", "frames": gt_to_json(gts)}))
    return path
