"""``pose-studio add-video PROJECT VIDEO...``: add videos and image sets to a project.

An image set is a folder (every image under it, sub-folders included, in natural order), or an
explicit list of image files (given as arguments, or one per line in ``--image-list``): each
image keeps its own file name, relative path and size. Every source is opened and indexed
first; only when all of them are readable are they added, in one transaction, so a bad file
leaves the project exactly as it was. An image that cannot be read is named; the others work.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "add-video",
        help="add videos and image sets (folders or lists of images) to a project",
        description="Open and index each video or image set, then add them all to the project "
        "(all or nothing). Image files given as arguments form one image set (of exactly those "
        "files, rooted at their common folder).",
    )
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("videos", nargs="*", metavar="SOURCE",
                   help="video file, image folder, or image files")
    p.add_argument("--image-list", metavar="FILE",
                   help="a text file naming one image per line (relative to its folder or "
                        "absolute): one image set of exactly those files")
    p.set_defaults(func=run)


def _image_set_spec(files: list[Path]) -> tuple[Path, list[str]]:
    """(root, relative paths) of an explicit list: the root is the files' common folder."""
    root = Path(os.path.commonpath([str(f.parent) for f in files]))
    return root, [f.relative_to(root).as_posix() for f in files]


def _read_list(path: Path) -> list[Path]:
    from pose_studio.cli.common import CliError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read image list {path}: {exc}") from None
    out = []
    for line in lines:
        name = line.strip()
        if name and not name.startswith("#"):
            p = Path(name).expanduser()
            out.append((p if p.is_absolute() else path.parent / p).absolute())
    if not out:
        raise CliError(f"image list {path} names no images")
    return out


def run(args: argparse.Namespace) -> int:
    from pose_studio.cli.common import CliError
    from pose_studio.store import Project
    from pose_studio.video import open_video
    from pose_studio.video.image_reader import IMAGE_SUFFIXES, open_image_list

    specs = [Path(s).expanduser().absolute() for s in args.videos]
    images = [p for p in specs if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir()]
    sources: list[tuple[Path, list[str] | None]] = [(p, None) for p in specs if p not in images]
    if args.image_list:
        images += _read_list(Path(args.image_list).expanduser().absolute())
    if images:
        missing = [p for p in images if not p.is_file()]
        if missing:
            raise CliError(f"{missing[0]}: no such image" + (
                f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        sources.append(_image_set_spec(images))
    if not sources:
        raise CliError("give a video, an image folder, image files or --image-list")

    # Check the project (read-only) and read every source before anything is written.
    appends: dict[Path, tuple[int, list[str]]] = {}  # root -> (image set id, its files)
    with Project.open(args.project, read_only=True) as project:
        project_path = project.path
        seen: set[Path] = set()
        for path, files in sources:
            if path in seen:
                raise CliError(f"{path} is given twice")
            seen.add(path)
            existing = project.find_video(path)
            old = _explicit_set(project, existing) if files is not None else None
            if old is not None:  # more images for the list the project has at that folder
                appends[path] = (int(existing), old)  # type: ignore[arg-type]
            elif existing is not None:
                raise CliError(
                    f"{path} is already in project {project_path} (video id {existing}); "
                    "nothing was added"
                )
    found = []
    for path, files in sources:
        if sys.stderr.isatty():  # progress for people; a log or script gets one line per outcome
            print(f"indexing {path} ...", file=sys.stderr, flush=True)
        if files is not None and path in appends:
            old = appends[path][1]
            files = old + [f for f in files if f not in set(old)]
        reader = open_video(path) if files is None else open_image_list(path, files)
        with reader:
            listing = None
            if getattr(reader, "rel_paths", None) is not None:
                listing = [(i, r, *(s or (None, None))) for i, (r, s) in
                           enumerate(zip(reader.rel_paths, reader.sizes))]  # type: ignore[attr-defined]
            found.append((path, reader.meta, reader.index_bytes(), listing))
    with Project.open(project_path) as project, project.import_transaction() as writer:
        ids = []
        for path, meta, index, listing in found:
            if path in appends:
                vid, old = appends[path]
                writer.extend_image_set(vid, (listing or [])[len(old):], index=index,
                                        frame_count=meta.frame_count)
            else:
                vid = _add(writer, path, meta, index)
                if listing is not None:
                    writer.set_frame_files(vid, listing)
            ids.append(vid)
    for vid, (path, meta, _, listing) in zip(ids, found):
        if path in appends:
            n_old = len(appends[path][1])
            print(f"added {meta.frame_count - n_old} image(s) to image set {vid}: {path} "
                  f"(frames {n_old}..{meta.frame_count - 1})")
        elif listing is not None:
            what = "image set" if meta.container == "image set" else "image folder"
            print(f"added {what} {vid}: {path}: {meta.frame_count} images, {meta.codec}, "
                  + (f"{meta.width}x{meta.height}" if not any("different sizes" in w
                                                               for w in meta.warnings)
                     else "sizes differ"))
        else:
            rate = f"{meta.fps:.3f} fps" + (" (variable)" if meta.vfr else "")
            print(
                f"added video {vid}: {path}: {meta.frame_count} frames, {rate}, {meta.codec}, "
                f"{meta.width}x{meta.height}"
            )
        for line in notice_lines(vid, path, getattr(meta, "notices", ())):
            print(line)
        if listing is not None:
            notices = {n.text for n in getattr(meta, "notices", ())}
            for w in meta.warnings:
                if w not in notices:
                    print(f"note: {w}")
    return 0


def notice_lines(video_id: int, path: Any, notices: Any) -> list[str]:
    """One line per problem found in a video (shared with ``info``)."""
    from pathlib import Path

    name = Path(str(path)).name
    return [f"  {n.severity}: video {video_id} ({name}): {n.text}" for n in notices]


def _explicit_set(project: Any, video_id: int | None) -> list[str] | None:
    """The files of the project's explicit image set ``video_id`` (None: not one)."""
    from pose_studio.core.errors import PoseStudioError
    from pose_studio.video import open_video

    if video_id is None or project.video(video_id).kind != "images":
        return None
    try:
        with open_video(project.video(video_id).path,
                        index=project.video_index(video_id)) as r:
            if getattr(r, "mode", "") == "list":
                return list(r.rel_paths)  # type: ignore[attr-defined]
    except PoseStudioError:
        return None
    return None


def _add(writer: Any, path: Any, meta: Any, index: bytes) -> int:
    fr = meta.fps_rational
    return int(writer.add_video(
        path, width=meta.width, height=meta.height, frame_count=meta.frame_count, fps=meta.fps,
        vfr=meta.vfr, codec=meta.codec, duration_s=meta.duration_s, index=index,
        fps_rational=(int(fr[0]), int(fr[1])) if fr else None,
        rotation=int(getattr(meta, "rotation", 0) or 0), kind=str(getattr(meta, "kind", "file")),
    ))
