"""The synthetic renderer: ground truth agrees with the pixels, depth order, frame edges, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from pose_studio.core.annotation import Instance
from pose_studio.synth import SynthError, render_clip, render_scene, write_clip
from pose_studio.synth import body as B
from pose_studio.synth import motion as M
from pose_studio.synth.render import Camera, Look, PersonState, place_person, render_people

BG = (0.0, 160.0, 0.0)  # flat green background (BGR)
SKIN = (40.0, 40.0, 230.0)  # red
SHIRT = (230.0, 40.0, 40.0)  # blue
PANTS = (40.0, 230.0, 230.0)  # yellow
OCCLUDER = (200.0, 0.0, 200.0)  # magenta

BODY = range(5, 17)  # non-face keypoints
L_WRIST, R_WRIST, L_HIP, R_HIP = 9, 10, 11, 12


def _tile(bgr: tuple[float, float, float]) -> np.ndarray:
    return np.broadcast_to(np.asarray(bgr, np.float32), (64, 64, 3)).copy()


def _look(skin: tuple[float, float, float] = SKIN, shirt: tuple[float, float, float] = SHIRT,
          pants: tuple[float, float, float] = PANTS) -> Look:
    return Look(skin=_tile(skin), hair=None, hair_long=False, shirt=_tile(shirt),
                pants=_tile(pants), shoes=_tile(pants), long_sleeves=False, long_pants=True,
                outline=False)


def _scene(people: list[PersonState], size: tuple[int, int] = (320, 320),
           occluders: list | None = None) -> tuple[np.ndarray, object, np.ndarray]:
    w, h = size
    bg = np.empty((h, w, 3), np.float32)
    bg[:] = BG
    cam = _cam(size)
    return render_people(bg, cam, people, occluders or [])


def _cam(size: tuple[int, int] = (320, 320)) -> Camera:
    return Camera(size[0], size[1], focal=500.0, tilt=0.0)


def _person(pose: np.ndarray, u: float = 160, v: float = 170, height_px: float = 260,
            look: Look | None = None, size: tuple[int, int] = (320, 320)) -> PersonState:
    prop = B.Proportions()
    return PersonState(prop, look or _look(), pose, place_person(_cam(size), prop, u, v, height_px))


def _pose(yaw_deg: float = 0.0, **deg: float) -> np.ndarray:
    p = np.zeros(B.N_POSE)
    p[B.P["root_yaw"]] = np.radians(yaw_deg)
    p[B.P["l_sh_abd"]] = p[B.P["r_sh_abd"]] = np.radians(25)
    for k, v in deg.items():
        p[B.P[k]] = np.radians(v)
    return p


def _pixel(img: np.ndarray, xy: np.ndarray) -> np.ndarray:
    return img[round(xy[1]), round(xy[0])]


def _near(px: np.ndarray, colour: tuple[float, float, float]) -> bool:
    """Same hue as ``colour`` (shading only scales it)."""
    c = np.asarray(colour)
    p = np.asarray(px, np.float64)
    if p.max() < 1:
        return False
    return bool(np.abs(p / p.max() - c / c.max()).max() < 0.12)


def test_visible_joints_lie_on_the_drawn_figure() -> None:
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(25):
        pose = B.random_pose(rng)
        img, gt, _ = _scene([_person(pose)])
        for k in range(17):
            if gt.visibility[0, k] != 2:
                continue
            px = _pixel(img, gt.keypoints[0, k])
            assert not _near(px, BG), f"keypoint {k} at {gt.keypoints[0, k]} is on background"
            checked += 1
    assert checked > 200


def test_joint_colours_match_their_limbs() -> None:
    # Facing the camera, arms out: wrists on skin (forearm/hand), hips on trousers/torso.
    img, gt, _ = _scene([_person(_pose(0.0, l_sh_abd=80, r_sh_abd=80))])
    for k in (L_WRIST, R_WRIST):
        assert gt.visibility[0, k] == 2
        assert _near(_pixel(img, gt.keypoints[0, k]), SKIN)
    for k in (13, 14):  # knees on the trousers
        assert gt.visibility[0, k] == 2
        assert _near(_pixel(img, gt.keypoints[0, k]), PANTS)


def test_face_visibility_follows_the_head_direction() -> None:
    _, front, _ = _scene([_person(_pose(0.0))])
    _, back, _ = _scene([_person(_pose(180.0))])
    assert (front.visibility[0, :3] == 2).all()  # nose and eyes seen from the front
    assert (back.visibility[0, :3] == 1).all()  # hidden behind the head from the back
    assert (back.visibility[0, 3:5] == 2).all()  # ears still visible from behind


def test_occluded_joints_are_covered_by_a_nearer_part() -> None:
    # Arms reaching forward: from the front the wrists are in front of the torso, from behind
    # the torso hides them.
    pose_kw = dict(l_sh_flex=45, r_sh_flex=45, l_sh_abd=0, r_sh_abd=0, l_elbow=80, r_elbow=80)
    img_f, front, _ = _scene([_person(_pose(0.0, **pose_kw))])
    img_b, back, _ = _scene([_person(_pose(180.0, **pose_kw))])
    for k in (L_WRIST, R_WRIST):
        assert front.visibility[0, k] == 2
        assert _near(_pixel(img_f, front.keypoints[0, k]), SKIN)
        assert back.visibility[0, k] == 1
        assert back.depth[0, k] > back.depth[0, 5:7].mean()  # behind the shoulders
        assert _near(_pixel(img_b, back.keypoints[0, k]), SHIRT)  # what covers it: the torso


def test_nearer_person_and_objects_occlude() -> None:
    far = _person(_pose(0.0), u=160, v=170, height_px=200)
    near_look = _look(skin=(200.0, 200.0, 200.0), shirt=(90.0, 90.0, 90.0),
                      pants=(150.0, 150.0, 150.0))
    near = _person(_pose(0.0), u=185, v=200, height_px=300, look=near_look)
    img, gt, _ = _scene([far, near])
    hidden = [k for k in BODY if gt.visibility[0, k] == 1]
    assert hidden, "the nearer person should hide some joints of the farther one"
    for k in hidden:
        px = _pixel(img, gt.keypoints[0, k])
        assert abs(float(px[0]) - float(px[2])) < 40  # grey: the nearer person's clothes
    assert (gt.depth[1].mean() < gt.depth[0].mean())
    # an object over the hips
    probe = _person(_pose(0.0))
    _, g0, _ = _scene([probe])
    mask = np.zeros((320, 320), bool)
    cy = round(g0.keypoints[0, L_HIP, 1])
    mask[cy - 12 : cy + 12, :] = True
    img2, g2, _ = _scene([probe], occluders=[(mask, np.asarray(OCCLUDER, np.float32))])
    for k in (L_HIP, R_HIP):
        assert g2.visibility[0, k] == 1
        assert _near(_pixel(img2, g2.keypoints[0, k]), OCCLUDER)


def test_frame_edge_visibility_is_zero() -> None:
    # Pelvis near the right edge: the person's right half sticks out of the frame... or left.
    _img, gt, _ = _scene([_person(_pose(0.0, l_sh_abd=90, r_sh_abd=90), u=300)])
    xy, vis = gt.keypoints[0], gt.visibility[0]
    outside = (xy[:, 0] > 319.5) | (xy[:, 0] < -0.5) | (xy[:, 1] > 319.5) | (xy[:, 1] < -0.5)
    assert outside.any() and (~outside).any()
    assert (vis[outside] == 0).all()
    assert (vis[~outside] > 0).all()


def test_render_clip_is_deterministic_by_seed() -> None:
    a_frames, a_gt = render_clip(11, 4, (160, 120), 2)
    b_frames, b_gt = render_clip(11, 4, (160, 120), 2)
    c_frames, _ = render_clip(12, 4, (160, 120), 2)
    assert len(a_frames) == 4 and a_frames[0].shape == (120, 160, 3)
    assert a_frames[0].dtype == np.uint8
    for fa, fb in zip(a_frames, b_frames):
        np.testing.assert_array_equal(fa, fb)
    for ga, gb in zip(a_gt, b_gt):
        np.testing.assert_array_equal(ga.keypoints, gb.keypoints)
        np.testing.assert_array_equal(ga.visibility, gb.visibility)
    assert not np.array_equal(a_frames[0], c_frames[0])
    assert a_gt[0].keypoints.shape == (2, 17, 2)


def test_clip_moves_and_gives_core_instances() -> None:
    _frames, gt = render_clip(5, 6, (200, 160), 1, motions=["walk"])
    assert not np.allclose(gt[0].keypoints, gt[5].keypoints)
    insts = gt[0].instances()
    assert len(insts) == 1 and isinstance(insts[0], Instance)
    assert insts[0].xy.shape == (17, 2) and insts[0].bbox is not None


def test_styles_differ_and_bad_arguments_raise() -> None:
    d = B.sample_proportions(np.random.default_rng(0), "default")
    c = B.sample_proportions(np.random.default_rng(0), "cartoon")
    assert c.head_r > d.head_r and c.thickness > d.thickness
    with pytest.raises(SynthError):
        render_clip(0, 2, (100, 100), 1, style="nope")
    with pytest.raises(SynthError):
        render_clip(0, 0, (100, 100), 1)


def test_motions_stay_within_joint_limits() -> None:
    rng = np.random.default_rng(0)
    for kind in M.MOTIONS:
        fn = M.make_motion(kind, rng, yaw=0.3, speed_m_s=1.0)
        for t in np.linspace(0, 3, 31):
            pose, disp = fn(float(t))
            inner = np.delete(np.arange(B.N_POSE), B.P["root_yaw"])
            assert (pose[inner] >= B.LOW[inner] - 1e-9).all(), kind
            assert (pose[inner] <= B.HIGH[inner] + 1e-9).all(), kind
            assert disp.shape == (3,)


def test_random_scenes_have_consistent_ground_truth() -> None:
    rng = np.random.default_rng(1)
    for _ in range(5):
        img, gt = render_scene(rng, (200, 180))
        h, w = img.shape[:2]
        assert (h, w) == (180, 200)
        inside = ((gt.keypoints[..., 0] > -0.5) & (gt.keypoints[..., 0] < w - 0.5)
                  & (gt.keypoints[..., 1] > -0.5) & (gt.keypoints[..., 1] < h - 0.5))
        assert ((gt.visibility > 0) == inside).all()


def test_write_clip(tmp_path) -> None:
    import cv2

    frames, _ = render_clip(2, 5, (96, 64), 1)
    path = write_clip(tmp_path / "c.avi", frames, fps=10)
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 5
