"""``pose-studio undo PROJECT [-n N]``: undo the newest steps of the edit history."""

from __future__ import annotations

import argparse
from typing import Any

from pose_studio.cli.cmd_history import register_walk, walk


def register(subparsers: Any) -> None:
    register_walk(subparsers, "undo", run)


def run(args: argparse.Namespace) -> int:
    return walk(args, undoing=True)
