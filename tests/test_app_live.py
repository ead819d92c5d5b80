"""Others' edits reach the session live (PostgreSQL LISTEN/NOTIFY; a read-only file polls its
data version), and a refused stale edit leaves the session showing what the store holds."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from pose_studio.app.live import LiveUpdates
from pose_studio.app.session import Session, Topic
from pose_studio.core.annotation import Instance
from pose_studio.core.edits import Edit, StaleEditError
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project

K = COCO17.num_keypoints


def _inst(x: float) -> Instance:
    return Instance(xy=np.column_stack([np.full(K, x), np.linspace(5, 60, K)]),
                    visibility=np.full(K, 2, np.uint8))


def _wait(live: LiveUpdates, timeout: float = 5.0) -> list[object]:
    """Poll like the window's timer until something arrives (or give up)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = live.poll()
        if got:
            return list(got)
        time.sleep(0.05)
    return []


@pytest.fixture
def target(tmp_path: Path, project_target: str) -> str:
    with Project.create(project_target, COCO17) as p:
        p.add_video(tmp_path / "v.mp4", width=100, height=100, frame_count=60, fps=25.0)
    return project_target


def _watching(target: str, backend: str, frame: int
              ) -> tuple[Project, Session, list[frozenset[Topic]], LiveUpdates]:
    """Bob's project (the writer) and Ann's session on frame ``frame`` with the topics it
    publishes and its live updates. A file has one writer: Ann opens it read-only and polls."""
    writer = Project.open(target)
    ann = Session(user="ann")
    ann.open(Project.open(target, read_only=backend == "sqlite"))
    ann.set_video(1, 60, 25.0, frame=frame)
    seen: list[frozenset[Topic]] = []
    ann.subscribe(lambda topics, frames: seen.append(topics))
    return writer, ann, seen, LiveUpdates(ann)


def test_another_annotators_edit_appears(target: str, backend: str) -> None:
    """Bob edits in his own process (here: his own Project); Ann's session re-reads the frame,
    the timeline arrays and says so by topic, within the poll."""
    writer, ann, seen, live = _watching(target, backend, 5)
    try:
        live.follow()
        assert live.listening
        time.sleep(0.3)  # the listener is connected before bob writes
        writer.apply_edit(Edit.add(1, 5, _inst(10.0), "add"), user="bob")
        writer.apply_edit(Edit.add(1, 40, _inst(20.0), "add"), user="bob")
        got = _wait(live)
        while len(got) < 2 and backend == "postgresql":
            more = _wait(live, 2.0)
            if not more:
                break
            got += more
        assert got, "no change arrived"
        assert [i.xy[0, 0] for i in ann.instances()] == [10.0]
        assert ann.frames.labeled[5] and ann.frames.labeled[40]
        assert any(Topic.INSTANCES in t and Topic.ARRAYS in t for t in seen)
        if backend == "postgresql":  # the notes say who and where
            assert got[0].user == "bob" and got[0].frames == {1: (5,)}
            # ann's own edits are not echoed back to her
            ann.apply(Edit.add(1, 6, _inst(30.0), "add"))
            assert _wait(live, 1.0) == []
    finally:
        live.stop()
        ann.close()
        writer.close()


def test_a_stale_edit_shows_the_current_state(target: str, backend: str) -> None:
    ann = Session(user="ann")
    ann.open(Project.open(target))
    ann.set_video(1, 60, 25.0, frame=3)
    added = ann.apply(Edit.add(1, 3, _inst(10.0), "add")).changes[0].after
    seen = ann.instances()[0]
    # bob moves it meanwhile (on a file: through the same store, as a tool outside the session)
    bob = Project.open(target) if backend == "postgresql" else ann.require()
    try:
        bob.apply_edit(Edit.set_instance(1, 3, added, added.translated(5, 0), "move"),
                       user="bob")
        with pytest.raises(StaleEditError, match="changed since by bob"):
            ann.apply(Edit.set_instance(1, 3, seen, seen.translated(0, 9), "move"))
        (now,) = ann.instances()
        assert now.xy[0, 0] == 15.0 and now.edited_by == "bob" and now.version == 2
    finally:
        if bob is not ann.project:
            bob.close()
        ann.close()


def test_suggestions_found_or_done_elsewhere_reach_the_panel(target: str, backend: str) -> None:
    """Bob stores frames to check and marks one done; Ann's session says SUGGESTIONS, so her
    Suggestions panel re-reads them (a file: its data version; a server: the note)."""
    from pose_studio.store import suggestions as stored

    writer, ann, seen, live = _watching(target, backend, 0)
    reader = ann.require()
    try:
        live.follow()
        time.sleep(0.3)
        stored.replace(writer, [1], [stored.SuggestionRecord(1, 7, ("uniform",), "even", 0.5)])
        assert _wait(live), "no change arrived"
        assert any(Topic.SUGGESTIONS in t for t in seen)
        assert [r.frame for r in stored.list_suggestions(reader)] == [7]
        seen.clear()
        assert stored.set_done(writer, 1, 7, True, "bob")
        assert _wait(live), "the done mark did not arrive"
        assert any(Topic.SUGGESTIONS in t for t in seen)
        # what the panel shows: the mark and who made it
        assert stored.list_suggestions(reader)[0].done_by == "bob"
        if backend == "postgresql":
            # an edit that touches no suggestion does not make the panel re-read them
            seen.clear()
            writer.apply_edit(Edit.add(1, 5, _inst(10.0), "add"), user="bob")
            assert _wait(live)
            assert seen and not any(Topic.SUGGESTIONS in t for t in seen)
    finally:
        live.stop()
        writer.close()
        ann.close()
