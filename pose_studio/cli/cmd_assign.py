"""``pose-studio assign PROJECT``: give a video or a frame range to an annotator, list the
assignments and their progress, mark one done."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "assign", help="assign videos or frame ranges to annotators; list and finish them",
        description="Without --to: list the assignments (or --user's) with their progress "
        "(frames with a label). With --to NAME: give --video (all of it, or --frames a:b) to "
        "NAME. --done ID marks assignment ID done (--undone: not done again); --remove ID "
        "deletes it. The window shows each annotator what is assigned to them.")
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("--to", metavar="NAME", help="the annotator (their user name)")
    p.add_argument("--video", type=int, help="video id")
    p.add_argument("--frames", metavar="A:B", help="frames A to B-1 (default: the whole video)")
    p.add_argument("--note", help="a note for the annotator")
    p.add_argument("--user", help="list only this annotator's assignments")
    p.add_argument("--done", type=int, metavar="ID", help="mark assignment ID done")
    p.add_argument("--undone", type=int, metavar="ID", help="mark assignment ID not done")
    p.add_argument("--remove", type=int, metavar="ID", help="delete assignment ID")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.cli.common import CliError, parse_range
    from pose_studio.store import Project

    with Project.open(args.project) as project:
        if args.to is not None:
            if args.video is None:
                raise CliError("assign --to needs --video ID")
            frames = None
            if args.frames:
                n = project.video(args.video).frame_count
                frames = parse_range(args.frames, n)
            aid = project.assign(args.video, args.to, frames, note=args.note)
            print(f"assignment {aid}: {project.assignments()[-1].where()} to {args.to}")
            return 0
        for aid, done in ((args.done, True), (args.undone, False)):
            if aid is not None:
                project.mark_done(aid, done)
                print(f"assignment {aid} marked {'done' if done else 'not done'}")
                return 0
        if args.remove is not None:
            project.remove_assignment(args.remove)
            print(f"assignment {args.remove} removed")
            return 0
        items = project.assignments(args.user)
    if args.json:
        for a in items:
            print(json.dumps({"id": a.id, "video_id": a.video_id, "first_frame": a.first_frame,
                              "stop_frame": a.stop_frame, "assignee": a.assignee,
                              "assigned_by": a.assigned_by, "done": a.done,
                              "frames": a.frames, "labeled": a.labeled, "note": a.note}))
        return 0
    if not items:
        print("no assignments")
        return 0
    for a in items:
        state = "done" if a.done else f"{a.labeled}/{a.frames} frames labeled"
        note = f"  ({a.note})" if a.note else ""
        print(f"{a.id:>4}  {a.assignee:<12} {a.where():<32} {state}{note}")
    return 0
