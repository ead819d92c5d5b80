"""``pose-studio new PROJECT [--skeleton NAME|FILE | --skeleton-from DATASET]``: create an empty
project file."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "new",
        help="create a new project file (.posestudio)",
        description="Create an empty project file for one skeleton: a built-in one, a skeleton "
        "JSON file (also a COCO category or COCO file: its 'skeleton' is read 1-based), or the "
        "skeleton a dataset file defines (--skeleton-from: a COCO file's keypoint category, a "
        "SLEAP .slp, a DeepLabCut config.yaml).",
    )
    p.add_argument("project", help="project file to create (.posestudio is added if missing)")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--skeleton",
        default=None,
        help="built-in skeleton (coco17, halpe26, wholebody133, halpe136) or a skeleton JSON "
        "file (default: coco17)",
    )
    g.add_argument("--skeleton-from", metavar="FILE",
                   help="use the skeleton of this dataset file (any format `import` reads)")
    p.add_argument("--category", metavar="NAME",
                   help="with --skeleton-from: the category to take (files with several "
                        "keypoint layouts)")
    p.add_argument("--format", default="auto", metavar="NAME",
                   help="with --skeleton-from: the file's format (default: detected)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.cli.common import CliError
    from pose_studio.core.skeleton_presets import get_skeleton
    from pose_studio.store import Project

    notes: list[str] = []
    if args.skeleton_from:
        from pose_studio.formats.skeleton_from import skeleton_from_file

        skeleton, notes = skeleton_from_file(
            args.skeleton_from, category=args.category,
            format_name=None if args.format == "auto" else args.format)
    else:
        if args.category:
            raise CliError("--category goes with --skeleton-from")
        skeleton = get_skeleton(args.skeleton or "coco17")
    with Project.create(args.project, skeleton) as project:
        print(
            f"created {project.path} (skeleton {skeleton.name}, {skeleton.num_keypoints} "
            f"keypoints, {len(skeleton.edges)} edges)"
        )
    for n in notes:
        print(f"note: {n}")
    return 0
