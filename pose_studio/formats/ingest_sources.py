"""Where a dataset's sources land in a project: existing videos and image sets, or new ones.

For each :class:`~pose_studio.formats.dataset.Source`:

* a **video** source is the project video with the same path or name, else the file (absolute,
  or relative to the dataset file) added as a new video;
* an **image set** is, in this order: the project's images with the same ids (a results list,
  ``Source.extra["match"] == "image_id"``); with ``images_dir`` (else the source's own folder,
  when the reader knows it), the files under it (each name resolved, sub-folders included: its
  exact relative path, then without leading folders, then a bare name by a unique file of that
  name), added as an image set of exactly those files, or appended to / matched on the set the
  project already has at that folder; an image set of the project holding every named file;
  frames of the project's videos found by frame number in the file names (``ingest_frames``);
  the files beside the dataset file, added as a new image set.

Nothing is written here: the result is a plan the importer carries out in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pose_studio.core.errors import PoseStudioError
from pose_studio.formats.dataset import Dataset, Problems, Source
from pose_studio.formats.ingest_frames import (
    ImageRef,
    basename,
    detect_name_offset,
    resolve_frames,
    video_targets,
)

__all__ = ["NEW", "NewSource", "Placement", "Problems", "place_sources"]


@dataclass
class NewSource:
    """A video or image set the import adds (read and indexed before the transaction)."""

    path: Path
    meta: Any  # the reader's VideoMeta
    index: bytes
    files: list[tuple[int, str, int | None, int | None]] = field(default_factory=list)
    warnings: tuple[str, ...] = ()


#: Video ids below this stand for placements' new sources until they are added.
NEW = 0


@dataclass
class Placement:
    """One dataset source's frames in the project.

    Attributes:
        placeholder: The (negative) video id its new source has until it is added.
        new: A source to add first (its frames are on video ``placeholder`` below).
        extend: ``(video id, files, new index, frame count)``: files appended to an image set.
        frame_of: Dataset frame index -> ``(project video id, frame)``.
        keeps_images: Its images' ids and fields are kept for every frame it lands on (image
            sets; written from the source's entries when the import writes).
        rels: Dataset image index -> its path in the image set, where the dataset named it
            otherwise (the name is kept, so exports give it back).
    """

    source: Source
    placeholder: int = -1
    new: NewSource | None = None
    extend: tuple[int, list[tuple[int, str, int | None, int | None]], bytes, int] | None = None
    frame_of: dict[int, tuple[int, int]] = field(default_factory=dict)
    keeps_images: bool = False
    rels: dict[int, str] = field(default_factory=dict)

    def use_new_id(self, video_id: int) -> None:
        """The new source was added as ``video_id``: put its frames there."""
        old = self.placeholder
        self.frame_of = {k: (video_id if v == old else v, f)
                         for k, (v, f) in self.frame_of.items()}


def place_sources(
    project: Any,
    dataset: Dataset,
    *,
    dataset_path: Path | None,
    video_id: int | None,
    images_dir: Path | None,
    frame_offset: int | None,
    problems: Problems,
    notes: list[str],
    not_kept: list[str],
) -> list[Placement]:
    """Plan where every source of ``dataset`` lands; problems go to ``problems``."""
    used = {s.key: set() for s in dataset.sources}  # type: dict[str, set[int]]
    for f in dataset.frames:
        used.setdefault(f.source, set()).add(f.index)
    out = []
    for n, src in enumerate(dataset.sources):
        pl = Placement(src, placeholder=NEW - 1 - n)
        if src.kind == "video":
            _place_video(project, pl, used[src.key], dataset_path, video_id, problems)
        elif src.extra.get("match") == "image_id":
            _place_by_image_id(project, pl, used[src.key], problems)
        else:
            _place_images(project, pl, used[src.key], dataset_path, video_id, images_dir,
                          frame_offset, problems, notes, not_kept)
        out.append(pl)
    return out


# --- videos -------------------------------------------------------------------------------------
def _place_video(project: Any, pl: Placement, used: set[int], dataset_path: Path | None,
                 video_id: int | None, problems: Problems) -> Placement:
    src = pl.source
    n = src.frame_count
    name = src.path or ""
    found: int | None = video_id
    for v in project.videos() if found is None else ():
        if name and name in (str(v.path), str(v.stored_path), Path(v.path).name):
            found = int(v.id)
            break
    if found is None and name:
        # A path from another machine (SLEAP and DeepLabCut store absolute ones): the project's
        # one video of that file name, as the window's media check already counts it.
        same = [int(v.id) for v in project.videos() if Path(v.path).name == basename(name)]
        found = same[0] if len(same) == 1 else None
    if found is not None:
        pl.frame_of = {i: (found, i) for i in used}
        return pl
    candidates = [Path(name)] if name else []
    if name and dataset_path is not None and not Path(name).is_absolute():
        candidates.append(dataset_path.parent / name)
    if name and dataset_path is not None:
        candidates.append(dataset_path.parent / basename(name))
    for c in candidates:
        if c.is_file():
            existing = project.find_video(c)
            if existing is not None:
                pl.frame_of = {i: (int(existing), i) for i in used}
                return pl
            from pose_studio.video import open_video

            try:
                with open_video(c) as reader:
                    pl.new = NewSource(c, reader.meta, reader.index_bytes(),
                                       warnings=tuple(reader.warnings))
                    pl.frame_of = {i: (pl.placeholder, i) for i in used}
            except PoseStudioError as e:
                problems.add(f"video {name!r}: {e}")
            return pl
    problems.add(f"video {name or src.key!r} is not in the project and its file was not found"
                 + ("" if n is None else f" ({n} frames)") + "; add it with add-video first, "
                 "give --video, or give the folder that holds it with --images DIR")
    return pl


# --- results lists: images by id --------------------------------------------------------------------
def _place_by_image_id(project: Any, pl: Placement, used: set[int],
                       problems: Problems) -> Placement:
    src = pl.source
    frames = project.frames_by_image_id()
    missing = []
    for i in sorted(used):
        iid = src.images[i].extra.get("id")
        where = frames.get(iid, [])
        if not where:  # 397133 in one file, "397133" in the other
            alt = str(iid) if isinstance(iid, int) else (
                int(iid) if isinstance(iid, str) and iid.isascii() and iid.isdigit() else None)
            where = frames.get(alt, []) if alt is not None else []
        if len(where) != 1:
            if not where:
                missing.append(iid)
            else:
                problems.add(f"image id {iid!r} is on {len(where)} frames of the project; "
                             "cannot tell which")
            continue
        pl.frame_of[i] = where[0]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        problems.add(f"{len(missing)} image id(s) of the results are not in the project "
                     f"({shown}): import the dataset with its images first (pose-studio import "
                     "P dataset.json --images DIR)")
    return pl


# --- image sets -----------------------------------------------------------------------------------
def _refs(src: Source, keys: Sequence[int]) -> list[ImageRef]:
    out = []
    for i in keys:
        e = src.images[i]
        match = e.extra.get("_match") or {}
        out.append(ImageRef(i, e.path, e.width, e.height,
                            match.get("frame_index") if isinstance(match, dict) else None,
                            match.get("video") if isinstance(match, dict) else None))
    return out


def _place_images(project: Any, pl: Placement, used: set[int], dataset_path: Path | None,
                  video_id: int | None, images_dir: Path | None, frame_offset: int | None,
                  problems: Problems, notes: list[str], not_kept: list[str]) -> Placement:
    src = pl.source
    if video_id is not None:
        return _on_videos(project, pl, used, dataset_path, video_id, frame_offset, problems,
                          notes)
    if images_dir is not None:
        root = Path(images_dir).expanduser().absolute()
        if not root.is_dir():
            problems.add(f"image folder {root} does not exist or is not a folder")
            return pl
        _into_folder(project, pl, root, used, problems, notes, not_kept)
        return pl
    if src.path:  # the reader knows the set's folder (DeepLabCut's labeled-data/<video>/...)
        root = Path(src.path).expanduser()
        if not root.is_absolute() and dataset_path is not None:
            root = dataset_path.parent / root
        if root.is_dir():
            _into_folder(project, pl, root.absolute(), used, problems, notes, not_kept)
            return pl
    for v in project.videos():
        if v.kind == "images" and _onto_set(project, pl, v, used, problems, strict=False):
            return pl
    if video_targets(project):
        return _on_videos(project, pl, used, dataset_path, None, frame_offset, problems, notes)
    for root in image_roots(dataset_path):
        if all(_resolve(root, src.images[i].path, {}) is not None for i in used):
            _into_folder(project, pl, root, used, problems, notes, not_kept)
            return pl
    problems.add(f"the project has no video or image set to put the {len(src.images)} "
                 "image(s) on, and they are neither beside the file nor in an images folder "
                 "next to it; give the image folder with --images DIR")
    return pl


def image_roots(dataset_path: Path | None) -> list[Path]:
    """Where a dataset's images usually are, nearest first: beside the file, then the layouts
    of ``annotations/<name>_<split>.json`` (COCO's ``<split>/``, Datumaro's and CVAT's
    ``images/<split>/``, ``images/``)."""
    if dataset_path is None:
        return []
    here = dataset_path.parent.absolute()
    split = dataset_path.stem.rsplit("_", 1)[-1]
    up = here.parent
    out = [here]
    if up != here:
        out += [up / split, up / "images" / split, up / "images"]
    return [p for p in out if p.is_dir()]


def _on_videos(project: Any, pl: Placement, used: set[int], dataset_path: Path | None,
               video_id: int | None, frame_offset: int | None, problems: Problems,
               notes: list[str]) -> Placement:
    targets = video_targets(project)
    if video_id is not None and video_id not in {t.video_id for t in targets}:
        problems.add(f"the project has no video {video_id}")
        return pl
    refs = _refs(pl.source, sorted(used))
    if frame_offset is None:
        frame_offset = 0
        target = next((t for t in targets if t.video_id == video_id), None) if video_id \
            else (targets[0] if len(targets) == 1 else None)
        if target is not None and dataset_path is not None:
            frame_offset, note = detect_name_offset(project, refs, dataset_path, target)
            if note:
                notes.append(note)
    mapping, items, count = resolve_frames(refs, targets, video_id=video_id,
                                           frame_offset=frame_offset)
    for msg in items:
        problems.add(msg)
    problems.count += count - len(items)
    pl.frame_of = mapping
    return pl


def _resolve(root: Path, name: str, by_name: dict[str, list[str]]) -> str | None:
    """``name`` (a file name as the dataset wrote it) as a path relative to ``root``."""
    p = name.replace("\\", "/").strip()
    if not p:
        return None
    parts = [x for x in p.split("/") if x not in ("", ".")]
    if Path(p).is_absolute():
        try:
            rel = Path(p).resolve().relative_to(root.resolve()).as_posix()
            if (root / rel).is_file():
                return rel
        except (ValueError, OSError):
            pass
    for start in range(len(parts)):  # images/val/x/0.jpg under .../images/val -> x/0.jpg
        rel = "/".join(parts[start:])
        if ".." in parts[start:]:
            continue
        try:
            if (root / rel).is_file():
                return rel
        except OSError:
            continue
    if by_name and len(parts) == 1:  # a bare name may be in a sub-folder (one split per folder)
        found = by_name.get(parts[-1].lower(), [])
        if len(found) == 1:
            return found[0]
    return None


def _names_under(root: Path) -> dict[str, list[str]]:
    """Every image under ``root`` by its lower-case file name (the same listing as an image
    set of the folder)."""
    from pose_studio.video.image_reader import list_images

    out: dict[str, list[str]] = {}
    for rel in list_images(root):
        out.setdefault(rel.rsplit("/", 1)[-1].lower(), []).append(rel)
    return out


def _into_folder(project: Any, pl: Placement, root: Path, used: set[int], problems: Problems,
                 notes: list[str], not_kept: list[str]) -> None:
    """The dataset's images as files under ``root``: matched on the project's set there, or
    appended to it, or a new image set of exactly these files."""
    src = pl.source
    by_name: dict[str, list[str]] = {}
    rels: dict[int, str] = {}
    missing_used: list[str] = []
    missing_unused: list[str] = []
    for i, e in enumerate(src.images):
        rel = _resolve(root, e.path, by_name)
        if rel is None and not by_name:
            by_name = _names_under(root)
            rel = _resolve(root, e.path, by_name)
        if rel is None:
            (missing_used if i in used else missing_unused).append(e.path or f"#{i}")
            continue
        rels[i] = rel
    if missing_used:
        shown = ", ".join(repr(m) for m in missing_used[:5])
        problems.add(f"{len(missing_used)} image(s) with annotations are not under {root}: "
                     f"{shown}{' ...' if len(missing_used) > 5 else ''}")
    if missing_unused:
        not_kept.append(f"{len(missing_unused)} image(s) without annotations that are not under "
                        f"{root} (e.g. {missing_unused[0]!r})")
    seen: dict[str, int] = {}
    for i, rel in rels.items():
        if rel in seen:
            problems.add(f"images {src.images[seen[rel]].path!r} and {src.images[i].path!r} "
                         f"are the same file {rel!r}")
        seen[rel] = i
    if problems.count:
        return
    existing = project.find_video(root)
    if existing is not None:
        rec = project.video(existing)
        if rec.kind == "images":
            _onto_set(project, pl, rec, used, problems, strict=True, rels=rels, notes=notes)
            return
    from pose_studio.video.image_reader import natural_key, open_image_list

    order = sorted(rels, key=lambda i: tuple(natural_key(x) for x in rels[i].split("/")))
    try:
        reader = open_image_list(root, [rels[i] for i in order])
    except PoseStudioError as exc:
        problems.add(str(exc))
        return
    with reader:
        sizes = reader.sizes
        _check_sizes(src, order, sizes, problems)
        files: list[tuple[int, str, int | None, int | None]] = []
        for frame, i in enumerate(order):
            entry = src.images[i]
            size = sizes[frame]
            if size is None and entry.width and entry.height:
                size = (entry.width, entry.height)
            files.append((frame, rels[i], *(size or (None, None))))
        pl.new = NewSource(root, reader.meta, reader.index_bytes(), files,
                           tuple(reader.warnings))
    pl.frame_of = {i: (pl.placeholder, frame) for frame, i in enumerate(order)}
    pl.rels = {i: r for i, r in rels.items() if r != src.images[i].path}
    _image_facts(pl)


def _check_sizes(src: Source, keys: Sequence[int], sizes: Sequence[tuple[int, int] | None],
                 problems: Problems) -> None:
    for i, size in zip(keys, sizes):
        e = src.images[i]
        if size is None or e.width is None or e.height is None:
            continue
        if (e.width, e.height) != tuple(size):
            turned = " (turned by its EXIF orientation?)" if (e.height, e.width) == tuple(size) \
                else ""
            problems.add(f"image {e.path!r}: the file says {e.width}x{e.height}, the image is "
                         f"{size[0]}x{size[1]}{turned}")


def _image_facts(pl: Placement) -> None:
    pl.keeps_images = True


def _set_listing(project: Any, rec: Any) -> list[tuple[str, int | None, int | None]]:
    """An image set's files: stored rows, or (image folders from before format 5) its reader."""
    rows = project.frame_files(rec.id)
    if rows:
        return [(r.path, r.width, r.height) for r in rows]
    from pose_studio.video import open_video

    try:
        with open_video(rec.path, index=project.video_index(rec.id)) as reader:
            return [(r, *(s or (None, None))) for r, s in
                    zip(reader.rel_paths, reader.sizes)]  # type: ignore[attr-defined]
    except (PoseStudioError, AttributeError):
        return []


def _onto_set(project: Any, pl: Placement, rec: Any, used: set[int], problems: Problems, *,
              strict: bool, rels: dict[int, str] | None = None,
              notes: list[str] | None = None) -> bool:
    """Match the dataset's images on an existing image set. ``strict``: it is the set at the
    folder the user named (``rels``: the files there): files it lacks are appended (explicit
    sets) or refused. Otherwise by relative path, a path ending or a unique file name, and the
    set must hold every image with annotations, or it is not the one."""
    src = pl.source
    listing = _set_listing(project, rec)
    by_rel = {r: f for f, (r, _, _) in enumerate(listing)}
    suffixes: dict[str, list[int]] = {}
    if not strict:
        for fr, (r, _, _) in enumerate(listing):
            parts = r.split("/")
            for start in range(len(parts)):
                suffixes.setdefault("/".join(parts[start:]).lower(), []).append(fr)
    frame_of: dict[int, int] = {}
    lacking: list[int] = []
    for i, e in enumerate(src.images):
        if strict:
            found = by_rel.get(rels[i]) if rels is not None and i in rels else None
        else:
            found = _match_name(e.path, by_rel, suffixes)
        if found is None:
            lacking.append(i)
        else:
            frame_of[i] = found
    if not strict and (any(i in used for i in lacking) or not frame_of):
        return False
    vid = int(rec.id)
    pl.frame_of = {i: (vid, f) for i, f in frame_of.items()}
    pl.rels = {i: listing[f][0] for i, f in frame_of.items()
               if listing[f][0] != src.images[i].path}
    sizes = [listing[frame_of[i]][1:] for i in frame_of]
    _check_sizes(src, list(frame_of), [(w, h) if w is not None and h is not None else None
                                       for w, h in sizes], problems)
    if lacking and strict:
        _append(project, pl, rec, [i for i in lacking if rels and i in rels], rels or {},
                len(listing), problems, notes)
    _image_facts(pl)
    return True


def _match_name(name: str, by_rel: dict[str, int], suffixes: dict[str, list[int]]) -> int | None:
    parts = [x for x in name.replace("\\", "/").split("/") if x not in ("", ".")]
    for start in range(len(parts)):  # the dataset's name has folders the set's root includes
        f = by_rel.get("/".join(parts[start:]))
        if f is not None:
            return f
    found = suffixes.get("/".join(parts).lower(), [])  # the set's paths have more folders
    return found[0] if len(found) == 1 else None


def _append(project: Any, pl: Placement, rec: Any, keys: list[int], rels: dict[int, str],
            n_before: int, problems: Problems, notes: list[str] | None) -> None:
    """Add files to an explicit image set (a second split under the same folder)."""
    from pose_studio.video import open_video
    from pose_studio.video.image_reader import open_image_list

    if not keys:
        return
    try:
        with open_video(rec.path, index=project.video_index(rec.id)) as old:
            if getattr(old, "mode", "") != "list":
                problems.add(f"{len(keys)} image(s) are not in the project's image folder "
                             f"{rec.path} (e.g. {rels[keys[0]]!r})")
                return
            old_rels = list(old.rel_paths)  # type: ignore[attr-defined]
        reader = open_image_list(rec.path, old_rels + [rels[i] for i in keys])
        with reader:
            sizes = reader.sizes[n_before:]
            _check_sizes(pl.source, keys, sizes, problems)
            files = [(n_before + j, rels[i], *(sizes[j] or (None, None)))
                     for j, i in enumerate(keys)]
            pl.extend = (int(rec.id), files, reader.index_bytes(), len(reader))
    except PoseStudioError as e:
        problems.add(str(e))
        return
    for j, i in enumerate(keys):
        pl.frame_of[i] = (int(rec.id), n_before + j)
    if notes is not None:
        notes.append(f"{len(keys)} image(s) appended to the project's image set {rec.path} "
                     f"(frames {n_before}..{n_before + len(keys) - 1})")
