"""``pose-studio demo``: clip + project + bundled model; headless AP and the window hand-off."""

from __future__ import annotations

import json

import pytest

from pose_studio.cli.main import main
from pose_studio.train.api import bundled_model


@pytest.mark.slow
def test_demo_headless_exports_coco_and_prints_ap(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    rc = main(["demo", "--headless", "--out", str(out), "--seed", "3", "--frames", "8",
               "--size", "320x240", "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "OKS AP" in text
    summary = json.loads((out / "demo-3.summary.json").read_text())
    coco = json.loads((out / "demo-3.predictions.coco.json").read_text())
    assert len(coco["images"]) == 8
    assert len(coco["annotations"]) >= summary["instances"] * 0.8
    assert summary["model"] == str(bundled_model())
    assert f"OKS AP {summary['oks_ap']:.3f}" in text
    assert summary["oks_ap"] > 0.4  # the bundled model on its own kind of data

    from pose_studio.store.project import Project

    with Project.open(out / "demo-3.posestudio", read_only=True) as proj:
        assert len(proj.videos()) == 1
        assert sum(1 for _ in proj.iter_instances("predicted")) == len(coco["annotations"])


@pytest.mark.slow
def test_demo_opens_the_window_on_the_project(tmp_path, monkeypatch) -> None:
    import pose_studio.gui.app as app

    opened: list[list[str]] = []
    monkeypatch.setattr(app, "run_app", lambda paths: opened.append(list(paths)) or 0)
    rc = main(["demo", "--out", str(tmp_path), "--frames", "3", "--size", "160x120",
               "--quiet"])
    assert rc == 0
    assert len(opened) == 1 and opened[0][0].endswith(".posestudio")


def test_demo_rejects_bad_arguments(tmp_path, capsys) -> None:
    rc = main(["demo", "--headless", "--out", str(tmp_path), "--size", "tiny"])
    assert rc == 1
    assert "--size" in capsys.readouterr().err
    rc = main(["demo", "--headless", "--out", str(tmp_path), "--people", "99"])
    assert rc == 1
    assert "--people" in capsys.readouterr().err
