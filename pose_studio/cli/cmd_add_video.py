"""``pose-studio add-video PROJECT VIDEO...``: add videos (or image folders) to a project.

Every video is opened and indexed first; only when all of them are readable are they added, in
one transaction, so a bad file leaves the project exactly as it was.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "add-video",
        help="add videos or image folders to a project",
        description="Open and index each video, then add them all to the project "
        "(all or nothing).",
    )
    p.add_argument("project", help="project file (.posestudio)")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video file or image folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pose_studio.cli.common import CliError
    from pose_studio.store import Project
    from pose_studio.video import open_video

    # Check the project (read-only) and read every video before anything is written.
    with Project.open(args.project, read_only=True) as project:
        project_path = project.path
        seen: dict[Path, None] = {}
        for spec in args.videos:
            path = Path(spec).expanduser().absolute()
            if path in seen:
                raise CliError(f"{path} is given twice")
            seen[path] = None
            existing = project.find_video(path)
            if existing is not None:
                raise CliError(
                    f"{path} is already in project {project_path} (video id {existing}); "
                    "nothing was added"
                )
    found = []
    for path in seen:
        if sys.stderr.isatty():  # progress for people; a log or script gets one line per outcome
            print(f"indexing {path} ...", file=sys.stderr, flush=True)
        with open_video(path) as reader:
            found.append((path, reader.meta, reader.index_bytes()))
    with Project.open(project_path) as project, project.import_transaction() as writer:
        ids = [_add(writer, path, meta, index) for path, meta, index in found]
    for vid, (path, meta, _) in zip(ids, found):
        rate = f"{meta.fps:.3f} fps" + (" (variable)" if meta.vfr else "")
        print(
            f"added video {vid}: {path}: {meta.frame_count} frames, {rate}, {meta.codec}, "
            f"{meta.width}x{meta.height}"
        )
    return 0


def _add(writer: Any, path: Any, meta: Any, index: bytes) -> int:
    fr = meta.fps_rational
    return int(writer.add_video(
        path, width=meta.width, height=meta.height, frame_count=meta.frame_count, fps=meta.fps,
        vfr=meta.vfr, codec=meta.codec, duration_s=meta.duration_s, index=index,
        fps_rational=(int(fr[0]), int(fr[1])) if fr else None,
        rotation=int(getattr(meta, "rotation", 0) or 0), kind=str(getattr(meta, "kind", "file")),
    ))
