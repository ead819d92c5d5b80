"""``pose-studio interpolate PROJECT --video V --frames a:b``: fill the frames between a track's
keyframes (its user labels) by linear or cubic interpolation per keypoint.

The results are user instances with provenance ``interpolated``, written in ONE transaction; a
frame where the track already has a label is left alone, and earlier interpolated or
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
        "instances with provenance 'interpolated' in one transaction.")
    p.add_argument("project", help="project file (.posestudio)")
    p.add_argument("--video", help="video id or path (needed when the project has several)")
    p.add_argument("--frames", required=True, help="frame range a:b (half-open)")
    p.add_argument("--track", help="only this track (id or name)")
    p.add_argument("--method", choices=["linear", "cubic"], default="linear")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.cli.labeling_common import frame_range, one_video, track_filter
    from pose_studio.core.interpolate import interpolation_proposal
    from pose_studio.labeling.project_io import video_items, write_proposal
    from pose_studio.store import Project

    with Project.open(args.project) as project:
        v = one_video(project, args.video)
        rng = frame_range(args.frames, v.frame_count)
        tid = track_filter(project, args.track)
        items = video_items(project, v.id, rng, "user")
        prop = interpolation_proposal(items, rng, args.method, tid)
        if prop.empty:
            print(f"nothing to interpolate in frames {rng[0]}:{rng[1]} of video {v.id} "
                  f"(a track needs labels on two frames of the range)")
            return 0
        write_proposal(project, v.id, prop)
        print(f"video {v.id}: {prop.counts()} ({args.method} interpolation)")
    return 0
