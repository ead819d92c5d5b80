"""Property: any sequence of edits on a real project file, undone in reverse order, restores the
store exactly; redo re-applies it; every edit (a batch too) is one step and one transaction; the
journal read after reopening is the journal written."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.edits import Edit
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project, summary
from pose_studio.store import journal as jr

K = 17
FRAMES = 12


def snapshot(p: Project) -> tuple[list[tuple[int, int, Instance]], list[np.ndarray]]:
    """Every instance, and the per-frame summary (checked against the instances themselves)."""
    fa = p.frame_arrays(1)
    with p._read() as conn:
        truth = summary.arrays_from_instances(conn, 1, FRAMES)
    arrays = [fa.labeled, fa.predicted, fa.min_score, fa.mean_score]
    for got, want in zip(arrays, [truth.labeled, truth.predicted, truth.min_score,
                                  truth.mean_score]):
        assert np.allclose(got, want, equal_nan=True, rtol=1e-6)
    return list(p.iter_instances("all")), arrays


def same(a: tuple, b: tuple) -> bool:
    (ia, fa), (ib, fb) = a, b
    return (len(ia) == len(ib)
            and all((x[0], x[1]) == (y[0], y[1]) and x[2].same_values(y[2]) for x, y in zip(ia, ib))
            and all(np.array_equal(x, y, equal_nan=True) for x, y in zip(fa, fb)))


@st.composite
def new_instance(draw: st.DrawFn) -> Instance:
    pred = draw(st.booleans())
    xy = draw(st.lists(st.floats(0, 200, allow_nan=False, width=32), min_size=2 * K,
                       max_size=2 * K))
    vis = draw(st.lists(st.integers(0, 2), min_size=K, max_size=K))
    return Instance(
        xy=np.reshape(xy, (K, 2)), visibility=vis,
        kind=InstanceKind.PREDICTED if pred else InstanceKind.USER,
        kp_scores=np.linspace(0.1, 0.9, K) if pred else None,
        score=draw(st.none() | st.floats(0, 1, width=32)) if pred else None,
        bbox=draw(st.none() | st.just((1.0, 2.0, 50.0, 60.0))),
    )


def draw_edit(data: st.DataObject, p: Project) -> Edit:
    """One random edit against what the store holds now (add, delete, set, or a batch)."""
    current = list(p.iter_instances("all"))

    def one() -> Edit:
        ops = ["add"] + (["delete", "set", "set"] if current else [])
        op = data.draw(st.sampled_from(ops))
        if op == "add":
            frame = data.draw(st.integers(0, FRAMES - 1))
            insts = data.draw(st.lists(new_instance(), min_size=1, max_size=3))
            return Edit.add(1, frame, insts, "add")
        i = data.draw(st.integers(0, len(current) - 1))
        v, f, inst = current[i]
        if op == "delete":
            current.pop(i)
            return Edit.delete(v, f, inst, "delete")
        k = data.draw(st.integers(0, K - 1))
        how = data.draw(st.sampled_from(["move", "visibility", "translate"]))
        if how == "move":
            after = inst.with_keypoint(k, xy=(data.draw(st.floats(0, 200, width=32)), 3.5))
        elif how == "visibility":
            after = inst.with_keypoint(k, visibility=data.draw(st.integers(0, 2)))
        else:
            after = inst.translated(data.draw(st.floats(-5, 5, width=32)), 1.0)
        current[i] = (v, f, after)  # a later change in the same batch starts from here
        return Edit.set_instance(v, f, inst, after, how)

    if data.draw(st.integers(0, 3)) == 0:
        return Edit.batch("batch", [one() for _ in range(data.draw(st.integers(1, 4)))])
    return one()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n_edits=st.integers(1, 8))
def test_undo_in_reverse_restores_the_store_exactly(data: st.DataObject, n_edits: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.posestudio"
        p = Project.create(path, COCO17)
        try:
            p.add_video(Path(tmp) / "v.mp4", width=200, height=200, frame_count=FRAMES, fps=10)
            commits = [0]
            event.listen(p._engine, "commit", lambda conn: commits.__setitem__(0, commits[0] + 1))
            states = [snapshot(p)]
            for i in range(n_edits):
                edit = draw_edit(data, p)
                c0 = commits[0]
                applied = p.apply_edit(edit)
                assert commits[0] - c0 == 1  # one transaction, the journal entry included
                assert len(p.history()) == i + 1  # one step, a batch too
                assert applied.edit is not None and len(applied.edit.changes) == len(edit.changes)
                states.append(snapshot(p))
            journal = p.history()
            payloads = [jr.entry_edit(p, e.seq) for e in journal]
            for i in range(n_edits, 0, -1):
                c0 = commits[0]
                p.undo()
                assert commits[0] - c0 == 1
                assert same(snapshot(p), states[i - 1])
            for i in range(1, n_edits + 1):
                p.redo()
                assert same(snapshot(p), states[i])
        finally:
            p.close()
        with Project.open(path) as again:
            assert again.history() == journal
            assert all(jr.entry_edit(again, e.seq).equals(x) for e, x in zip(journal, payloads))
            assert same(snapshot(again), states[-1])
