"""``pose-studio new PROJECT [--skeleton NAME|FILE]``: create an empty project file."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "new",
        help="create a new project file (.posestudio)",
        description="Create an empty project file for one skeleton.",
    )
    p.add_argument("project", help="project file to create (.posestudio is added if missing)")
    p.add_argument(
        "--skeleton",
        default="coco17",
        help="built-in skeleton (coco17, halpe26, wholebody133) or a skeleton JSON file "
        "(default: coco17)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.core.skeleton_presets import get_skeleton
    from pose_studio.store import Project

    skeleton = get_skeleton(args.skeleton)
    with Project.create(args.project, skeleton) as project:
        print(
            f"created {project.path} (skeleton {skeleton.name}, {skeleton.num_keypoints} "
            f"keypoints, {len(skeleton.edges)} edges)"
        )
    return 0
