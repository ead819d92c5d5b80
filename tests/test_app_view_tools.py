"""The window's labeling helpers without Qt: the skeleton draft and its change through the
session, click-to-place, pose trails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose_studio.app import editing as ed
from pose_studio.app import placing
from pose_studio.app.session import Session, Topic
from pose_studio.app.skeleton_draft import SkeletonDraft
from pose_studio.app.trails import CHUNK, Trails
from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.skeleton import COCO17, SkeletonError
from pose_studio.core.skeleton_edit import NEW
from pose_studio.store import Project
from pose_studio.store.frame_range import instances_between

K = 17


def _pose(cx: float, cy: float = 50.0, pred: bool = False, track: int | None = None) -> Instance:
    xy = np.stack([np.linspace(cx - 10, cx + 10, K), np.linspace(cy - 30, cy + 30, K)], 1)
    return Instance(xy=xy, visibility=np.full(K, 2, np.uint8),
                    kind=InstanceKind.PREDICTED if pred else InstanceKind.USER,
                    kp_scores=np.full(K, 0.8) if pred else None, score=0.8 if pred else None,
                    track_id=track)


@pytest.fixture
def session(tmp_path: Path):
    p = Project.create(tmp_path / "p.posestudio", COCO17)
    p.add_video(tmp_path / "v.mp4", width=320, height=240, frame_count=300, fps=25.0)
    s = Session(user="tess")
    s.open(p)
    s.set_video(1, 300, 25.0)
    s.show_pixels(0, np.zeros((240, 320, 3), np.uint8))
    seen: list[frozenset[Topic]] = []
    s.subscribe(lambda t, f: seen.append(t))
    s.seen = seen  # type: ignore[attr-defined]
    yield s
    s.close()


# --- skeleton draft ------------------------------------------------------------------------------
def test_draft_edits_become_one_change() -> None:
    d = SkeletonDraft(COCO17)
    neck = d.add("neck", after=d.key_of("nose"))
    d.rename(d.key_of("nose"), "snout")
    d.remove(d.key_of("left_ear"))
    d.add_edge(neck, d.key_of("left_shoulder"))
    d.set_partner(d.key_of("right_eye"), d.key_of("left_eye"))  # kept as (left, right)
    d.set_color(neck, (1, 2, 3))
    d.move(neck, 5)
    ch = d.change()
    sk = ch.after
    assert sk.name == "coco17-custom" and sk.num_keypoints == K
    assert sk.keypoints[0] == "snout" and ch.source[sk.index("neck")] == NEW
    assert sk.colors[sk.index("neck")] == (1, 2, 3) and ch.removed == (3,)
    assert (sk.index("neck"), sk.index("left_shoulder")) in sk.edges
    assert (sk.index("left_eye"), sk.index("right_eye")) in sk.flip_pairs
    assert sk.side(sk.index("left_eye")) == "left"
    assert len(sk.edges) == len(COCO17.edges) - 2 + 1  # left_ear's two edges went with it
    assert d.removed_names() == ["left_ear"]
    for bad, match in ((lambda: d.add("neck"), "already"), (lambda: d.add(" "), "needs a name"),
                       (lambda: d.add("a,b"), "commas"),
                       (lambda: d.add_edge(neck, neck), "different"),
                       (lambda: d.set_partner(neck, neck), "own flip")):
        with pytest.raises(SkeletonError, match=match):
            bad()


def test_session_changes_the_skeleton_and_undo_is_exact(session: Session) -> None:
    p = session.require()
    first = p.add_instance(1, 0, _pose(100))
    session.predictions_written(1, [0])
    session.select(first.id, 3)
    d = SkeletonDraft(COCO17)
    d.remove(d.key_of("left_ear"))
    d.add("tail")
    session.seen.clear()
    session.change_skeleton(d.change())
    assert Topic.SKELETON in set().union(*session.seen)
    assert session.skeleton is not None and session.skeleton.keypoints[-1] == "tail"
    (inst,) = session.instances()
    assert inst.num_keypoints == K and inst.visibility[-1] == 0
    assert session.selected_instance_id == first.id and session.selected_keypoint is None
    assert session.history.undo_text().startswith("skeleton: add tail; remove left_ear")
    session.undo()
    assert session.skeleton == COCO17 and session.instances()[0].same_values(first)
    session.redo()
    assert session.skeleton is not None and session.skeleton.keypoints[-1] == "tail"


# --- click to place --------------------------------------------------------------------------------
def test_click_to_place_from_nothing(session: Session) -> None:
    state = placing.PlaceState()
    state.follow(session)
    assert state.part == 0
    ed.run(session, placing.place(session, None, state.part, 30.0, 40.0))
    (inst,) = session.instances()
    assert session.selected_instance_id == inst.id and inst.labeled.tolist() == [True] + [False] * 16
    state.placed(session, 0)
    assert state.part == 1
    state.pick(5)  # the user picks a part from the list
    ed.run(session, placing.place(session, inst.id, 5, 60.0, 41.0, occluded=True))
    state.placed(session, 5)
    assert state.part == 6
    inst = session.instances()[0]
    assert inst.visibility[5] == 1 and tuple(inst.xy[5]) == (60.0, 41.0)
    assert len(session.history.steps) == 2  # one step per click
    assert placing.unlabeled(inst, K)[:3] == [1, 2, 3]
    session.undo()
    assert session.instances()[0].visibility[5] == 0
    state.step(session, -1)
    assert state.part == 5
    full = inst.replace(visibility=np.full(K, 2, np.uint8))
    assert placing.next_unlabeled(full, 3, K) is None
    assert placing.next_unlabeled(inst.with_keypoint(16, visibility=2), 15, K) == 1  # wraps


def test_placing_on_a_prediction_makes_a_linked_label(session: Session) -> None:
    p = session.require()
    run = p.create_model_run(model_path="m.onnx", model_hash="x", providers=["CPU"], params={})
    p.add_predictions(1, [(0, _pose(100, pred=True))], run)
    session.predictions_written(1, [0])
    (pred,) = session.visible_predictions()
    ed.run(session, placing.place(session, pred.id, 9, 5.0, 6.0))
    (user,) = session.instances(InstanceKind.USER)
    assert user.source_id == pred.id and tuple(user.xy[9]) == (5.0, 6.0)
    session.shown = None
    session.show_pixels(0, np.zeros((4, 4, 3), np.uint8), exact=False)
    assert placing.place(session, user.id, 1, 1.0, 1.0).why is not None  # a scrub preview


# --- trails -----------------------------------------------------------------------------------------
def test_trails_follow_tracks_and_nearest_people_without_a_query_per_frame(
        session: Session) -> None:
    p = session.require()
    t1, t2 = p.create_track("a"), p.create_track("b")
    for f in range(0, 200):
        p.add_instance(1, f, _pose(100 + f * 0.5, track=t1))
        p.add_instance(1, f, _pose(104 + f * 0.5, cy=120, track=t2))  # close, other track
        if f % 3:  # an untracked person, moving 1 px a frame
            p.add_instance(1, f, _pose(250 - f, cy=200))
    calls: list[tuple[int, int, int]] = []

    def read(v: int, a: int, b: int):  # type: ignore[no-untyped-def]
        calls.append((v, a, b))
        return instances_between(p, v, a, b)

    trails = Trails(read)
    here = [i for f_, i in instances_between(p, 1, 130, 131)]
    out = trails.trails(1, 130, here, 5, 300)
    a, b, c = out
    assert a.offsets.tolist() == [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5]
    assert np.allclose(a.xy[:, 0, 0], [100 + g * 0.5 - 10 for g in range(125, 136)])
    assert np.allclose(b.xy[:, 0, 1], 120 - 30)  # its own track, never the other one
    assert c.offsets.tolist() == [-5, -3, -2, 0, 1, 3, 4]  # frames 126, 129, 132, 135 lack it
    assert len(calls) == 2  # chunks 0 and 1 (frames 125..135 straddle 128)
    for f in range(131, 140):
        trails.trails(1, f, here, 5, 300)
    assert len(calls) == 2 and trails.reads == 2
    trails.invalidate([(1, 131)])
    trails.trails(1, 130, here, 5, 300)
    assert len(calls) == 3 and calls[-1][1] == CHUNK
    assert trails.trails(1, 0, here[:1], 3, 300)[0].offsets.tolist() == [0, 1, 2, 3]


def test_live_predictions_follow_an_edited_skeleton_by_name(session: Session) -> None:
    from types import SimpleNamespace

    from pose_studio.app.predictions import ModelInfo, write_results
    from pose_studio.core.errors import PoseStudioError

    d = SkeletonDraft(COCO17)
    d.remove(d.key_of("left_ear"))
    d.add("neck", after=d.key_of("nose"))  # 17 keypoints again, other names
    session.change_skeleton(d.change())
    info = ModelInfo("m.onnx", None, "heatmap", COCO17.keypoints, COCO17, (64, 48), ("CPU",))
    pred = _pose(100, pred=True)
    session.store_predictions(info, [SimpleNamespace(frame_idx=0, instances=[pred])])
    (got,) = session.visible_predictions()
    sk = session.skeleton
    assert sk is not None and got.visibility[sk.index("neck")] == 0
    for name in ("nose", "right_ear", "left_ankle"):
        assert tuple(got.xy[sk.index(name)]) == tuple(pred.xy[COCO17.index(name)])
    with pytest.raises(PoseStudioError, match="share no name"):
        write_results(session.require(), 1, [], None, keypoints=("a", "b"))
