"""COCO without silent loss, end to end on small synthetic files: every quirk real files have
is imported with one command and exported back exactly (pycocotools AP 1.0 both ways)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pose_studio.cli.main import main
from pose_studio.core.skeleton import COCO17, Skeleton
from pose_studio.core.skeleton_presets import get_skeleton
from pose_studio.formats.coco import CocoFormatError, export_coco, import_coco
from pose_studio.store.project import Project
from tests.support.coco_files import (
    NAMES,
    as_results,
    keypoint_ap,
    keypoints,
    quirky_coco,
    write_image,
)

K = COCO17.num_keypoints
_KEYS = ("image_id", "category_id", "keypoints", "num_keypoints", "bbox", "area",
         "segmentation", "iscrowd", "attributes", "foot_kpts", "face_kpts", "lefthand_kpts",
         "righthand_kpts", "face_valid", "lefthand_box")


def assert_exported_back(orig: dict[str, Any], out: dict[str, Any]) -> None:
    """Same ids, images (names, sizes, fields), categories and annotations as the original."""
    o_img = {json.dumps(im["id"]): im for im in orig["images"]}
    n_img = {json.dumps(im["id"]): im for im in out["images"]}
    assert set(o_img) == set(n_img)
    for key, im in o_img.items():
        for field, value in im.items():
            assert n_img[key][field] == value, (key, field)
    o_cat = {c["id"]: c for c in orig["categories"]}
    n_cat = {c["id"]: c for c in out["categories"]}
    used = {a["category_id"] for a in orig["annotations"]}
    for cid in used:
        assert n_cat[cid]["name"] == o_cat[cid]["name"]
        assert n_cat[cid].get("supercategory") == o_cat[cid].get("supercategory")
    o_ann = {json.dumps(a["id"]): a for a in orig["annotations"]}
    n_ann = {json.dumps(a["id"]): a for a in out["annotations"]}
    assert set(o_ann) == set(n_ann)
    for key, a in o_ann.items():
        b = n_ann[key]
        for field in _KEYS:
            if field not in a:
                continue
            want, got = a[field], b.get(field)
            if field in ("keypoints", "bbox") or field.endswith("_kpts"):
                np.testing.assert_array_equal(np.asarray(got, float), np.asarray(want, float),
                                              err_msg=f"{key} {field}")
            else:
                assert got == want, (key, field, got, want)


def _round_trip(tmp_path: Path, path: Path, images: Path | None, skeleton: Skeleton | None = None,
                **kw: Any) -> tuple[Project, dict[str, Any]]:
    p = Project.create(tmp_path / "p.posestudio", skeleton or COCO17)
    import_coco(p, path, image_folder=images, **kw)
    out = tmp_path / "out.json"
    export_coco(p, out, source="all")
    return p, json.loads(out.read_text())


# --- everything at once -----------------------------------------------------------------------
def test_quirky_file_round_trips_exactly(tmp_path: Path) -> None:
    path, orig = quirky_coco(tmp_path / "ds")
    p, out = _round_trip(tmp_path, path, tmp_path / "ds")
    assert_exported_back(orig, out)
    # categories are per instance: both keypoint categories, with their ids
    assert [c.name for c in p.categories()] == ["person", "runner"]
    # the image set keeps the sub-folders, each image its own size
    (v,) = p.videos()
    assert [(f.path, f.width, f.height) for f in p.frame_files(v.id)] == [
        ("images/other.png", 50, 70), ("images/val/seq_a/000000.jpg", 80, 60),
        ("images/val/seq_b/000000.jpg", 64, 48), ("images/val/seq_b/000001.jpg", 64, 48)]
    # tracks: PoseTrack's per sequence, CVAT's attributes.track_id, sleap-io's object_id
    assert sorted(t.name for t in p.tracks()) == ["seq_a/track 5", "seq_a/track 9",
                                                  "seq_b/track 0", "seq_b/track 1"]
    by_id = {a["id"]: a for a in out["annotations"]}
    assert by_id[1000]["track_id"] == 0 and by_id[1014]["track_id"] == 0
    # the CVAT point marked v=0 keeps its coordinates
    assert by_id[1021]["keypoints"][3:6] == [12.5, 17.25, 0]
    assert out["licenses"] == orig["licenses"] and out["info"]["description"] == "quirks"
    # pycocotools: the export scores 1.0 against the original and the original against it
    assert keypoint_ap(orig, as_results(out["annotations"]), COCO17.sigmas) == pytest.approx(1)
    assert keypoint_ap(out, as_results(orig["annotations"]), COCO17.sigmas) == pytest.approx(1)
    # a second export of the same project is the same file
    export_coco(p, tmp_path / "again.json", source="all")
    assert json.loads((tmp_path / "again.json").read_text())["annotations"] == \
        out["annotations"]
    p.close()


def test_edits_after_import_keep_the_ids_and_fields(tmp_path: Path) -> None:
    path, orig = quirky_coco(tmp_path / "ds")
    p, _ = _round_trip(tmp_path, path, tmp_path / "ds")
    vid = p.videos()[0].id
    inst = p.instances(vid, 2)[0]
    moved = inst.with_keypoint(0, xy=(5.0, 6.0), visibility=2)
    p.update_instance(moved)
    gone = p.instances(vid, 2)[1]
    p.delete_instance(gone.id)
    p.restore_instance(vid, 2, gone)
    out = tmp_path / "edited.json"
    export_coco(p, out)
    anns = {a["id"]: a for a in json.loads(out.read_text())["annotations"]}
    assert anns[1000]["keypoints"][:3] == [5.0, 6.0, 2.0]
    assert anns[1007]["attributes"] == {"occluded": True, "keyframe": False}
    assert anns[1000]["segmentation"] == orig["annotations"][0]["segmentation"]
    p.close()


def test_cli_import_says_what_it_did_not_keep(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path, orig = quirky_coco(tmp_path / "ds")
    orig["videos"] = [{"id": 1}]  # a top-level field Pose Studio does not keep
    orig["annotations"][0]["area"] = float("nan")  # JSON cannot hold it once read
    path.write_text(json.dumps(orig))
    proj = tmp_path / "p.posestudio"
    assert main(["new", str(proj)]) == 0
    assert main(["import", str(proj), str(path), "--images", str(tmp_path / "ds")]) == 0
    out = capsys.readouterr().out
    assert "(coco)" in out and "2 regions" in out
    assert "not kept: top-level field 'videos'" in out
    assert "not kept: field 'area' of 1 element(s)" in out
    again = main(["import", str(proj), str(path), "--images", str(tmp_path / "ds")])
    assert again == 0 and "already in the project" in capsys.readouterr().out


# --- categories and layouts -------------------------------------------------------------------
ANIMAL = ["nose", "left_eye", "right_eye", "tail", "left_paw"]


def _animals(root: Path) -> Path:
    """AP-10K-like: two species categories with one keypoint layout."""
    rng = np.random.default_rng(3)
    images, anns = [], []
    for i, (w, h) in enumerate([(60, 40), (90, 70), (30, 80)]):
        write_image(root, f"{i}.jpg", w, h, i)
        images.append({"id": 100 + i, "file_name": f"{i}.jpg", "width": w, "height": h})
        for j, cat in enumerate((17, 23)):
            kps = keypoints(rng, w, h, 5, unlabeled=1)
            anns.append({"id": 10 * i + j, "image_id": 100 + i, "category_id": cat,
                         "keypoints": kps, "num_keypoints": 4, "area": 55.5,
                         "bbox": [0.0, 0.0, 9.0, 9.0], "iscrowd": 0})
    cats = [{"id": c, "name": n, "supercategory": "animal", "keypoints": ANIMAL,
             "skeleton": [[1, 2], [1, 3], [1, 4], [4, 5]]} for c, n in ((17, "cat"), (23, "dog"))]
    path = root / "animals.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return path


def test_species_stay_apart_and_the_skeleton_comes_from_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _animals(tmp_path / "ds")
    proj = tmp_path / "a.posestudio"
    assert main(["new", str(proj), "--skeleton-from", str(path)]) == 0
    assert main(["import", str(proj), str(path)]) == 0  # images beside the file
    assert main(["export", str(proj), "--out", str(tmp_path / "out.json")]) == 0
    orig = json.loads(path.read_text())
    out = json.loads((tmp_path / "out.json").read_text())
    assert_exported_back(orig, out)
    assert [(c["id"], c["name"]) for c in out["categories"]] == [(17, "cat"), (23, "dog")]
    with Project.open(proj, read_only=True) as p:
        sk = p.skeleton
        assert sk.keypoints == tuple(ANIMAL)
        assert sk.edges == ((0, 1), (0, 2), (0, 3), (3, 4))  # COCO's 1-based limbs
        assert sk.flip_pairs == ((1, 2),)


def _two_layouts(root: Path) -> Path:
    rng = np.random.default_rng(5)
    write_image(root, "a.png", 64, 64)
    hand = [f"h{i}" for i in range(21)]
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": keypoints(rng, 64, 64)},
            {"id": 2, "image_id": 1, "category_id": 2,
             "keypoints": keypoints(rng, 64, 64, 21)},
            {"id": 3, "image_id": 1, "category_id": 2,
             "keypoints": keypoints(rng, 64, 64, 21)}]
    data = {"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 64}],
            "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": NAMES},
                           {"id": 2, "name": "hand", "keypoints": hand,
                            "skeleton": [[1, 2], [2, 3]]}]}
    path = root / "two.json"
    path.write_text(json.dumps(data))
    return path


def test_several_layouts_import_the_category_asked_for(tmp_path: Path) -> None:
    path = _two_layouts(tmp_path / "ds")
    p = Project.create(tmp_path / "p.posestudio", COCO17)
    s = import_coco(p, path)
    assert s.n_user == 1 and s.skipped == 2
    (line,) = s.not_kept
    assert "2 of 'hand'" in line and "'person' (17 keypoints)" in line and "'hand' (21" in line
    with pytest.raises(CocoFormatError, match="categories 'person', 'hand' have different"):
        from pose_studio.formats.skeleton_from import skeleton_from_file

        skeleton_from_file(path)
    hand, _ = skeleton_from_file(path, category="hand")
    assert hand.num_keypoints == 21 and hand.edges == ((0, 1), (1, 2))
    q = Project.create(tmp_path / "h.posestudio", hand)
    s = import_coco(q, path, category="hand")
    assert s.n_user == 2 and "--category 'hand' chose one" in s.not_kept[0]
    with pytest.raises(CocoFormatError, match=r"no category 'foot' in the file \(categories: "
                                              r"'person', 'hand'\)"):
        import_coco(q, path, category="foot")
    p.close()
    q.close()


# --- COCO-WholeBody and Halpe ------------------------------------------------------------------
def _wholebody(root: Path) -> tuple[Path, dict[str, Any]]:
    rng = np.random.default_rng(9)
    write_image(root, "w.jpg", 120, 100)
    a: dict[str, Any] = {"id": 5, "image_id": 1, "category_id": 1, "iscrowd": 0,
                         "keypoints": keypoints(rng, 120, 100), "area": 321.5}
    for key, n in (("foot_kpts", 6), ("face_kpts", 68), ("lefthand_kpts", 21),
                   ("righthand_kpts", 21)):
        a[key] = keypoints(rng, 120, 100, n, unlabeled=n // 3)
    a["righthand_kpts"][2] = 0.0877  # COCO-WholeBody keeps a confidence as v for hands
    a["num_keypoints"] = sum(1 for v in a["keypoints"][2::3] if v > 0)
    a["bbox"] = [1.0, 2.0, 100.0, 90.0]
    a.update(face_box=[1.0, 1.0, 5.0, 5.0], lefthand_box=[0.0, 0.0, 0.0, 0.0],
             righthand_box=[2.0, 2.0, 4.0, 4.0], face_valid=True, lefthand_valid=False,
             righthand_valid=True, foot_valid=True)
    data = {"images": [{"id": 1, "file_name": "w.jpg", "width": 120, "height": 100}],
            "annotations": [a], "categories": [{"id": 1, "name": "person", "keypoints": NAMES,
                                                "supercategory": "person"}]}
    path = root / "wholebody.json"
    path.write_text(json.dumps(data))
    return path, data


def test_wholebody_arrays_read_into_133_and_written_back(tmp_path: Path) -> None:
    path, orig = _wholebody(tmp_path / "ds")
    from pose_studio.formats.skeleton_from import skeleton_from_file

    sk, _ = skeleton_from_file(path)
    assert sk.name == "wholebody133"
    p, out = _round_trip(tmp_path, path, None, sk)
    assert_exported_back(orig, out)
    assert out["annotations"][0]["righthand_kpts"][2] == 0.0877
    (inst,) = [i for _, _, i in p.iter_instances()]
    labeled = sum(int(v > 0) for key in ("keypoints", "foot_kpts", "face_kpts",
                                         "lefthand_kpts", "righthand_kpts")
                  for v in orig["annotations"][0][key][2::3])
    assert int((inst.visibility > 0).sum()) == labeled  # nothing dropped: all 133 points
    # into a COCO-17 project the other 116 points are named as not kept
    q = Project.create(tmp_path / "q.posestudio", COCO17)
    s = import_coco(q, path)
    assert any("116 keypoint(s)" in n and "'coco17'" in n for n in s.not_kept)
    p.close()
    q.close()


def test_halpe_136_without_names(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    write_image(tmp_path / "ds", "h.jpg", 90, 90)
    kps = keypoints(rng, 90, 90, 136, unlabeled=40)
    data = {"images": [{"id": 3, "file_name": "h.jpg", "width": 90, "height": 90}],
            "annotations": [{"id": 4, "image_id": 3, "category_id": 1, "keypoints": kps,
                             "num_keypoints": 17, "bbox": [1, 1, 80, 80], "area": 99.0}],
            "categories": [{"id": 1, "name": "person", "keypoints": [], "skeleton": []}]}
    path = tmp_path / "ds" / "halpe.json"
    path.write_text(json.dumps(data))
    from pose_studio.formats.skeleton_from import skeleton_from_file

    sk, notes = skeleton_from_file(path)
    assert sk is get_skeleton("halpe136") and "by their count" in notes[0]
    _, out = _round_trip(tmp_path, path, None, sk)
    assert_exported_back(data, out)  # num_keypoints 17 as the file counts it, too


# --- skeleton files: COCO's 1-based limbs ------------------------------------------------------
def test_skeleton_file_reads_coco_limbs_1_based(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    cat = {"id": 1, "name": "mouse", "keypoints": ["snout", "neck", "tail_base", "tail_tip"],
           # highest index 3 < K = 4: read 0-based it would be silently shifted
           "skeleton": [[1, 2], [2, 3]]}
    f = tmp_path / "mouse.json"
    f.write_text(json.dumps(cat))
    assert main(["new", str(tmp_path / "m"), "--skeleton", str(f)]) == 0
    with Project.open(tmp_path / "m.posestudio", read_only=True) as p:
        assert p.skeleton.edges == ((0, 1), (1, 2))
    f.write_text(json.dumps({"categories": [dict(cat, skeleton=[[4, 2], [3, 4]])]}))
    sk = get_skeleton(f)  # a whole COCO file with one keypoint category
    assert sk.edges == ((3, 1), (2, 3))
    f.write_text(json.dumps({"categories": [dict(cat, skeleton=[[0, 1], [1, 2]])]}))
    assert get_skeleton(f).edges == ((0, 1), (1, 2))  # uses 0 and never K: 0-based
    f.write_text(json.dumps({"categories": [dict(cat, skeleton=[[5, 1]])]}))
    assert main(["new", str(tmp_path / "bad"), "--skeleton", str(f)]) == 1
    assert "numbers keypoints from 1 to 4" in capsys.readouterr().err
    f.write_text(json.dumps({"categories": [cat, dict(cat, id=2, name="rat")]}))
    assert main(["new", str(tmp_path / "two"), "--skeleton", str(f)]) == 1
    assert "--category" in capsys.readouterr().err


def test_skeleton_from_leaves_out_limbs_past_its_keypoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # CrowdPose ships COCO's 17-point limbs with its 14 names
    names = [*NAMES[5:], "head", "neck"]
    data = {"images": [], "annotations": [],
            "categories": [{"id": 1, "name": "person", "keypoints": names,
                            "skeleton": [[16, 14], [14, 12], [6, 12], [7, 13]]}]}
    f = tmp_path / "crowd.json"
    f.write_text(json.dumps(data))
    assert main(["new", str(tmp_path / "c"), "--skeleton-from", str(f)]) == 0
    out = capsys.readouterr().out
    assert "1 limb(s)" in out and "[16, 14]" in out
    with Project.open(tmp_path / "c.posestudio", read_only=True) as p:
        assert p.skeleton.keypoints == tuple(names)
        assert p.skeleton.edges == ((13, 11), (5, 11), (6, 12))


# --- all or nothing ----------------------------------------------------------------------------
def test_images_missing_under_the_folder_are_named(tmp_path: Path) -> None:
    path, orig = quirky_coco(tmp_path / "ds")
    (tmp_path / "ds" / "images" / "val" / "seq_a" / "000000.jpg").unlink()
    p = Project.create(tmp_path / "p.posestudio", COCO17)
    with pytest.raises(CocoFormatError, match=r"1 image\(s\) with annotations are not under"):
        import_coco(p, path, image_folder=tmp_path / "ds")
    assert p.videos() == [] and p.counts()["user_instances"] == 0
    bad = copy.deepcopy(orig)
    bad["images"][3]["width"] = 51  # the file is 50 wide
    path.write_text(json.dumps(bad))
    write_image(tmp_path / "ds", "images/val/seq_a/000000.jpg", 80, 60)
    with pytest.raises(CocoFormatError, match="the file says 51x70, the image is 50x70"):
        import_coco(p, path, image_folder=tmp_path / "ds")
    assert p.videos() == []
    p.close()


def test_a_second_split_joins_the_image_set_of_its_folder(tmp_path: Path) -> None:
    """Datumaro's layout: images/train/a.jpg and images/val/b.jpg, one file per split."""
    root = tmp_path / "ds"
    rng = np.random.default_rng(1)
    for split, name, (w, h) in (("train", "a.jpg", (40, 30)), ("val", "b.jpg", (30, 44))):
        write_image(root, f"images/{split}/{name}", w, h)
        data = {"images": [{"id": 5, "file_name": name, "width": w, "height": h}],
                "annotations": [{"id": 1, "image_id": 5, "category_id": 1,
                                 "keypoints": keypoints(rng, w, h)}],
                "categories": [{"id": 1, "name": "person", "keypoints": NAMES}]}
        (root / f"{split}.json").write_text(json.dumps(data))
    p = Project.create(tmp_path / "p.posestudio", COCO17)
    import_coco(p, root / "train.json", image_folder=root / "images")
    s = import_coco(p, root / "val.json", image_folder=root / "images")
    assert any("appended" in n for n in s.notes)
    (v,) = p.videos()
    assert [(f.path, f.width) for f in p.frame_files(v.id)] == [("train/a.jpg", 40),
                                                               ("val/b.jpg", 30)]
    assert sorted(f for _, f, _ in p.iter_instances()) == [0, 1]
    # a name found twice under the folder is refused, not guessed
    write_image(root, "images/val/a.jpg", 10, 10)
    q = Project.create(tmp_path / "q.posestudio", COCO17)
    with pytest.raises(CocoFormatError, match=r"not under .*'a\.jpg'"):
        import_coco(q, root / "train.json", image_folder=root / "images")
    p.close()
    q.close()


def test_names_given_relative_to_another_folder_are_given_back(tmp_path: Path) -> None:
    path, orig = quirky_coco(tmp_path / "ds")
    orig["images"] = orig["images"][:3]  # those under images/val
    orig["annotations"] = [a for a in orig["annotations"] if a["image_id"] != 7]
    path.write_text(json.dumps(orig))
    p = Project.create(tmp_path / "p.posestudio", COCO17)
    import_coco(p, path, image_folder=tmp_path / "ds" / "images" / "val")  # a deeper folder
    (v,) = p.videos()
    assert [f.path for f in p.frame_files(v.id)] == ["seq_a/000000.jpg", "seq_b/000000.jpg",
                                                     "seq_b/000001.jpg"]
    out = tmp_path / "o.json"
    export_coco(p, out, images_dir=tmp_path / "copy")
    names = {im["file_name"] for im in json.loads(out.read_text())["images"]}
    assert names == {im["file_name"] for im in orig["images"]}  # as the file named them
    assert all((tmp_path / "copy" / n).is_file() for n in names)
    p.close()
