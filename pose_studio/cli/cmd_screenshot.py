"""``pose-studio screenshot``: render the main window offscreen to a PNG (for docs)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from pose_studio.cli.common import CliError
from pose_studio.core.output import atomic_file, check_target


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "screenshot",
        help="save a PNG of the main window on a project or video (offscreen)",
        description=(
            "Open PATH (a .posestudio project or a video; a video gets a temporary project) "
            "in the main window without showing it, go to --frame and save the window as a PNG."
        ),
    )
    p.add_argument("path", nargs="?", help="project (.posestudio) or video (optional)")
    p.add_argument("--frame", type=int, default=None, help="frame to show (default: the first)")
    p.add_argument("--out", required=True, help="output PNG file")
    p.add_argument("--size", default="1400x860", help="window size WxH (default 1400x860)")
    p.add_argument("--model", help="load this pose model (.onnx) into the Model panel")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--heatmap", action="store_true",
                   help="show the model's heatmaps on the frame (needs --model)")
    p.set_defaults(func=run)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CliError(f"--size must look like 1400x860, not {text!r}") from None
    if not (200 <= w <= 8000 and 200 <= h <= 8000):
        raise CliError(f"--size {text} is out of range (200..8000 per side)")
    return w, h


def run(args: argparse.Namespace) -> int:
    size = _size(args.size)
    if args.path is not None and not Path(args.path).exists():
        raise CliError(f"cannot open {args.path}: no such file or folder")
    if args.frame is not None and args.frame < 0:
        raise CliError("--frame must be 0 or more")
    if args.heatmap and not args.model:
        raise CliError("--heatmap needs --model")
    if args.model and not Path(args.model).is_file():
        raise CliError(f"cannot load the model {args.model}: no such file")
    # Offscreen unless a display was asked for explicitly.
    if not os.environ.get("POSE_STUDIO_SCREENSHOT_ONSCREEN"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    out = Path(args.out)
    protected = [Path(args.path)] if args.path is not None else []
    if args.path is not None and Path(args.path).suffix == ".posestudio":
        from pose_studio.cli.outputs import project_files
        from pose_studio.store import Project

        with Project.open(args.path, read_only=True) as project:
            protected = project_files(project)
    check_target(out, force=bool(args.force), protected=protected, what="--out",
                 missing_folder_ok=True)
    from pose_studio.cli.outputs import cleanup_on_failure
    from pose_studio.gui.app import screenshot

    # Saved under a temporary name (same suffix: Qt picks the format from it), then renamed.
    with cleanup_on_failure(out.parent):
        out.parent.mkdir(parents=True, exist_ok=True)
        _save(out, bool(args.force), lambda tmp: screenshot(
            args.path, args.frame, str(tmp), size=size, model=args.model,
            heatmap=bool(args.heatmap)))
    print(args.out)
    return 0


def _save(out: Path, force: bool, write: Any) -> None:
    with atomic_file(out, overwrite=force) as tmp:
        write(tmp)
        if tmp.stat().st_size == 0:
            raise CliError(f"cannot write {out}: the image could not be saved")
