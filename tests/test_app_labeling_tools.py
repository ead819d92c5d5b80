"""Issue 15's tools as edit verbs, without Qt, on a real project file: each one is ONE step of
the history; undo restores every instance (and track row) exactly; redo makes it again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pose_studio.app import bulk, carry, pose_tools, tracks
from pose_studio.app import editing as ed
from pose_studio.app import suggestions as sug
from pose_studio.app.session import Session, Topic
from pose_studio.core.annotation import Instance, InstanceKind, Provenance
from pose_studio.core.edits import Edit, StaleEditError, TrackChange
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project
from pose_studio.store import suggestions as stored_suggestions
from pose_studio.store.edit_codec import decode_edit, encode_edit
from pose_studio.store.tracks import track_spans
from pose_studio.video import open_video
from tests.support.moving_blobs import write_drifting_slab

K = 17
N = 24
V = (0.6, 0.35)  # px per frame of the textured slab


def figure(f: int, x0: float = 60.0, vx: float = V[0]) -> np.ndarray:
    rows = [(0, 0), (3, -3), (-3, -3), (6, -1), (-6, -1), (15, 20), (-15, 20), (18, 45),
            (-18, 45), (20, 70), (-20, 70), (10, 75), (-10, 75), (11, 100), (-11, 100),
            (12, 120), (-12, 120)]
    return np.array(rows, np.float64) + np.array([x0 + vx * f, 30 + V[1] * f])


def label(f: int, track: int | None = None, **kw: Any) -> Instance:
    return Instance(xy=figure(f, **kw), visibility=np.full(K, 2), track_id=track)


def pred(xy: np.ndarray, score: float = 0.9, track: int | None = None) -> Instance:
    return Instance(xy=xy, visibility=np.full(K, 2), kind=InstanceKind.PREDICTED,
                    kp_scores=np.full(K, score), score=score, track_id=track)


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PNG frames (lossless): a textured slab drifting by sub-pixel steps."""
    d = tmp_path_factory.mktemp("frames")
    return write_drifting_slab(d, N, V)


@pytest.fixture
def s(tmp_path: Path, frames_dir: Path) -> Iterator[Session]:
    p = Project.create(tmp_path / "p.posestudio", COCO17)
    with open_video(frames_dir) as r:
        m = r.meta
        p.add_video(frames_dir, width=m.width, height=m.height, frame_count=m.frame_count,
                    fps=m.fps, kind=m.kind)
    p.add_video(tmp_path / "second.mp4", width=240, height=200, frame_count=N, fps=25.0)
    session = Session(user="tess")
    session.open(p)
    session.set_video(1, N, 25.0)
    seen: list[frozenset[Topic]] = []
    session.subscribe(lambda t, _f: seen.append(t))
    session.seen = seen  # type: ignore[attr-defined]
    yield session
    session.close()


def snapshot(p: Project) -> tuple[dict[int, tuple[int, int, Instance]], list[Any]]:
    return ({int(i.id): (v, f, i) for v, f, i in p.iter_instances("all", run="all")},  # type: ignore[arg-type]
            p.tracks())


def same(a: tuple[dict[int, tuple[int, int, Instance]], list[Any]],
         b: tuple[dict[int, tuple[int, int, Instance]], list[Any]]) -> bool:
    if a[1] != b[1] or a[0].keys() != b[0].keys():
        return False
    return all(a[0][i][:2] == b[0][i][:2] and a[0][i][2].same_values(b[0][i][2]) for i in a[0])


def one_step(s: Session, plan: ed.Plan) -> Edit:
    """Apply ``plan`` as the user would; check it is one step that undo and redo walk exactly.
    Returns the edit as applied."""
    assert plan.edit is not None, plan.why
    p = s.require()
    before = snapshot(p)
    n = len(p.history())
    applied = ed.run(s, plan)
    assert applied is not None
    after = snapshot(p)
    assert not same(before, after)
    assert len(p.history()) == n + 1 and p.history()[-1].label == plan.edit.label
    s.undo()
    assert same(snapshot(p), before)
    s.redo()
    assert same(snapshot(p), after)
    return applied


def put(s: Session, frame: int, *insts: Instance, video: int = 1) -> list[Instance]:
    """Instances stored directly (outside the history, as another tool would)."""
    p = s.require()
    out = []
    for i in insts:
        if i.is_prediction:
            run = p.create_model_run(model_path="m.onnx", model_hash="h", providers=[], params={})
            p.add_predictions(video, [(frame, i)], run)
            out.append(p.instances(video, frame, kind=InstanceKind.PREDICTED)[-1])
        else:
            out.append(p.add_instance(video, frame, i))
    s.predictions_written(video, [frame])
    return out


# --- edits with track rows -------------------------------------------------------------------
def test_track_rows_travel_with_the_edit_and_its_journal_entry(s: Session) -> None:
    p = s.require()
    (a,) = put(s, 3, label(3))
    edit = Edit.track_rows("new track", [TrackChange(7, None, "runner")],
                           [ed.Edit.set_instance(1, 3, a, a.replace(track_id=7), "x").changes[0]])
    back = decode_edit(encode_edit(edit))
    assert back.equals(edit) and back.tracks == (TrackChange(7, None, "runner"),)
    assert decode_edit(encode_edit(Edit.track_rows("r", [TrackChange(7, "a", "b")]))).changes == ()
    one_step(s, ed.Plan(edit))
    assert [(t.id, t.name) for t in p.tracks()] == [(7, "runner")]
    assert Topic.TRACKS in s.seen[-1]  # type: ignore[attr-defined]
    # a track row cannot go while an instance still points at it
    with pytest.raises(StaleEditError, match="still has 1 instances"):
        p.apply_edit(Edit.track_rows("drop", [TrackChange(7, "runner", None)]))
    with pytest.raises(StaleEditError, match="exists already"):
        p.apply_edit(Edit.track_rows("again", [TrackChange(7, None, "other")]))
    assert [(t.id, t.name) for t in p.tracks()] == [(7, "runner")]


# --- swaps, copy and paste -------------------------------------------------------------------
def test_swap_keypoint_and_sides(s: Session) -> None:
    sk = COCO17
    la, ra = sk.index("left_ankle"), sk.index("right_ankle")
    (p0,) = put(s, 0, pred(figure(0)))
    assert pose_tools.swap_keypoint(s).why is not None  # nothing selected
    s.select(p0.id, la)
    applied = one_step(s, pose_tools.swap_keypoint(s))
    (user,) = s.instances(InstanceKind.USER)  # the prediction became a linked label
    assert user.source_id == p0.id and applied.label == "swap left_ankle and right_ankle"
    np.testing.assert_allclose(user.xy[la], figure(0)[ra])
    np.testing.assert_allclose(user.xy[ra], figure(0)[la])
    assert user.provenance[la] == Provenance.USER
    s.select(user.id, sk.index("nose"))
    assert "no left/right partner" in (pose_tools.swap_keypoint(s).why or "")
    one_step(s, pose_tools.swap_sides(s))
    flipped = s.instance(user.id)
    assert flipped is not None
    np.testing.assert_allclose(flipped.xy[sk.flip_permutation()], user.xy)


def test_copy_paste_and_copy_previous_frame(s: Session) -> None:
    (a,) = put(s, 2, label(2, x0=40))
    s.goto(2)
    s.select(a.id)
    pose = pose_tools.copy_pose(s)
    assert pose is not None and pose.id is None
    s.goto(5)
    assert pose_tools.paste_pose(s, None).why is not None
    one_step(s, pose_tools.paste_pose(s, pose))  # as a new label
    (new,) = s.instances(InstanceKind.USER)
    np.testing.assert_allclose(new.xy, a.xy)
    (b,) = put(s, 6, label(6, x0=100))
    s.goto(6)
    s.select(b.id)
    one_step(s, pose_tools.paste_pose(s, pose))  # onto the selected label: same id
    got = s.instance(b.id)
    assert got is not None
    np.testing.assert_allclose(got.xy, a.xy)
    s.goto(7)
    applied = one_step(s, pose_tools.copy_previous_frame(s))
    assert applied.label == "copy 1 instance from frame 6"
    s.goto(0)
    assert pose_tools.copy_previous_frame(s).why == "no labeled frame before this one"


# --- interpolation and propagation -----------------------------------------------------------
def test_interpolation_is_ghosts_then_one_step(s: Session) -> None:
    p = s.require()
    tid = p.create_track("dancer")
    for f in (2, 12, 20):
        put(s, f, label(f, tid))
    got = carry.interpolation(s, "cubic")
    assert isinstance(got, carry.Interpolation)
    assert sorted(got.ghosts) == [f for f in range(3, 20) if f != 12]
    assert got.span == (3, 19)
    np.testing.assert_allclose(got.ghosts[7][0].xy, figure(7), atol=1e-9)
    applied = one_step(s, got.plan)
    assert len(applied.changes) == 16 and applied.label == "interpolate 16 frames (cubic)"
    again = carry.interpolation(s, "cubic")
    assert isinstance(again, carry.Interpolation) and again.plan.edit is None
    assert "already hold" in (again.plan.why or "")
    # a label moved at frame 12: linear interpolation updates its own output, one step
    k12 = p.instances(1, 12)[0]
    p.update_instance(k12.replace(xy=k12.xy + 4.0))
    lin = carry.interpolation(s, "linear")
    assert isinstance(lin, carry.Interpolation)
    applied = one_step(s, lin.plan)
    assert all(c.before is not None for c in applied.changes)  # replaced, nothing added


def test_propagation_request_run_and_one_step(s: Session) -> None:
    p = s.require()
    tid = p.create_track("t")
    put(s, 4, label(4, tid))
    put(s, 10, label(10, tid, x0=63.0))  # the track's next label: propagation stops before it
    s.goto(4)
    req = carry.propagation_request(s, +1)
    assert isinstance(req, carry.PropagationRequest)
    assert (req.from_frame, req.to_frame, len(req.start)) == (4, 9, 1)
    assert not req.sigmas.flags.writeable
    seen: list[tuple[int, int]] = []
    res = carry.run_propagation(req, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (5, 5) and not res.cancelled
    applied = one_step(s, carry.propagation_plan(p, req, res))
    assert applied.label == "propagate 1 label frames 4→9"
    got = {f: i for f, i in ((f, i) for v, f, i in p.iter_instances("user", 1))}
    assert sorted(got) == [4, 5, 6, 7, 8, 9, 10]
    err = np.median(np.linalg.norm(got[9].xy - figure(9), axis=1))
    assert err < 0.5 and (got[9].provenance == Provenance.PROPAGATED).all()
    # again from frame 4: updates its own output; a cancelled run keeps the frames done
    asked = iter(range(100))
    res2 = carry.run_propagation(req, cancel=lambda: next(asked) >= 3)  # after 3 frames
    assert res2.cancelled and sorted(res2.frames) == [5, 6, 7]
    plan = carry.propagation_plan(p, req, res2)
    assert plan.why is not None or "cancelled" in (plan.done or "")
    # backward from a propagated frame: not a label
    s.goto(9)
    why = carry.propagation_request(s, -1)
    assert isinstance(why, ed.Plan) and "no label to propagate" in (why.why or "")


def test_propagation_reads_the_tracks_labels_behind_the_start(s: Session) -> None:
    """The labels on the frames behind the start are the motion and each point's trajectory
    (``core.motion``): the request carries up to ``HISTORY_FRAMES`` of them, one per frame."""
    p = s.require()
    tid = p.create_track("t")
    other = p.create_track("u")
    for f in (2, 3, 5, 6):
        put(s, f, label(f, tid), label(f, other, x0=150.0))
    s.goto(6)
    req = carry.propagation_request(s, +1)
    assert isinstance(req, carry.PropagationRequest) and len(req.start) == 2
    mine = next(i for i, st in enumerate(req.start) if st.track_id == tid)
    behind = req.history[mine]
    assert len(behind) == carry.HISTORY_FRAMES
    got = [b is not None for b in behind]
    assert got == [True, False, True, True] + [False] * (carry.HISTORY_FRAMES - 4)
    assert all(b.track_id == tid for b in behind if b is not None)  # never the other track
    np.testing.assert_allclose(behind[2].xy, figure(3))  # type: ignore[union-attr]


def test_propagation_says_where_points_stopped(s: Session) -> None:
    p = s.require()
    inst = label(20)
    xy = np.array(inst.xy)
    xy[0] = (238.5, 5.0)  # the nose on the flat border: the flow cannot follow it
    put(s, 20, inst.replace(xy=xy))
    s.goto(20)
    req = carry.propagation_request(s, +1)
    assert isinstance(req, carry.PropagationRequest) and req.to_frame == N - 1
    res = carry.run_propagation(req)
    plan = carry.propagation_plan(p, req, res)
    assert "1 point stopped: nose at frame 21 (" in (plan.done or ""), plan.done
    one_step(s, plan)
    put(s, 22, pred(figure(22)))  # with the model to fill with, a lost point goes on
    req = carry.propagation_request(s, +1)
    assert isinstance(req, carry.PropagationRequest) and list(req.predictions or {}) == [22]
    text = carry.stops_text(req, carry.run_propagation(req))
    assert text.startswith("the flow lost 1 point (nose at frame 21") and "carried" in text


# --- bulk edits ------------------------------------------------------------------------------
def test_bulk_edits_over_a_range_are_one_step_each(s: Session) -> None:
    p = s.require()
    run = p.create_model_run(model_path="m.onnx", model_hash="h", providers=[], params={})
    p.add_predictions(1, [(f, pred(figure(f), 0.3 if f % 3 == 0 else 0.9)) for f in range(N)],
                      run)
    s.predictions_written(1)
    applied = one_step(s, bulk.bulk(s, bulk.BulkRequest("accept_above", (0, 12), 0.5)))
    assert len(applied.changes) == 8 and applied.label == "accept 8 predictions ≥ 0.50"
    assert bulk.bulk(s, bulk.BulkRequest("accept_above", (0, 12), 0.5)).why is not None
    applied = one_step(s, bulk.bulk(s, bulk.BulkRequest("delete_below", (12, 24), 0.5)))
    assert sorted(c.frame_idx for c in applied.changes) == [12, 15, 18, 21]
    applied = one_step(s, bulk.bulk(s, bulk.BulkRequest("delete_range", (20, 24))))
    assert sorted(c.frame_idx for c in applied.changes) == [20, 22, 23]
    tid = p.create_track("x")
    for f in (1, 2):
        put(s, f, label(f, tid, x0=150))
    applied = one_step(s, bulk.bulk(s, bulk.BulkRequest("delete_track", (0, 2), track_id=tid)))
    assert [c.frame_idx for c in applied.changes] == [1]
    assert bulk.bulk(s, bulk.BulkRequest("delete_track", (0, 2))).why is not None


# --- tracks ----------------------------------------------------------------------------------
def _two_people(s: Session) -> None:
    p = s.require()
    run = p.create_model_run(model_path="m.onnx", model_hash="h", providers=[], params={})
    rng = np.random.default_rng(0)
    items = []
    for f in range(N):
        pair = [pred(figure(f)), pred(figure(f, x0=200, vx=-2.0), 0.8)]
        items += [(f, pair[i]) for i in rng.permutation(2)]
    p.add_predictions(1, items, run)
    s.predictions_written(1)


def test_the_tracker_is_one_step_and_labels_follow_their_prediction(s: Session) -> None:
    p = s.require()
    _two_people(s)
    s.goto(3)
    slow = min(s.visible_predictions(), key=lambda i: i.xy[0, 0])
    ed.run(s, ed.accept(s, slow.id))  # a label accepted from the slow person's prediction
    req = tracks.tracker_request(p, 1)
    assert req.n_predictions == 2 * N
    numbers = tracks.run_tracker(req)
    applied = one_step(s, tracks.tracker_plan(p, req, numbers))
    assert [t.before for t in applied.tracks] == [None, None]
    spans = track_spans(p, 1)
    assert [(sp.first, sp.last, sp.n_predicted) for sp in spans] == [(0, N - 1, N)] * 2
    user = s.instances(InstanceKind.USER)[0]
    assert user.track_id == p.instance(slow.id).track_id  # type: ignore[arg-type]
    assert sorted(sp.n_user for sp in spans) == [0, 1]
    # again: new tracks, the old rows (now empty) go in the same step
    req = tracks.tracker_request(p, 1)
    applied = one_step(s, tracks.tracker_plan(p, req, tracks.run_tracker(req)))
    assert sorted(t.after is None for t in applied.tracks) == [False, False, True, True]
    assert len(p.tracks()) == 2
    assert tracks.identity_switches(p, 1) == []  # two people apart


def test_rename_merge_split_delete_and_swap_identities(s: Session) -> None:
    p = s.require()
    _two_people(s)
    req = tracks.tracker_request(p, 1)
    ed.run(s, tracks.tracker_plan(p, req, tracks.run_tracker(req)))
    a, b = (t.id for t in p.tracks())
    one_step(s, tracks.rename_track(p, a, "  Ann  "))
    assert p.tracks()[0].name == "Ann"
    assert "another track" in (tracks.rename_track(p, b, "Ann").why or "")
    assert "both have predictions" in (tracks.merge_tracks(p, a, b).why or "")
    # split b at 10, then merge the pieces back
    applied = one_step(s, tracks.split_track(p, b, 1, 10))
    (new,) = (t.track_id for t in applied.tracks)
    assert [(sp.first, sp.last) for sp in track_spans(p, 1)] == [(0, N - 1), (0, 9), (10, N - 1)]
    assert "nothing before frame 0" in (tracks.split_track(p, a, 1, 0).why or "")
    one_step(s, tracks.merge_tracks(p, b, new))
    assert [(sp.first, sp.last) for sp in track_spans(p, 1)] == [(0, N - 1), (0, N - 1)]
    # swap identities from frame 8 on: one step
    s.goto(8)
    ann = next(i for i in s.people() if i.track_id == a)
    s.select(ann.id)
    applied = one_step(s, tracks.swap_identities(s))
    assert len(applied.changes) == 2 * (N - 8)
    assert {c.frame_idx for c in applied.changes} == set(range(8, N))
    assert s.instance(ann.id).track_id == b  # type: ignore[union-attr]
    one_step(s, tracks.delete_track(p, a))
    assert [t.id for t in p.tracks()] == [b]
    assert sum(i.track_id is None for _, _, i in p.iter_instances()) == N


# --- suggestions -----------------------------------------------------------------------------
def test_suggestions_are_kept_with_done_marks_and_stepped_across_videos(s: Session) -> None:
    p = s.require()
    tid = p.create_track("t")
    items = []
    for f in range(N):
        xy = figure(f)
        if f == 9:
            xy = xy.copy()
            xy[[15, 16]] = xy[[16, 15]]  # ankles swapped on one frame
        items.append((f, pred(xy, 0.3 if f == 17 else 0.9, tid)))
    p.add_predictions(1, items, None)
    p.add_predictions(2, [(5, pred(figure(5), 0.2))], None)
    got = sug.generate(p, ["confidence", "swaps", "uniform"], 3)
    by = {(r.video_id, r.frame): r for r in got}
    assert "swaps" in by[(1, 9)].kinds and "confidence" in by[(1, 17)].kinds
    assert (2, 5) in by and "uniform" in by[(2, 0)].kinds
    assert stored_suggestions.set_done(p, 1, 17, True, "tess")
    order = [1, 2]
    nxt = sug.step(stored_suggestions.list_suggestions(p), order, 1, 12, +1)
    assert nxt is not None and (nxt.video_id, nxt.frame) == (1, 23)  # 17 is done
    nxt = sug.step(stored_suggestions.list_suggestions(p), order, 1, 23, +1)
    assert nxt is not None and nxt.video_id == 2  # on to the next video
    last = sug.step(stored_suggestions.list_suggestions(p), order, 2, 23, +1)
    assert last is not None and (last.video_id, last.frame) == (1, 0)  # wraps around
    prev = sug.step(stored_suggestions.list_suggestions(p), order, 1, 0, -1)
    assert prev is not None and prev.video_id == 2
    # regenerating keeps the done mark
    got = sug.generate(p, ["confidence"], 3, video_ids=[1])
    done = [r for r in got if r.done]
    assert [(r.video_id, r.frame, r.done_by) for r in done] == [(1, 17, "tess")]
    with pytest.raises(Exception, match="unknown suggestion kind"):
        sug.compute(p, ["magic"], 3)


def test_a_big_batch_still_checks_every_before(s: Session) -> None:
    """Big edits read their befores in a few queries: a stale one is still refused, and an
    instance changed twice in one batch is checked against its first change."""
    p = s.require()
    insts = [p.add_instance(1, f, label(f)) for f in range(20)]
    moves = [Edit.set_instance(1, f, i, i.translated(1, 0), "m") for f, i in enumerate(insts)]
    p.update_instance(insts[13].translated(5, 0))  # changed behind the edit's back
    with pytest.raises(StaleEditError, match="frame 13 was changed since"):
        p.apply_edit(Edit.batch("move all", moves))
    assert p.history() == [] and p.instance(insts[0].id).same_values(insts[0])  # type: ignore[arg-type]
    a = insts[0]
    twice = [Edit.set_instance(1, 0, a, a.translated(1, 0), "m"),
             Edit.set_instance(1, 0, a.translated(1, 0), a.translated(2, 0), "m"),
             *moves[1:13], *moves[14:]]
    p.apply_edit(Edit.batch("twice", twice))
    np.testing.assert_allclose(p.instance(a.id).xy, a.xy + np.array([2.0, 0.0]))  # type: ignore[arg-type]
    p.undo()
    assert p.instance(a.id).same_values(a)  # type: ignore[arg-type]
