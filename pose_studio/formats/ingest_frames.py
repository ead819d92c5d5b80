"""Putting a dataset's image files onto the frames of project videos (pure matching, and the
check of file numbering against the video).

Many tools export the frames of a video as images named by frame number (CVAT's
``frame_000123.PNG``, DeepLabCut's ``img00042.png``, ffmpeg's ``%04d.png`` numbered from 1) and
their labels name those files. :func:`resolve_frames` finds each image's video (the only one, the
one asked for, or the one its name or folder names) and frame (``frame_index`` when Pose Studio
wrote the file, else the last number in the file name plus an offset).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from pose_studio.core.errors import PoseStudioError

__all__ = [
    "ImageRef",
    "VideoTarget",
    "detect_name_offset",
    "frame_number_from_name",
    "resolve_frames",
]


@dataclass(frozen=True)
class VideoTarget:
    """A project video images may land on."""

    video_id: int
    frame_count: int
    width: int
    height: int
    names: tuple[str, ...]  # strings an image's 'video' or file-name folder may match


@dataclass(frozen=True)
class ImageRef:
    """What matching needs of one image of the dataset."""

    key: int  # its position in the dataset source
    file_name: str
    width: int | None = None
    height: int | None = None
    frame_index: int | None = None  # Pose Studio's export: the frame it was
    video: str | None = None  # Pose Studio's export: the video path as the project stored it

    def where(self) -> str:
        return f"image {self.file_name!r}" if self.file_name else f"image #{self.key}"


_DIGITS = re.compile(r"(\d+)")
_NAME_PREFIX = re.compile(r"[ _\-.]*(?:frame|img|image)?[ _\-.]*\d+$", re.IGNORECASE)


def frame_number_from_name(file_name: str) -> int | None:
    """The last run of digits in the file name's stem (``frame_000123.PNG`` -> 123)."""
    base = PureWindowsPath(file_name).name if "\\" in file_name else PurePosixPath(file_name).name
    stem = base.rsplit(".", 1)[0] if "." in base else base
    runs = _DIGITS.findall(stem)
    return int(runs[-1]) if runs and len(runs[-1]) < 19 else None


def basename(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def resolve_frames(
    images: Sequence[ImageRef],
    targets: Sequence[VideoTarget],
    *,
    video_id: int | None = None,
    frame_offset: int = 0,
) -> tuple[dict[int, tuple[int, int]], list[str], int]:
    """Map images to ``(video_id, frame_idx)``.

    The video is ``video_id`` when given, else the only video, else the one whose path (or the
    export's folder name) the image names. The frame is ``frame_index`` when present, else the
    last number in the file name plus ``frame_offset`` (-1 for files numbered from 1).

    Returns:
        (image key -> (video, frame), the first problems, how many problems).
    """
    problems: list[str] = []
    count = 0

    def problem(msg: str) -> None:
        nonlocal count
        count += 1
        if len(problems) < 10:
            problems.append(msg)

    by_id = {t.video_id: t for t in targets}
    # name -> target, only for names that point at exactly one video (no silent guesses)
    owners: dict[str, set[int]] = {}
    for t in targets:
        for n in t.names:
            owners.setdefault(n.replace("\\", "/").lower(), set()).add(t.video_id)
    lookup = {n: by_id[next(iter(ids))] for n, ids in owners.items() if len(ids) == 1}
    out: dict[int, tuple[int, int]] = {}
    for im in images:
        where = im.where()
        target = _target_for(im, targets, by_id, lookup, video_id)
        if target is None:
            if not targets:
                problem(f"{where}: the project has no video or image set to put it on; give "
                        "the image folder with --images DIR (or add the video first)")
            else:
                problem(f"{where}: cannot tell which of the project's {len(targets)} videos it "
                        "belongs to; choose one with --video")
            continue
        frame: int | None
        if im.frame_index is not None:
            frame = im.frame_index
        else:
            frame = frame_number_from_name(im.file_name)
            if frame is None:
                problem(f"{where}: no 'frame_index' and no frame number in the file name; if "
                        "the file's images are separate pictures, give their folder with "
                        "--images DIR")
                continue
            frame += frame_offset
            if frame == target.frame_count and frame_offset == 0:
                problem(f"{where}: frame {frame} is one past the end of the video (frames "
                        f"0..{target.frame_count - 1}): the file names look numbered from 1 "
                        "(ffmpeg's default); import with a frame offset of -1")
                continue
        if not 0 <= frame < target.frame_count:
            hint = "" if im.frame_index is not None else (
                "; if the file's images are separate pictures, import them with --images DIR")
            problem(f"{where}: frame {frame} is outside the video (frames "
                    f"0..{target.frame_count - 1}){hint}")
            continue
        if (im.width is not None and im.width != target.width) or (
            im.height is not None and im.height != target.height
        ):
            problem(f"{where}: size {im.width}x{im.height} differs from the video's "
                    f"{target.width}x{target.height}")
            continue
        out[im.key] = (target.video_id, frame)
    return out, problems, count


def _target_for(
    im: ImageRef,
    targets: Sequence[VideoTarget],
    by_id: dict[int, VideoTarget],
    lookup: dict[str, VideoTarget],
    video_id: int | None,
) -> VideoTarget | None:
    if video_id is not None:
        return by_id.get(video_id)
    if len(targets) == 1:
        return targets[0]
    if im.video:
        v = im.video.replace("\\", "/")
        for key in (v.lower(), basename(v).lower()):
            if key in lookup:
                return lookup[key]
    folder = im.file_name.replace("\\", "/").split("/")
    if len(folder) > 1 and folder[-2].lower() in lookup:
        return lookup[folder[-2].lower()]
    # sleap-io and many scripts: "<video>_frame_000123.png", "<video>-00042.jpg"
    prefix = _NAME_PREFIX.sub("", folder[-1].rsplit(".", 1)[0]).lower()
    if prefix and prefix in lookup:
        return lookup[prefix]
    return None


def video_targets(project: Any) -> list[VideoTarget]:
    """The project's videos (not its image sets) as matching targets."""
    from pose_studio.formats.coco_build import video_dir_names

    recs = [v for v in project.videos() if v.kind != "images"]
    dirs = video_dir_names([(v.id, v.stored_path or str(v.path)) for v in recs])
    out = []
    for v in recs:
        p = Path(v.path)
        names = (str(v.stored_path), str(v.path), p.name, dirs[v.id],
                 p.stem if p.suffix else p.name)
        out.append(VideoTarget(v.id, v.frame_count, v.width, v.height, names))
    return out


# --- files numbered from 1 -------------------------------------------------------------------------
_OFFSET_SAMPLES = 8


def image_file_beside(src: Path, file_name: str) -> Path | None:
    """Where an image named in a dataset file lies, if beside it (as exporters ship them)."""
    name = file_name.replace("\\", "/")
    base = basename(name)
    candidates = [Path(name)] if Path(name).is_absolute() else []
    candidates += [src.parent / name, src.parent / "images" / base, src.parent / base]
    for c in candidates:
        try:
            if c.is_file():
                return c
        except OSError:
            continue
    return None


def detect_name_offset(
    project: Any, images: Sequence[ImageRef], src: Path, target: VideoTarget
) -> tuple[int, str | None]:
    """0, or -1/+1 when the images beside the dataset file show that the frame numbers in their
    names are off by one (files numbered from 1). Compares small grey copies of up to
    :data:`_OFFSET_SAMPLES` images with video frames ``n - 1``, ``n`` and ``n + 1``."""
    import cv2

    named = sorted({(n, im.file_name) for im in images if im.frame_index is None
                    and (n := frame_number_from_name(im.file_name)) is not None})
    if not named:
        return 0, None
    step = max(1, len(named) // _OFFSET_SAMPLES)
    files = [(n, f) for n, name in named[::step][:_OFFSET_SAMPLES]
             if (f := image_file_beside(src, name)) is not None]
    if not files:
        return 0, None
    rec = project.video(target.video_id)
    if rec.missing:
        return 0, None

    def small(img: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
        return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)

    from pose_studio.video import open_video
    from pose_studio.video.image_header import decode_image

    diffs: dict[int, list[float]] = {-1: [], 0: [], 1: []}
    try:
        with open_video(rec.path, index=project.video_index(target.video_id)) as reader:
            n_frames = len(reader)
            for n, f in files:
                img = decode_image(f)
                if img is None or img.shape[:2] != (rec.height, rec.width):
                    continue
                if not all(0 <= n + d < n_frames for d in diffs):
                    continue
                a = small(img)
                for d in diffs:
                    diffs[d].append(float(np.abs(a - small(reader.get(n + d))).mean()))
    except (PoseStudioError, OSError, cv2.error):
        return 0, None
    if not diffs[0]:
        return 0, None
    mean = {d: sum(v) / len(v) for d, v in diffs.items()}
    best = min(mean, key=lambda d: (mean[d], abs(d)))
    if best != 0 and mean[best] <= 6.0 and mean[0] >= 2.0 * mean[best] + 2.0:
        how = "from 1" if best == -1 else "one below their frames"
        return best, (f"the image files are numbered {how}: checked {len(diffs[0])} "
                      f"image(s) beside {src.name} against the video, so frame = number "
                      f"{'-' if best < 0 else '+'} 1")
    return 0, None
