"""``pose-studio import``: add the instances of a COCO keypoints file to a project."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pose_studio.cli.common import CliError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "import",
        help="import COCO keypoints (Pose Studio, CVAT, X-AnyLabeling, mmpose files)",
        description=(
            "Add the annotations of a COCO keypoints FILE to PROJECT, all or nothing: the whole "
            "file is checked first and any problem is reported without changing the project. "
            "Images are matched to video frames by 'frame_index' or by the number in the file "
            "name (frame_000123.png -> 123); with --images DIR, the folder of images becomes a "
            "video of the project and frames are matched by file name. Keypoints are matched "
            "to the project skeleton by name. Annotations with a 'score' become predictions."
        ),
    )
    p.add_argument("project", help="project file (.posestudio)")
    p.add_argument("file", metavar="FILE.json", help="COCO keypoints JSON")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--video", metavar="ID|PATH",
                   help="put every image on this video (default: the only video, or the one "
                        "each image names)")
    g.add_argument("--images", metavar="DIR",
                   help="a folder with the file's images: import it as a video")
    p.add_argument("--frame-offset", type=int, default=None, metavar="N",
                   help="add N to frame numbers read from file names (-1 for files numbered "
                        "from 1, as ffmpeg's %%04d.png writes them; default: 0, or -1/+1 when "
                        "the images found beside FILE show it)")
    p.add_argument("--no-fingerprints", action="store_true",
                   help="do not read the labeled frames to store their fingerprints")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.cli.cmd_export import resolve_video
    from pose_studio.formats.coco import import_coco
    from pose_studio.store.project import Project

    if not Path(args.file).is_file():
        raise CliError(f"{args.file}: no such file")
    with Project.open(args.project) as project:
        video_id = resolve_video(project, args.video) if args.video else None
        s = import_coco(project, args.file, video_id=video_id, image_folder=args.images,
                        frame_offset=args.frame_offset,
                        fingerprints=not args.no_fingerprints)
    mapping = "" if s.keypoint_mapping == "identical" else f"; keypoints matched {s.keypoint_mapping}"
    skipped = f"; skipped {s.skipped} annotations without keypoints" if s.skipped else ""
    tracks = f"; {s.tracks_created} new tracks" if s.tracks_created else ""
    print(f"imported {s.n_user} user and {s.n_predicted} predicted instances on {s.n_images} "
          f"frames from {s.path}{mapping}{tracks}{skipped}")
    for note in s.notes:
        print(f"note: {note}")
    return 0
