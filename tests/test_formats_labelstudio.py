"""Label Studio JSON exports: grouping keypoints into instances, image URLs, hostile JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.skeleton import COCO17
from pose_studio.formats import labelstudio
from pose_studio.formats.dataset import Dataset
from pose_studio.formats.registry import ReadOptions, detect, get_format
from tests.support.datasets import frame_pixels, write_png

FMT = get_format("labelstudio")
W, H = 200, 100


def _kp(label: str, x: float, y: float, rid: str = "", **kw: Any) -> dict[str, Any]:
    r = {"id": rid or f"{label}{x}{y}", "type": "keypointlabels", "from_name": "kp",
         "to_name": "image", "original_width": W, "original_height": H, "image_rotation": 0,
         "value": {"x": x / W * 100, "y": y / H * 100, "width": 0.5, "keypointlabels": [label]}}
    r.update(kw)
    return r


def _rect(rid: str, x: float, y: float, w: float, h: float, label: str = "cat") -> dict[str, Any]:
    return {"id": rid, "type": "rectanglelabels", "original_width": W, "original_height": H,
            "value": {"x": x / W * 100, "y": y / H * 100, "width": w / W * 100,
                      "height": h / H * 100, "rotation": 0, "rectanglelabels": [label]}}


def _export(tmp_path: Path, tasks: list[dict[str, Any]], name: str = "export.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(tasks))
    return p


def _read(path: Path, **kw: object) -> Dataset:
    assert FMT.read is not None
    ds = FMT.read(path, ReadOptions(**kw))  # type: ignore[arg-type]
    ds.validate()
    return ds


def _task(results: list[dict[str, Any]], image: str = "/data/upload/1/a1b2c3d4-img.png",
          **kw: Any) -> dict[str, Any]:
    t = {"id": 1, "data": {"image": image}, "annotations": [{"id": 9, "result": results}]}
    t.update(kw)
    return t


def test_keypoints_group_by_relation_parent_box_and_order(tmp_path: Path) -> None:
    results = [
        _rect("r1", 0, 0, 50, 50), _rect("r2", 100, 0, 50, 50, "dog"), _rect("r3", 0, 60, 40, 40),
        _kp("nose", 160, 10, "k1"), {"type": "relation", "from_id": "k1", "to_id": "r1"},
        _kp("tail", 20, 20, "k2", parentID="r2"),
        _kp("tail", 10, 70),                       # inside r3 only
        _kp("nose", 190, 90), _kp("tail", 195, 95),  # in no box: one loose instance
        _kp("nose", 180, 80),                        # a nose again: a new loose instance
    ]
    ds = _read(_export(tmp_path, [_task(results)]))
    assert ds.skeleton.keypoints == ("nose", "tail")
    anns = ds.frames[0].annotations
    assert [a.category for a in anns] == ["cat", "dog", "cat", None, None]
    pts = [a.points for a in anns]
    np.testing.assert_allclose(pts[0][0], [160, 10, 2])    # by relation
    np.testing.assert_allclose(pts[1][1], [20, 20, 2])     # by parentID
    np.testing.assert_allclose(pts[2][1], [10, 70, 2])     # by containment
    np.testing.assert_allclose(pts[3], [[190, 90, 2], [195, 95, 2]])
    np.testing.assert_allclose(pts[4][0], [180, 80, 2])
    assert anns[0].bbox == pytest.approx((0, 0, 50, 50))
    assert ds.categories == ["cat", "dog"]


def test_predictions_images_and_what_is_not_kept(tmp_path: Path) -> None:
    write_png(tmp_path / "imgs" / "img.png", frame_pixels("x", 0, (W, H)))
    write_png(tmp_path / "imgs" / "sub" / "b.png", frame_pixels("x", 1, (W, H)))
    tasks = [
        _task([_kp("nose", 10, 10), {"type": "choices", "value": {"choices": ["ok"]}}],
              predictions=[{"model_version": "v3", "score": 0.7,
                            "result": [_kp("nose", 11, 12, score=0.4)]}]),
        _task([_kp("nose", 5, 5)], image="/data/local-files/?d=imgs/sub/b.png",
              annotations=[{"result": [_kp("nose", 1, 1)], "was_cancelled": True},
                           {"result": [_kp("nose", 5, 5)]}, {"result": [_kp("nose", 6, 6)]}]),
        _task([_kp("nose", 5, 5)], image="s3://bucket/elsewhere/missing.jpg"),
    ]
    p = _export(tmp_path, tasks)
    assert detect(p).name == "labelstudio"
    ds = _read(p, images_dir=tmp_path / "imgs")
    images = ds.sources[0].images
    assert [im.path for im in images[:2]] == ["img.png", "sub/b.png"]
    assert images[2].path == "s3://bucket/elsewhere/missing.jpg"
    assert (images[0].width, images[0].height) == (W, H)
    pred = ds.frames[0].annotations[1]
    assert pred.kind is InstanceKind.PREDICTED and pred.run == "v3" and pred.score == 0.7
    np.testing.assert_allclose(pred.kp_scores, [0.4])
    np.testing.assert_allclose(ds.frames[1].annotations[0].points[0], [5, 5, 2])
    text = " | ".join(ds.not_kept)
    assert "'choices'" in text and "labeled more than once" in text and "missing.jpg" in text


def test_coco_names_take_coco_order(tmp_path: Path) -> None:
    results = [_kp(n, 10 + i, 10) for i, n in enumerate(reversed(COCO17.keypoints))]
    ds = _read(_export(tmp_path, [_task(results)]))
    assert ds.skeleton.keypoints == COCO17.keypoints
    np.testing.assert_allclose(ds.frames[0].annotations[0].points[0], [26, 10, 2])


def test_url_candidates() -> None:
    c = labelstudio._candidates
    assert "img.png" in c("/data/upload/3/0a1b2c3d-img.png")
    assert "a/b.png" in c("/data/local-files/?d=a/b.png")
    assert "key/x.jpg" in c("s3://bucket/key/x.jpg")
    assert all(".." not in Path(x).parts for x in c("/data/local-files/?d=../../etc/passwd"))


@pytest.mark.parametrize(("text", "needle"), [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('[{"annotations": [], "id": ' + "9" * 5000 + "}]", "not valid JSON"),
    ("{not json", "not valid JSON"),
    ('[1, 2]', "list of tasks"),
    ('[{"data": {}, "annotations": [{"result": []}]}]', "no keypointlabels"),
    ('[{"annotations": 5}]', "not a list"),
])
def test_hostile_json_fails_in_one_line(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "x.json"
    p.write_text(text)
    with pytest.raises(PoseStudioError, match=needle) as e:
        _read(p)
    assert "\n" not in str(e.value)


def test_bad_values_are_counted_not_fatal(tmp_path: Path) -> None:
    bad = _kp("nose", 1, 1)
    bad["value"]["x"] = float("nan")
    bad2 = _kp("tail", 1, 1)
    bad2["value"]["y"] = "12"
    p = tmp_path / "x.json"
    p.write_text(json.dumps([_task([bad, bad2, _kp("nose", 3, 3)])]).replace("NaN", "1e999"))
    ds = _read(p)
    assert any("usable position" in line for line in ds.not_kept)
    np.testing.assert_allclose(ds.frames[0].annotations[0].points[0], [3, 3, 2])
