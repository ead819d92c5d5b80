"""``pose-studio import``: add the annotations of a dataset file to a project, in one transaction."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pose_studio.cli.common import CliError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "import",
        help="import a dataset file (COCO keypoints, COCO results, and the other registered "
             "formats)",
        description=(
            "Add the annotations of FILE to PROJECT, all or nothing: the whole file is checked "
            "first and any problem is reported without changing the project. The format is "
            "found from the content (--format to name it). Images are found under --images DIR "
            "(each file name resolved, sub-folders included) and become an image set of the "
            "project, or land on the image set or video frames the project already has (by "
            "path, by image id for a results list, by 'frame_index' or the number in the file "
            "name for frames of a video). Keypoints are matched to the project skeleton by "
            "name. Annotations with a 'score' become predictions of a model run naming the "
            "file. The summary ends with everything that was not kept."
        ),
    )
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("file", metavar="FILE", help="the dataset file")
    p.add_argument("--format", default="auto", metavar="NAME",
                   help="the file's format: auto (default: found from the content), coco, "
                        "coco-results, or another registered format")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--video", metavar="ID|PATH",
                   help="put every image on this video (default: the only video, or the one "
                        "each image names)")
    g.add_argument("--images", metavar="DIR",
                   help="the folder with the file's images (sub-folders included)")
    p.add_argument("--category", metavar="NAME",
                   help="import only this category (files with several keypoint layouts)")
    p.add_argument("--frame-offset", type=int, default=None, metavar="N",
                   help="add N to frame numbers read from file names (-1 for files numbered "
                        "from 1, as ffmpeg's %%04d.png writes them; default: 0, or -1/+1 when "
                        "the images found beside FILE show it)")
    p.add_argument("--no-fingerprints", action="store_true",
                   help="do not read the labeled frames to store their fingerprints")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.cli.cmd_export import resolve_video
    from pose_studio.formats.ingest import ingest, read_options_for
    from pose_studio.formats.registry import detect, get_format
    from pose_studio.store.project import Project

    src = Path(args.file)
    if not src.exists():
        raise CliError(f"{args.file}: no such file")
    fmt = detect(src) if args.format == "auto" else get_format(args.format)
    if fmt.read is None:
        raise CliError(f"{fmt.label} files cannot be imported")
    with Project.open(args.project) as project:
        video_id = resolve_video(project, args.video) if args.video else None
        images = Path(args.images) if args.images else None
        dataset = fmt.load(src, read_options_for(project, category=args.category,
                                                 images_dir=images))
        unpack = getattr(fmt, "unpack", None)
        if unpack is not None:  # formats that embed their images (.pkg.slp)
            folder = project.path.parent / f"{project.path.stem}.images" / src.stem
            dataset = unpack(src, dataset, folder)
        s = ingest(project, dataset, path=src, video_id=video_id, images_dir=images,
                   frame_offset=args.frame_offset, fingerprints=not args.no_fingerprints)
    print_summary(s, fmt.name)
    return 0


def print_summary(s: Any, format_name: str) -> None:
    mapping = "" if s.keypoint_mapping == "identical" else f"; keypoints matched {s.keypoint_mapping}"
    tracks = f"; {s.tracks_created} new tracks" if s.tracks_created else ""
    regions = f"; {s.n_regions} regions" if s.n_regions else ""
    added = (f"; added source(s) {', '.join(str(v) for v in s.sources_added)}"
             if s.sources_added else "")
    print(f"imported {s.n_user} user and {s.n_predicted} predicted instances on {s.n_images} "
          f"frames from {s.path} ({format_name}){mapping}{tracks}{regions}{added}")
    for note in s.notes:
        print(f"note: {note}")
    if s.not_kept:
        for line in s.not_kept:
            print(f"not kept: {line}")
    else:
        print("not kept: nothing (every annotation and field of the file is in the project)")
