"""The one importer: any :class:`~pose_studio.formats.dataset.Dataset` into a project, in one
transaction (the store's import write path, ``Project.import_transaction``).

What it does, in order: map the dataset's keypoints onto the project skeleton when they differ
(by name); plan where every source lands (``ingest_sources``: existing videos and image sets,
new ones, frames by file name or image id); read the fingerprints of the frames that receive
labels (so a later replaced file is noticed); then, in one transaction, add the new sources,
categories, tracks (an existing track of the same name is reused), model runs (predictions of
a file get a run naming it), instances with their category and kept fields, regions, the
images' ids and fields, fingerprints. Instances already in the project (same frame, kind and
keypoints) are skipped, so importing a file twice adds nothing.

Everything is checked before the transaction starts; a problem raises :class:`IngestError`
with the first problems named and leaves the project untouched. The summary lists everything
not kept: the dataset's ``not_kept`` and what the project could not hold.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind, Provenance
from pose_studio.core.errors import PoseStudioError
from pose_studio.formats.coco_layouts import Layout, map_layout
from pose_studio.formats.dataset import (
    MAX_PROBLEMS,
    Annotation,
    Dataset,
    DatasetError,
    extra_json,
    gc_paused,
)
from pose_studio.formats.ingest_sources import NEW, Placement, Problems, place_sources
from pose_studio.formats.registry import ReadOptions

__all__ = ["ImportSummary", "IngestError", "ingest", "read_options_for"]

Progress = Callable[[int, int], None]
_CHUNK = 5000
_PER_FRAME_QUERIES = 2000


class IngestError(PoseStudioError):
    """A dataset that cannot go into the project as asked; ``problems`` names the first ones."""

    def __init__(self, path: str | Path | None, problems: Iterable[str], total: int = 0):
        self.path = str(path) if path is not None else "dataset"
        self.problems = list(problems)[:MAX_PROBLEMS]
        self.total = max(total, len(self.problems))
        more = self.total - len(self.problems)
        text = "; ".join(self.problems) + (f"; and {more} more problem(s)" if more > 0 else "")
        super().__init__(f"{self.path}: cannot import: {text}")


@dataclass(frozen=True)
class ImportSummary:
    """What an import did, and everything it did not keep (``not_kept``, one line each)."""

    path: Path
    n_user: int
    n_predicted: int
    n_images: int  # distinct frames that received instances
    video_ids: tuple[int, ...]
    skipped: int  # annotations the dataset did not carry over (see not_kept)
    tracks_created: int
    keypoint_mapping: str  # "identical" | "by name" | "by position"
    notes: tuple[str, ...] = field(default=())
    duplicates: int = 0  # annotations already in the project (same frame, kind, keypoints)
    n_regions: int = 0
    not_kept: tuple[str, ...] = field(default=())
    sources_added: tuple[int, ...] = field(default=())
    model_run_ids: tuple[int, ...] = field(default=())
    format: str = ""


def read_options_for(project: Any, **kw: Any) -> ReadOptions:
    """Reader options for importing into ``project`` (its skeleton; its categories by the ids
    a dataset gave them, for files that name categories only by id)."""
    ids: dict[Any, str] = {}
    for c in project.categories():
        cid = c.extra.get("id")
        if isinstance(cid, (int, str)):
            ids.setdefault(cid, c.name)
    return ReadOptions(skeleton=project.skeleton, category_ids=ids, **kw)


def ingest(
    project: Any,
    dataset: Dataset,
    *,
    path: str | os.PathLike[str] | None = None,
    video_id: int | None = None,
    images_dir: str | os.PathLike[str] | None = None,
    frame_offset: int | None = None,
    fingerprints: bool = True,
    progress: Progress | None = None,
    label: str | None = None,
    user: str | None = None,
) -> ImportSummary:
    """Write ``dataset`` into ``project`` (all of it, or nothing).

    Args:
        path: The file the dataset was read from (images beside it are found, the summary and
            model runs name it).
        video_id: Put every image of the dataset's image sources on this project video.
        images_dir: Where the dataset's images are (sub-folders included).
        frame_offset: Added to frame numbers read from file names (-1: files numbered from 1);
            None: 0, or what the images beside the file show.
        fingerprints: Store the fingerprint of every frame that receives labels.
        progress: ``progress(done, total)`` while frames are read for fingerprints.
        label: The history step's name (default ``import <file name>``).
        user: Who imports (recorded with the step; default: the journal's default user).

    Raises:
        IngestError: the dataset does not fit the project; nothing was written.
    """
    with gc_paused():
        return _ingest(project, dataset, path, video_id, images_dir, frame_offset, fingerprints,
                       progress, label, user)


def _ingest(project: Any, dataset: Dataset, path: str | os.PathLike[str] | None,
            video_id: int | None, images_dir: str | os.PathLike[str] | None,
            frame_offset: int | None, fingerprints: bool,
            progress: Progress | None, label: str | None = None,
            user: str | None = None) -> ImportSummary:
    src = Path(path) if path is not None else None
    try:
        dataset.validate()
    except DatasetError as e:
        raise IngestError(src, [str(e)]) from None
    not_kept = list(dataset.not_kept)
    notes = [str(n) for n in dataset.info.get("notes", ())]
    problems = Problems()
    remap = _remap(dataset, project.skeleton, problems, not_kept)
    k = project.skeleton.num_keypoints
    if problems.count:
        raise IngestError(src, problems.items, problems.count)
    placements = place_sources(
        project, dataset, dataset_path=src, video_id=video_id,
        images_dir=Path(images_dir) if images_dir is not None else None,
        frame_offset=frame_offset, problems=problems, notes=notes, not_kept=not_kept)
    if problems.count:
        raise IngestError(src, problems.items, problems.count)
    for pl in placements:
        if pl.new is not None:
            notes.extend(pl.new.warnings)
    by_key = {pl.source.key: pl for pl in placements}
    items = [(by_key[f.source].frame_of[f.index], f) for f in dataset.frames
             if f.index in by_key[f.source].frame_of]
    own = bool(dataset.info.get("own_format"))

    fps_by_video: dict[int, dict[int, bytes]] = {}
    if fingerprints:
        fps_by_video = _read_fingerprints(project, placements, items, notes, progress)
    already = _existing(project, {w for w, _ in items if w[0] > NEW})
    regions_before = _existing_regions(project, {w for w, f in items if f.regions
                                                 and w[0] > NEW})

    counts = {"user": 0, "predicted": 0, "dup": 0, "regions": 0, "tracks": 0}
    frames_touched: set[tuple[int, int]] = set()
    added: list[int] = []
    runs: dict[str, int] = {}
    if label is None:
        label = f"import {src.name}" if src is not None else "import"
    with project.import_transaction(label, user=user) as writer:
        new_ids: dict[int, int] = {}
        for pl in placements:
            if pl.new is not None:
                new_ids[pl.placeholder] = _add_source(writer, pl, added)
            if pl.extend is not None:
                vid, files, index, n = pl.extend
                writer.extend_image_set(vid, files, index=index, frame_count=n)
        items = [(_final(by_key[f.source], f), f) for f in (f for _, f in items)]
        cat_extra = dataset.info.get("categories") or {}
        cat_ids = writer.ensure_categories(
            [(c, cat_extra.get(c) or {}) for c in dataset.categories]) if dataset.categories \
            else {}
        tracks = _tracks(project, writer, dataset, counts)
        next_id = writer.next_instance_id()
        batch: list[tuple[int, int, Instance]] = []
        meta: list[tuple[int, int | None, str | None]] = []
        regions: list[tuple[int, int, int | None, Any, str | None]] = []
        for (vid, frame), f in items:
            for a in f.annotations:
                run_id = None
                if a.run is not None:
                    if a.run not in runs:
                        runs[a.run] = _model_run(writer, a.run, dataset.runs.get(a.run, {}))
                    run_id = runs[a.run]
                inst = _instance(a, remap, k, tracks, run_id, next_id)
                if _is_duplicate(inst, already.get((vid, frame), ())):
                    counts["dup"] += 1
                    continue
                next_id += 1
                counts["predicted" if inst.is_prediction else "user"] += 1
                batch.append((vid, frame, inst))
                frames_touched.add((vid, frame))
                cat = cat_ids.get(a.category) if a.category is not None else None
                text = _extra_text(a.extra, not_kept)
                if cat is not None or text is not None:
                    meta.append((int(next_id - 1), cat, text))
                if len(batch) >= _CHUNK:
                    writer.add_instances(batch)
                    writer.set_instance_meta(meta)
                    batch, meta = [], []
            for r in f.regions:
                cat = cat_ids.get(r.category) if r.category is not None else None
                text = _extra_text(r.extra, not_kept)
                if (r.bbox, cat, text) in regions_before.get((vid, frame), ()):
                    counts["dup"] += 1
                    continue
                regions.append((vid, frame, cat, r.bbox, text))
        writer.add_instances(batch)
        writer.set_instance_meta(meta)
        counts["regions"] = writer.add_regions(regions)
        _frame_meta(writer, placements, items, own)
        for vid, fps in fps_by_video.items():
            if fps:
                writer.set_fingerprints(new_ids.get(vid, vid), fps)
        coco_info = dataset.info.get("coco")
        if isinstance(coco_info, Mapping) and coco_info:
            writer.set_dataset_info(str(dataset.info.get("format", "coco")), coco_info)
    if counts["dup"]:
        notes.append(f"skipped {counts['dup']} annotation(s) already in the project (same frame "
                     "and keypoints): was this file imported before?")
    return ImportSummary(
        path=src if src is not None else Path("."),
        n_user=counts["user"], n_predicted=counts["predicted"],
        n_images=len(frames_touched),
        video_ids=tuple(sorted({v for v, _ in frames_touched})),
        skipped=int(dataset.info.get("skipped", 0)), tracks_created=counts["tracks"],
        keypoint_mapping=str(dataset.info.get("keypoint_mapping") or
                             ("identical" if remap is None else "by name")),
        notes=tuple(dict.fromkeys(notes)), duplicates=counts["dup"], n_regions=counts["regions"],
        not_kept=tuple(dict.fromkeys(not_kept)), sources_added=tuple(added),
        model_run_ids=tuple(runs.values()), format=str(dataset.info.get("format", "")),
    )


# --- keypoints ----------------------------------------------------------------------------------------
def _remap(dataset: Dataset, skeleton: Any, problems: Problems,
           not_kept: list[str]) -> np.ndarray | None:
    """``target[i]``: the project keypoint of dataset keypoint ``i`` (-1: none); None when the
    layouts are the same."""
    if tuple(dataset.skeleton.keypoints) == tuple(skeleton.keypoints):
        return None
    m = map_layout(Layout(tuple(dataset.skeleton.keypoints), True), skeleton,
                   dataset.skeleton.name)
    if isinstance(m, str):
        problems.add(m)
        return None
    if m.dropped:
        lost = sum(int(((a.points[:, 2] > 0) & (m.target < 0)).sum())
                   for f in dataset.frames for a in f.annotations)
        not_kept.append(f"{len(m.dropped)} keypoint(s) of {dataset.skeleton.name!r} have no "
                        f"place in the project skeleton {skeleton.name!r} "
                        f"({', '.join(m.dropped[:6])}): {lost} labeled point(s)")
    return m.target


def _instance(a: Annotation, remap: np.ndarray | None, k: int, tracks: Mapping[str, int],
              run_id: int | None, instance_id: int) -> Instance:
    pts, kps, prov = a.points, a.kp_scores, a.provenance
    if remap is not None:
        keep = remap >= 0
        new = np.full((k, 3), np.nan)
        new[:, 2] = 0
        new[remap[keep]] = pts[keep]
        pts = new
        if kps is not None:
            nk = np.zeros(k, dtype=np.float32)
            nk[remap[keep]] = kps[keep]
            kps = nk
        if prov is not None:
            default = Provenance.USER if a.kind is InstanceKind.USER else Provenance.PREDICTED
            npv = np.full(k, int(default), dtype=np.uint8)
            npv[remap[keep]] = prov[keep]
            prov = npv
    if np.isnan(pts).any():  # "no coordinates" is stored as 0, unlabeled
        pts = np.where(np.isnan(pts), 0.0, pts)
    return Instance(
        xy=pts[:, :2], visibility=pts[:, 2].astype(np.uint8), kind=a.kind, kp_scores=kps,
        provenance=prov, score=a.score if a.kind is InstanceKind.PREDICTED else None,
        bbox=a.bbox, track_id=tracks.get(a.track) if a.track is not None else None,
        id=instance_id, model_run_id=run_id,
    )


def _is_duplicate(inst: Instance, others: Iterable[Instance]) -> bool:
    return any(
        o.kind is inst.kind and np.array_equal(o.visibility, inst.visibility)
        and np.allclose(o.xy, inst.xy, rtol=0.0, atol=1e-6)
        for o in others
    )


def _extra_text(extra: Mapping[str, Any], not_kept: list[str]) -> str | None:
    try:
        return extra_json(extra)
    except ValueError as e:
        not_kept.append(f"fields of an annotation that JSON cannot hold ({e})")
        return None


# --- sources, tracks, runs --------------------------------------------------------------------------
def _add_source(writer: Any, pl: Placement, added: list[int]) -> int:
    assert pl.new is not None
    m = pl.new.meta
    fr = getattr(m, "fps_rational", None)
    vid = int(writer.add_video(
        pl.new.path, width=m.width, height=m.height, frame_count=m.frame_count, fps=m.fps,
        vfr=m.vfr, codec=m.codec, duration_s=m.duration_s, index=pl.new.index,
        fps_rational=(int(fr[0]), int(fr[1])) if fr else None,
        rotation=int(getattr(m, "rotation", 0) or 0), kind=str(getattr(m, "kind", "file"))))
    if pl.new.files:
        writer.set_frame_files(vid, pl.new.files)
    pl.use_new_id(vid)
    added.append(vid)
    return vid


def _final(pl: Placement, f: Any) -> tuple[int, int]:
    return pl.frame_of[f.index]


def _tracks(project: Any, writer: Any, dataset: Dataset, counts: dict[str, int]) -> dict[str, int]:
    """Dataset track name -> project track id: an existing track of that name, else a new one."""
    used = {a.track for f in dataset.frames for a in f.annotations if a.track is not None}
    if not used:
        return {}
    existing = {t.name: int(t.id) for t in project.tracks()}
    out: dict[str, int] = {}
    for name in [t for t in dataset.tracks if t in used]:
        if name not in existing:
            existing[name] = int(writer.create_track(name))
            counts["tracks"] += 1
        out[name] = existing[name]
    return out


def _model_run(writer: Any, name: str, facts: Mapping[str, Any]) -> int:
    return int(writer.create_model_run(
        model_path=str(facts.get("model_path") or name),
        model_hash=str(facts.get("model_hash") or ""),
        providers=tuple(facts.get("providers") or ()),
        params=dict(facts.get("params") or {"imported_as": name})))


def _frame_meta(writer: Any, placements: list[Placement],
                items: list[tuple[tuple[int, int], Any]], own: bool) -> None:
    """Image ids and kept image fields (image sets: every image; video frames: the labeled ones
    of other tools' files, with their file name), and frames' own fields; written in batches,
    each image's fields decoded only while its row is made."""
    frame_extra = {where: f.extra for where, f in items if f.extra}
    rows: list[tuple[int, int, Any, str | None]] = []
    done: set[tuple[int, int]] = set()
    for pl in placements:
        on_video = not pl.keeps_images and pl.source.kind == "images" and \
            pl.source.extra.get("match") != "image_id" and not own
        if not (pl.keeps_images or on_video):
            continue
        for i, where in pl.frame_of.items():
            e = pl.source.images[i]
            extra = {k: v for k, v in e.extra.items() if not k.startswith("_")} if e.extra \
                else {}
            if (on_video and e.path) or (i in pl.rels and _safe_name(e.path)):
                extra["file_name"] = e.path  # the name the dataset gave it, given back
            extra.update({k: v for k, v in frame_extra.pop(where, {}).items()
                          if not k.startswith("_")})
            rows.append(_meta_row(where, extra))
            done.add(where)
            if len(rows) >= _CHUNK:
                writer.set_frame_meta(rows)
                rows = []
    for where, fx in frame_extra.items():
        rows.append(_meta_row(where, {k: v for k, v in fx.items() if not k.startswith("_")}))
    writer.set_frame_meta(rows)


def _safe_name(name: str) -> bool:
    """A relative path that stays inside a folder (kept as an image's exported name)."""
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and ":" not in parts[0] and ".." not in parts


def _meta_row(where: tuple[int, int], extra: dict[str, Any]) -> tuple[int, int, Any, str | None]:
    iid = extra.pop("id", None)
    try:
        text = extra_json(extra)
    except ValueError:
        text = None
    return where[0], where[1], iid, text


# --- reading before the transaction -----------------------------------------------------------------
def _existing(project: Any, frames: set[tuple[int, int]]) -> dict[tuple[int, int], list[Instance]]:
    """The project's instances on the frames an import lands on (to skip re-imports)."""
    by_video: dict[int, set[int]] = {}
    for vid, f in frames:
        by_video.setdefault(vid, set()).add(f)
    out: dict[tuple[int, int], list[Instance]] = {}
    for vid, fs in by_video.items():
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


def _existing_regions(project: Any, frames: set[tuple[int, int]]) -> dict[tuple[int, int], set]:
    if not frames:
        return {}
    out: dict[tuple[int, int], set] = {}
    for vid in {v for v, _ in frames}:
        for r in project.regions(vid):
            if (vid, r.frame_idx) in frames:
                text = extra_json(r.extra) if r.extra else None
                out.setdefault((vid, r.frame_idx), set()).add((r.bbox, r.category_id, text))
    return out


def _read_fingerprints(
    project: Any,
    placements: list[Placement],
    items: list[tuple[tuple[int, int], Any]],
    notes: list[str],
    progress: Progress | None,
) -> dict[int, dict[int, bytes]]:
    """Fingerprints of the frames receiving user labels that have none yet, per video id
    (negative: a source about to be added). A source that cannot be read is noted."""
    from pose_studio.formats.frame_check import read_fingerprints

    wanted: dict[int, set[int]] = {}
    for (vid, frame), f in items:
        if any(a.kind is InstanceKind.USER for a in f.annotations):
            wanted.setdefault(vid, set()).add(frame)
    new = {pl.placeholder: pl.new for pl in placements if pl.new is not None}
    total = sum(len(f) for f in wanted.values())
    done_before = 0
    out: dict[int, dict[int, bytes]] = {}
    for vid, frames in sorted(wanted.items()):
        if vid < NEW:
            source = new.get(vid)
            if source is None:
                continue
            path, index = source.path, source.index
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
