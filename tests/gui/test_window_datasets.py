"""The window's dataset parts: image sets (added from folders or files, stepped image by image,
each at its own size, labels on their own pictures), the video notices banner, Import and
Export over the format registry, and Open of a dataset file making a new project."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSettings

from pose_studio.core.annotation import InstanceKind
from pose_studio.video.notices import VideoNotice
from tests.gui.conftest import FakeMeta, FakeReader, add_label, displayed_index, open_fake
from tests.support.image_sets import IMAGES, person, write_coco, write_mixed_set

pytestmark = pytest.mark.gui


def _until(qtbot: Any, cond: Any, timeout: int = 10000) -> None:
    qtbot.waitUntil(lambda: bool(cond()), timeout=timeout)


def _dialog_now(win: Any) -> None:
    """Dialogs of the dataset controller open without blocking (the test drives them)."""
    win.datasets.show_dialog = lambda dlg: dlg.show()


@pytest.fixture
def image_set(tmp_path: Path) -> Path:
    return write_mixed_set(tmp_path / "photos")


def _open_set(qtbot: Any, win: Any, root: Path) -> None:
    win.open_paths([str(root)])
    _until(qtbot, lambda: win.session.video_id is not None and win.view.frame_idx == 0)


def _step_to(qtbot: Any, win: Any, f: int) -> None:
    win.goto(f)
    _until(qtbot, lambda: win.view.frame_idx == f and not win.view.waiting)


# --- image sets ------------------------------------------------------------------------------------
def test_an_image_folder_steps_image_by_image_each_at_its_own_size(qtbot, make_window, image_set):
    win = make_window(fake=False)
    _open_set(qtbot, win, image_set)
    s = win.session
    rec = s.video_record()
    assert rec.kind == "images" and s.frame_count == len(IMAGES)
    # every image's file and size is recorded (not the folder's largest "canvas" size)
    assert [(f.path, f.width, f.height) for f in s.project.frame_files(rec.id)] == list(IMAGES)
    item = win.video_list.item(0).text()
    assert item.startswith("photos/\n") and "image set: 4 images, 4 sizes" in item
    seen = []
    for f in range(len(IMAGES)):
        if f:
            win.actions_by_id["next_frame"].trigger()
        _until(qtbot, lambda f=f: win.view.frame_idx == f and s.frame_idx == f)
        w = IMAGES[f][1]
        pix = win.view.pixmap_item.pixmap()
        seen.append((win.transport.time_label.text(), win.frame_label.text(),
                     (pix.width(), pix.height()), displayed_index(win)))
        assert win.view.image_rect().width() == w  # the view fits each image
    assert seen == [(f"image {i + 1} of 4", f"{rel} · {w}×{h}", (w, h), i)
                    for i, (rel, w, h) in enumerate(IMAGES)]
    assert win.messages == []


def test_labels_of_an_image_sit_on_that_image(qtbot, make_window, image_set):
    """Mixed sizes: the labels of image 2 are drawn on image 2's picture, never on another's."""
    win = make_window(fake=False)
    _open_set(qtbot, win, image_set)
    _dialog_now(win)
    win.datasets.import_dataset(write_coco(image_set))
    dlg = win.datasets.dialog
    with qtbot.waitSignal(dlg.imported, timeout=20000):
        dlg.run_button.click()
    for f in (2, 1, 3):
        win.goto(f)
        # until its own picture is there, no label is shown over the previous one
        assert win.view.waiting and not any(i.isVisible() for i in win.view.instance_items)
        _until(qtbot, lambda f=f: win.view.frame_idx == f and not win.view.waiting)
        assert displayed_index(win) == f
        (item,) = win.view.instance_items
        assert item.isVisible()
        _, w, h = IMAGES[f]
        expected = np.asarray(person(f, w, h)).reshape(-1, 3)[:, :2]
        inst = win.session.instances(InstanceKind.USER)[0]
        np.testing.assert_allclose(inst.xy, expected, atol=1e-6)
        rect = win.view.image_rect()
        assert (rect.width(), rect.height()) == (w, h)
        assert all(rect.contains(QPointF(x, y)) for x, y in inst.xy)
    dlg.close()


def test_dropped_image_files_are_one_image_set_of_exactly_those(qtbot, make_window, image_set,
                                                                 tmp_path):
    win = make_window(fake=False)
    picked = [image_set / "img2.png", image_set / "sub" / "img3.png"]
    win.open_paths([str(p) for p in picked])
    _until(qtbot, lambda: win.session.video_id is not None and win.view.frame_idx == 0)
    s = win.session
    assert [f.path for f in s.project.frame_files(s.video_id)] == ["img2.png", "sub/img3.png"]
    assert s.frame_count == 2 and win.frame_label.text() == "img2.png · 64×96"
    assert displayed_index(win) == 1  # the pixels of img2.png (drawn as image 1 of the set)
    # more files into the same folder extend that set
    win.open_paths([str(image_set / "img1.png")])
    _until(qtbot, lambda: s.frame_count == 3)
    assert [f.path for f in s.project.frame_files(s.video_id)] == \
        ["img2.png", "sub/img3.png", "img1.png"]
    assert len(s.videos()) == 1


def test_an_unreadable_folder_is_one_clear_message(qtbot, make_window, tmp_path):
    win = make_window(fake=False)
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    win.open_paths([str(empty)])
    _until(qtbot, lambda: win.messages)
    (_title, text), = win.messages
    assert "no images" in text and "Traceback" not in text
    assert win.session.project is not None and win.session.videos() == []


# --- notices ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NoticeMeta(FakeMeta):
    notices: tuple[VideoNotice, ...] = field(default=())


class NoticeReader(FakeReader):
    NOTICES: ClassVar[dict[str, tuple[VideoNotice, ...]]] = {
        "cut.mp4": (VideoNotice("truncated", "the file is truncated after frame 99"),
                    VideoNotice("long_gop", "keyframes are up to 250 frames apart")),
        "slow.mp4": (VideoNotice("long_gop", "keyframes are up to 300 frames apart"),),
    }

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.meta = NoticeMeta(**{**self.meta.__dict__,
                                  "notices": self.NOTICES.get(Path(path).name, ())})


def _notice_window(qtbot: Any, tmp_path: Path) -> Any:
    from pose_studio.gui.main_window import MainWindow
    from pose_studio.gui.settings import Settings
    from pose_studio.gui.workers.decode import FrameLoader

    qs = QSettings(str(tmp_path / "n.ini"), QSettings.Format.IniFormat)
    win = MainWindow(Settings(qs), loader_factory=lambda parent: FrameLoader(
        parent, reader_factory=lambda p, i: NoticeReader(p)), inference_factory=lambda p: None)
    win.opening.ask_video_target = lambda videos, name: "add"
    qtbot.addWidget(win)
    win.show()
    return win


def test_notices_banner_per_video_warning_or_info_and_dismissed(qtbot, tmp_path):
    win = _notice_window(qtbot, tmp_path)
    try:
        paths = {}
        for name in ("cut.mp4", "plain.mp4", "slow.mp4"):
            paths[name] = tmp_path / name
            paths[name].write_bytes(b"\0" * 16)
        open_fake(qtbot, win, paths["cut.mp4"])
        b = win.notice_banner
        assert not b.isHidden() and b.severity == "warning"
        assert "truncated after frame 99" in b.label.text() and "(+1 more)" in b.label.text()
        assert "keyframes are up to 250" in b.details.text()  # every line, under Details
        b.close_button.click()
        assert b.isHidden()
        win.open_paths([str(paths["plain.mp4"])])
        _until(qtbot, lambda: win.session.video_record().path.name == "plain.mp4"
               and win.view.frame_idx == 0)
        assert b.isHidden()
        win.open_paths([str(paths["slow.mp4"])])
        _until(qtbot, lambda: win.session.video_record().path.name == "slow.mp4"
               and win.view.frame_idx == 0)
        assert not b.isHidden() and b.severity == "info" and "300 frames" in b.label.text()
        cut = next(v.id for v in win.session.videos() if v.path.name == "cut.mp4")
        win.show_video(cut)
        _until(qtbot, lambda: win.session.video_id == cut and win.view.frame_idx is not None)
        qtbot.wait(50)
        assert b.isHidden()  # dismissed for this video
    finally:
        win.shutdown()


# --- import / export / open a dataset -------------------------------------------------------------
def test_import_is_one_step_that_undo_takes_back(qtbot, make_window, image_set):
    win = make_window(fake=False)
    _open_set(qtbot, win, image_set)
    _dialog_now(win)
    win.actions_by_id["import_dataset"].trigger()
    dlg = win.datasets.dialog
    dlg.file_path.setText(str(write_coco(image_set)))
    with qtbot.waitSignal(dlg.imported, timeout=20000):
        dlg.run_button.click()
    _until(qtbot, lambda: not dlg.running)
    s = win.session
    assert int(s.project.frame_arrays(s.video_id).labeled.sum()) == 4
    assert int(s.frames.labeled.sum()) == 4  # the window's arrays were refreshed
    assert len(s.instances(InstanceKind.USER)) == 1 and len(win.view.instance_items) == 1
    assert s.history.steps[-1].label == "import labels.json"
    dlg.close()
    win.actions_by_id["undo"].trigger()
    assert int(s.project.frame_arrays(s.video_id).labeled.sum()) == 0
    assert win.view.instance_items == [] and int(s.frames.labeled.sum()) == 0
    win.actions_by_id["redo"].trigger()
    assert int(s.frames.labeled.sum()) == 4 and len(win.view.instance_items) == 1


def test_opening_a_dataset_file_makes_a_project_from_it(qtbot, make_window, image_set, tmp_path):
    path = write_coco(image_set, hand=False)
    win = make_window(fake=False)
    _dialog_now(win)
    win.open_paths([str(path)])  # no project open: the new-project dialog
    dlg = win.datasets.dialog
    assert dlg.new_project and dlg.detected.text() == "detected: COCO keypoints"
    target = tmp_path / "made.posestudio"
    dlg.project_path.setText(str(target))
    with qtbot.waitSignal(dlg.created, timeout=20000):
        dlg.run_button.click()
    _until(qtbot, lambda: win.session.video_id is not None and win.view.frame_idx == 0)
    s = win.session
    assert Path(str(s.project.path)) == target and s.project.skeleton.num_keypoints == 17
    assert int(s.frames.labeled.sum()) == 4 and s.video_record().kind == "images"
    assert [st.label for st in s.history.steps] == ["import labels.json"]
    assert "Created made.posestudio" in dlg.message.text()
    _until(qtbot, lambda: not dlg.running)
    assert not dlg.run_button.isEnabled()  # the project exists now
    assert "not kept: nothing" in dlg.report.toPlainText()
    dlg.close()
    # with a project open, the user chooses: a new project, or an import into the open one
    asked = []
    win.datasets.ask_dataset_target = lambda p, label, name: asked.append((p.name, label,
                                                                           name)) or "import"
    win.open_paths([str(path)])
    assert asked == [("labels.json", "COCO keypoints", "made.posestudio")]
    assert not win.datasets.dialog.new_project
    assert win.datasets.dialog.file_path.text() == str(path)
    win.datasets.dialog.close()


def test_export_checks_the_sources_first_and_says_what_changed(qtbot, make_window, tmp_path):
    from tests.support.videos import make_indexed_video

    video = make_indexed_video(tmp_path / "clip.mp4", 12, size=(160, 120))
    win = make_window(fake=False)
    open_fake(qtbot, win, video)
    win.goto(3)
    _until(qtbot, lambda: win.view.frame_idx == 3)
    add_label(win, 3)
    win.opening.close_project()
    make_indexed_video(tmp_path / "clip.mp4", 12, size=(96, 64))  # replaced by a smaller copy
    win.open_paths([str(tmp_path / "clip.posestudio")])
    _until(qtbot, lambda: win.session.video_id is not None)
    _dialog_now(win)
    win.actions_by_id["export_dataset"].trigger()
    dlg = win.datasets.dialog
    out = tmp_path / "out.json"
    dlg.out_path.setText(str(out))
    dlg.run_button.click()
    _until(qtbot, lambda: not dlg.running and "stopped" in dlg.message.text())
    assert "96x64 now, 160x120" in dlg.message.text() and not out.exists()
    dlg.close()


def test_a_sleap_file_whose_video_moved_asks_for_it_and_finds_it_nearby(qtbot, make_window,
                                                                        tmp_path):
    from pose_studio.core.skeleton import COCO17
    from pose_studio.formats.registry import WriteOptions, get_format
    from tests.support.datasets import make_dataset
    from tests.support.videos import make_indexed_video

    labels = tmp_path / "labels"
    labels.mkdir()
    slp = labels / "session.slp"  # names /data/clip.mp4, which is not there
    get_format("slp").write(make_dataset(images=False, skeleton=COCO17), slp, WriteOptions())
    (tmp_path / "videos").mkdir()
    make_indexed_video(tmp_path / "videos" / "clip.mp4", 10, size=(96, 64))
    win = make_window(fake=False)
    _dialog_now(win)
    win.open_paths([str(slp)])
    dlg = win.datasets.dialog
    dlg.project_path.setText(str(tmp_path / "s.posestudio"))
    dlg.run_button.click()
    _until(qtbot, lambda: not dlg.running and "clip.mp4" in dlg.message.text())
    assert dlg.media.text() == str(tmp_path / "videos")  # found beside the labels' folder
    assert "filled in" in dlg.message.text() and not (tmp_path / "s.posestudio").exists()
    with qtbot.waitSignal(dlg.created, timeout=20000):
        dlg.run_button.click()
    _until(qtbot, lambda: win.session.video_id is not None and win.view.frame_idx == 0)
    assert win.session.video_record().path.name == "clip.mp4"
    assert int(win.session.frames.labeled.sum()) == 3
    dlg.close()
