"""Issue 15's tools in the window: keys, ghosts, the propagation and tracker workers, the Tracks
and Suggestions panels, the shortcuts dialog. Asserts ids, order and steps, never time."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt

from pose_studio.core.annotation import Instance, InstanceKind, Provenance
from tests.gui.conftest import FakeReader, K, open_fake, steps, wait_frame
from tests.gui.conftest import add_label as _add_user

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def win(qtbot, make_window, fake_video):
    w = make_window()
    open_fake(qtbot, w, fake_video)
    w.labeling.labeling.open_reader = lambda path, index: TexturedReader(path)
    w.labeling.suggestions.open_reader = lambda path, index: FakeReader(path)
    return w


class TexturedReader(FakeReader):
    """Frames of a blurred noise texture drifting right by half a pixel a frame (the optical
    flow has something to follow)."""

    _tex = None

    def get(self, i: int) -> np.ndarray:
        import cv2

        if TexturedReader._tex is None:
            rng = np.random.default_rng(5)
            TexturedReader._tex = cv2.GaussianBlur(
                (rng.random((120, 160, 3)) * 255).astype(np.float32), (0, 0), 1.2)
        m = np.float32([[1, 0, 0.5 * i], [0, 1, 0]])
        out = cv2.warpAffine(TexturedReader._tex, m, (160, 120), flags=cv2.INTER_CUBIC,
                             borderMode=cv2.BORDER_REFLECT)
        a = np.clip(out, 0, 255).astype(np.uint8)
        a.setflags(write=False)
        return a


def _figure(f: int, x0: float = 50.0, vx: float = 1.0) -> np.ndarray:
    base = np.stack([np.linspace(-15, 15, K), np.linspace(-40, 40, K)], 1)
    return base + np.array([x0 + vx * f, 60.0])


def _label(win, frame: int, track: int | None = None, **kw: Any) -> Instance:
    return _add_user(win, frame, inst=Instance(xy=_figure(frame, **kw),
                                               visibility=np.full(K, 2), track_id=track))


def _users(win, frame: int) -> list[Instance]:
    s = win.session
    return s.project.instances(s.video_id, frame, kind=InstanceKind.USER)


def _predict(win, frames: range) -> None:
    s = win.session
    run = s.project.create_model_run(model_path="m.onnx", model_hash="x", providers=[],
                                     params={})
    items = []
    for f in frames:
        for x0, vx in ((40.0, 0.5), (120.0, -0.5)):
            items.append((f, Instance(xy=_figure(f, x0, vx), visibility=np.full(K, 2),
                                      kind=InstanceKind.PREDICTED, kp_scores=np.full(K, 0.9),
                                      score=0.9)))
    s.project.add_predictions(s.video_id, items, run)
    s.predictions_written(s.video_id)


def test_swap_keys_and_copy_paste_are_one_step_each(qtbot, win):
    view = win.view
    inst = _label(win, 0)
    la, ra = win.session.skeleton.index("left_ankle"), win.session.skeleton.index("right_ankle")
    win.session.select(inst.id, la)
    qtbot.keyClick(view, Qt.Key.Key_X)
    got = _users(win, 0)[0]
    np.testing.assert_allclose(got.xy[la], inst.xy[ra])
    assert steps(win) == 1 and win.session.history.steps[-1].label == \
        "swap left_ankle and right_ankle"
    qtbot.keyClick(view, Qt.Key.Key_X, SHIFT)  # the whole instance
    assert steps(win) == 2
    qtbot.keyClick(view, Qt.Key.Key_C, CTRL)
    assert win.labeling.labeling.clipboard is not None
    win.goto(3)
    wait_frame(qtbot, win, 3)
    qtbot.keyClick(view, Qt.Key.Key_V, CTRL)
    assert len(_users(win, 3)) == 1 and steps(win) == 3
    win.goto(4)
    wait_frame(qtbot, win, 4)
    qtbot.keyClick(view, Qt.Key.Key_V, CTRL | SHIFT)  # copy the previous frame's
    assert len(_users(win, 4)) == 1 and steps(win) == 4
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    assert _users(win, 4) == []


def test_interpolation_ghosts_then_one_key_writes_the_span(qtbot, win):
    s = win.session
    tid = s.project.create_track("walker")
    a = _label(win, 2, tid)
    _label(win, 8, tid)
    s.select(a.id)
    lab = win.labeling.labeling
    qtbot.keyClick(win.view, Qt.Key.Key_I)
    assert lab.ghosts is not None and sorted(lab.ghosts.ghosts) == [3, 4, 5, 6, 7]
    assert steps(win) == 0 and _users(win, 5) == []  # nothing written yet
    win.goto(5)
    wait_frame(qtbot, win, 5)
    assert len(lab.ghost_layer.shown) == 1
    np.testing.assert_allclose(lab.ghost_layer.shown[0].xy, _figure(5))
    qtbot.keyClick(win.view, Qt.Key.Key_Return, CTRL)
    assert lab.ghosts is None and lab.ghost_layer.items == []
    assert [len(_users(win, f)) for f in range(2, 9)] == [1] * 7
    assert steps(win) == 1 and s.history.steps[-1].label == "interpolate 5 frames (linear)"
    assert (_users(win, 5)[0].provenance == Provenance.INTERPOLATED).all()
    qtbot.keyClick(win.view, Qt.Key.Key_Z, CTRL)
    assert [len(_users(win, f)) for f in range(2, 9)] == [1, 0, 0, 0, 0, 0, 1]
    # Shift+Esc discards ghosts
    qtbot.keyClick(win.view, Qt.Key.Key_I, SHIFT)
    assert lab.ghosts is not None and lab.ghosts.method == "cubic"
    qtbot.keyClick(win.view, Qt.Key.Key_Escape, SHIFT)
    assert lab.ghosts is None


def test_propagation_runs_in_a_worker_and_is_one_step(qtbot, win):
    s = win.session
    lab = win.labeling.labeling
    _label(win, 10, vx=0.5)
    win.goto(10)
    wait_frame(qtbot, win, 10)
    qtbot.keyClick(win.view, Qt.Key.Key_O)
    assert lab.propagating and win.labeling.progress.isVisible()
    qtbot.waitUntil(lambda: not lab.propagating, timeout=20000)
    assert not win.labeling.progress.isVisible()
    got = [f for f in range(s.frame_count) if _users(win, f)]
    assert got == list(range(10, 41)) and steps(win) == 1, lab.last_propagation
    err = np.linalg.norm(_users(win, 40)[0].xy - _figure(40, vx=0.5), axis=1)
    assert float(np.median(err)) < 0.5  # it followed the texture
    assert s.history.steps[-1].label == "propagate 1 label frames 10→40"
    assert "frames 10→40" in lab.last_propagation
    qtbot.keyClick(win.view, Qt.Key.Key_Z, CTRL)
    assert [f for f in range(s.frame_count) if _users(win, f)] == [10]


def test_propagation_re_runs_the_pose_model_and_learns_from_drags(qtbot, win, tmp_path):
    """With a top-down model in the Model panel the worker re-runs it around the person (and
    says so); a drag on a propagated frame teaches the track's offset; a model that cannot
    be re-run leaves the stored predictions to fill, and the status line says why."""
    from pose_studio.core.edits import Edit
    from tests.support.onnx_models import make_heatmap_model

    s = win.session
    lab = win.labeling.labeling
    lab.model_path = lambda: str(make_heatmap_model(tmp_path / "pose.onnx"))
    _label(win, 10, vx=0.5)
    win.goto(10)
    wait_frame(qtbot, win, 10)
    qtbot.keyClick(win.view, Qt.Key.Key_O)
    qtbot.waitUntil(lambda: not lab.propagating, timeout=20000)
    assert lab.last_propagation.startswith("propagated frames 10→40 (the model re-run around "
                                           "each person)"), lab.last_propagation
    shown = _users(win, 12)[0]
    assert lab.offsets.offsets(s.video_id, shown.track_id) is None
    s.apply(Edit.set_instance(s.video_id, 12, shown,
                              shown.with_keypoint(0, xy=(shown.xy[0, 0] + 1.0, shown.xy[0, 1])),
                              "drag"))
    assert lab.offsets.offsets(s.video_id, shown.track_id) is not None
    lab.model_path = lambda: str(make_heatmap_model(tmp_path / "five.onnx", k=5))
    qtbot.keyClick(win.view, Qt.Key.Key_O)
    qtbot.waitUntil(lambda: not lab.propagating, timeout=20000)
    assert "filled from the stored predictions: the model predicts other keypoints" in \
        lab.last_propagation, lab.last_propagation


def test_a_fix_on_a_propagated_frame_is_carried_forward(qtbot, win):
    """Drag a point on a frame the propagation filled: the frames ahead are propagated again
    from the fixed frame (their own step), never past the next label; with Carry Fixes
    Forward off nothing follows."""
    from pose_studio.core.edits import Edit

    s = win.session
    lab = win.labeling.labeling
    _label(win, 10, vx=0.5)
    label30 = _label(win, 30, vx=0.5)
    win.goto(10)
    wait_frame(qtbot, win, 10)
    qtbot.keyClick(win.view, Qt.Key.Key_O)
    qtbot.waitUntil(lambda: not lab.propagating, timeout=20000)
    assert steps(win) == 1
    before = {f: _users(win, f)[0] for f in range(11, 30)}

    def drag(frame: int, dx: float) -> None:
        shown = _users(win, frame)[0]
        s.apply(Edit.set_instance(s.video_id, frame, shown, shown.with_keypoint(
            0, xy=(shown.xy[0, 0] + dx, shown.xy[0, 1])), "drag"))

    drag(12, 4.0)
    assert steps(win) == 2
    qtbot.waitUntil(lambda: steps(win) == 3 and not lab.propagating, timeout=20000)
    assert s.history.steps[-1].label == "propagate 1 label frames 12→29"
    assert _users(win, 11)[0].same_values(before[11])  # behind the fix: untouched
    assert not _users(win, 13)[0].same_values(before[13])  # ahead: carried again
    assert _users(win, 30)[0].same_values(label30)  # the next label: never touched
    win.actions_by_id["carry_fixes"].setChecked(False)
    drag(14, 4.0)
    qtbot.wait(3 * 150)
    assert steps(win) == 4 and not lab.propagating


@pytest.mark.parametrize("tracked", [False, True])
def test_a_fix_made_while_a_carry_runs_is_carried_after_it(qtbot, win, tracked):
    """A person who fixes the next frame before the last fix's carry is done: the new fix is
    carried from its frame when that carry ends, nothing is dropped. With a track, the
    running carry is outdated by the later fix of the same track: it stops early (keeping
    what it did)."""
    from pose_studio.core.edits import Edit

    s = win.session
    lab = win.labeling.labeling
    _label(win, 10, s.project.create_track("walker") if tracked else None, vx=0.5)
    win.goto(10)
    wait_frame(qtbot, win, 10)
    qtbot.keyClick(win.view, Qt.Key.Key_O)
    qtbot.waitUntil(lambda: not lab.propagating, timeout=20000)
    lab.open_reader = lambda path, index: FakeReader(path, delay=0.05)  # a slow carry

    def drag(frame: int) -> None:
        shown = _users(win, frame)[0]
        s.apply(Edit.set_instance(s.video_id, frame, shown, shown.with_keypoint(
            0, xy=(shown.xy[0, 0] + 3.0, shown.xy[0, 1])), "drag"))

    drag(12)
    qtbot.waitUntil(lambda: lab.propagating, timeout=5000)
    drag(13)
    qtbot.waitUntil(lambda: not lab.propagating and
                    s.history.steps[-1].label.startswith("propagate 1 label frames 13→"),
                    timeout=20000)
    labels = [st.label for st in s.history.steps]
    assert labels[1:3] == ["drag", "drag"] and labels[-1] == "propagate 1 label frames 13→43"
    first = labels[3]  # the carry from 12: whole, or stopped when the fix at 13 outdated it
    assert first.startswith("propagate 1 label frames 12→") and len(labels) == 5
    assert (int(first.rsplit("→", 1)[1]) < 42) == tracked, first
    assert not lab._pending


def test_a_stale_result_is_dropped_and_close_stops_the_worker(qtbot, win):
    jobs = win.labeling.jobs
    gate = threading.Event()
    got: list[Any] = []

    def slow(progress, stopped):
        gate.wait(5)
        return "first"

    jobs.start("propagate", "first", 1, slow, got.append)
    first = jobs.current("propagate")
    jobs.start("propagate", "second", 1, lambda p, st: "second", got.append)
    assert jobs.current("propagate") == first + 1
    qtbot.waitUntil(lambda: len(got) == 1, timeout=5000)
    gate.set()
    qtbot.wait(50)
    assert [o.value for o in got] == ["second"]  # the first request's result never arrived
    # Stop keeps what was done; a long propagation stops cleanly when the window closes
    lab = win.labeling.labeling
    lab.open_reader = lambda path, index: FakeReader(path, delay=0.05)
    _label(win, 0)
    lab.propagate(1)
    assert lab.propagating
    win.shutdown()  # joins the worker (the fixture fails a test that leaves one running)
    assert not win.shell.jobs.busy


def test_tracks_panel_tracker_and_track_verbs(qtbot, win):
    s = win.session
    _predict(win, range(0, 12))
    tr = win.labeling.tracks
    qtbot.keyClick(win.view, Qt.Key.Key_T, CTRL | SHIFT)
    qtbot.waitUntil(lambda: win.labeling.jobs.current("track") is None, timeout=10000)
    ids = [t.id for t in s.project.tracks()]
    assert len(ids) == 2 and tr.panel.track_ids() == ids
    assert steps(win) == 1
    assert [tr.panel.table.item(r, 1).text() for r in range(2)] == ["0–11", "0–11"]
    # rename (F2) acts on the track chosen in the panel
    tr.panel.select_track(ids[1])
    tr.ask_name = lambda current: "Bob"
    qtbot.keyClick(win.view, Qt.Key.Key_F2)
    assert s.project.tracks()[1].name == "Bob"
    assert tr.panel.table.item(1, 0).text() == "Bob"
    # split at frame 6, then merge back
    win.goto(6)
    wait_frame(qtbot, win, 6)
    tr.panel.select_track(ids[1])
    qtbot.keyClick(win.view, Qt.Key.Key_K, CTRL | SHIFT)
    assert len(s.project.tracks()) == 3
    new = s.project.tracks()[2].id
    tr.panel.select_track(new)
    tr.ask_track = lambda prompt, choices: ids[1]
    qtbot.keyClick(win.view, Qt.Key.Key_M, CTRL | SHIFT)
    assert [t.id for t in s.project.tracks()] == ids
    # swap identities from here on: one step
    one = next(i for i in s.people() if i.track_id == ids[0])
    tr.panel.table.clearSelection()
    s.select(one.id)
    qtbot.keyClick(win.view, Qt.Key.Key_X, CTRL | SHIFT)
    assert s.project.instance(one.id).track_id == ids[1]
    n = steps(win)
    for _ in range(n):
        qtbot.keyClick(win.view, Qt.Key.Key_Z, CTRL)
    assert s.project.tracks() == [] and tr.panel.track_ids() == []



def test_smoothing_from_the_keyboard_makes_a_new_shown_run_and_keeps_the_old(qtbot, win):
    s = win.session
    _predict(win, range(0, 12))
    tr = win.labeling.tracks
    qtbot.keyClick(win.view, Qt.Key.Key_T, CTRL | SHIFT)  # two people: track them first
    qtbot.waitUntil(lambda: win.labeling.jobs.current("track") is None, timeout=10000)
    source = s.shown_runs().run_id
    before = s.project.counts()["predicted_instances"]
    history = steps(win)
    tr.ask_smoothing = lambda: "savgol"
    qtbot.keyClick(win.view, Qt.Key.Key_F, CTRL | SHIFT)
    # the run is stored (and shown) in the worker, the history step recorded when its result
    # arrives on the GUI thread: wait for the job to be over, not for the run alone
    qtbot.waitUntil(lambda: s.shown_runs().run_id != source
                    and win.labeling.jobs.current("smooth") is None, timeout=10000)
    assert s.project.counts()["predicted_instances"] == 2 * before  # the source run is kept
    assert steps(win) == history + 1  # one step: undo removes the new run
    assert s.project.history()[-1].label.startswith("smooth model run")
    qtbot.keyClick(win.view, Qt.Key.Key_Z, CTRL)
    qtbot.waitUntil(lambda: s.shown_runs().run_id == source, timeout=5000)
    assert s.project.counts()["predicted_instances"] == before
    tr.ask_smoothing = lambda: None  # cancelled: nothing happens
    qtbot.keyClick(win.view, Qt.Key.Key_F, CTRL | SHIFT)
    assert win.labeling.jobs.current("smooth") is None

def test_identity_switches_are_listed_and_stepped(qtbot, win):
    s = win.session
    a, b = s.project.create_track("a"), s.project.create_track("b")
    for f in range(10):
        # the two people trade places at frame 5: track a jumps
        x_a = 40.0 if f < 5 else 120.0
        _label(win, f, a, x0=x_a, vx=0.0)
        _label(win, f, b, x0=160.0 - x_a + 40.0, vx=0.0)
    tr = win.labeling.tracks
    tr.find_switches()
    qtbot.waitUntil(lambda: tr.switches != [], timeout=10000)
    assert min(c.frame for c in tr.switches) == 5
    assert tr.panel.switch_frames() == sorted(c.frame for c in tr.switches)
    win.goto(0)
    wait_frame(qtbot, win, 0)
    qtbot.keyClick(win.view, Qt.Key.Key_J, CTRL)
    wait_frame(qtbot, win, 5)


def test_suggestions_panel_done_marks_and_next_previous(qtbot, win):
    s = win.session
    su = win.labeling.suggestions
    su.find(("uniform",), 4)
    qtbot.waitUntil(lambda: su.records != [], timeout=10000)
    frames = [r.frame for r in su.records]
    assert frames == [0, 66, 133, 199] and su.panel.rows()[0] == (1, 0, False)
    qtbot.keyClick(win.view, Qt.Key.Key_H)
    wait_frame(qtbot, win, 66)
    qtbot.keyClick(win.view, Qt.Key.Key_D, CTRL)  # done, kept in the project
    assert [r.done for r in su.records] == [False, True, False, False]
    from pose_studio.store.suggestions import list_suggestions

    assert [r.done_by for r in list_suggestions(s.project)][1] == s.user
    win.goto(0)
    wait_frame(qtbot, win, 0)
    qtbot.keyClick(win.view, Qt.Key.Key_H)  # 66 is done: skipped
    wait_frame(qtbot, win, 133)
    qtbot.keyClick(win.view, Qt.Key.Key_H, SHIFT)
    wait_frame(qtbot, win, 0)
    su.panel.hide_done.setChecked(True)
    assert [r[1] for r in su.panel.rows()] == [0, 133, 199]
    # someone else marks 133 done (their note arrives as the session's SUGGESTIONS topic)
    from pose_studio.store.suggestions import set_done

    assert set_done(s.project, s.video_id, 133, True, "bob")
    s.changed_elsewhere({}, {"suggestions"})
    assert [r[1] for r in su.panel.rows()] == [0, 199]


def test_bulk_edit_dialog_builds_the_request(qtbot):
    from pose_studio.gui.dialogs.bulk_edit import BulkEditDialog

    dlg = BulkEditDialog(100, 30, {4: "ann", 9: "bob"}, 9)
    qtbot.addWidget(dlg)
    dlg.op.setCurrentIndex(3)  # delete a track's span
    dlg.last.setValue(40)
    req = dlg.request()
    assert (req.op, req.frames, req.track_id) == ("delete_track", (30, 41), 9)
    assert not dlg.score.isEnabled() and dlg.track.isEnabled()


def test_every_tool_is_in_the_shortcuts_dialog(qtbot):
    from pose_studio.gui.actions import ACTIONS_BY_ID, find_clashes
    from pose_studio.gui.dialogs.shortcuts import ShortcutsDialog

    ids = ("swap_keypoint", "swap_sides", "copy_pose", "paste_pose", "copy_previous",
           "interpolate", "interpolate_cubic", "accept_ghosts", "propagate_forward",
           "propagate_backward", "stop_tool", "bulk_edit", "run_tracker", "swap_identities",
           "rename_track", "merge_tracks", "split_track", "delete_track", "next_switch",
           "prev_switch", "color_by_track", "next_suggestion", "prev_suggestion",
           "suggestion_done", "find_suggestions", "smooth_run")
    dlg = ShortcutsDialog()
    qtbot.addWidget(dlg)
    names = {row[0] for row in dlg.visible_rows()}
    for aid in ids:
        spec = ACTIONS_BY_ID[aid]
        assert spec.shortcuts, aid
        assert spec.label.rstrip("…") in names, aid
    assert find_clashes() == []
