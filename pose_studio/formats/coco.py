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
) -> tuple[dict[int, tuple[int, int]], list[str], int]:
    """Map every image that has instances to ``(video_id, frame_idx)``.

    The video is ``video_id`` when given, else the only video, else the one whose path (or the
    export's folder name) the image names. The frame is looked up by file name in an image
    folder; otherwise it is ``frame_index`` when present, else the last number in the file name.

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
    needed = sorted({ci.image_id for ci in parsed.instances})
    out: dict[int, tuple[int, int]] = {}
    for iid in needed:
        im: CocoImage = parsed.images[iid]
        where = f"image {iid} ({im.file_name!r})" if im.file_name else f"image {iid}"
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
        if not 0 <= frame < target.frame_count:
            problem(f"{where}: frame {frame} is outside the video (frames 0..{target.frame_count - 1})")
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
    return None


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
) -> ImportSummary:
    """Import a COCO keypoints file into ``project`` (all of it, or nothing).

    Args:
        project: An open, writable project.
        path: The JSON file (Pose Studio, CVAT, X-AnyLabeling, mmpose/official style).
        video_id: Put every image on this video (frames by ``frame_index`` or file-name number).
        image_folder: A folder holding the file's images: it is added as a video (or reused if
            the project has it) and images are matched to its frames by file name.
        bbox_padding: The export padding, used to recognise derived boxes (they are dropped).

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
        mapping, problems, count = resolve_frames(parsed, targets, video_id=video_id)
    if count:
        raise CocoFormatError(src, problems, count)

    # Everything is valid: write.
    sizes = {t.video_id: (t.width, t.height) for t in targets}
    if folder_target is not None:
        sizes[folder_target.video_id] = (folder_target.width, folder_target.height)
    file_tracks = sorted({ci.track for ci in parsed.instances if ci.track is not None})
    track_names = _file_track_names(data, file_tracks)
    n_user = n_pred = 0
    frames_touched: set[tuple[int, int]] = set()
    existing_tracks = {t.name: int(t.id) for t in project.tracks()} if track_names else {}
    with project.import_transaction() as writer:
        if folder_target is not None and folder_target.video_id < 0:
            new_id = _add_folder_video(writer, Path(image_folder or ""), folder_meta,
                                       folder_index)
            mapping = {iid: (new_id, f) for iid, (_, f) in mapping.items()}
            sizes[new_id] = (folder_target.width, folder_target.height)
        track_map, created = _map_tracks(existing_tracks, writer, track_names)
        run_id = None
        if any(ci.instance.kind is InstanceKind.PREDICTED for ci in parsed.instances):
            run_id = _import_model_run(writer, src)
        items: list[tuple[int, int, Instance]] = []
        for ci in parsed.instances:
            vid, frame = mapping[ci.image_id]
            inst = ci.instance
            changes: dict[str, Any] = {}
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
    first = next(iter(parsed.mappings.values()), None)
    return ImportSummary(
        path=src, n_user=n_user, n_predicted=n_pred, n_images=len(frames_touched),
        video_ids=tuple(sorted({v for v, _ in frames_touched})),
        skipped=parsed.skipped_no_keypoints + parsed.skipped_other_category,
        tracks_created=created, keypoint_mapping=first.how if first else "identical",
    )


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


def _file_track_names(data: Any, track_ids: Sequence[int]) -> dict[int, str]:
    names = {t: f"track {t}" for t in track_ids}
    info = data.get("info") if isinstance(data, dict) else None
    listed = info.get("tracks") if isinstance(info, dict) else None
    if isinstance(listed, list):
        for t in listed:
            if isinstance(t, dict) and t.get("id") in names and isinstance(t.get("name"), str):
                names[t["id"]] = t["name"]
    return names


def _map_tracks(
    existing: dict[str, int], writer: Any, names: dict[int, str]
) -> tuple[dict[int, int], int]:
    """File track id -> project track id: an existing track of the same name, else a new one."""
    out: dict[int, int] = {}
    created = 0
    for tid, name in sorted(names.items()):
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
