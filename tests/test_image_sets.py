"""Image sets as project sources: folders (recursive, natural order) and explicit lists, each
image at its own size; mixed sizes work end to end (add-video, labels, export with images)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from pose_studio.cli.main import main
from pose_studio.core.annotation import Instance
from pose_studio.core.skeleton import COCO17
from pose_studio.store.project import Project
from pose_studio.video import open_video
from pose_studio.video.errors import VideoError
from pose_studio.video.image_header import decode_image, image_size
from pose_studio.video.image_reader import ImageSetReader, open_image_list
from tests.support.videos import draw_index_frame, read_index_from_frame

K = COCO17.num_keypoints
#: (relative path, width, height): sub-folders as PoseTrack's images/val/<sequence>/
FILES = [
    ("seq2/000000.jpg", 96, 64), ("seq2/000001.jpg", 96, 64),
    ("seq10/000000.png", 80, 120), ("seq10/000002.png", 64, 48),
    ("top.png", 100, 70), ("seq2/000010.jpg", 96, 64),
]


def _write(root: Path, rel: str, w: int, h: int, index: int) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    img = draw_index_frame(index, (w, h))
    params = [cv2.IMWRITE_JPEG_QUALITY, 100] if rel.endswith(".jpg") else []
    assert cv2.imwrite(str(path), img, params)


@pytest.fixture()
def mixed(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    for i, (rel, w, h) in enumerate(FILES):
        _write(root, rel, w, h, i)
    (root / ".hidden").mkdir()
    _write(root, ".hidden/x.png", 10, 10, 99)  # hidden folders are not part of the set
    (root / "notes.txt").write_text("not an image")
    return root


# --- the reader --------------------------------------------------------------------------------
def test_folder_is_recursive_in_natural_order_with_each_size(mixed: Path) -> None:
    with open_video(mixed) as r:
        assert isinstance(r, ImageSetReader) and r.mode == "folder"
        assert r.rel_paths == ["seq2/000000.jpg", "seq2/000001.jpg", "seq2/000010.jpg",
                               "seq10/000000.png", "seq10/000002.png", "top.png"]
        by_rel = {rel: (w, h) for rel, w, h in FILES}
        assert r.sizes == [by_rel[p] for p in r.rel_paths]
        for i, rel in enumerate(r.rel_paths):
            frame = r.get(i)
            assert frame.shape[:2] == (by_rel[rel][1], by_rel[rel][0])
            assert r.frame_size(i) == by_rel[rel] and r.file_path(i) == mixed / rel
        assert (r.meta.width, r.meta.height) == (100, 120)  # a canvas that holds every image
        assert any("4 different sizes" in w for w in r.warnings)


def test_explicit_list_reopens_as_the_same_frames(mixed: Path) -> None:
    wanted = ["top.png", "seq10/000002.png", str(mixed / "seq2" / "000001.jpg")]
    with open_image_list(mixed, wanted) as r:
        assert r.mode == "list" and r.rel_paths == ["top.png", "seq10/000002.png",
                                                    "seq2/000001.jpg"]
        blob = r.index_bytes()
        first = [read_index_from_frame(r.get(i)) for i in range(3)]
    with open_video(mixed, index=blob) as again:  # how the project opens it
        assert again.index_status == "loaded" and len(again) == 3
        assert [read_index_from_frame(again.get(i)) for i in range(3)] == first
    with pytest.raises(VideoError, match="not inside"):
        open_image_list(mixed, [mixed.parent / "elsewhere.png"])


def test_unreadable_image_is_named_and_the_others_work(mixed: Path) -> None:
    (mixed / "seq2" / "000001.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with open_video(mixed) as r:
        assert any("seq2/000001.jpg" in w and "cannot be read" in w for w in r.warnings)
        assert r.frame_size(1) is None
        with pytest.raises(VideoError, match=r"seq2/000001\.jpg"):
            r.get(1)
        assert read_index_from_frame(r.get(0)) == 0 and r.get(5).shape == (70, 100, 3)


def test_old_flat_index_keeps_its_frame_numbers(mixed: Path) -> None:
    v1 = json.dumps({"format": "pose-studio-image-index", "version": 1,
                     "files": [["top.png", (mixed / "top.png").stat().st_size]]}).encode()
    with open_video(mixed, index=v1) as r:  # a project from before image sets had sub-folders
        assert r.mode == "flat" and r.rel_paths == ["top.png"]
        assert r.index_status == "upgraded" and r.sizes == [(100, 70)]


def _png_with(path: Path, w: int, h: int) -> None:
    assert cv2.imwrite(str(path), np.zeros((h, w, 3), np.uint8))


def _jpeg_with_orientation(path: Path, w: int, h: int, orientation: int) -> None:
    ok, buf = cv2.imencode(".jpg", np.zeros((h, w, 3), np.uint8))
    assert ok
    data = buf.tobytes()
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + struct.pack(
        "<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    app1 = b"Exif\x00\x00" + tiff
    seg = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    path.write_bytes(data[:2] + seg + data[2:])


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_header_size_is_the_decoded_frame_size(tmp_path: Path, orientation: int) -> None:
    jpg = tmp_path / "a.jpg"
    _jpeg_with_orientation(jpg, 64, 40, orientation)
    img = decode_image(jpg)
    assert img is not None
    assert image_size(jpg) == (img.shape[1], img.shape[0])
    assert image_size(jpg) == ((40, 64) if orientation in (6, 8) else (64, 40))


@pytest.mark.parametrize("ext", ["png", "bmp", "webp", "tif"])
def test_header_size_other_formats(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"a.{ext}"
    _png_with(path, 33, 21)
    assert image_size(path) == (33, 21)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    assert image_size(tmp_path / "bad.png") is None


# --- end to end: a mixed-size folder in a project -----------------------------------------------
def test_mixed_size_folder_end_to_end(tmp_path: Path, mixed: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "p.posestudio"
    assert main(["new", str(proj)]) == 0
    assert main(["add-video", str(proj), str(mixed)]) == 0
    out = capsys.readouterr().out
    assert "6 images" in out and "different sizes" in out
    with Project.open(proj) as p:
        (vid,) = [v.id for v in p.videos()]
        files = p.frame_files(vid)
        assert [(f.path, f.width, f.height) for f in files][3] == ("seq10/000000.png", 80, 120)
        assert p.frame_size(vid, 5) == (100, 70) and p.frame_file(vid, 5).name == "top.png"
        xy = np.tile([[10.0, 20.0]], (K, 1))
        p.add_instance(vid, 5, Instance(xy=xy, visibility=np.full(K, 2)))  # on top.png
        p.add_instance(vid, 3, Instance(xy=xy + 30, visibility=np.full(K, 2)))
    exported = tmp_path / "out"
    assert main(["export", str(proj), "--out", str(tmp_path / "x.json"), "--images",
                 str(exported), "--quiet"]) == 0
    data = json.loads((tmp_path / "x.json").read_text())
    by_name = {im["file_name"]: im for im in data["images"]}
    assert set(by_name) == {"top.png", "seq10/000000.png"}  # names and folders kept
    assert (by_name["top.png"]["width"], by_name["top.png"]["height"]) == (100, 70)
    assert (by_name["seq10/000000.png"]["width"], by_name["seq10/000000.png"]["height"]) == \
        (80, 120)
    for name in by_name:  # the images are the originals, byte for byte
        assert (exported / name).read_bytes() == (mixed / name).read_bytes()
    ann = next(a for a in data["annotations"]
               if a["image_id"] == by_name["top.png"]["id"])
    assert ann["keypoints"][:2] == [10.0, 20.0]  # frame 5's labels with frame 5's picture
    # and the project imports its own export back onto the same images
    dst = tmp_path / "q.posestudio"
    assert main(["new", str(dst)]) == 0
    assert main(["import", str(dst), str(tmp_path / "x.json"), "--images", str(exported)]) == 0
    with Project.open(dst, read_only=True) as q:
        (v,) = q.videos()
        assert [f.path for f in q.frame_files(v.id)] == ["seq10/000000.png", "top.png"]
        assert q.counts()["user_instances"] == 2


def test_add_video_with_image_files_and_a_list(tmp_path: Path, mixed: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "p.posestudio"
    main(["new", str(proj)])
    lst = tmp_path / "list.txt"
    lst.write_text("images/top.png\n# a comment\n\nimages/seq2/000000.jpg\n")
    assert main(["add-video", str(proj), "--image-list", str(lst)]) == 0
    (mixed / "odd.png").write_bytes(b"garbage")
    # more images under the same folder: appended to that explicit set
    assert main(["add-video", str(proj), str(mixed / "seq10" / "000002.png"),
                 str(mixed / "odd.png"), str(mixed / "top.png")]) == 0
    out = capsys.readouterr().out
    assert "added 2 image(s) to image set 1" in out
    with Project.open(proj, read_only=True) as p:
        (a,) = p.videos()
        assert a.path == mixed and a.frame_count == 4
        assert [(f.path, f.width) for f in p.frame_files(a.id)] == [
            ("top.png", 100), ("seq2/000000.jpg", 96), ("seq10/000002.png", 64), ("odd.png", None)]
        with open_video(a.path, index=p.video_index(a.id)) as r:
            assert len(r) == 4 and r.get(2).shape == (48, 64, 3)
            assert any("odd.png" in w for w in r.warnings)
    other = tmp_path / "other"
    other.mkdir()
    _write(other, "a.png", 20, 10, 5)
    assert main(["add-video", str(proj), str(other / "a.png")]) == 0
    assert "cannot be read" not in capsys.readouterr().out
    assert main(["add-video", str(proj), str(tmp_path / "nope.png")]) == 1
    assert main(["add-video", str(proj), str(other)]) == 1  # already in the project


def test_render_and_extract_a_mixed_size_set(tmp_path: Path, mixed: Path) -> None:
    proj = tmp_path / "p.posestudio"
    main(["new", str(proj)])
    main(["add-video", str(proj), str(mixed)])
    assert main(["render", str(proj), "--out", str(tmp_path / "r"), "--quiet"]) == 0
    shapes = sorted(cv2.imread(str(f)).shape[:2] for f in (tmp_path / "r").glob("*.png"))
    assert shapes == sorted((h, w) for _, w, h in FILES)  # each frame at its own size
    assert main(["render", str(proj), "--out", str(tmp_path / "r.mp4"), "--quiet"]) == 0
    with open_video(tmp_path / "r.mp4") as r:  # one canvas that holds every image
        assert len(r) == len(FILES) and (r.meta.width, r.meta.height) == (100, 120)


def test_an_image_folder_added_before_format_5_exports_each_size(tmp_path: Path) -> None:
    """Old projects: a flat image folder with a version-1 index and no per-image rows."""
    folder = tmp_path / "old"
    for i, (w, h) in enumerate([(40, 30), (50, 20), (40, 30)]):
        _write(folder, f"img{i}.png", w, h, i)
    listing = [[f"img{i}.png", (folder / f"img{i}.png").stat().st_size] for i in range(3)]
    v1 = json.dumps({"format": "pose-studio-image-index", "version": 1,
                     "files": listing}).encode()
    with Project.create(tmp_path / "p.posestudio", COCO17) as p:
        vid = p.add_video(folder, width=40, height=30, frame_count=3, fps=30.0, index=v1,
                          kind="images")
        p.add_instance(vid, 1, Instance(xy=np.full((K, 2), 5.0), visibility=np.full(K, 2)))
        assert p.frame_files(vid) == [] and p.frame_size(vid, 1) == (40, 30)  # not recorded
    out = tmp_path / "x.json"
    assert main(["export", str(tmp_path / "p.posestudio"), "--out", str(out), "--images",
                 str(tmp_path / "imgs"), "--quiet"]) == 0
    (im,) = json.loads(out.read_text())["images"]
    assert (im["file_name"], im["width"], im["height"]) == ("img1.png", 50, 20)
    assert (tmp_path / "imgs" / "img1.png").read_bytes() == (folder / "img1.png").read_bytes()


def test_exported_images_have_normal_permissions(tmp_path: Path, mixed: Path) -> None:
    import os

    proj = tmp_path / "p.posestudio"
    main(["new", str(proj)])
    main(["add-video", str(proj), str(mixed)])
    with Project.open(proj) as p:
        vid = p.videos()[0].id
        p.add_instance(vid, 0, Instance(xy=np.full((K, 2), 5.0), visibility=np.full(K, 2)))
    old = os.umask(0o022)
    try:
        assert main(["export", str(proj), "--out", str(tmp_path / "x.json"), "--images",
                     str(tmp_path / "i"), "--quiet"]) == 0
    finally:
        os.umask(old)
    (img,) = [f for f in (tmp_path / "i").rglob("*") if f.is_file()]
    assert img.stat().st_mode & 0o777 == 0o644
