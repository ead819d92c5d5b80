"""``pose-studio history PROJECT``: the edit history kept in the project (what, where, when, who).

``undo`` and ``redo`` (``cmd_undo.py``, ``cmd_redo.py``) walk the same history; the window's
History panel shows it too, so a step undone here is undone there the next time it opens.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "history",
        help="list the project's edit history (what, where, when, who)",
        description=(
            "List the edits recorded in PROJECT, oldest first: each step's number, time, who "
            "made it, what it was and where (video and frames). Undone steps (the redo list) "
            "are marked. The history is kept in the project file: it survives closing the "
            "window and crashes. Who: $POSE_STUDIO_USER, else the login name. Each annotator "
            "has their own undo: 'undo' and 'redo' walk the steps of one user."
        ),
    )
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("--user", help="only this user's steps (what their undo walks)")
    p.add_argument("-n", "--limit", type=int, default=50, metavar="N",
                   help="show the newest N done steps and the redo list (default 50; 0: all)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.store import Project
    from pose_studio.store.journal import describe

    with Project.open(args.project, read_only=True) as project:
        steps = project.history(None if args.limit <= 0 else args.limit, user=args.user)
    if args.json:
        for e in steps:
            print(json.dumps({"step": e.seq, "kind": e.kind, "what": e.label, "where": e.where(),
                              "video_id": e.video_id, "first_frame": e.first_frame,
                              "last_frame": e.last_frame, "frames": e.n_frames,
                              "instances": e.n_instances, "by": e.made_by, "at": e.made_at,
                              "undone": e.undone, "undone_by": e.undone_by}))
        return 0
    if not steps:
        print(f"{args.project}: no edits recorded yet")
        return 0
    print(f"{'step':>6}  {'when':<19}  {'who':<12} {'what':<32} where")
    for e in steps:
        print(describe(e))
    return 0


def walk(args: argparse.Namespace, undoing: bool) -> int:
    """Undo or redo ``args.n`` steps, one transaction each; stop at the first refusal."""
    from pose_studio.cli.common import CliError
    from pose_studio.store import Project

    verb = "undo" if undoing else "redo"
    if args.n < 1:
        raise CliError(f"{verb} -n needs a positive number of steps")
    done = 0
    with Project.open(args.project) as project:
        for _ in range(args.n):
            step = project.undo(user=args.user) if undoing else project.redo(user=args.user)
            if step is None:
                break
            done += 1
            e = step.entry
            past = "undid" if undoing else "redid"
            print(f"{past} step {e.seq}: {e.label} ({e.where()}, made by {e.made_by})")
    if done < args.n:
        print(f"nothing more to {verb}" + (f" after {done} step(s)" if done else ""))
    return 0


def register_walk(subparsers: Any, name: str, run_fn: Any) -> None:
    undoing = name == "undo"
    p = subparsers.add_parser(
        name,
        help=("undo your newest edits of the history" if undoing
              else "redo the edits you undid last"),
        description=(
            ("Undo your newest N steps of PROJECT's edit history (see 'history'), newest "
             "first, one transaction each. Each annotator has their own undo: it never takes "
             "back someone else's edit. A step whose instances were changed since (by "
             "someone else, or outside the history) is refused, with the reason, and nothing "
             "of it changes.") if undoing else
            "Redo the N steps you undid last (see 'history'), one transaction each. Any new "
            "edit of yours drops the steps you could redo."),
    )
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("--user", help="whose steps (default: $POSE_STUDIO_USER, else the login)")
    p.add_argument("-n", type=int, default=1, metavar="N", help="how many steps (default 1)")
    p.set_defaults(func=run_fn)
