"""Skeleton overlays drawn with OpenCV, and the ``render`` command."""

from __future__ import annotations

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.skeleton import COCO17, SIDE_COLORS
from pose_studio.formats.render import RenderStyle, draw_instances


def _person(kind: InstanceKind = InstanceKind.USER, vis: int = 2) -> Instance:
    rng = np.random.default_rng(0)
    xy = np.column_stack([rng.uniform(40, 280, 17), rng.uniform(30, 210, 17)])
    vis_a = np.full(17, vis, np.uint8)
    scores = np.linspace(0.1, 1.0, 17).astype(np.float32) if kind is InstanceKind.PREDICTED else None
    return Instance(xy=xy, visibility=vis_a, kind=kind, kp_scores=scores)


def test_draws_at_keypoints_and_keeps_input() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    frame.setflags(write=False)
    inst = _person()
    out = draw_instances(frame, [inst], COCO17)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert not frame.any()  # input untouched
    for k in range(17):
        x, y = np.round(inst.xy[k]).astype(int)
        assert out[y, x].any(), f"keypoint {k} not drawn"
    # Keypoint colour (BGR of the skeleton's RGB) sits at the centre of a visible point.
    x, y = np.round(inst.xy[0]).astype(int)
    r, g, b = COCO17.colors[0]
    assert np.abs(out[y, x].astype(int) - (b, g, r)).max() < 40


def test_limb_colour_by_side() -> None:
    frame = np.zeros((200, 200, 3), np.uint8)
    xy = np.zeros((17, 2))
    vis = np.zeros(17, np.uint8)
    # left_shoulder (5) -> left_elbow (7): a left limb, horizontal.
    xy[5], xy[7] = (20, 100), (180, 100)
    vis[[5, 7]] = 2
    out = draw_instances(frame, [Instance(xy=xy, visibility=vis)], COCO17,
                         RenderStyle(scale_with_frame=False))
    r, g, b = SIDE_COLORS["left"]
    np.testing.assert_allclose(out[100, 100].astype(int), (b, g, r), atol=30)
    assert not out[50, 100].any()  # nothing else drawn


def test_occluded_is_hollow_and_unlabeled_hidden() -> None:
    frame = np.zeros((200, 200, 3), np.uint8)
    xy = np.zeros((17, 2))
    vis = np.zeros(17, np.uint8)
    xy[0], vis[0] = (100, 100), 1  # occluded nose
    xy[1], vis[1] = (50, 50), 0  # unlabeled
    style = RenderStyle(point_radius=8, scale_with_frame=False)
    out = draw_instances(frame, [Instance(xy=xy, visibility=vis)], COCO17, style)
    assert not out[100, 100].any()  # centre of a ring stays empty
    assert out[100, 108].any()  # the ring itself
    assert not out[50, 50].any()


def test_predicted_style_and_min_score() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    pred = _person(InstanceKind.PREDICTED)
    user = _person(InstanceKind.USER)
    out_p = draw_instances(frame, [pred], COCO17)
    out_u = draw_instances(frame, [user], COCO17)
    # Same points; the prediction is fainter and thinner.
    assert (out_p > 0).any(axis=2).sum() < (out_u > 0).any(axis=2).sum()
    assert out_p.sum() < out_u.sum()
    # min_score hides low-scoring predicted keypoints (scores rise 0.1..1.0 over keypoints).
    out_f = draw_instances(frame, [pred], COCO17, RenderStyle(min_score=2.0))
    assert not out_f.any()


def test_grayscale_and_boxes() -> None:
    frame = np.full((120, 160), 30, np.uint8)
    xy = np.array([[20.0, 20.0]] * 17)
    xy[1] = (100, 90)
    inst = Instance(xy=xy, visibility=np.full(17, 2, np.uint8), kind=InstanceKind.PREDICTED,
                    score=0.9)
    out = draw_instances(frame, [inst], COCO17, RenderStyle(draw_boxes=True, draw_scores=True))
    assert out.shape == (120, 160, 3)
    assert (out != 30).any()


# --- the render command ---------------------------------------------------------------------------
def _project(tmp_path):
    from pose_studio.store.project import Project
    from pose_studio.video import open_video
    from tests.support.videos import make_indexed_video

    video = make_indexed_video(tmp_path / "clip.mp4", 10, size=(160, 120))
    with open_video(video) as r:
        m = r.meta
        index = r.index_bytes()
    path = tmp_path / "p.posestudio"
    with Project.create(path, COCO17) as proj:
        vid = proj.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                             fps=m.fps, vfr=m.vfr, codec=m.codec, duration_s=m.duration_s,
                             index=index)
        user = _person().replace(xy=_person().xy / 2)  # inside the 160x120 frame
        proj.add_instance(vid, 3, user)
        pred = _person(InstanceKind.PREDICTED)
        proj.add_instance(vid, 4, pred.replace(xy=pred.xy / 2))
    return path, video, user


def test_render_command_pngs(tmp_path, capsys) -> None:
    import cv2

    from pose_studio.cli.main import main
    from pose_studio.video import open_video

    path, video, user = _project(tmp_path)
    out = tmp_path / "frames"
    assert main(["render", str(path), "--frames", "2:6", "--source", "user", "--out", str(out),
                 "--quiet"]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == [f"frame_{i:06d}.png" for i in range(2, 6)]
    with open_video(video) as r:
        raw3, raw4 = r.get(3), r.get(4)
    img3 = cv2.imread(str(out / "frame_000003.png"))
    img4 = cv2.imread(str(out / "frame_000004.png"))
    diff = np.abs(img3.astype(int) - raw3.astype(int)).sum(axis=2)
    for x, y in np.round(user.xy).astype(int):
        assert diff[y, x] > 60
    # --source user: the prediction on frame 4 is not drawn.
    assert np.abs(img4.astype(int) - raw4.astype(int)).max() == 0


def test_render_command_video_and_errors(tmp_path, capsys) -> None:
    from pose_studio.cli.main import main
    from pose_studio.video import open_video
    from tests.support.videos import read_index_from_frame

    path, _, _ = _project(tmp_path)
    out = tmp_path / "out.mp4"
    assert main(["render", str(path), "--out", str(out), "--quiet"]) == 0
    with open_video(out) as r:
        assert len(r) == 10
        assert read_index_from_frame(r.get(7)) == 7  # overlays leave the pattern readable
    assert main(["render", str(path), "--video", "99", "--out", str(out)]) == 1
    assert "no video '99'" in capsys.readouterr().err
    assert main(["render", str(path), "--frames", "50:60", "--out", str(out)]) == 1


def test_render_hides_accepted_predictions() -> None:
    from pose_studio.cli.cmd_render import _select

    pred = _person(InstanceKind.PREDICTED).replace(id=7)
    other = _person(InstanceKind.PREDICTED).replace(id=8)
    user = pred.as_user_copy().replace(id=9)
    assert _select([pred, other, user], "all", InstanceKind) == [other, user]
    assert _select([pred, other, user], "user", InstanceKind) == [user]
    assert _select([pred, other, user], "predicted", InstanceKind) == [pred, other]
