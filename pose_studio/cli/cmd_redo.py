"""``pose-studio redo PROJECT [-n N]``: redo the steps undone last."""

from __future__ import annotations

import argparse
from typing import Any

from pose_studio.cli.cmd_history import register_walk, walk


def register(subparsers: Any) -> None:
    register_walk(subparsers, "redo", run)


def run(args: argparse.Namespace) -> int:
    return walk(args, undoing=False)
