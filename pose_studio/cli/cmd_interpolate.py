"""``pose-studio interpolate PROJECT --video V --frames a:b``: fill the frames between a track's
keyframes (its user labels) by linear or cubic interpolation per keypoint.

The results are user instances with provenance ``interpolated``, written as ONE step of the
edit history (``pose_studio.app.carry``, the window's verb): ``pose-studio undo`` takes it
back. A frame where the track already has a label is left alone, and earlier interpolated or
propagated instances of the track are updated.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "interpolate", help="fill frames between a track's labeled keyframes",
        description="Interpolate every keypoint between consecutive user labels of a track "
        "(linear or cubic); a point missing at either end is not invented. Writes user "
        "instances with provenance 'interpolated' as one undoable step.")
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("--video", help="video id or path (needed when the project has several)")
    p.add_argument("--frames", required=True, help="frame range a:b (half-open)")
    p.add_argument("--track", help="only this track (id or name)")
    p.add_argument("--method", choices=["linear", "cubic"], default="linear")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.app.carry import interpolation_for
    from pose_studio.app.proposal_edits import edit_counts
    from pose_studio.cli.labeling_common import frame_range, one_video, track_filter
    from pose_studio.store import Project

    with Project.open(args.project) as project:
        v = one_video(project, args.video)
        rng = frame_range(args.frames, v.frame_count)
        tid = track_filter(project, args.track)
        got = interpolation_for(project, v.id, rng, args.method, tid)
        if got.plan.edit is None:
            print(f"video {v.id}, frames {rng[0]}:{rng[1]}: {got.plan.why}")
            return 0
        project.apply_edit(got.plan.edit)
        print(f"video {v.id}: {edit_counts(got.plan.edit)} ({args.method} interpolation; "
              f"'pose-studio undo {args.project}' takes it back)")
    return 0
