"""Every COCO file of the real-world corpus imports with one command and exports back exactly:
keypoints, visibility, categories, ids, areas, segmentation; pycocotools AP of the export
against the original (and of the original against the export) is 1.0 on the same image ids.

Reads ``../shared/realworld/data/coco`` when it is there (see tests/support/realworld.py) and
skips otherwise; ``test_coco_quirks.py`` covers each quirk with synthetic files in any case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pose_studio.cli.main import main
from pose_studio.store.project import Project
from tests.support.coco_files import as_results, keypoint_ap
from tests.support.realworld import realworld
from tests.test_coco_quirks import assert_exported_back

#: file (relative to data/coco) -> the image folder to give --images (None: beside the file)
FILES: dict[str, str | None] = {
    "mmpose_coco/test_coco.json": None,
    "mmpose_coco/test_coco_wholebody.json": None,
    "mmpose_halpe/test_halpe.json": "mmpose_coco",  # Halpe's images are COCO's
    "mmpose_crowdpose/test_crowdpose.json": None,
    "mmpose_animalpose/test_animalpose.json": None,
    "mmpose_posetrack18/test_posetrack18_val.json": None,
    "datumaro_person_keypoints/annotations/person_keypoints_train.json":
        "datumaro_person_keypoints/images/train",
    "datumaro_person_keypoints/annotations/person_keypoints_val.json":
        "datumaro_person_keypoints/images/val",
}


@pytest.fixture(scope="module")
def corpus() -> Path:
    return realworld("data/coco")  # skips, saying why, without the corpus


@pytest.mark.parametrize("name", sorted(FILES))
def test_real_file_round_trip(corpus: Path, tmp_path: Path, name: str) -> None:
    src = corpus / name
    proj = tmp_path / "p.posestudio"
    assert main(["new", str(proj), "--skeleton-from", str(src)]) == 0
    images = FILES[name]
    args = ["import", str(proj), str(src)] + (["--images", str(corpus / images)] if images else [])
    assert main(args) == 0  # one command
    out = tmp_path / "out.json"
    assert main(["export", str(proj), "--out", str(out), "--quiet"]) == 0
    orig = json.loads(src.read_text())
    back = json.loads(out.read_text())
    assert_exported_back(orig, back)
    with Project.open(proj, read_only=True) as p:
        sigmas = p.skeleton.sigmas[:17] if p.skeleton.name == "wholebody133" else p.skeleton.sigmas
        assert p.counts()["user_instances"] == len(as_results(orig["annotations"]))
    if as_results(orig["annotations"]):
        assert keypoint_ap(orig, as_results(back["annotations"]), sigmas) == pytest.approx(1.0)
        assert keypoint_ap(back, as_results(orig["annotations"]), sigmas) == pytest.approx(1.0)


def test_real_results_lists_land_on_their_images(corpus: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "p.posestudio"
    gt = corpus / "mmpose_coco" / "test_coco.json"
    assert main(["new", str(proj), "--skeleton-from", str(gt)]) == 0
    assert main(["import", str(proj), str(gt)]) == 0
    det = corpus / "mmpose_coco" / "test_coco_det_AP_H_56.json"
    capsys.readouterr()
    assert main(["import", str(proj), str(det)]) == 0  # detected as coco-results
    out = capsys.readouterr().out
    n = len(json.loads(det.read_text()))
    assert f"0 user and {n} predicted" in out and "(coco-results)" in out
    with Project.open(proj, read_only=True) as p:
        (run,) = p.model_runs()
        assert run.model_path == "coco-results:test_coco_det_AP_H_56.json"
        preds = [(f, i) for _, f, i in p.iter_instances("predicted")]
        assert len(preds) == n and all(i.bbox is not None and i.score is not None
                                       for _, i in preds)
    # keypoint results made from the ground truth score AP 1.0 after a round trip
    orig: dict[str, Any] = json.loads(gt.read_text())
    res = tmp_path / "res.json"
    res.write_text(json.dumps(as_results(orig["annotations"])))
    assert main(["import", str(proj), str(res), "--format", "coco-results"]) == 0
    out_path = tmp_path / "pred.json"
    assert main(["export", str(proj), "--out", str(out_path), "--source", "predicted",
                 "--quiet"]) == 0
    preds_back = [a for a in json.loads(out_path.read_text())["annotations"]
                  if a["num_keypoints"] > 0]
    assert keypoint_ap(orig, as_results(preds_back), [0.026, 0.025, 0.025, 0.035, 0.035, 0.079,
                                                      0.079, 0.072, 0.072, 0.062, 0.062, 0.107,
                                                      0.107, 0.087, 0.087, 0.089, 0.089]) == \
        pytest.approx(1.0)
