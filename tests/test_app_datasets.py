"""The Qt-free parts behind the window's dataset features: what an opened path is, image sets
added from folders or files, what is said about the shown image, the notices banner's text,
import (one step, cancel, missing media, a new project from a file) and export (checks before,
sources verified, cancel)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pose_studio.app import dataset_export as dx
from pose_studio.app import dataset_import as di
from pose_studio.app import media
from pose_studio.app.frame_info import FrameFiles, source_details
from pose_studio.app.notices import Notices, banner_for
from pose_studio.app.session import Session
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.output import OutputError
from pose_studio.core.skeleton import COCO17
from pose_studio.store.project import Project
from pose_studio.video.notices import VideoNotice
from tests.support.image_sets import IMAGES, write_coco, write_mixed_set
from tests.support.realworld import realworld


@pytest.fixture
def image_set(tmp_path: Path) -> Path:
    return write_mixed_set(tmp_path / "photos")


@pytest.fixture
def project(tmp_path: Path):
    p = Project.create(tmp_path / "p.posestudio", COCO17)
    yield p
    p.close()


def _with_set(project: Project, root: Path) -> int:
    (vid,) = media.add_image_sets(project, [media.read_image_set(root, None, project)])
    return vid


# --- what was opened -------------------------------------------------------------------------------
def test_classify_sorts_projects_videos_image_sets_and_datasets(tmp_path, image_set):
    coco = write_coco(image_set)
    video = tmp_path / "clip.MP4"
    video.write_bytes(b"x")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    got = media.classify([tmp_path / "a.posestudio", video, image_set,
                          image_set / "img1.png", coco, other])
    assert got.projects == (tmp_path / "a.posestudio",)
    assert got.videos == (video, other)  # opening a non-video says what it is not
    assert got.image_folders == (image_set,)
    assert got.image_files == (image_set / "img1.png",)
    assert got.datasets == ((coco, "coco"),)
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(PoseStudioError, match="not a dataset format") as e:
        media.classify([bad])
    assert "--format" not in str(e.value)
    with pytest.raises(PoseStudioError, match="no such file"):
        media.classify([tmp_path / "gone.mp4"])
    # what cannot be read without blocking, or named at all: one line, at once
    import os

    fifo = tmp_path / "labels.slp"
    os.mkfifo(fifo)
    for bad in (fifo, tmp_path / ("x" * 300 + ".json")):
        with pytest.raises(PoseStudioError, match="cannot open") as e:
            media.classify([bad])
        assert "\n" not in str(e.value)
        with pytest.raises(PoseStudioError, match="cannot open"):
            di.resolve_format(bad)


# --- image sets ---------------------------------------------------------------------------------
def test_an_image_folder_is_added_with_every_image_its_own_size(project, image_set):
    spec = media.read_image_set(image_set, None, project)
    assert [f[1:] for f in spec.files] == list(IMAGES)
    vid = _with_set(project, image_set)
    assert [(f.path, f.width, f.height) for f in project.frame_files(vid)] == list(IMAGES)
    assert project.image_sizes(vid) == {(w, h): 1 for _, w, h in IMAGES}
    assert project.history(5) == []  # a source, not an edit of labels
    again = media.read_image_set(image_set, None, project)
    assert again.existing == vid and media.add_image_sets(project, [again]) == [vid]
    assert len(project.videos()) == 1
    rec = project.video(vid)
    assert source_details(rec, project.image_sizes(vid)) == "image set: 4 images, 4 sizes"


def test_image_files_make_one_set_and_more_files_extend_it(project, image_set):
    files = [image_set / "sub" / "img3.png", image_set / "img2.png"]
    spec = media.read_image_set(media.common_root(files), files, project)
    (vid,) = media.add_image_sets(project, [spec])
    assert [f.path for f in project.frame_files(vid)] == ["sub/img3.png", "img2.png"]
    more = media.read_image_set(image_set, [image_set / "img1.png", image_set / "img2.png"],
                                project)
    assert more.append_to == vid and [f[:2] for f in more.files] == [(2, "img1.png")]
    assert media.add_image_sets(project, [more]) == [vid]
    assert project.video(vid).frame_count == 3
    assert [f.path for f in project.frame_files(vid)] == ["sub/img3.png", "img2.png", "img1.png"]


def test_frame_info_names_the_image_and_its_size(project, image_set, tmp_path):
    vid = _with_set(project, image_set)
    s = Session(user="t")
    s.open(project)
    s.set_video(vid, len(IMAGES), 30.0, frame=2)
    files = FrameFiles()
    info = files.info(s)
    assert info is not None and info.image_set
    assert (info.position_text(), info.file_text()) == ("image 3 of 4", "img10.png · 128×72")
    # the pixels on screen are the truth once they are this frame's
    s.show_pixels(2, np.zeros((50, 70, 3), np.uint8))
    assert files.info(s).size == (70, 50)
    # an image folder added before images had rows: the stored index lists them
    from pose_studio.video import open_video

    with open_video(image_set) as r:
        m, idx = r.meta, r.index_bytes()
    old = project.add_video(tmp_path / "old", width=m.width, height=m.height, frame_count=4,
                            fps=30.0, index=idx, kind="images")
    s.set_video(old, 4, 30.0, frame=3)
    assert FrameFiles().info(s).file_text() == "sub/img3.png · 80×60"
    s.close()


# --- notices --------------------------------------------------------------------------------------
def test_banner_puts_warnings_first_and_remembers_a_dismissal():
    gop = VideoNotice("long_gop", "keyframes are far apart")
    cut = VideoNotice("truncated", "the file is truncated after frame 9")
    b = banner_for("a.mp4", [gop, cut])
    assert b is not None and b.severity == "warning"
    assert b.headline == "⚠ a.mp4: the file is truncated after frame 9  (+1 more)"
    assert b.lines == (cut.text, gop.text)
    assert banner_for("b.mp4", [gop]).severity == "info"
    assert banner_for("c.mp4", []) is None
    n = Notices()
    n.set(1, [cut])
    n.set(2, [gop])
    n.dismiss(1)
    assert n.banner(1, "a") is None and n.banner(2, "b") is not None
    n.clear()
    assert n.banner(2, "b") is None


def test_an_unreadable_image_is_a_warning_notice(image_set):
    (image_set / "broken.png").write_bytes(b"not a png")
    spec = media.read_image_set(image_set, None)
    assert [n.kind for n in spec.notices] == ["unreadable_images"]
    assert spec.notices[0].severity == "warning" and "broken.png" in spec.notices[0].text


# --- import ---------------------------------------------------------------------------------------
def test_import_is_one_step_and_its_report_lists_what_was_not_kept(project, image_set):
    vid = _with_set(project, image_set)
    stages: list[str] = []
    s = di.run_import(project, di.ImportRequest(write_coco(image_set)), user="ann",
                      stage=stages.append)
    assert (s.n_user, s.n_images, s.video_ids) == (4, 4, (vid,))
    assert stages[0] == "reading labels.json (COCO keypoints)…"
    (step,) = project.history(5)
    assert (step.kind, step.label, step.made_by) == ("import", "import labels.json", "ann")
    report = di.import_report(s, "COCO keypoints")
    lines = report.text().splitlines()
    assert lines[0] == "Imported 4 labels and 0 predictions on 4 frames from labels.json " \
                       "(COCO keypoints)."
    assert [x for x in lines if x.startswith("not kept:")] == [f"not kept: {x}"
                                                              for x in s.not_kept]
    assert len(s.not_kept) == 1 and "'hand'" in s.not_kept[0]
    project.undo(user="ann")  # each user undoes their own steps
    assert int(project.frame_arrays(vid).labeled.sum()) == 0


def test_a_cancelled_import_writes_nothing(project, image_set):
    vid = _with_set(project, image_set)
    cancel = threading.Event()

    def stage(text: str) -> None:  # cancel once the file is read, while frames are read
        if text.startswith("placing"):
            cancel.set()

    with pytest.raises(di.Cancelled):
        di.run_import(project, di.ImportRequest(write_coco(image_set)), stage=stage,
                      cancel=cancel)
    assert project.history(5) == [] and int(project.frame_arrays(vid).labeled.sum()) == 0


def test_videos_a_file_names_are_looked_for_and_asked_for(project, tmp_path):
    from pose_studio.formats.registry import WriteOptions, get_format
    from tests.support.datasets import make_dataset
    from tests.support.videos import make_indexed_video

    ds = make_dataset(images=False, skeleton=COCO17)  # labels video "/data/clip.mp4"
    (tmp_path / "labels").mkdir()
    slp = tmp_path / "labels" / "labels.slp"
    get_format("slp").write(ds, slp, WriteOptions())
    with pytest.raises(di.MissingMediaError) as e:
        di.run_import(project, di.ImportRequest(slp))
    assert e.value.names == [("clip.mp4", "/data/clip.mp4")] and e.value.suggestion is None
    assert "media folder" in str(e.value) and project.videos() == []
    media_dir = tmp_path / "elsewhere"
    media_dir.mkdir()
    make_indexed_video(media_dir / "clip.mp4", 10, size=(96, 64))
    with pytest.raises(di.MissingMediaError) as e:  # found near the file: suggested, not used
        di.run_import(project, di.ImportRequest(slp))
    assert e.value.suggestion == media_dir and "is filled in" in str(e.value)
    assert project.videos() == []
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "clip.mp4").write_bytes((media_dir / "clip.mp4").read_bytes())
    assert di.media_near(e.value.names, slp) is None  # two folders hold one: no guess
    s = di.run_import(project, di.ImportRequest(slp, images_dir=media_dir))
    assert s.n_user > 0 and [v.path.name for v in project.videos()] == ["clip.mp4"]



def test_a_video_path_from_another_machine_lands_on_the_projects_video_of_that_name(
        project, tmp_path):
    """SLEAP and DeepLabCut store absolute paths; the project's one video of the same file
    name is the one meant (the media check already counted it as present)."""
    from pose_studio.formats.registry import WriteOptions, get_format
    from tests.support.datasets import make_dataset
    from tests.support.videos import make_indexed_video

    ds = make_dataset(images=False, skeleton=COCO17)  # labels video "/data/clip.mp4"
    slp = tmp_path / "labels.slp"
    get_format("slp").write(ds, slp, WriteOptions())
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = make_indexed_video(tmp_path / "a" / "clip.mp4", 10, size=(96, 64))
    second = make_indexed_video(tmp_path / "b" / "clip.mp4", 10, size=(96, 64))
    with Project.create(tmp_path / "q.posestudio", COCO17) as other:
        _add_videos(project, [first])
        assert di.missing_media(ds, slp, project) == []
        s = di.run_import(project, di.ImportRequest(slp))
        assert s.n_user > 0 and len(project.videos()) == 1
        # two videos of that name: which one is meant is not guessed
        _add_videos(other, [first, second])
        with pytest.raises(PoseStudioError, match="--video"):
            di.run_import(other, di.ImportRequest(slp))
        assert other.counts()["user_instances"] == 0


def _add_videos(project: Project, paths: list[Path]) -> None:
    from pose_studio.video import open_video

    for p in paths:
        with open_video(p) as r:
            project.add_video(p, width=r.meta.width, height=r.meta.height,
                              frame_count=r.meta.frame_count, fps=r.meta.fps,
                              index=r.index_bytes())


@pytest.mark.parametrize("layout", ["images/val", "val", "images"])
def test_coco_images_are_found_in_the_usual_folders_next_to_annotations(
        project, tmp_path, layout):
    """``annotations/person_keypoints_val.json`` with its images in ``images/val/`` (Datumaro,
    CVAT), ``val/`` (COCO's own ``val2017/``) or ``images/``."""
    root = tmp_path / "ds"
    images = write_mixed_set(root / layout)
    coco = write_coco(images, hand=False)
    (root / "annotations").mkdir()
    target = root / "annotations" / "person_keypoints_val.json"
    target.write_text(coco.read_text())
    coco.unlink()
    s = di.run_import(project, di.ImportRequest(target))
    assert s.n_user > 0
    (v,) = project.videos()
    assert v.kind == "images" and Path(v.path).resolve() == images.resolve()

def test_a_new_project_takes_the_files_skeleton_and_leaves_nothing_when_it_fails(
        tmp_path, image_set):
    src = write_coco(image_set, hand=False)
    d = json.loads(src.read_text())
    d["categories"][0]["keypoints"] = [f"p{i}" for i in range(17)]  # a layout of its own
    src.write_text(json.dumps(d))
    target = di.project_path_for(src)
    assert target == image_set / "labels.posestudio"
    r = di.new_project_from(target, di.ImportRequest(src), user="ann")
    assert r.keypoints == 17 and r.summary.n_user == 4
    with Project.open(r.path) as p:
        assert p.skeleton.keypoints[0] == "p0" and len(p.history(5)) == 1
    assert di.project_path_for(src) == image_set / "labels-2.posestudio"  # never an existing one
    with pytest.raises(PoseStudioError, match="already exists"):
        di.new_project_from(r.path, di.ImportRequest(src))
    d["images"][0]["file_name"] = "nowhere/missing.png"
    bad = image_set / "bad.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(PoseStudioError):
        di.new_project_from(tmp_path / "bad.posestudio", di.ImportRequest(bad))
    assert not any(p.name.startswith("bad.posestudio") for p in tmp_path.iterdir())


def test_window_words_replace_command_line_options():
    text = di.window_words("give the image folder with --images DIR; use --force to replace it")
    assert text == "choose the media folder; confirm to replace it"


# --- export ---------------------------------------------------------------------------------------
def test_preflight_never_writes_a_source_and_lists_what_it_replaces(project, image_set,
                                                                    tmp_path):
    _with_set(project, image_set)
    for out, fmt in ((project.path, "coco"), (image_set / "img1.png", "coco"),
                     (image_set / "inside", "yolo"), (tmp_path, "yolo")):
        with pytest.raises(OutputError, match="project"):
            dx.preflight(project, dx.ExportRequest(Path(out), fmt))
    with pytest.raises(OutputError, match="does not exist"):
        dx.preflight(project, dx.ExportRequest(tmp_path / "no" / "x.json"))
    out = tmp_path / "x.json"
    assert dx.preflight(project, dx.ExportRequest(out)) == []
    out.write_text("{}")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "keep.png").write_bytes(b"x")
    replaced = dx.preflight(project, dx.ExportRequest(out, images=True))
    assert len(replaced) == 2 and "x.json" in replaced[0] and "not empty" in replaced[1]
    with pytest.raises(OutputError, match="confirm"):
        dx.run_export(project, dx.ExportRequest(out))
    assert out.read_text() == "{}"


def test_export_stops_before_writing_when_a_source_changed(project, tmp_path):
    from pose_studio.formats.frame_check import SourceChangedError
    from pose_studio.video import open_video
    from tests.support.videos import make_indexed_video

    video = make_indexed_video(tmp_path / "clip.mp4", 8, size=(160, 120))
    with open_video(video) as r:
        m, idx = r.meta, r.index_bytes()
    vid = project.add_video(video, width=m.width, height=m.height, frame_count=8, fps=m.fps,
                            index=idx)
    from pose_studio.core.annotation import Instance

    project.add_instance(vid, 2, Instance(xy=np.full((17, 2), 20.0),
                                          visibility=np.full(17, 2, np.uint8)))
    make_indexed_video(video, 8, size=(96, 64))
    out = tmp_path / "out.json"
    with pytest.raises(SourceChangedError, match="96x64 now, 160x120"):
        dx.run_export(project, dx.ExportRequest(out))
    assert not out.exists()


def test_a_cancelled_export_leaves_nothing(project, image_set, tmp_path):
    _with_set(project, image_set)
    di.run_import(project, di.ImportRequest(write_coco(image_set)))
    cancel = threading.Event()
    seen = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done >= 2:
            cancel.set()

    out = tmp_path / "y"
    r = dx.run_export(project, dx.ExportRequest(out, "yolo", images=True), progress=progress,
                      cancel=cancel)
    assert r.cancelled and seen[:2] == [1, 2] and not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".y")] == []
    images = tmp_path / "imgs"
    r = dx.run_export(project, dx.ExportRequest(tmp_path / "c.json", images=True,
                                                images_dir=images), progress=progress,
                      cancel=cancel)
    assert r.cancelled and not images.exists() and not (tmp_path / "c.json").exists()
    assert dx.format_for_output("a.pkg.slp") == "slp" and dx.format_for_output("x") is None
    assert dx.default_output(project.path, "dlc") == project.path.with_name("p-dlc")
    assert "no image was written" in dx.export_message(SimpleNamespace(
        cancelled=False, annotations=1, images=1, path="a.json", format_label="COCO",
        files_written=0, format="coco"))  # type: ignore[arg-type]


# --- real files -----------------------------------------------------------------------------------
def test_real_sleap_file_becomes_a_project_once_its_video_is_found(tmp_path):
    slp = realworld("data/sleap/slp_hdf5/dance.mp4.labels.slp")
    videos = realworld("data/sleap/videos")
    target = tmp_path / "dance.posestudio"
    with pytest.raises(di.MissingMediaError, match=r"dance\.mp4") as e:
        di.new_project_from(target, di.ImportRequest(slp))
    assert not target.exists() and e.value.suggestion == videos  # ../videos, found nearby
    r = di.new_project_from(target, di.ImportRequest(slp, images_dir=videos))
    assert (r.summary.n_user, r.summary.n_predicted) == (3, 450)
    with Project.open(target) as p:
        assert [v.path.name for v in p.videos()] == ["dance.mp4"]


def test_real_deeplabcut_project_becomes_a_project(tmp_path):
    config = realworld("data/dlc/openfield-Pranav-2018-10-30/config.yaml")
    assert media.classify([config]).datasets == ((config, "dlc"),)
    assert media.classify([config.parent]).datasets == ((config.parent, "dlc"),)
    r = di.new_project_from(tmp_path / "dlc.posestudio", di.ImportRequest(config.parent))
    assert r.keypoints == 4 and r.summary.n_user == 116


def test_real_coco_folder_and_its_json(project):
    folder = realworld("data/coco/mmpose_coco")
    vid = _with_set(project, folder)
    assert len(project.image_sizes(vid)) == 4  # four photos of four sizes
    s = di.run_import(project, di.ImportRequest(folder / "test_coco.json"))
    assert s.video_ids == (vid,) and s.n_user > 0
