"""DeepLabCut projects: single and multi-animal round trips, CSV and .h5 layouts, hostile files."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.output import OutputError
from pose_studio.formats import dlc, dlc_table
from pose_studio.formats.dataset import Dataset
from pose_studio.formats.fileio import FormatError
from pose_studio.formats.registry import ReadOptions, WriteOptions, detect, get_format
from tests.support.datasets import (
    ANIMAL,
    anns_by_frame,
    assert_points_equal,
    frame_pixels,
    frames_for,
    make_dataset,
    roundtrip,
    write_png,
)
from tests.support.realworld import realworld

FMT = get_format("dlc")


def _read(path: Path, **kw: object) -> Dataset:
    assert FMT.read is not None
    return FMT.read(path, ReadOptions(**kw))  # type: ignore[arg-type]


def test_single_animal_round_trip(tmp_path: Path) -> None:
    ds = make_dataset(video=False, predictions=False, tracks=False)
    back, summary = roundtrip("dlc", ds, tmp_path / "proj")
    assert back.skeleton.keypoints == ANIMAL.keypoints
    assert back.skeleton.edges == ANIMAL.edges
    assert (tmp_path / "proj" / "labeled-data" / "stills" / "CollectedData_posestudio.h5").is_file()
    src = back.source("stills")
    assert [im.path for im in src.images] == ["a_img1.png", "b_img10.png"]  # labeled images only
    assert (src.images[1].width, src.images[1].height) == (100, 50)
    got = anns_by_frame(back)
    want = [a for _, _, a in anns_by_frame(ds)]
    assert [len(a) for _, _, a in got] == [len(a) for a in want]
    for (_, _, aa), bb in zip(got, want):
        for a, b in zip(aa, bb):
            assert_points_equal(a, b, occluded=False)
    img = cv2.imread(str(tmp_path / "proj" / "labeled-data" / "stills" / "b_img10.png"))
    np.testing.assert_array_equal(img, frame_pixels("stills", 2, (100, 50)))
    assert summary.not_written == []


def test_multi_animal_round_trip_keeps_individuals(tmp_path: Path) -> None:
    ds = make_dataset(images=False, predictions=True)
    back, summary = roundtrip("dlc", ds, tmp_path / "proj")
    cfg = dlc.load_yaml(tmp_path / "proj" / "config.yaml", "config")
    assert cfg["multianimalproject"] is True and cfg["bodyparts"] == "MULTI!"
    assert cfg["individuals"] == ["mouse A", "mouse B"]
    assert list(cfg["video_sets"]) == ["/data/clip.mp4"]  # its stem names the labeled-data folder
    assert back.tracks == ["mouse A", "mouse B"]
    src = back.source("clip")
    assert [im.path for im in src.images] == ["img0000.png", "img0003.png", "img0007.png"]
    users = [[a for a in f.annotations if a.kind is InstanceKind.USER] for f in ds.frames]
    for f, want in zip(back.frames, users):
        assert sorted(a.track or "" for a in f.annotations) == sorted(a.track or "" for a in want)
        for a in f.annotations:
            assert_points_equal(a, next(b for b in want if b.track == a.track), occluded=False)
    text = " | ".join(summary.not_written)
    assert "predictions" in text and "v=1" in text


def _project(root: Path, config: str, csv: str, images: list[str]) -> Path:
    (root / "labeled-data" / "vid1").mkdir(parents=True)
    (root / "config.yaml").write_text(config)
    (root / "labeled-data" / "vid1" / "CollectedData_me.csv").write_text(csv)
    for i, name in enumerate(images):
        write_png(root / "labeled-data" / "vid1" / name, frame_pixels("vid1", i, (40, 30)))
    return root


MULTI_CONFIG = """\
Task: t
scorer: me
multianimalproject: true
individuals: [ind1, ind2]
uniquebodyparts: [box]
multianimalbodyparts: [head, tail]
bodyparts: MULTI!
skeleton:
- [head, tail]
- [head, nose]
"""

MULTI_CSV = """\
scorer,,,me,me,me,me,me,me,me,me,me,me
individuals,,,ind1,ind1,ind1,ind1,ind2,ind2,ind2,ind2,single,single
bodyparts,,,head,head,tail,tail,head,head,tail,tail,box,box
coords,,,x,y,x,y,x,y,x,y,x,y
labeled-data,vid1,img2.png,1,2,3,4,,,,,5,6
labeled-data,vid1,img10.png,7,8,,,9,10,11,12,,
"""


def test_multi_animal_with_unique_bodyparts(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", MULTI_CONFIG, MULTI_CSV, ["img2.png", "img10.png", "img3.png"])
    assert detect(root).name == "dlc"
    ds = _read(root)
    assert ds.skeleton.keypoints == ("head", "tail", "box")
    assert ds.skeleton.edges == ((0, 1),)
    assert any("head-nose" in line for line in ds.not_kept)
    src = ds.source("vid1")
    assert [im.path for im in src.images] == ["img2.png", "img3.png", "img10.png"]  # natural order
    first = {a.extra["dlc_individual"]: a for a in ds.frames[0].annotations}
    assert set(first) == {"ind1", "single"}
    assert first["single"].track is None and first["ind1"].track == "ind1"
    np.testing.assert_array_equal(first["single"].points[2], [5, 6, 2])
    assert first["ind1"].points[2, 2] == 0
    assert ds.frames[1].index == 2 and len(ds.frames[1].annotations) == 2
    back = _read(_write(ds, tmp_path / "out", frames=frames_for(ds)))
    for f1, f2 in zip(ds.frames, back.frames):
        a1 = {a.extra["dlc_individual"]: a.points for a in f1.annotations}
        a2 = {a.extra["dlc_individual"]: a.points for a in f2.annotations}
        assert a1.keys() == a2.keys()
        for k in a1:
            np.testing.assert_array_equal(a1[k], a2[k])


def _write(ds: Dataset, path: Path, **kw: object) -> Path:
    assert FMT.write is not None
    FMT.write(ds, path, WriteOptions(**kw))  # type: ignore[arg-type]
    return path


def test_old_single_cell_index_and_likelihood_predictions(tmp_path: Path) -> None:
    csv = ("scorer,me,me,me,me,me,me\nbodyparts,a,a,a,b,b,b\ncoords,x,y,likelihood,x,y,likelihood\n"
           "labeled-data/vid1/img0.png,1,2,0.9,3,4,0.2\n")
    root = _project(tmp_path / "p", "scorer: me\nbodyparts: [a, b]\n", csv, ["img0.png"])
    ds = _read(root / "labeled-data" / "vid1" / "CollectedData_me.csv")
    a = ds.frames[0].annotations[0]
    assert a.kind is InstanceKind.PREDICTED and a.run in ds.runs
    np.testing.assert_allclose(a.kp_scores, [0.9, 0.2])


def test_h5_alone_is_read_in_both_pandas_layouts(tmp_path: Path) -> None:
    ds = make_dataset(video=False, predictions=False, tracks=False)
    proj = _write(ds, tmp_path / "proj", frames=frames_for(ds))
    folder = proj / "labeled-data" / "stills"
    want = dlc_table.read_csv(folder / "CollectedData_posestudio.csv")
    (folder / "CollectedData_posestudio.csv").unlink()
    fixed = dlc_table.read_h5(folder / "CollectedData_posestudio.h5")
    assert fixed.columns == want.columns and fixed.rows == want.rows
    np.testing.assert_array_equal(fixed.values, want.values)
    assert len(_read(proj).frames) == 2  # the project reads from the .h5 alone


def test_h5_table_layout_refuses_pickled_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (__import__("os").system, (f"touch {marker}",))

    p = tmp_path / "CollectedData_x.h5"
    with h5py.File(p, "w") as f:
        g = f.create_group("df_with_missing")
        g.attrs["pandas_type"] = np.bytes_(b"frame_table")
        g.attrs["non_index_axes"] = np.void(pickle.dumps([(1, [Evil()])], protocol=0))
        g.create_dataset("table", data=np.zeros(1, dtype=[("index", "S4"),
                                                          ("values_block_0", "f8", (2,))]))
    assert dlc.sniff(p)
    with pytest.raises(FormatError, match="safely"):
        dlc_table.read_h5(p)
    assert not marker.exists()


def test_corpus_h5_table_layout_matches_its_csv() -> None:
    folder = realworld("data/dlc/openfield-Pranav-2018-10-30/labeled-data/m4s1")
    a = dlc_table.read_csv(folder / "CollectedData_Pranav.csv")
    b = dlc_table.read_h5(folder / "CollectedData_Pranav.h5")
    assert a.columns == b.columns and a.rows == b.rows
    np.testing.assert_array_equal(a.values, b.values)


@pytest.mark.parametrize(("config", "csv", "needle"), [
    ("!!python/object/apply:os.system ['touch {marker}']\n", None, "not valid YAML"),
    ("scorer: me\nbodyparts: [a, b]\n", "scorer,me\nbodyparts,a\ncoords,x\nimg.png,1,2\n",
     "row 4 has 3 cells"),
    ("scorer: me\nbodyparts: [a, b]\n", "scorer,me,me\nbodyparts,a,a\ncoords,x,y\nimg.png,one,2\n",
     "not a number"),
    ("scorer: me\nbodyparts: 7\n", None, "list of names"),
    ("- just\n- a list\n", None, "not a mapping"),
    ("scorer: me\nbodyparts: [a]\n", "scorer,me,me\ncoords,x,y\n", "header rows"),
])
def test_hostile_projects_fail_in_one_line(tmp_path: Path, config: str, csv: str | None,
                                           needle: str) -> None:
    marker = tmp_path / "ran"
    csv = csv or "scorer,me,me\nbodyparts,a,a\ncoords,x,y\nimg.png,1,2\n"
    root = _project(tmp_path / "p", config.replace("{marker}", str(marker)), csv, [])
    with pytest.raises(PoseStudioError, match=needle) as e:
        _read(root)
    assert "\n" not in str(e.value)
    assert not marker.exists()


def test_infinite_coordinates_are_unlabeled(tmp_path: Path) -> None:
    csv = "scorer,me,me,me,me\nbodyparts,a,a,b,b\ncoords,x,y,x,y\nlabeled-data/vid1/i.png,inf,2,3,4\n"
    root = _project(tmp_path / "p", "scorer: me\nbodyparts: [a, b]\n", csv, ["i.png"])
    ds = _read(root)
    a = ds.frames[0].annotations[0]
    assert a.points[0, 2] == 0 and a.points[1, 2] == 2
    assert any("non-finite" in line for line in ds.not_kept)


def test_without_pandas_the_csv_is_written_and_the_h5_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    ds = make_dataset(video=False, predictions=False, tracks=False)
    summary = FMT.write(ds, tmp_path / "p", WriteOptions(frames=frames_for(ds)))  # type: ignore[misc]
    assert any("convertcsv2h5" in line for line in summary.not_written)
    assert (tmp_path / "p" / "labeled-data" / "stills" / "CollectedData_posestudio.csv").is_file()
    assert not (tmp_path / "p" / "labeled-data" / "stills" / "CollectedData_posestudio.h5").exists()


def test_force_never_replaces_an_unrelated_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("precious")
    ds = make_dataset(video=False, predictions=False, tracks=False)
    with pytest.raises(OutputError, match="not replacing"):
        _write(ds, home, force=True, frames=frames_for(ds))
    assert (home / "thesis.tex").read_text() == "precious"
    _write(ds, tmp_path / "proj", frames=frames_for(ds))
    with pytest.raises(OutputError, match="--force"):
        _write(ds, tmp_path / "proj", frames=frames_for(ds))
    _write(ds, tmp_path / "proj", force=True, frames=frames_for(ds))  # an earlier export: fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "proj"]


def test_corpus_project_reads_and_round_trips(tmp_path: Path) -> None:
    root = realworld("data/dlc/openfield-Pranav-2018-10-30")
    assert detect(root).name == "dlc"
    assert detect(root / "config.yaml").name == "dlc"
    assert detect(root / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv").name == "dlc"
    ds = _read(root)
    ds.validate()
    assert ds.skeleton.keypoints == ("snout", "leftear", "rightear", "tailbase")
    assert ds.skeleton.flip_pairs == ((1, 2),)
    assert len(ds.frames) == 116 and ds.num_annotations == 116
    src = ds.sources[0]
    assert (src.images[0].width, src.images[0].height) == (640, 480)
    np.testing.assert_allclose(ds.frames[0].annotations[0].points[0], [21.521, 265.428, 2])

    def pixels(key: str, i: int) -> np.ndarray:
        return cv2.imread(str(Path(src.path or "") / src.images[i].path))

    ds.frames = ds.frames[:12]  # enough to check; encoding all 116 PNGs is slow
    back = _read(_write(ds, tmp_path / "copy", frames=pixels))
    assert [im.path for im in back.sources[0].images] == [im.path for im in src.images[:12]]
    for f1, f2 in zip(ds.frames, back.frames):
        np.testing.assert_array_equal(f1.annotations[0].points, f2.annotations[0].points)
    copied = cv2.imread(str(tmp_path / "copy" / "labeled-data" / "m4s1" / "img0005.png"))
    np.testing.assert_array_equal(copied, pixels("m4s1", 5))


def test_analysis_output_is_predictions_on_its_video(tmp_path: Path) -> None:
    (tmp_path / "vid.mp4").write_bytes(b"not really a video")
    p = tmp_path / "vidDLC_resnet50_testShuffle1_1000.csv"
    p.write_text("scorer,net,net,net,net,net,net\nbodyparts,a,a,a,b,b,b\n"
                 "coords,x,y,likelihood,x,y,likelihood\n0,1,2,0.9,3,4,0.2\n5,,,,7,8,0.5\n")
    assert detect(p).name == "dlc"
    ds = _read(p)
    assert ds.sources[0].kind == "video" and ds.sources[0].path == str(tmp_path / "vid.mp4")
    assert [f.index for f in ds.frames] == [0, 5]
    a = ds.frames[1].annotations[0]
    assert a.kind is InstanceKind.PREDICTED and a.points[0, 2] == 0
    np.testing.assert_allclose(a.kp_scores, [np.nan, 0.5])
    assert ds.skeleton.keypoints == ("a", "b")
