"""COCO export/import against a real project and real (synthetic) videos."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind, Provenance
from pose_studio.core.oks import coco_keypoint_ap
from pose_studio.core.skeleton import COCO17
from pose_studio.formats.coco import (
    CocoExportError,
    CocoFormatError,
    export_coco,
    import_coco,
)
from pose_studio.store.project import Project
from pose_studio.video import open_video
from tests.support.videos import make_indexed_video, read_index_from_frame
from tests.test_coco_formats import _cvat_style, _mmpose_style
from tests.test_coco_malformed import MALFORMED

K = COCO17.num_keypoints
W, H = 160, 120
N_FRAMES = 24


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_indexed_video(tmp_path_factory.mktemp("vid") / "clip.mp4", N_FRAMES, size=(W, H))


def _add_video(project: Project, path: Path) -> int:
    with open_video(path) as r:
        m = r.meta
        return project.add_video(path, width=m.width, height=m.height, frame_count=m.frame_count,
                                 fps=m.fps, vfr=m.vfr, codec=m.codec, duration_s=m.duration_s,
                                 index=r.index_bytes(), kind=m.kind)


def _new_project(path: Path, *videos: Path) -> tuple[Project, list[int]]:
    project = Project.create(path, COCO17)
    return project, [_add_video(project, v) for v in videos]


def _rand_instance(rng: np.random.Generator, kind: InstanceKind, **kw: Any) -> Instance:
    xy = rng.uniform(2, min(W, H) - 2, size=(K, 2))
    vis = rng.choice([0, 1, 2], size=K, p=[0.2, 0.2, 0.6]).astype(np.uint8)
    vis[:2] = 2
    xy[vis == 0] = 0.0
    if kind is InstanceKind.PREDICTED:
        kw.setdefault("kp_scores", rng.uniform(0, 1, size=K).astype(np.float32))
        kw.setdefault("score", float(np.float32(rng.uniform(0.1, 1))))
    return Instance(xy=xy, visibility=vis, kind=kind, **kw)


def _populate(project: Project, vid: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    t_a = project.create_track("mouse A")
    t_b = project.create_track("mouse B")
    prov = np.zeros(K, dtype=np.uint8)
    prov[3] = int(Provenance.INTERPOLATED)
    project.add_instance(vid, 2, _rand_instance(rng, InstanceKind.USER, track_id=t_a))
    project.add_instance(vid, 2, _rand_instance(rng, InstanceKind.USER, track_id=t_b,
                                                bbox=(10.0, 12.5, 60.0, 70.0)))
    project.add_instance(vid, 7, _rand_instance(rng, InstanceKind.USER, provenance=prov))
    project.add_instance(vid, 20, _rand_instance(rng, InstanceKind.USER, track_id=t_a))
    run = project.create_model_run(model_path="m.onnx", model_hash="h", providers=["CPU"],
                                   params={})
    preds = [(f, _rand_instance(rng, InstanceKind.PREDICTED, track_id=t_a)) for f in (2, 3, 7)]
    preds.append((11, _rand_instance(rng, InstanceKind.PREDICTED, bbox=(1.0, 2.0, 30.0, 40.0))))
    project.add_predictions(vid, preds, run)


def _snapshot(project: Project) -> list[tuple[Any, ...]]:
    """Everything an import may change, comparable across projects (ids and runs left out)."""
    names = {t.id: t.name for t in project.tracks()}
    out = []
    for vid, frame, inst in project.iter_instances("all"):
        lab = inst.visibility > 0
        out.append((
            project.video(vid).path.name, frame, inst.kind.value,
            inst.xy[lab].tolist(), inst.visibility.tolist(),
            None if inst.kp_scores is None else inst.kp_scores.tolist(),
            inst.score, inst.bbox, names.get(inst.track_id) if inst.track_id else None,
            inst.provenance.tolist() if inst.provenance is not None else None,
        ))
    return sorted(out, key=repr)


# --- round trip ----------------------------------------------------------------------------------
def test_round_trip_all_fields_both_sources(tmp_path: Path, clip: Path) -> None:
    src, (vid,) = _new_project(tmp_path / "a.posestudio", clip)
    _populate(src, vid)
    out = tmp_path / "all.json"
    s = export_coco(src, out, source="all")
    assert (s.n_user, s.n_predicted, s.n_images) == (4, 4, 5)
    dst, _ = _new_project(tmp_path / "b.posestudio", clip)
    r = import_coco(dst, out)
    assert (r.n_user, r.n_predicted, r.n_images, r.tracks_created) == (4, 4, 5, 2)
    assert _snapshot(dst) == _snapshot(src)
    # predictions stay predictions, with their model run recorded when the store can
    preds = [i for _, _, i in dst.iter_instances("predicted")]
    assert len(preds) == 4 and all(p.kind is InstanceKind.PREDICTED for p in preds)


@pytest.mark.parametrize(("source", "n"), [("user", 4), ("predicted", 4)])
def test_export_sources(tmp_path: Path, clip: Path, source: str, n: int) -> None:
    project, (vid,) = _new_project(tmp_path / "a.posestudio", clip)
    _populate(project, vid)
    s = export_coco(project, tmp_path / "x.json", source=source)
    data = json.loads((tmp_path / "x.json").read_text())
    assert s.n_annotations == n == len(data["annotations"])
    assert {a["source"] for a in data["annotations"]} == {source}
    assert all(("score" in a) == (source == "predicted") for a in data["annotations"])
    frames = {im["frame_index"] for im in data["images"]}
    assert frames == ({2, 7, 20} if source == "user" else {2, 3, 7, 11})
    assert all(im["video"] == project.videos()[0].stored_path for im in data["images"])


def test_export_loads_in_pycocotools_and_self_ap_is_one(tmp_path: Path, clip: Path) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    project, (vid,) = _new_project(tmp_path / "a.posestudio", clip)
    _populate(project, vid)
    out = tmp_path / "gt.json"
    export_coco(project, out, source="all")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(out))
        anns = gt.dataset["annotations"]
        results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"],
                    "score": a.get("score", 1.0)} for a in anns]
        ev = COCOeval(gt, gt.loadRes(results), "keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(COCO17.sigmas)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0) and ev.stats[5] == pytest.approx(1.0)
    # our own evaluator agrees on the same file
    by_img: dict[int, list[dict[str, Any]]] = {}
    for a in anns:
        by_img.setdefault(a["image_id"], []).append(a)
    dts = {k: [dict(a, score=a.get("score", 1.0)) for a in v] for k, v in by_img.items()}
    assert coco_keypoint_ap(by_img, dts, COCO17.sigmas)["AP"] == pytest.approx(1.0)


# --- images --------------------------------------------------------------------------------------
def test_png_frames_equal_reader_frames(tmp_path: Path, clip: Path) -> None:
    project, (vid,) = _new_project(tmp_path / "a.posestudio", clip)
    _populate(project, vid)
    images = tmp_path / "imgs"
    calls: list[tuple[int, int]] = []
    s = export_coco(project, tmp_path / "x.json", source="all", images_dir=images,
                    progress=lambda d, t: calls.append((d, t)))
    data = json.loads((tmp_path / "x.json").read_text())
    assert s.images_written == len(data["images"]) == 5
    assert calls[-1] == (5, 5)
    with open_video(clip) as reader:
        for im in data["images"]:
            assert im["file_name"] == f"clip/{im['frame_index']:06d}.png"
            img = cv2.imread(str(images / im["file_name"]), cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(img, reader.get(im["frame_index"]))
            assert read_index_from_frame(img) == im["frame_index"]


def test_jpeg_quality_option(tmp_path: Path, clip: Path) -> None:
    project, (vid,) = _new_project(tmp_path / "a.posestudio", clip)
    _populate(project, vid)
    sizes = {}
    for q in (10, 95):
        d = tmp_path / f"q{q}"
        export_coco(project, tmp_path / f"q{q}.json", images_dir=d, image_format="jpg",
                    jpeg_quality=q)
        files = sorted(d.rglob("*.jpg"))
        assert [f.name for f in files] == ["000002.jpg", "000007.jpg", "000020.jpg"]
        sizes[q] = sum(f.stat().st_size for f in files)
        with open_video(clip) as reader:
            img = cv2.imread(str(files[0]))
            err = np.abs(img.astype(int) - reader.get(2).astype(int)).mean()
            assert err < (12 if q == 10 else 3)
            assert read_index_from_frame(img) == 2
    assert sizes[10] < sizes[95]
    with pytest.raises(CocoExportError, match="quality"):
        export_coco(project, tmp_path / "x.json", image_format="jpg", jpeg_quality=0)


def test_cancel_leaves_nothing(tmp_path: Path, clip: Path) -> None:
    project, (vid,) = _new_project(tmp_path / "a.posestudio", clip)
    _populate(project, vid)
    cancel = threading.Event()
    images = tmp_path / "imgs"
    s = export_coco(project, tmp_path / "x.json", images_dir=images, cancel=cancel,
                    progress=lambda d, t: cancel.set())
    assert s.cancelled
    assert not (tmp_path / "x.json").exists()
    assert not list(images.rglob("*.png"))


def test_two_videos_with_the_same_stem(tmp_path: Path, clip: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    clip2 = make_indexed_video(other / "clip.mp4", 12, size=(W, H))
    src, (v1, v2) = _new_project(tmp_path / "a.posestudio", clip, clip2)
    rng = np.random.default_rng(4)
    src.add_instance(v1, 5, _rand_instance(rng, InstanceKind.USER))
    src.add_instance(v2, 5, _rand_instance(rng, InstanceKind.USER))
    out = tmp_path / "x.json"
    export_coco(src, out, images_dir=tmp_path / "imgs")
    names = [im["file_name"] for im in json.loads(out.read_text())["images"]]
    assert len(set(names)) == 2 and all(n.endswith("/000005.png") for n in names)
    with open_video(clip2) as r:
        img = cv2.imread(str(tmp_path / "imgs" / names[1]), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(img, r.get(5))
    dst, _ = _new_project(tmp_path / "b.posestudio", clip, clip2)
    import_coco(dst, out)
    assert _snapshot(dst) == _snapshot(src)
    # only one of them exported
    s = export_coco(src, tmp_path / "one.json", video_ids=[v2])
    assert s.n_annotations == 1


def test_import_as_image_folder(tmp_path: Path, clip: Path) -> None:
    src, (vid,) = _new_project(tmp_path / "a.posestudio", clip)
    _populate(src, vid)
    images = tmp_path / "imgs"
    export_coco(src, tmp_path / "x.json", source="all", images_dir=images)
    dst = Project.create(tmp_path / "b.posestudio", COCO17)
    r = import_coco(dst, tmp_path / "x.json", image_folder=images / "clip")
    (video,) = dst.videos()
    assert video.kind == "images" and video.frame_count == 5
    # frames of the folder video are the exported frames in file-name order
    frames = sorted({f for _, f, _ in dst.iter_instances("all")})
    assert frames == list(range(5))
    assert r.n_user == 4 and r.n_predicted == 4
    with open_video(video.path) as reader:
        assert read_index_from_frame(reader.get(frames[-1])) == 20


# --- other tools' files --------------------------------------------------------------------------
def test_import_cvat_style_into_video(tmp_path: Path, clip: Path) -> None:
    project, _ = _new_project(tmp_path / "a.posestudio", clip)
    cvat = _cvat_style()
    for im in cvat["images"]:
        im["width"], im["height"] = W, H
    path = tmp_path / "cvat.json"
    path.write_text(json.dumps(cvat))
    r = import_coco(project, path)
    assert (r.n_user, r.n_predicted, r.n_regions, r.tracks_created) == (2, 0, 1, 1)
    assert r.skipped == 0 and r.not_kept == ()  # the box label is kept as a region
    assert [f for _, f, _ in project.iter_instances("user")] == [4, 9]
    assert [t.name for t in project.tracks()] == ["track 7"]
    # importing again reuses the track of the same name
    assert import_coco(project, path).tracks_created == 0


def test_import_mmpose_predictions_with_scores(tmp_path: Path, clip: Path) -> None:
    project, _ = _new_project(tmp_path / "a.posestudio", clip)
    data = _mmpose_style()
    data["images"][0].update(id=3, file_name="000000000017.jpg", width=W, height=H)
    for a in data["annotations"]:
        a["image_id"] = 3
    data["annotations"][0]["score"] = 0.75
    path = tmp_path / "mm.json"
    path.write_text(json.dumps(data))
    r = import_coco(project, path)
    assert (r.n_user, r.n_predicted, r.n_regions) == (0, 1, 1)
    (run,) = project.model_runs()
    assert run.model_path == "coco-import:mm.json"
    ((_, frame, inst),) = list(project.iter_instances("all"))
    assert frame == 17 and inst.kind is InstanceKind.PREDICTED and inst.score == 0.75


# --- refusals leave the project unchanged --------------------------------------------------------
def _state(project: Project) -> tuple[Any, ...]:
    return (_snapshot(project), [(t.id, t.name) for t in project.tracks()],
            [v.id for v in project.videos()], project.counts())


def _refusals() -> dict[str, Any]:
    cases: dict[str, Any] = {k: v[0] for k, v in MALFORMED.items()}
    out_of_range = _mmpose_style()
    out_of_range["images"][0].update(width=W, height=H, frame_index=N_FRAMES)
    cases["frame index out of range"] = out_of_range
    late = _mmpose_style()  # first annotation fine, a later one broken: still nothing written
    late["images"][0].update(width=W, height=H, frame_index=1)
    late["annotations"].append(dict(late["annotations"][0], id=5, keypoints=[1.0] * 3))
    cases["late problem"] = late
    unknown = _mmpose_style()
    unknown["categories"][0]["keypoints"] = [f"joint{i}" for i in range(K)]
    cases["unknown keypoint layout"] = unknown
    return cases


@pytest.mark.parametrize("case", sorted(_refusals()))
def test_refused_import_changes_nothing(tmp_path: Path, clip: Path, case: str) -> None:
    project, (vid,) = _new_project(tmp_path / "a.posestudio", clip)
    _populate(project, vid)
    before = _state(project)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_refusals()[case]))
    with pytest.raises(CocoFormatError) as err:
        import_coco(project, path)
    assert str(path) in str(err.value) and err.value.problems
    assert _state(project) == before


def test_refused_not_json_and_unknown_video(tmp_path: Path, clip: Path) -> None:
    project, _ = _new_project(tmp_path / "a.posestudio", clip)
    path = tmp_path / "x.json"
    path.write_text("not json at all")
    with pytest.raises(CocoFormatError, match="not valid JSON"):
        import_coco(project, path)
    path.write_text(json.dumps(_mmpose_style()))
    with pytest.raises(CocoFormatError, match="no video 99"):
        import_coco(project, path, video_id=99)
    empty = Project.create(tmp_path / "e.posestudio", COCO17)
    with pytest.raises(CocoFormatError, match="no video"):
        import_coco(empty, path)


def test_export_errors(tmp_path: Path, clip: Path) -> None:
    project, _ = _new_project(tmp_path / "a.posestudio", clip)
    with pytest.raises(CocoExportError, match="source"):
        export_coco(project, tmp_path / "x.json", source="both")
    with pytest.raises(CocoExportError, match="format"):
        export_coco(project, tmp_path / "x.json", image_format="gif")
    with pytest.raises(CocoExportError, match="does not exist"):
        export_coco(project, tmp_path / "nowhere" / "x.json")
    with pytest.raises(CocoExportError, match="no video 7"):
        export_coco(project, tmp_path / "x.json", video_ids=[7])
    s = export_coco(project, tmp_path / "empty.json")  # nothing labeled: a valid, empty file
    data = json.loads((tmp_path / "empty.json").read_text())
    assert s.n_annotations == 0 and data["images"] == [] and data["categories"]
