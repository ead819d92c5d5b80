"""``pose-studio copy SRC DST``: copy a project between a file and a PostgreSQL server (either
way, or file to file), losslessly: every row with its id, the edit history, the id counters."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "copy", help="copy a project between a file and a database server (either way)",
        description="Copy the project SRC to DST, each a project file (.posestudio) or a "
        "database URL (postgresql+psycopg://user@host:port/dbname). Everything is kept: "
        "labels, predictions of every model run, the edit history (undo works on the copy), "
        "assignments, ids. DST must be new: a file that does not exist, or an empty database "
        "(createdb NAME). Video paths become absolute on a server (put videos where every "
        "annotator's machine sees them at the same path) and relative to a file again.")
    p.add_argument("source", metavar="SRC", help="project file or database URL")
    p.add_argument("target", metavar="DST", help="new project file or empty database URL")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.store.copy import copy_project

    print(copy_project(args.source, args.target).describe())
    return 0
