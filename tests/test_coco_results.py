"""COCO results lists: predictions onto the images the project has, by image id, with one model
run naming the file; and the registry dispatch of ``import``/``export``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pose_studio.cli.main import main
from pose_studio.core.annotation import InstanceKind
from pose_studio.core.skeleton import COCO17
from pose_studio.formats.coco import import_coco
from pose_studio.formats.registry import detect
from pose_studio.store.project import Project
from tests.support.coco_files import quirky_coco


@pytest.fixture()
def proj(tmp_path: Path) -> tuple[Path, dict]:
    path, data = quirky_coco(tmp_path / "ds")
    p = tmp_path / "p.posestudio"
    with Project.create(p, COCO17) as project:
        import_coco(project, path, image_folder=tmp_path / "ds")
    return p, data


def _results(data: dict, n: int = 3) -> list[dict]:
    out = []
    for a in data["annotations"][:n]:
        kps = list(a["keypoints"])
        kps[2::3] = [0.25 + 0.5 * (v > 0) for v in kps[2::3]]  # confidences, not visibility
        out.append({"image_id": a["image_id"], "category_id": a["category_id"],
                    "keypoints": kps, "score": 0.9})
    return out


def test_results_land_on_their_images(tmp_path: Path, proj: tuple[Path, dict],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    p, data = proj
    res = tmp_path / "results.json"
    det = {"image_id": "img-a0", "category_id": 99, "bbox": [1, 2, 3, 4], "score": 0.4}
    res.write_text(json.dumps([*_results(data), det]))
    assert detect(res).name == "coco-results"
    capsys.readouterr()
    assert main(["import", str(p), str(res)]) == 0
    out = capsys.readouterr().out
    assert "0 user and 4 predicted" in out and "(coco-results)" in out
    assert "not kept: the category of 1 result(s): category id 99" in out
    with Project.open(p, read_only=True) as project:
        (run,) = project.model_runs()
        assert run.model_path == "coco-results:results.json" and run.params["results"] == 4
        vid = project.videos()[0].id
        frames = {f.path: f.frame_idx for f in project.frame_files(vid)}
        preds = {(f, i.score) for _, f, i in project.iter_instances("predicted")}
        seq_b0 = frames["images/val/seq_b/000000.jpg"]
        assert (seq_b0, 0.9) in preds and (frames["images/val/seq_a/000000.jpg"], 0.4) in preds
        p0 = project.instances(vid, seq_b0, InstanceKind.PREDICTED)[0]
        assert p0.kp_scores is not None and set(p0.kp_scores.round(2)) <= {0.25, 0.75}
        meta = project.instance_meta(vid)
        cats = {c.id: c.name for c in project.categories()}
        assert {cats.get(meta[i.id].category_id) for _, _, i in project.iter_instances(
            "predicted") if i.id in meta and meta[i.id].category_id} == {"person"}
    # the same file again adds nothing
    assert main(["import", str(p), str(res)]) == 0
    assert "already in the project" in capsys.readouterr().out


def test_results_for_images_the_project_lacks_are_refused(tmp_path: Path,
                                                           proj: tuple[Path, dict]) -> None:
    p, data = proj
    res = tmp_path / "r.json"
    stray = {"image_id": 123456, "category_id": 1, "keypoints": [0] * 51, "score": 1.0}
    res.write_text(json.dumps([*_results(data, 1), stray]))
    with Project.open(p) as project:
        from pose_studio.formats.coco_results import read_results
        from pose_studio.formats.ingest import IngestError, ingest, read_options_for

        ds = read_results(res, read_options_for(project))
        with pytest.raises(IngestError, match=r"1 image id\(s\) .* not in the project "
                                              r"\(123456\)"):
            ingest(project, ds, path=res)
        assert project.counts()["predicted_instances"] == 0 and project.model_runs() == []


@pytest.mark.parametrize(("content", "fmt", "needle"), [
    ([{"image_id": 1, "category_id": 1, "keypoints": [1] * 5, "score": 1}], "coco-results",
     "must be 51 finite numbers"),
    ([{"image_id": 1, "category_id": 1, "keypoints": [1] * 51, "score": "x"}], "coco-results",
     "'score' must be a number"),
    ([{"image_id": 1, "category_id": 1, "keypoints": [1] * 51}], "coco",
     "results list"),
    ({"images": [], "annotations": [], "categories": []}, "coco-results",
     "not a results list"),
    ("just text", "auto", "not a dataset format Pose Studio reads"),
    ([1, 2], "nope", "unknown format 'nope'"),
])
def test_import_errors_are_one_line(tmp_path: Path, proj: tuple[Path, dict], content: object,
                                    fmt: str, needle: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    p, _ = proj
    f = tmp_path / "x.json"
    f.write_text(content if isinstance(content, str) else json.dumps(content))
    assert main(["import", str(p), str(f), "--format", fmt]) == 1
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_export_through_the_registry(tmp_path: Path, proj: tuple[Path, dict],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    p, _ = proj
    assert main(["export", str(p), "--out", str(tmp_path / "o.json"), "--format",
                 "coco-results"]) == 1
    assert "cannot be written" in capsys.readouterr().err
    assert main(["export", str(p), "--out", str(tmp_path / "o.json"), "--format", "coco"]) == 0
    assert json.loads((tmp_path / "o.json").read_text())["annotations"]
