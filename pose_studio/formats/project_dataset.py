"""A project read into a :class:`~pose_studio.formats.dataset.Dataset`, for every exporter.

Videos become video sources, image sets image sources (each image with its relative path, own
size and the fields its dataset gave it); instances become annotations with their category,
track name, model run and kept fields; regions and frames' kept fields come along. Reading is
one snapshot per table (no transaction spans them: an export of a project being edited sees
each table as it was when read).

:class:`ProjectFrames` gives the pixels of a source's frames to writers that store images.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.errors import PoseStudioError
from pose_studio.formats.dataset import Annotation, Dataset, Frame, ImageEntry, Region, Source

__all__ = ["ProjectFrames", "dataset_from_project", "source_key"]

InstanceSource = Literal["user", "predicted", "all"]


def source_key(video_id: int) -> str:
    """The dataset source key of a project video."""
    return f"video-{video_id}"


def dataset_from_project(
    project: Any,
    *,
    source: InstanceSource = "user",
    video_ids: Sequence[int] | None = None,
    cancel: Any = None,
) -> Dataset:
    """The project's instances (``user`` labels, ``predicted``, or ``all``) as a dataset.

    Regions are exported with labels (``user``/``all``). Returns None-free values only; raises
    what the store raises (``ProjectError``).
    """
    videos = {v.id: v for v in project.videos()}
    ids = list(videos) if video_ids is None else list(video_ids)
    tracks = {int(t.id): t.name for t in project.tracks()}
    cats = {c.id: c for c in project.categories()}
    runs = {r.id: r for r in project.model_runs()}
    sources: list[Source] = []
    frames: list[Frame] = []
    used_tracks: dict[str, None] = {}
    used_cats: dict[str, None] = {}
    used_runs: dict[str, dict[str, Any]] = {}
    for vid in ids:
        rec = videos[vid]
        key = source_key(vid)
        fmeta = project.frame_meta(vid)
        meta = project.instance_meta(vid)
        sources.append(_source(project, rec, key, fmeta))
        per_frame: dict[int, list[Annotation]] = {}
        for _, f, inst in project.iter_instances(source, video_id=vid):
            m = meta.get(int(inst.id)) if inst.id is not None else None
            cat = cats[m.category_id].name if m is not None and m.category_id in cats else None
            track = tracks.get(inst.track_id) if inst.track_id is not None else None
            run = None
            if inst.kind is InstanceKind.PREDICTED and inst.model_run_id in runs:
                r = runs[inst.model_run_id]
                run = f"run {r.id}"
                used_runs[run] = {"model_path": r.model_path, "model_hash": r.model_hash,
                                  "providers": list(r.providers), "params": r.params}
            if track is not None:
                used_tracks[track] = None
            if cat is not None:
                used_cats[cat] = None
            per_frame.setdefault(f, []).append(_annotation(inst, track, cat, run, m))
        if cancel is not None and cancel.is_set():
            break
        regions: dict[int, list[Region]] = {}
        if source != "predicted":
            for r in project.regions(vid):
                cat = cats[r.category_id].name if r.category_id in cats else None
                if cat is not None:
                    used_cats[cat] = None
                regions.setdefault(r.frame_idx, []).append(Region(r.bbox, cat, r.extra))
        for f in sorted(set(per_frame) | set(regions)):
            fm = fmeta.get((vid, f))
            extra: dict[str, Any] = {}
            if rec.kind != "images" and fm is not None:
                extra = dict(fm.extra)
                if fm.image_id is not None:
                    extra["id"] = fm.image_id
            frames.append(Frame(key, f, tuple(per_frame.get(f, ())), tuple(regions.get(f, ())),
                                extra))
    return Dataset(
        skeleton=project.skeleton,
        sources=sources,
        frames=frames,
        tracks=[t for t in tracks.values() if t in used_tracks],
        categories=[c.name for c in cats.values() if c.name in used_cats],
        runs=used_runs,
        info={"format": "pose-studio", "project": str(project.path), "source": source,
              "categories": {c.name: dict(c.extra) for c in cats.values()},
              "coco": project.dataset_info("coco")},
    )


def _annotation(inst: Instance, track: str | None, cat: str | None, run: str | None,
                meta: Any) -> Annotation:
    pts = np.empty((inst.num_keypoints, 3))
    pts[:, :2] = inst.xy
    pts[:, 2] = inst.visibility
    prov = inst.provenance
    if inst.kind is InstanceKind.USER and prov is not None and not prov.any():
        prov = None  # all user points: the default, not worth a copy per instance
    return Annotation(
        pts, kind=inst.kind, kp_scores=inst.kp_scores,
        score=inst.score if inst.kind is InstanceKind.PREDICTED else None, bbox=inst.bbox,
        track=track, category=cat, run=run, extra=meta.extra if meta is not None else {},
        provenance=prov,
    )


def _source(project: Any, rec: Any, key: str, fmeta: dict[tuple[int, int], Any]) -> Source:
    facts = {"video_id": int(rec.id), "stored_path": str(rec.stored_path)}
    if rec.kind != "images":
        return Source(key, "video", path=str(rec.path), width=int(rec.width),
                      height=int(rec.height), extra=facts)
    files = [(f.path, f.width, f.height) for f in project.frame_files(rec.id)]
    if not files:  # an image folder added before format 5: its reader lists it
        files = _listing(project, rec)
    images = []
    for i, (rel, w, h) in enumerate(files):
        fm = fmeta.get((int(rec.id), i))
        extra: dict[str, Any] = {}
        if fm is not None:
            extra = dict(fm.extra)
            if fm.image_id is not None:
                extra["id"] = fm.image_id
        images.append(ImageEntry(rel, w, h, extra))
    return Source(key, "images", path=str(rec.path), images=tuple(images), extra=facts)


def _listing(project: Any, rec: Any) -> list[tuple[str, int | None, int | None]]:
    from pose_studio.video import open_video

    try:
        with open_video(rec.path, index=project.video_index(rec.id)) as reader:
            rels = getattr(reader, "rel_paths", None)
            sizes = getattr(reader, "sizes", None)
            if rels is None or sizes is None:
                raise PoseStudioError("not an image set")
            return [(r, *(s if s is not None else (None, None))) for r, s in zip(rels, sizes)]
    except PoseStudioError:  # missing folder: sizes from the record, names by frame
        return [(f"{i:06d}.png", rec.width, rec.height) for i in range(rec.frame_count)]


class ProjectFrames:
    """``frames(source key, index)`` -> the frame's pixels, read exactly from the project's
    videos and image sets (one reader per source, opened on first use; call :meth:`close`).

    ``file(source key, index)``: the original image file of an image-set frame (writers copy it
    byte for byte instead of encoding pixels), else None.
    """

    def __init__(self, project: Any) -> None:
        self._project = project
        self._readers: dict[str, Any] = {}
        self._videos = {source_key(v.id): v for v in project.videos()}

    def _reader(self, key: str) -> Any:
        reader = self._readers.get(key)
        if reader is None:
            from pose_studio.formats.export_images import ExportImagesError
            from pose_studio.video import open_video

            rec = self._videos[key]
            if rec.missing:
                raise ExportImagesError(
                    f"video {rec.path} (id {rec.id}) is missing; relink it before exporting "
                    "images")
            reader = open_video(rec.path, index=self._project.video_index(rec.id))
            self._readers[key] = reader
        return reader

    def __call__(self, key: str, index: int) -> np.ndarray:
        return self._reader(key).get(index)  # type: ignore[no-any-return]

    def file(self, key: str, index: int) -> Path | None:
        rec = self._videos.get(key)
        if rec is None or rec.kind != "images":
            return None
        reader = self._reader(key)
        path = getattr(reader, "file_path", None)
        return Path(path(index)) if path is not None else None

    def close(self) -> None:
        for r in self._readers.values():
            with contextlib.suppress(Exception):
                r.close()
        self._readers.clear()

    def __enter__(self) -> ProjectFrames:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
