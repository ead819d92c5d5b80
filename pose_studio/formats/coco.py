"""COCO keypoints export and import for a project.

The file layout and box rule are documented in :mod:`pose_studio.formats.coco_build`; what the
importer accepts in :mod:`pose_studio.formats.coco_read`. This module is the thin project-facing
part: it gathers instances and frames, writes images through the frame-exact video reader, and
writes an import in one store transaction after the whole file has been validated.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.imagesize import check_image_file
from pose_studio.core.oks import DEFAULT_BBOX_PADDING
from pose_studio.formats.coco_build import (
    ExportImage,
    build_coco_dict,
    frame_file_name,
    video_dir_names,
    write_json_atomic,
)
from pose_studio.formats.coco_read import (
    CocoFormatError,
    CocoImage,
    IdKey,
    ParsedCoco,
    frame_number_from_name,
    is_derived_bbox,
    load_json,
    parse_coco,
)

if TYPE_CHECKING:  # pragma: no cover
    from pose_studio.store.project import Project

__all__ = [
    "CocoExportError",
    "CocoFormatError",
    "ExportSummary",
    "ImportSummary",
    "VideoTarget",
    "export_coco",
    "import_coco",
    "resolve_frames",
]

Progress = Callable[[int, int], None]
SOURCES = ("user", "predicted", "all")
IMAGE_FORMATS = {"png": "png", "jpg": "jpg", "jpeg": "jpg"}


class CocoExportError(PoseStudioError):
    """An export that cannot be done as asked (bad option, unwritable folder, missing video)."""


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    n_images: int
    n_annotations: int
    n_user: int
    n_predicted: int
    images_written: int
    bytes_written: int
    cancelled: bool
    elapsed_s: float


@dataclass(frozen=True)
class ImportSummary:
    path: Path
    n_user: int
    n_predicted: int
    n_images: int  # distinct frames that received instances
    video_ids: tuple[int, ...]
    skipped: int  # annotations without labeled keypoints, crowd, or of box-only categories
    tracks_created: int
    keypoint_mapping: str  # "identical" | "by name" | "by position" (first category used)
    notes: tuple[str, ...] = field(default=())
    duplicates: int = 0  # annotations already in the project (same frame, kind, keypoints)


# --- export ----------------------------------------------------------------------------------------
def export_coco(
    project: Project,
    out_path: str | os.PathLike[str],
    *,
    source: str = "user",
    images_dir: str | os.PathLike[str] | None = None,
    image_format: str = "png",
    jpeg_quality: int = 95,
    video_ids: Sequence[int] | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    bbox_padding: float = DEFAULT_BBOX_PADDING,
) -> ExportSummary:
    """Write the project's instances as a COCO keypoints JSON (and optionally the frames).

    Args:
        project: An open project.
        out_path: The JSON file; written atomically (temp file + ``os.replace``) at the end.
        source: ``"user"`` labels (default), ``"predicted"`` instances, or ``"all"``.
        images_dir: Where to write the frames (``<images_dir>/<file_name>``), read exactly via
            the video reader; None writes no images (the JSON still names them).
        image_format: ``"png"`` (lossless) or ``"jpg"``.
        jpeg_quality: 1..100 for JPEG.
        video_ids: Only these videos (default: all).
        progress: ``progress(done, total)`` over exported frames.
        cancel: Set to stop; images written by this call are removed and no JSON is written.
        bbox_padding: Relative padding of boxes derived from keypoints.
    """
    t0 = time.perf_counter()
    if source not in SOURCES:
        raise CocoExportError(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
    ext = IMAGE_FORMATS.get(str(image_format).lower())
    if ext is None:
        raise CocoExportError(f"unknown image format {image_format!r}: use png or jpg")
    if not 1 <= int(jpeg_quality) <= 100:
        raise CocoExportError(f"JPEG quality must be 1..100, got {jpeg_quality}")
    if not bbox_padding >= 0:
        raise CocoExportError(f"box padding must be >= 0, got {bbox_padding}")
    out = Path(out_path)
    if out.is_dir():
        raise CocoExportError(f"{out} is a folder; give the JSON file name")
    if not out.parent.exists():
        raise CocoExportError(f"cannot write {out}: folder {out.parent} does not exist")

    videos = {v.id: v for v in project.videos()}
    if video_ids is not None:
        unknown = [v for v in video_ids if v not in videos]
        if unknown:
            raise CocoExportError(f"project {project.path} has no video {unknown[0]}")
        videos = {v: videos[v] for v in video_ids}
    dirs = video_dir_names([(v.id, v.stored_path or str(v.path)) for v in videos.values()])

    # Gather (video, frame, instance), grouped by frame in (video, frame) order.
    per_frame: dict[tuple[int, int], list[Instance]] = {}
    for vid in videos:
        for v_id, frame_idx, inst in project.iter_instances(source, video_id=vid):  # type: ignore[arg-type]
            per_frame.setdefault((v_id, frame_idx), []).append(inst)
        if cancel is not None and cancel.is_set():
            return _cancelled(out, t0)
    keys = sorted(per_frame)
    images: list[ExportImage] = []
    for image_id, (vid, frame_idx) in enumerate(keys, start=1):
        rec = videos[vid]
        images.append(ExportImage(
            image_id=image_id, video_id=vid, frame_idx=frame_idx,
            file_name=frame_file_name(dirs[vid], frame_idx, ext),
            width=rec.width, height=rec.height, video=rec.stored_path,
        ))

    def pairs() -> Iterable[tuple[int, Instance]]:
        for im, key in zip(images, keys):
            for inst in per_frame[key]:
                yield im.image_id, inst

    n_user = sum(1 for k in keys for i in per_frame[k] if i.kind is InstanceKind.USER)
    n_total = sum(len(per_frame[k]) for k in keys)
    tracks = _track_names(project)
    info = {"source": source, "project": str(project.path), "bbox_padding": bbox_padding,
            "tracks": [{"id": t, "name": n} for t, n in sorted(tracks.items())]}
    coco = build_coco_dict(project.skeleton, images, pairs(), bbox_padding=bbox_padding,
                           info=info)

    written: list[Path] = []
    if images_dir is not None:
        try:
            done = _write_images(project, videos, images, Path(images_dir), ext,
                                 int(jpeg_quality), progress, cancel, written)
        except BaseException:
            _remove(written)
            raise
        if not done:
            _remove(written)
            return _cancelled(out, t0)
    elif progress is not None:
        progress(len(images), len(images))
    if cancel is not None and cancel.is_set():
        _remove(written)
        return _cancelled(out, t0)
    try:
        n_bytes = write_json_atomic(coco, out)
    except OSError as exc:
        _remove(written)
        raise CocoExportError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return ExportSummary(
        path=out, n_images=len(images), n_annotations=n_total, n_user=n_user,
        n_predicted=n_total - n_user, images_written=len(written), bytes_written=n_bytes,
        cancelled=False, elapsed_s=time.perf_counter() - t0,
    )


def _track_names(project: Any) -> dict[int, str]:
    try:
        return {int(t.id): str(t.name) for t in project.tracks()}
    except AttributeError:  # pragma: no cover - older store
        return {}


def _cancelled(out: Path, t0: float) -> ExportSummary:
    return ExportSummary(out, 0, 0, 0, 0, 0, 0, True, time.perf_counter() - t0)


def _remove(paths: Iterable[Path]) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink()


def _write_images(
    project: Any,
    videos: dict[int, Any],
    images: Sequence[ExportImage],
    root: Path,
    ext: str,
    quality: int,
    progress: Progress | None,
    cancel: threading.Event | None,
    written: list[Path],
) -> bool:
    """Write every exported frame; False when cancelled."""
    import cv2

    from pose_studio.video import open_video

    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CocoExportError(f"cannot create image folder {root}: {exc.strerror or exc}") from exc
    by_video: dict[int, list[ExportImage]] = {}
    for im in images:
        by_video.setdefault(im.video_id, []).append(im)
    total, done = len(images), 0
    for vid, ims in by_video.items():
        rec = videos[vid]
        if getattr(rec, "missing", False):
            raise CocoExportError(
                f"video {rec.path} (id {vid}) is missing; relink it before exporting images"
            )
        with open_video(rec.path, index=project.video_index(vid)) as reader:
            for im, frame in _frames_for(reader, [im.frame_idx for im in ims], ims):
                if cancel is not None and cancel.is_set():
                    return False
                target = root / im.file_name
                target.parent.mkdir(parents=True, exist_ok=True)
                ok, buf = cv2.imencode("." + ext, frame, params)
                if not ok:  # pragma: no cover - OpenCV always encodes BGR uint8
                    raise CocoExportError(f"cannot encode frame {im.frame_idx} of {rec.path}")
                _write_bytes_atomic(target, buf.tobytes())
                written.append(target)
                done += 1
                if progress is not None:
                    progress(done, total)
    return True


def _frames_for(reader: Any, frames: list[int], ims: list[ExportImage]) -> Iterable[tuple[ExportImage, np.ndarray]]:
    """Frames in order: decoded sequentially when they are dense, else by random access."""
    if not frames:
        return
    lo, hi = frames[0], frames[-1]
    if len(frames) * 4 >= hi - lo + 1:
        wanted = dict(zip(frames, ims))
        for i, frame in reader.iter_frames(lo, hi + 1):
            im = wanted.get(i)
            if im is not None:
                yield im, frame
    else:
        for i, im in zip(frames, ims):
            yield im, reader.get(i)


def _write_bytes_atomic(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --- import: frame matching (pure) ----------------------------------------------------------------
@dataclass(frozen=True)
class VideoTarget:
    """A project video COCO images may land on."""

    video_id: int
    frame_count: int
    width: int
    height: int
    names: tuple[str, ...]  # strings an image's 'video' or file-name folder may match
    frame_by_name: dict[str, int] | None = None  # image folders: lower-case basename -> frame


def _basename(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def resolve_frames(
    parsed: ParsedCoco,
    targets: Sequence[VideoTarget],
    *,
    video_id: int | None = None,
    frame_offset: int = 0,
) -> tuple[dict[IdKey, tuple[int, int]], list[str], int]:
    """Map every image that has instances to ``(video_id, frame_idx)``.

    The video is ``video_id`` when given, else the only video, else the one whose path (or the
    export's folder name) the image names. The frame is looked up by file name in an image
    folder; otherwise it is ``frame_index`` when present, else the last number in the file name
    plus ``frame_offset`` (-1 for files numbered from 1, as ffmpeg's ``%04d.png`` writes them).

    Returns:
        (mapping, problems, problem_count).
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
    needed = sorted({ci.image_id for ci in parsed.instances}, key=str)
    out: dict[IdKey, tuple[int, int]] = {}
    for iid in needed:
        im: CocoImage = parsed.images[iid]
        where = f"image {iid!r} ({im.file_name!r})" if im.file_name else f"image {iid!r}"
        target = _target_for(im, targets, by_id, lookup, video_id)
        if target is None:
            if not targets:
                problem(f"{where}: the project has no video to put it on (add one, or import "
                        "with an image folder)")
            else:
                problem(f"{where}: cannot tell which of the project's {len(targets)} videos it "
                        "belongs to; choose one with --video")
            continue
        frame: int | None
        if target.frame_by_name is not None:
            frame = target.frame_by_name.get(_basename(im.file_name).lower())
            if frame is None:
                problem(f"{where}: no file {_basename(im.file_name)!r} in the image folder")
                continue
        elif im.frame_index is not None:
            frame = im.frame_index
        else:
            frame = frame_number_from_name(im.file_name)
            if frame is None:
                problem(f"{where}: no 'frame_index' and no frame number in the file name")
                continue
            frame += frame_offset
            if frame == target.frame_count and frame_offset == 0:
                problem(f"{where}: frame {frame} is one past the end of the video (frames "
                        f"0..{target.frame_count - 1}): the file names look numbered from 1 "
                        "(ffmpeg's default); import with a frame offset of -1")
                continue
        if not 0 <= frame < target.frame_count:
            hint = "" if im.frame_index is not None else (
                "; if the file's images are separate pictures, import them as an image folder")
            problem(f"{where}: frame {frame} is outside the video (frames "
                    f"0..{target.frame_count - 1}){hint}")
            continue
        if (im.width is not None and im.width != target.width) or (
            im.height is not None and im.height != target.height
        ):
            problem(f"{where}: size {im.width}x{im.height} differs from the video's "
                    f"{target.width}x{target.height}")
            continue
        out[iid] = (target.video_id, frame)
    return out, problems, count


def _target_for(
    im: CocoImage,
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
        for key in (v.lower(), _basename(v).lower()):
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


_NAME_PREFIX = re.compile(r"[ _\-.]*(?:frame|img|image)?[ _\-.]*\d+$", re.IGNORECASE)


def _targets_from_project(project: Any) -> list[VideoTarget]:
    recs = list(project.videos())
    dirs = video_dir_names([(v.id, v.stored_path or str(v.path)) for v in recs])
    out = []
    for v in recs:
        p = Path(v.path)
        names = (str(v.stored_path), str(v.path), p.name, dirs[v.id], p.stem if p.suffix else p.name)
        out.append(VideoTarget(v.id, v.frame_count, v.width, v.height, names))
    return out


# --- import -----------------------------------------------------------------------------------------
def import_coco(
    project: Project,
    path: str | os.PathLike[str],
    *,
    video_id: int | None = None,
    image_folder: str | os.PathLike[str] | None = None,
    bbox_padding: float = DEFAULT_BBOX_PADDING,
    frame_offset: int | None = None,
    fingerprints: bool = True,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import a COCO keypoints file into ``project`` (all of it, or nothing).

    Args:
        project: An open, writable project.
        path: The JSON file (Pose Studio, CVAT, X-AnyLabeling, mmpose/official style).
        video_id: Put every image on this video (frames by ``frame_index`` or file-name number).
        image_folder: A folder holding the file's images: it is added as a video (or reused if
            the project has it) and images are matched to its frames by file name.
        bbox_padding: The export padding, used to recognise derived boxes (they are dropped).
        frame_offset: Added to frame numbers taken from file names (-1 when the files are
            numbered from 1, as ``ffmpeg -i v.mp4 %04d.png`` does). Not applied to
            ``frame_index`` fields nor to image-folder matches. None (default): 0, unless the
            images are found beside the JSON and their pictures show that the numbers are
            off by one (then -1 or +1, said in the summary's notes).
        fingerprints: Store the fingerprint of every frame that receives labels (read with the
            video reader before writing), so a later replaced or re-encoded video is noticed.
            Frames that already have one keep it. Unreadable videos are noted, not fatal.
        progress: ``progress(done, total)`` while reading frames for fingerprints.

    Raises:
        CocoFormatError: the file is malformed or does not fit the project (nothing written).
    """
    src = Path(path)
    data = load_json(src)
    parsed = parse_coco(data, project.skeleton, src)
    if video_id is not None and image_folder is not None:
        raise CocoFormatError(src, ["give either a video or an image folder, not both"])
    targets = _targets_from_project(project)
    if video_id is not None and video_id not in {t.video_id for t in targets}:
        raise CocoFormatError(src, [f"the project has no video {video_id}"])

    folder_meta: Any = None
    folder_index: bytes | None = None
    folder_target: VideoTarget | None = None
    if image_folder is not None:
        folder_meta, folder_index, frame_by_name = _scan_image_folder(Path(image_folder))
        existing = _find_video(project, Path(image_folder))
        folder_target = VideoTarget(
            existing if existing is not None else -1, folder_meta.frame_count,
            folder_meta.width, folder_meta.height, (), frame_by_name,
        )
        mapping, problems, count = resolve_frames(parsed, [folder_target], video_id=None)
    else:
        offset_note = None
        if frame_offset is None:
            frame_offset, offset_note = _detect_name_offset(project, parsed, src, targets,
                                                            video_id)
        mapping, problems, count = resolve_frames(parsed, targets, video_id=video_id,
                                                  frame_offset=frame_offset)
        if offset_note:
            parsed.notes.append(offset_note)
    if count:
        raise CocoFormatError(src, problems, count)

    # Everything is valid. Read the labeled frames' fingerprints before taking the write lock.
    notes = list(parsed.notes)
    fps_by_video: dict[int, dict[int, bytes]] = {}
    if fingerprints:
        user_images = {ci.image_id for ci in parsed.instances
                       if ci.instance.kind is InstanceKind.USER}
        fps_by_video = _import_fingerprints(
            project, {i: m for i, m in mapping.items() if i in user_images}, image_folder,
            folder_index, notes, progress)
    already = _existing_instances(project, mapping)

    # Write.
    sizes = {t.video_id: (t.width, t.height) for t in targets}
    if folder_target is not None:
        sizes[folder_target.video_id] = (folder_target.width, folder_target.height)
    file_tracks = sorted({ci.track for ci in parsed.instances if ci.track is not None}, key=str)
    track_names = _file_track_names(data, file_tracks)
    n_user = n_pred = duplicates = 0
    frames_touched: set[tuple[int, int]] = set()
    existing_tracks = {t.name: int(t.id) for t in project.tracks()} if track_names else {}
    with project.import_transaction() as writer:
        if folder_target is not None and folder_target.video_id < 0:
            new_id = _add_folder_video(writer, Path(image_folder or ""), folder_meta,
                                       folder_index)
            mapping = {iid: (new_id, f) for iid, (_, f) in mapping.items()}
            sizes[new_id] = (folder_target.width, folder_target.height)
            if -1 in fps_by_video:
                fps_by_video[new_id] = fps_by_video.pop(-1)
        track_map, created = _map_tracks(existing_tracks, writer, track_names)
        run_id = None
        if any(ci.instance.kind is InstanceKind.PREDICTED for ci in parsed.instances):
            run_id = _import_model_run(writer, src)
        items: list[tuple[int, int, Instance]] = []
        for ci in parsed.instances:
            vid, frame = mapping[ci.image_id]
            inst = ci.instance
            changes: dict[str, Any] = {}
            if _is_duplicate(inst, already.get((vid, frame), ())):
                duplicates += 1
                continue
            if is_derived_bbox(inst, sizes.get(vid), bbox_padding):
                changes["bbox"] = None
            if ci.track is not None:
                changes["track_id"] = track_map[ci.track]
            if inst.kind is InstanceKind.PREDICTED:
                changes["model_run_id"] = run_id
                n_pred += 1
            else:
                n_user += 1
            items.append((vid, frame, inst.replace(**changes) if changes else inst))
            frames_touched.add((vid, frame))
        _write_instances(writer, items)
        for vid, fps in fps_by_video.items():
            if fps:
                writer.set_fingerprints(vid, fps)
    if duplicates:
        notes.append(f"skipped {duplicates} annotation(s) already in the project (same frame "
                     "and keypoints): was this file imported before?")
    first = next(iter(parsed.mappings.values()), None)
    return ImportSummary(
        path=src, n_user=n_user, n_predicted=n_pred, n_images=len(frames_touched),
        video_ids=tuple(sorted({v for v, _ in frames_touched})),
        skipped=parsed.skipped_no_keypoints + parsed.skipped_other_category,
        tracks_created=created, keypoint_mapping=first.how if first else "identical",
        notes=tuple(notes), duplicates=duplicates,
    )


_OFFSET_SAMPLES = 8
_PER_FRAME_QUERIES = 2000


def _existing_instances(
    project: Any, mapping: dict[IdKey, tuple[int, int]]
) -> dict[tuple[int, int], list[Instance]]:
    """The project's instances on the frames an import lands on (to skip re-imports)."""
    frames: dict[int, set[int]] = {}
    for vid, f in mapping.values():
        if vid >= 0:
            frames.setdefault(vid, set()).add(f)
    out: dict[tuple[int, int], list[Instance]] = {}
    for vid, fs in frames.items():
        if len(fs) <= _PER_FRAME_QUERIES:
            for f in fs:
                found = project.instances(vid, f)
                if found:
                    out[(vid, f)] = found
        else:
            for _, f, inst in project.iter_instances("all", video_id=vid):
                if f in fs:
                    out.setdefault((vid, f), []).append(inst)
    return out


def _is_duplicate(inst: Instance, others: Iterable[Instance]) -> bool:
    return any(
        o.kind is inst.kind and np.array_equal(o.visibility, inst.visibility)
        and np.allclose(o.xy, inst.xy, rtol=0.0, atol=1e-6)
        for o in others
    )


def _image_file_for(src: Path, file_name: str) -> Path | None:
    """Where an image named in the JSON lies, if beside it (as exporters ship them)."""
    name = file_name.replace("\\", "/")
    base = _basename(name)
    candidates = [Path(name)] if Path(name).is_absolute() else []
    candidates += [src.parent / name, src.parent / "images" / base, src.parent / base]
    for c in candidates:
        with contextlib.suppress(OSError):
            if c.is_file():
                return c
    return None


def _detect_name_offset(
    project: Any, parsed: ParsedCoco, src: Path, targets: Sequence[VideoTarget],
    video_id: int | None,
) -> tuple[int, str | None]:
    """0, or -1/+1 when the images beside the JSON show that the frame numbers in their names
    are off by one (files numbered from 1). Compares small grey copies of up to
    :data:`_OFFSET_SAMPLES` images with video frames ``n - 1``, ``n`` and ``n + 1``."""
    import cv2

    if video_id is None and len(targets) != 1:
        return 0, None
    target = next((t for t in targets if t.video_id == video_id), None) if video_id else targets[0]
    if target is None:
        return 0, None
    named = sorted(
        {(n, im.file_name) for iid in {ci.image_id for ci in parsed.instances}
         if (im := parsed.images[iid]).frame_index is None
         and (n := frame_number_from_name(im.file_name)) is not None},
    )
    if not named:
        return 0, None
    step = max(1, len(named) // _OFFSET_SAMPLES)
    files = [(n, f) for n, name in named[::step][:_OFFSET_SAMPLES]
             if (f := _image_file_for(src, name)) is not None]
    if not files:
        return 0, None
    rec = project.video(target.video_id)
    if rec.missing:
        return 0, None

    def small(img: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
        return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)

    from pose_studio.video import open_video

    diffs: dict[int, list[float]] = {-1: [], 0: [], 1: []}
    try:
        with open_video(rec.path, index=project.video_index(target.video_id)) as reader:
            n_frames = len(reader)
            for n, f in files:
                check_image_file(f)  # a header claiming billions of pixels ends the guess
                img = cv2.imdecode(np.fromfile(str(f), dtype=np.uint8), cv2.IMREAD_COLOR)
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


def _import_fingerprints(
    project: Any,
    mapping: dict[IdKey, tuple[int, int]],
    image_folder: str | os.PathLike[str] | None,
    folder_index: bytes | None,
    notes: list[str],
    progress: Progress | None,
) -> dict[int, dict[int, bytes]]:
    """Fingerprints of the frames the import labels that have none yet, per video id (-1: the
    image folder about to be added). A video that cannot be read is noted, not fatal."""
    from pose_studio.formats.frame_check import read_fingerprints

    wanted: dict[int, set[int]] = {}
    for vid, frame in mapping.values():
        wanted.setdefault(vid, set()).add(frame)
    total = sum(len(f) for f in wanted.values())
    done_before = 0
    out: dict[int, dict[int, bytes]] = {}
    for vid, frames in sorted(wanted.items()):
        if vid < 0:
            path, index = Path(image_folder or ""), folder_index
        else:
            rec = project.video(vid)
            frames = frames - set(project.fingerprints(vid))
            path, index = rec.path, project.video_index(vid)
            if rec.missing:
                notes.append(f"video {rec.path} is missing: fingerprints of the imported frames "
                             "were not stored")
                continue
        if not frames:
            continue

        def prog(done: int, _total: int, base: int = done_before) -> None:
            if progress is not None:
                progress(base + done, total)

        try:
            out[vid] = read_fingerprints(path, frames, index=index, progress=prog)
        except PoseStudioError as e:
            notes.append(f"fingerprints of the imported frames were not stored: {e}")
        done_before += len(frames)
    return out


def _scan_image_folder(folder: Path) -> tuple[Any, bytes | None, dict[str, int]]:
    from pose_studio.video import open_video

    if not folder.is_dir():
        raise CocoFormatError(folder, ["image folder does not exist or is not a folder"])
    with open_video(folder) as reader:
        meta = reader.meta
        index = reader.index_bytes()
        names = _reader_file_names(reader, folder)
    return meta, index, {n.lower(): i for i, n in enumerate(names)}


def _reader_file_names(reader: Any, folder: Path) -> list[str]:
    """The image folder reader's frame files, in frame order."""
    for attr in ("files", "paths", "file_names"):
        files = getattr(reader, attr, None)
        if files is None:
            files = getattr(getattr(reader, "_backend", None), attr, None)
        if files is not None:
            return [_basename(str(f)) for f in files]
    raise CocoFormatError(folder, ["the image folder reader does not list its files"])


def _find_video(project: Any, folder: Path) -> int | None:
    found = project.find_video(folder)
    return None if found is None else int(found)


def _add_folder_video(writer: Any, folder: Path, meta: Any, index: bytes | None) -> int:
    return int(writer.add_video(
        str(folder), width=meta.width, height=meta.height, frame_count=meta.frame_count,
        fps=meta.fps, vfr=meta.vfr, codec=meta.codec, duration_s=meta.duration_s, index=index,
        fps_rational=getattr(meta, "fps_rational", None), rotation=getattr(meta, "rotation", 0),
        kind=getattr(meta, "kind", "images"),
    ))


def _file_track_names(data: Any, track_ids: Sequence[int | str]) -> dict[int | str, str]:
    names = {t: (t if isinstance(t, str) else f"track {t}") for t in track_ids}
    info = data.get("info") if isinstance(data, dict) else None
    listed = info.get("tracks") if isinstance(info, dict) else None
    if isinstance(listed, list):
        for t in listed:
            if isinstance(t, dict) and t.get("id") in names and isinstance(t.get("name"), str):
                names[t["id"]] = t["name"]
    return names


def _map_tracks(
    existing: dict[str, int], writer: Any, names: dict[int | str, str]
) -> tuple[dict[int | str, int], int]:
    """File track id -> project track id: an existing track of the same name, else a new one."""
    out: dict[int | str, int] = {}
    created = 0
    for tid, name in sorted(names.items(), key=lambda kv: str(kv[0])):
        if name in existing:
            out[tid] = existing[name]
        else:
            out[tid] = existing[name] = int(writer.create_track(name))
            created += 1
    return out, created


def _import_model_run(writer: Any, src: Path) -> int | None:
    """A model run recording the import, when the writer can add one inside the transaction
    (a separate write would wait on the transaction's own lock); else predictions get none."""
    create = getattr(writer, "create_model_run", None)
    if create is None:
        return None
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    return int(create(model_path=f"coco-import:{src.name}", model_hash=digest,
                      providers=(), params={"imported_from": str(src)}))


def _write_instances(writer: Any, items: list[tuple[int, int, Instance]]) -> None:
    add_many = getattr(writer, "add_instances", None)
    if add_many is not None:
        add_many(items)
        return
    for vid, frame, inst in items:
        writer.add_instance(vid, frame, inst)
