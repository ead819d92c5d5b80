"""``pose-studio smooth PROJECT [--video V] [--run ID]``: a model run's tracks smoothed
(One-Euro or Savitzky-Golay, as DeepLabCut's filterpredictions) into a NEW model run; the
source run is never changed (``pose_studio.app.smoothing``, the window's verb)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "smooth", help="smooth a model run's tracks into a new model run",
        description="Smooth each track of a model run's predictions (One-Euro filter or "
        "Savitzky-Golay) and store the result as a new model run, shown from then on; the "
        "source run is kept as it is (show it again in the window's Runs panel). Untracked "
        "predictions count as one track where there is at most one a frame.")
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("--video", help="video id or path (needed when the project has several)")
    p.add_argument("--run", default="shown",
                   help="model run id to smooth, or 'none' for predictions without a run "
                   "(default: the video's shown run)")
    p.add_argument("--method", choices=["one-euro", "savgol"], default="one-euro")
    p.add_argument("--window", type=int, default=7, help="Savitzky-Golay window (odd, >= 3)")
    p.add_argument("--order", type=int, default=2, help="Savitzky-Golay polynomial order")
    p.add_argument("--min-cutoff", type=float, default=1.0,
                   help="One-Euro minimum cutoff in Hz (lower: smoother when still)")
    p.add_argument("--beta", type=float, default=0.05,
                   help="One-Euro speed coefficient (higher: less lag when moving)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.app.smoothing import SmoothRequest, smooth_run
    from pose_studio.cli.common import CliError
    from pose_studio.cli.labeling_common import one_video
    from pose_studio.core.errors import PoseStudioError
    from pose_studio.store import Project

    run_arg: int | str | None
    if args.run in ("shown", "none"):
        run_arg = None if args.run == "none" else "shown"
    else:
        try:
            run_arg = int(args.run)
        except ValueError:
            raise CliError(f"--run {args.run!r}: give a run id, 'shown' or 'none'") from None
    with Project.open(args.project) as project:
        v = one_video(project, args.video)
        try:
            res = smooth_run(project, SmoothRequest(
                v.id, run_arg, args.method, window=args.window, order=args.order,
                min_cutoff=args.min_cutoff, beta=args.beta))
        except PoseStudioError as e:
            raise CliError(str(e)) from e
        print(f"video {v.id}: {res.message()}; 'pose-studio undo {args.project}' takes it back")
    return 0
