"""Several annotators in the window: Connect to a Server…, another annotator's edit appears
by itself, a stale edit is refused and the frame re-read, the Team panel lists my
assignments and filters the view by annotator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pose_studio.core.annotation import Instance
from pose_studio.core.edits import Edit, StaleEditError
from pose_studio.core.skeleton import COCO17
from tests.gui.conftest import K, pose_xy, wait_frame


def test_connect_dialog_checks_the_url(qtbot: Any) -> None:
    from pose_studio.gui.dialogs.connect import ConnectDialog

    dlg = ConnectDialog(None, "")
    qtbot.addWidget(dlg)
    dlg.edit.setText("/tmp/not/a/url.posestudio")
    dlg._check()
    assert "not a database URL" in dlg.problem.text() and not dlg.result()


def test_a_server_that_refuses_is_one_message(make_window: Any) -> None:
    win = make_window()
    assert win.team.connect_action in win.menuBar().actions()[0].menu().actions()
    assert not win.team.open_url("postgresql+psycopg://nobody@127.0.0.1:1/none")
    (title, text), = win.messages
    assert title == "Cannot connect" and "cannot connect" in text and "\n" not in text
    assert win.session.project is None



def test_a_url_on_the_command_line_connects_instead_of_looking_for_a_file(
        make_window: Any) -> None:
    """``pose-studio postgresql+psycopg://...`` (and a server in Open Recent) goes to the
    server; it was once taken for a file path and refused as "no such file"."""
    win = make_window()
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    win.open_paths([url])
    (title, text), = win.messages
    assert title == "Cannot connect" and "no such file" not in text

@pytest.mark.postgres
def test_two_annotators_on_a_server(make_window: Any, qtbot: Any, fake_video: Path,
                                    server_url: str) -> None:
    from pose_studio.store import Project

    url = server_url
    with Project.create(url, COCO17) as p:
        vid = p.add_video(fake_video, width=160, height=120, frame_count=30, fps=25.0)
        p.assign(vid, "ann", (0, 10), by="lead")
        p.assign(vid, "bob", None, by="lead")
    win = make_window()
    win.session.user = "ann"
    assert win.team.open_url(url)
    wait_frame(qtbot, win, 0)
    items = win.team.panel._items
    assert [a.assignee for a in items] == ["ann"] and "0/10 frames" in \
        win.team.panel.mine.item(0).text()
    qtbot.waitUntil(lambda: win.team.live.listening, timeout=5000)
    # Bob, in his own process, labels the frame Ann looks at: it appears by itself
    bob = Project.open(url)
    done = bob.apply_edit(Edit.add(vid, 0, Instance(xy=pose_xy(80, 60),
                                                    visibility=np.full(K, 2, np.uint8)),
                                   "add"), user="bob")
    qtbot.waitUntil(lambda: len(win.view.instance_items) == 1, timeout=3000)
    assert win.instance_list.topLevelItem(0).text(5) == "bob"
    # Ann moves it while Bob already moved it again: refused, the frame shows Bob's
    inst = bob.instance(done.edit.changes[0].after.id)  # type: ignore[union-attr]
    bob.apply_edit(Edit.set_instance(vid, 0, inst, inst.with_keypoint(0, xy=(1.0, 1.0)),
                                     "move"), user="bob")
    with pytest.raises(StaleEditError, match="changed since"):  # inst: Ann's stale copy
        win.session.apply(Edit.set_instance(
            vid, 0, inst, inst.with_keypoint(0, xy=(9.0, 9.0)), "move"))
    qtbot.waitUntil(lambda: np.allclose(
        win.view.instance_items[0].instance.xy[0], (1.0, 1.0)), timeout=3000)
    # the filter: only Ann's labels (she has none) hide Bob's
    win.team._filter("ann")
    assert len(win.view.instance_items) == 0
    win.team._filter("")
    assert len(win.view.instance_items) == 1
    # done marks
    win.team.panel.mine.setCurrentRow(0)
    win.team.panel.done_button.click()
    assert win.team.panel._items[0].done
    bob.close()
    win.shutdown()
