"""``pose-studio history / undo / redo`` on the journal kept in the project."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pose_studio.cli.main import main
from pose_studio.core.annotation import Instance
from pose_studio.core.edits import Edit
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project


def _project(tmp_path: Path) -> Path:
    path = tmp_path / "p.posestudio"
    with Project.create(path, COCO17) as p:
        p.add_video(tmp_path / "v.mp4", width=64, height=48, frame_count=30, fps=10.0)
        inst = Instance(xy=np.full((17, 2), 10.0), visibility=np.full(17, 2, np.uint8))
        a = p.apply_edit(Edit.add(1, 4, inst, "add instance"), user="ann")
        stored = a.edit.changes[0].after
        p.apply_edit(Edit.set_instance(1, 4, stored, stored.translated(2, 0), "move instance"),
                     user="ben")
        with p.import_transaction("import labels.json", user="cid") as w:
            w.add_instances([(1, f, inst) for f in range(10, 20)])
    return path


def test_history_undo_redo(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = _project(tmp_path)
    assert main(["history", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and "who" in out[0]
    assert "ann" in out[1] and "add instance" in out[1] and "video 1 frame 4" in out[1]
    assert "cid" in out[3] and "import labels.json" in out[3] and "frames 10-19" in out[3]
    monkeypatch.setenv("POSE_STUDIO_USER", "dora")
    assert main(["undo", str(path), "-n", "2"]) == 0  # dora's undo takes nobody else's edit
    assert "nothing more to undo" in capsys.readouterr().out
    assert main(["undo", str(path), "--user", "cid", "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert "undid step 3: import labels.json" in out and "nothing more to undo after 1" in out
    assert main(["undo", str(path), "--user", "ben"]) == 0
    out = capsys.readouterr().out
    assert "undid step 2: move instance" in out
    with Project.open(path) as p:
        assert [f for _v, f, _i in p.iter_instances()] == [4]
        assert p.instances(1, 4)[0].xy[0, 0] == 10.0
    assert main(["history", str(path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["what"], r["undone"], r["undone_by"]) for r in rows] == [
        ("add instance", False, None), ("move instance", True, "ben"),
        ("import labels.json", True, "cid")]
    assert main(["history", str(path), "--user", "ben"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2  # the header and ben's one step
    assert main(["redo", str(path), "--user", "ben", "-n", "5"]) == 0
    assert main(["redo", str(path), "--user", "cid"]) == 0
    out = capsys.readouterr().out
    assert "redid step 2" in out and "redid step 3" in out and "nothing more to redo" in out
    with Project.open(path) as p:
        assert len(list(p.iter_instances())) == 11


def test_undo_refusal_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path)
    with Project.open(path) as p:
        victim = p.instances(1, 12)[0]
        p.delete_instance(victim.id)  # outside the history
    assert main(["undo", str(path), "--user", "cid"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot undo 'import labels.json'") and "Traceback" not in err
    assert main(["undo", str(tmp_path / "none.posestudio")]) == 1
