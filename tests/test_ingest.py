"""The one importer (any Dataset into a project, one transaction) and the project -> Dataset
exporter, independent of COCO: video sources, keypoint remapping by name, categories, tracks,
model runs, regions, dedupe, all-or-nothing; and the format-5 schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.skeleton import COCO17, Skeleton
from pose_studio.formats.dataset import Annotation, Dataset, Frame, Region, Source
from pose_studio.formats.ingest import IngestError, ingest
from pose_studio.formats.project_dataset import dataset_from_project
from pose_studio.store.migrations import create_v1
from pose_studio.store.project import Project
from tests.support.videos import make_indexed_video

MOUSE = Skeleton(name="mouse", keypoints=("snout", "left_ear", "right_ear", "tail"))


def _pts(seed: int, k: int = 4, w: float = 90.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = np.column_stack([rng.uniform(1, w, k), rng.uniform(1, 60, k), np.full(k, 2.0)])
    p[-1] = (np.nan, np.nan, 0)  # a point the source has no coordinates for
    return p


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_indexed_video(tmp_path_factory.mktemp("v") / "cage.mp4", 12, size=(96, 64))


def _dataset(video: str) -> Dataset:
    frames = [
        Frame("v", 2, (Annotation(_pts(1), track="mouse A", category="mouse",
                                  extra={"id": 11, "note": "first"}),
                       Annotation(_pts(2), kind=InstanceKind.PREDICTED, score=0.7,
                                  kp_scores=np.full(4, 0.5), run="tracker", track="mouse B")),
              regions=(Region((1.0, 2.0, 3.0, 4.0), "cage", {"iscrowd": 1}),),
              extra={"id": 500, "session": "s1"}),
        Frame("v", 9, (Annotation(_pts(3), track="mouse A", category="mouse"),)),
    ]
    return Dataset(MOUSE, [Source("v", "video", path=video)], frames,
                   tracks=["mouse A", "mouse B"], categories=["mouse", "cage"],
                   runs={"tracker": {"model_path": "tracker.onnx", "model_hash": "abc"}},
                   not_kept=["something the reader could not keep"])


def test_video_source_found_beside_the_file_is_added(tmp_path: Path, clip: Path) -> None:
    p = Project.create(tmp_path / "p.posestudio", MOUSE)
    s = ingest(p, _dataset(clip.name), path=clip.parent / "labels.slp", fingerprints=True)
    assert (s.n_user, s.n_predicted, s.n_regions, s.tracks_created) == (2, 1, 1, 2)
    assert s.not_kept == ("something the reader could not keep",)
    (v,) = p.videos()
    assert v.path == clip and s.sources_added == (v.id,)
    assert sorted(p.fingerprints(v.id)) == [2, 9]  # labeled frames, read from the new video
    (run,) = p.model_runs()
    assert run.model_path == "tracker.onnx" and run.model_hash == "abc"
    assert [c.name for c in p.categories()] == ["mouse", "cage"]
    meta = p.instance_meta(v.id)
    first = p.instances(v.id, 2, "user")[0]
    assert meta[first.id].extra == {"id": 11, "note": "first"}
    assert np.isnan(_pts(1)[-1, 0]) and first.xy[-1].tolist() == [0.0, 0.0]
    (region,) = p.regions(v.id)
    assert region.bbox == (1.0, 2.0, 3.0, 4.0) and region.extra == {"iscrowd": 1}
    fm = p.frame_meta(v.id)[(v.id, 2)]
    assert fm.image_id == 500 and fm.extra == {"session": "s1"}
    assert p.frames_by_image_id() == {500: [(v.id, 2)]}
    # again: nothing new (same frames, same keypoints, same regions)
    again = ingest(p, _dataset(clip.name), path=clip.parent / "labels.slp")
    assert again.n_user == again.n_predicted == again.n_regions == 0 and again.duplicates == 4
    p.close()


def test_project_to_dataset_and_back(tmp_path: Path, clip: Path) -> None:
    p = Project.create(tmp_path / "p.posestudio", MOUSE)
    ingest(p, _dataset(str(clip)))
    out = dataset_from_project(p, source="all")
    out.validate()
    assert [(f.index, len(f.annotations), len(f.regions)) for f in out.frames] == [
        (2, 2, 1), (9, 1, 0)]
    assert out.tracks == ["mouse A", "mouse B"] and out.categories == ["mouse", "cage"]
    a = out.frames[0].annotations[0]
    assert a.category == "mouse" and a.track == "mouse A" and a.extra["id"] == 11
    pred = out.frames[0].annotations[1]
    assert pred.run is not None and out.runs[pred.run]["model_path"] == "tracker.onnx"
    assert out.frames[0].extra == {"id": 500, "session": "s1"}
    q = Project.create(tmp_path / "q.posestudio", MOUSE)
    ingest(q, out)
    assert dataset_from_project(q, source="all").num_annotations == 3
    p.close()
    q.close()


def test_keypoints_remapped_by_name_and_the_rest_named(tmp_path: Path, clip: Path) -> None:
    other = Skeleton(name="rodent", keypoints=("tail", "snout", "whisker"))
    pts = np.array([[5.0, 6.0, 2], [7.0, 8.0, 2], [9.0, 9.0, 2]])
    ds = Dataset(other, [Source("v", "video", path=str(clip))],
                 [Frame("v", 1, (Annotation(pts),))])
    p = Project.create(tmp_path / "p.posestudio", MOUSE)
    s = ingest(p, ds)
    (inst,) = [i for _, _, i in p.iter_instances()]
    assert inst.xy[0].tolist() == [7.0, 8.0] and inst.xy[3].tolist() == [5.0, 6.0]
    assert inst.visibility.tolist() == [2, 0, 0, 2]
    assert s.keypoint_mapping == "by name"
    assert any("whisker" in n and "1 labeled point" in n for n in s.not_kept)
    with pytest.raises(IngestError, match="unknown keypoint layout"):
        ingest(p, Dataset(COCO17, [Source("v", "video", path=str(clip))],
                          [Frame("v", 1, (Annotation(np.zeros((17, 3))),))]))
    p.close()


def test_refusals_change_nothing(tmp_path: Path, clip: Path) -> None:
    p = Project.create(tmp_path / "p.posestudio", MOUSE)
    with pytest.raises(IngestError, match="not in the project and its file was not found"):
        ingest(p, _dataset("nowhere.mp4"))
    bad = _dataset(str(clip))
    bad.frames.append(Frame("v", 40, (Annotation(_pts(4)),)))  # past the video's end
    with pytest.raises(Exception, match="frame 40 is outside"):
        ingest(p, bad)
    bad = _dataset(str(clip))
    bad.frames[0] = Frame("v", 2, (Annotation(_pts(1), track="nobody"),))
    with pytest.raises(IngestError, match="track 'nobody'"):
        ingest(p, bad)
    assert p.videos() == [] and p.counts()["user_instances"] == 0 and p.categories() == []
    assert p.model_runs() == [] and p.tracks() == []
    p.close()


# --- the schema ----------------------------------------------------------------------------------
def _schema(path: Path) -> dict[str, set[tuple[str, str]]]:
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        out = {t: {(r[1], r[2].upper()) for r in con.execute(f"PRAGMA table_info({t})")}
               for t in tables}
        out["indexes"] = {(r[0], r[1]) for r in con.execute(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' "
            "AND name NOT LIKE 'sqlite_%'")}
        return out
    finally:
        con.close()


def test_an_upgraded_file_has_the_tables_of_a_new_one(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    old = tmp_path / "old.posestudio"
    engine = create_engine(f"sqlite:///{old}")
    with engine.begin() as conn:
        create_v1(conn)
        conn.exec_driver_sql("INSERT INTO skeletons VALUES (1, 'mouse', 4, ?)",
                             (MOUSE.to_json(),))
    engine.dispose()
    Project.open(old).close()
    Project.create(tmp_path / "new.posestudio", MOUSE).close()
    assert _schema(old) == _schema(tmp_path / "new.posestudio")


def test_image_set_source_with_its_own_folder(tmp_path: Path) -> None:
    """A reader that knows where its images are (DeepLabCut's labeled-data/<video>/)."""
    from pose_studio.formats.dataset import ImageEntry
    from tests.support.coco_files import write_image

    folder = tmp_path / "labeled-data" / "m4s1"
    for name, w in (("img001.png", 40), ("img010.png", 50), ("img002.png", 60)):
        write_image(folder, name, w, 30)
    images = (ImageEntry("img010.png"), ImageEntry("img002.png"), ImageEntry("img001.png"))
    ds = Dataset(MOUSE, [Source("s", "images", path="labeled-data/m4s1", images=images)],
                 [Frame("s", 0, (Annotation(_pts(5, w=40)),))])
    p = Project.create(tmp_path / "p.posestudio", MOUSE)
    s = ingest(p, ds, path=tmp_path / "CollectedData_x.csv")
    (v,) = p.videos()
    assert v.path == folder and s.sources_added == (v.id,)
    assert [(f.path, f.width) for f in p.frame_files(v.id)] == [
        ("img001.png", 40), ("img002.png", 60), ("img010.png", 50)]
    assert [f for _, f, _ in p.iter_instances()] == [2]  # img010.png, in natural order
    p.close()
