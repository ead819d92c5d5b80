"""COCO import of files as real tools write them (official/mmpose, CVAT, X-AnyLabeling, DLC,
Label Studio-style scripts): lenient where the meaning is clear, all-or-nothing, fingerprints."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pose_studio.core.annotation import Instance
from pose_studio.core.skeleton import COCO17
from pose_studio.formats.coco import import_coco
from pose_studio.formats.coco_read import CocoFormatError, parse_coco, read_coco
from pose_studio.formats.dataset import Annotation, Dataset
from pose_studio.store.project import Project
from pose_studio.video import frame_signature, open_video
from tests.support.videos import make_indexed_video

K = COCO17.num_keypoints
NAMES = list(COCO17.keypoints)
KP = [v for i in range(K) for v in (10.0 + i, 20.0 + 2 * i, 2)]


def _official() -> dict[str, Any]:
    """``person_keypoints_val2017.json`` shape: info, licenses, polygons, a crowd RLE."""
    return {
        "info": {"description": "COCO 2017 Dataset", "year": 2017},
        "licenses": [{"id": 1, "name": "Attribution-NonCommercial", "url": "http://x"}],
        "images": [{"id": 397133, "file_name": "000000397133.jpg", "width": 640, "height": 427,
                    "license": 1, "coco_url": "http://x", "date_captured": "2013-11-14"}],
        "annotations": [
            {"id": 200887, "image_id": 397133, "category_id": 1, "keypoints": list(KP),
             "num_keypoints": 17, "bbox": [5.0, 15.0, 40.0, 60.0], "area": 1500.5,
             "iscrowd": 0, "segmentation": [[5.0, 15.0, 45.0, 15.0, 45.0, 75.0]]},
            {"id": 900100397133, "image_id": 397133, "category_id": 1, "keypoints": [0] * 51,
             "num_keypoints": 0, "bbox": [0, 0, 100, 80], "area": 6000, "iscrowd": 1,
             "segmentation": {"counts": [0, 12, 30, 7], "size": [427, 640]}},
        ],
        "categories": [{"supercategory": "person", "id": 1, "name": "person", "keypoints": NAMES,
                        "skeleton": [[16, 14], [14, 12], [17, 15]]}],
    }


def _mut(fn: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    d = _official()
    fn(d)
    return d


def _set_ids(d: dict[str, Any], image_id: Any, ann_id: Any) -> None:
    d["images"][0]["id"] = image_id
    for i, a in enumerate(d["annotations"]):
        a["image_id"] = image_id
        a["id"] = ann_id if i == 0 else f"{ann_id}-{i}"


def _other_category(d: dict[str, Any], cat: dict[str, Any], ann: dict[str, Any]) -> None:
    d["categories"].append(cat)
    d["annotations"].append({"id": 77, "image_id": 397133, "category_id": cat["id"], **ann})


ACCEPTED: dict[str, dict[str, Any]] = {
    "official with crowd RLE": _official(),
    "no info, no licenses": _mut(lambda d: [d.pop("info"), d.pop("licenses")]),
    "null info": _mut(lambda d: d.update(info=None, licenses=None)),
    "ids from 0 (X-AnyLabeling)": _mut(lambda d: _set_ids(d, 0, 0)),
    "string ids": _mut(lambda d: _set_ids(d, "img-a", "ann-a")),
    "digit-string image ids": _mut(lambda d: _set_ids(d, "397133", 5)),
    "annotation without id": _mut(lambda d: d["annotations"][0].pop("id")),
    "float visibility": _mut(lambda d: d["annotations"][0].update(
        keypoints=[float(v) for v in KP])),
    "int keypoints": _mut(lambda d: d["annotations"][0].update(keypoints=[int(v) for v in KP])),
    "num_keypoints missing": _mut(lambda d: d["annotations"][0].pop("num_keypoints")),
    "num_keypoints wrong": _mut(lambda d: d["annotations"][0].update(num_keypoints=3)),
    "no bbox, no area": _mut(lambda d: [d["annotations"][0].pop(k) for k in ("bbox", "area")]),
    "0-based skeleton": _mut(lambda d: d["categories"][0].update(skeleton=[[0, 1], [1, 2]])),
    "empty skeleton (X-AnyLabeling)": _mut(lambda d: d["categories"][0].update(skeleton=[])),
    "string category id": _mut(lambda d: d["annotations"][0].update(category_id="1")),
    "string image size": _mut(lambda d: d["images"][0].update(width="640", height=427.0)),
    "box-only category (CVAT)": _mut(lambda d: _other_category(
        d, {"id": 2, "name": "car", "supercategory": ""},
        {"bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0, "segmentation": []})),
    "category with empty keypoints": _mut(lambda d: _other_category(
        d, {"id": 2, "name": "ball", "keypoints": [], "skeleton": []},
        {"keypoints": [], "num_keypoints": 0, "bbox": [1, 2, 3, 4]})),
    "string track name": _mut(lambda d: d["annotations"][0].update(
        attributes={"track_id": "mouse-1", "occluded": False, "keyframe": True})),
}


def _anns(ds: Dataset) -> list[Annotation]:
    return [a for f in ds.frames for a in f.annotations]


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_realistic_files_are_accepted(case: str) -> None:
    ds = parse_coco(copy.deepcopy(ACCEPTED[case]), COCO17, "x.json")
    assert len(_anns(ds)) == 1, case
    a = _anns(ds)[0]
    np.testing.assert_array_equal(a.points, np.asarray(KP).reshape(K, 3))
    assert not ds.not_kept, ds.not_kept


def test_duplicate_annotation_ids_are_refused() -> None:
    d = _mut(lambda d: d["annotations"][1].update(id=200887))
    with pytest.raises(CocoFormatError, match="annotation 200887: duplicate annotation id"):
        parse_coco(d, COCO17, "x.json")


def test_keypoints_by_name_in_another_order_or_subset() -> None:
    d = _official()
    d["categories"][0]["keypoints"] = NAMES[::-1]
    a = _anns(parse_coco(d, COCO17, "x.json"))[0]
    np.testing.assert_array_equal(a.points[:, :2], np.asarray(KP).reshape(K, 3)[::-1, :2])
    d = _official()
    d["categories"][0]["keypoints"] = NAMES[5:]  # no face points
    d["annotations"][0]["keypoints"] = KP[15:]
    d["annotations"][1]["keypoints"] = [0] * 36
    b = _anns(parse_coco(d, COCO17, "x.json"))[0]
    assert b.points[:, 2].tolist() == [0] * 5 + [2] * 12
    np.testing.assert_array_equal(b.points[5:, :2], np.asarray(KP).reshape(K, 3)[5:, :2])


def test_nan_and_minus_one_mean_unlabeled_and_are_noted() -> None:
    kp: list[Any] = list(KP)
    kp[0:3] = [float("nan"), float("nan"), 2]  # pandas writers
    kp[3:6] = [-5.0, -5.0, -1]  # DeepLabCut's converter
    kp[6:9] = [None, None, 0]  # JavaScript writers
    d = _mut(lambda d: d["annotations"][0].update(keypoints=kp))
    text = json.dumps(d)  # Python writes NaN as a bare NaN token, as such files have it
    ds = parse_coco(json.loads(text), COCO17, "x.json")
    a = _anns(ds)[0]
    assert a.points[:4, 2].tolist() == [0, 0, 0, 2]
    notes = ds.info["notes"]
    assert any("NaN" in n for n in notes) and any("-1" in n for n in notes)


def test_other_keypoint_categories_are_skipped_only_when_one_fits() -> None:
    hand = {"id": 2, "name": "hand", "keypoints": [f"h{i}" for i in range(21)], "skeleton": []}
    d = _mut(lambda d: _other_category(d, hand, {"keypoints": [1, 1, 2] * 21,
                                                 "num_keypoints": 21}))
    ds = parse_coco(d, COCO17, "x.json")
    assert len(_anns(ds)) == 1 and ds.info["skipped"] == 1
    assert any("'hand'" in n and "1 of" in n for n in ds.not_kept)
    # Nothing fits the project: refused, naming the category.
    d["categories"] = [hand]
    d["annotations"] = [d["annotations"][-1]]
    with pytest.raises(CocoFormatError, match="category 'hand': unknown keypoint layout"):
        parse_coco(d, COCO17, "x.json")


def test_utf8_bom_and_utf16_files_load(tmp_path: Path) -> None:
    text = json.dumps(_official())
    for name, data in (("bom.json", b"\xef\xbb\xbf" + text.encode()),
                       ("u16.json", text.encode("utf-16"))):
        (tmp_path / name).write_bytes(data)
        assert len(_anns(read_coco(tmp_path / name, COCO17))) == 1


def test_problems_name_the_first_bad_annotations() -> None:
    d = _official()
    d["annotations"] += [dict(d["annotations"][0], id=1000 + i, keypoints=[1.0] * 5)
                         for i in range(15)]
    with pytest.raises(CocoFormatError) as err:
        parse_coco(d, COCO17, "big.json")
    assert "annotation 1000" in str(err.value) and err.value.total == 15
    assert "and 5 more problem(s)" in str(err.value)


# --- project level: file names, frame numbers, all-or-nothing, fingerprints ----------------
N_FRAMES = 30


@pytest.fixture()
def proj(tmp_path: Path) -> tuple[Project, Path]:
    video = make_indexed_video(tmp_path / "clip.mp4", N_FRAMES, size=(96, 64), codec="h264")
    p = Project.create(tmp_path / "p.posestudio", COCO17)
    with open_video(video) as r:
        m = r.meta
        p.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                    fps=m.fps, index=r.index_bytes())
    yield p, video
    p.close()


def _coco_for(names: list[str], frame_index: bool = False) -> dict[str, Any]:
    images = [{"id": i, "file_name": n, "width": 96, "height": 64} for i, n in enumerate(names)]
    if frame_index:
        for i, im in enumerate(images):
            im["frame_index"] = i + 3
    anns = [{"id": i + 1, "image_id": i, "category_id": 1, "keypoints": list(KP),
             "num_keypoints": K, "iscrowd": 0} for i in range(len(names))]
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": NAMES, "skeleton": []}]}


def _write(tmp_path: Path, d: dict[str, Any], name: str = "in.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(d))
    return path


@pytest.mark.parametrize(("names", "frames"), [
    (["frame_000007.PNG", "frame_000012.PNG"], [7, 12]),  # CVAT
    (["images/0004.jpg", "images/0020.jpg"], [4, 20]),
    (["clip/img00005.png", "clip/img00029.png"], [5, 29]),  # DeepLabCut labeled-data
    (["/data/run 1/clip/frame_3.png", "/data/run 1/clip/frame_9.png"], [3, 9]),
    (["C:\\Users\\me\\clip\\000011.jpg", "C:\\Users\\me\\clip\\000002.jpg"], [11, 2]),
])
def test_file_name_conventions_land_on_the_right_frames(
    tmp_path: Path, proj: tuple[Project, Path], names: list[str], frames: list[int]
) -> None:
    p, _ = proj
    s = import_coco(p, _write(tmp_path, _coco_for(names)))
    assert s.n_user == 2
    assert sorted(f for _, f, _ in p.iter_instances("user")) == sorted(frames)


def test_frame_index_wins_over_file_name(tmp_path: Path, proj: tuple[Project, Path]) -> None:
    p, _ = proj
    import_coco(p, _write(tmp_path, _coco_for(["a/000020.png", "a/000021.png"], True)))
    assert sorted(f for _, f, _ in p.iter_instances("user")) == [3, 4]


def test_files_numbered_from_one_get_a_hint_and_an_offset(
    tmp_path: Path, proj: tuple[Project, Path]
) -> None:
    p, _ = proj
    path = _write(tmp_path, _coco_for(["0001.png", f"{N_FRAMES:04d}.png"]))
    with pytest.raises(CocoFormatError, match=r"numbered from 1.*offset of -1"):
        import_coco(p, path)
    assert p.counts()["user_instances"] == 0
    import_coco(p, path, frame_offset=-1)
    assert sorted(f for _, f, _ in p.iter_instances("user")) == [0, N_FRAMES - 1]


def test_one_bad_annotation_writes_nothing(tmp_path: Path, proj: tuple[Project, Path]) -> None:
    p, _ = proj
    d = _coco_for([f"frame_{i:06d}.png" for i in range(20)])
    d["annotations"][13]["keypoints"][5] = 7  # visibility 7
    with pytest.raises(CocoFormatError, match="annotation 14"):
        import_coco(p, _write(tmp_path, d))
    d = _coco_for([f"frame_{i:06d}.png" for i in (1, 2, 40)])  # frame 40 is past the end
    with pytest.raises(CocoFormatError, match="frame 40 is outside"):
        import_coco(p, _write(tmp_path, d))
    assert p.counts()["user_instances"] == 0 and p.fingerprints(1) == {}
    assert p.tracks() == [] and p.model_runs() == []


def test_import_stores_a_fingerprint_for_every_labeled_frame(
    tmp_path: Path, proj: tuple[Project, Path]
) -> None:
    p, video = proj
    p.set_fingerprints(1, {4: 12345})  # recorded earlier (e.g. by the GUI): kept as it is
    frames = [0, 4, 5, 17, 29]
    s = import_coco(p, _write(tmp_path, _coco_for([f"frame_{f:06d}.png" for f in frames])))
    assert s.n_images == len(frames) and not s.notes
    stored = p.fingerprints(1)
    assert sorted(stored) == frames and stored[4] == 12345
    with open_video(video) as r:
        for f in (0, 5, 17, 29):
            assert stored[f] == frame_signature(r.get(f))
    assert p.frames_missing_fingerprints(1) == []
    p.add_instance(1, 9, Instance(xy=np.ones((K, 2)), visibility=np.full(K, 2)))
    assert p.frames_missing_fingerprints(1) == [9]


def test_import_with_missing_video_still_imports_and_says_so(
    tmp_path: Path, proj: tuple[Project, Path]
) -> None:
    p, video = proj
    video.rename(tmp_path / "elsewhere.mp4")
    s = import_coco(p, _write(tmp_path, _coco_for(["frame_000002.png"])))
    assert s.n_user == 1 and any("missing" in n for n in s.notes)
    assert p.fingerprints(1) == {} and p.frames_missing_fingerprints(1) == [2]


def _ship_images(tmp_path: Path, video: Path, frames: list[int], first: int) -> list[str]:
    """Frames written as an exporter ships them: ``images/<n>.png`` with n = frame + first."""
    import cv2

    (tmp_path / "images").mkdir(exist_ok=True)
    names = []
    with open_video(video) as r:
        for f in frames:
            name = f"images/{f + first:04d}.png"
            cv2.imwrite(str(tmp_path / name), r.get(f))
            names.append(name)
    return names


@pytest.mark.parametrize("first", [1, 0])
def test_images_beside_the_json_tell_the_numbering(
    tmp_path: Path, proj: tuple[Project, Path], first: int
) -> None:
    p, video = proj
    frames = [2, 9, 15, 22]  # the last frame is not labeled: no "one past the end" hint
    names = _ship_images(tmp_path, video, frames, first)
    s = import_coco(p, _write(tmp_path, _coco_for(names)))
    assert sorted(f for _, f, _ in p.iter_instances("user")) == frames
    assert any("numbered from 1" in n for n in s.notes) == (first == 1)


def test_importing_the_same_file_twice_adds_nothing_new(
    tmp_path: Path, proj: tuple[Project, Path]
) -> None:
    p, _ = proj
    path = _write(tmp_path, _coco_for(["frame_000003.png", "frame_000008.png"]))
    assert import_coco(p, path).n_user == 2
    again = import_coco(p, path)
    assert again.n_user == 0 and again.duplicates == 2
    assert any("imported before" in n for n in again.notes)
    assert p.counts()["user_instances"] == 2


def test_two_videos_told_apart_by_name_prefix_or_folder(tmp_path: Path) -> None:
    with Project.create(tmp_path / "two.posestudio", COCO17) as p:
        for stem in ("walk", "run"):
            video = make_indexed_video(tmp_path / f"{stem}.mp4", 10, size=(96, 64),
                                       codec="mjpeg")
            with open_video(video) as r:
                p.add_video(video, width=96, height=64, frame_count=len(r), fps=30)
        names = ["walk_frame_000003.png", "run-00004.jpg", "run/img00007.png"]
        import_coco(p, _write(tmp_path, _coco_for(names)))
        got = sorted((v, f) for v, f, _ in p.iter_instances("user"))
        assert got == [(1, 3), (2, 4), (2, 7)]
        with pytest.raises(CocoFormatError, match="which of the project's 2 videos"):
            import_coco(p, _write(tmp_path, _coco_for(["frame_000001.png"]), "b.json"))


def test_binary_visibility_is_kept_but_noted() -> None:
    d = _mut(lambda d: d["annotations"][0].update(
        keypoints=[v if i % 3 != 2 else 1 for i, v in enumerate(KP)]))
    ds = parse_coco(d, COCO17, "x.json")
    assert _anns(ds)[0].points[:, 2].tolist() == [1] * K
    assert any("binary visibility" in n for n in ds.info["notes"])
    assert not any("visibility" in n for n in parse_coco(_official(), COCO17).info["notes"])
