"""``pose-studio repair PROJECT --out CLEAN.posestudio``: a clean copy of a refused or damaged
project (see ``pose_studio/store/repair.py``)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "repair",
        help="write a clean copy of a project that is refused or damaged",
        description=(
            "Copy PROJECT's data into a new project file made by this version: triggers, "
            "views, indexes, tables and column definitions that Pose Studio did not create "
            "are left behind (nothing of them runs), rows that cannot be right are left out, "
            "and per-frame summaries are rebuilt. Everything left out is listed. The original "
            "is only read."
        ),
    )
    p.add_argument("project", help="project file (.posestudio) to repair")
    p.add_argument("--out", required=True, metavar="CLEAN.posestudio",
                   help="the new project file (must not exist)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.store.repair import repair_project

    r = repair_project(args.project, args.out)
    total = sum(r.copied.values())
    print(f"wrote {r.out}: {total} rows copied from {r.source} "
          f"({', '.join(f'{t} {n}' for t, n in sorted(r.copied.items()) if n)})")
    for what in r.removed:
        print(f"left behind: {what}")
    for row in r.dropped[:50]:
        print(f"left out: {row}")
    if len(r.dropped) > 50:
        print(f"left out: {len(r.dropped) - 50} more rows")
    for what in r.unreadable:
        print(f"lost: {what}")
    if r.clean:
        print("nothing foreign or damaged was found: the copy holds everything")
    return 0
