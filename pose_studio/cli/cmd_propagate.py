"""``pose-studio propagate PROJECT --video V --from F --to G``: carry the labels of frame F to
the frames up to G (forward or backward) with optical flow, filling with the model's
predictions where they exist (confidence-weighted, see ``pose_studio.core.fusion``).

Written as user instances with provenance ``propagated`` (``predicted`` on the points where
the model weighed most) in ONE transaction; frames where a track already has a label are left
alone. Points the flow stopped following are listed with the frame and the reason. Ctrl-C stops
early and keeps the frames done.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "propagate", help="carry a frame's labels to the next (or previous) frames",
        description="Pyramidal Lucas-Kanade per keypoint with a forward-backward check, "
        "combined with the model's predictions by their confidence. Writes user instances "
        "with provenance 'propagated' in one transaction.")
    p.add_argument("project", help="project file (.posestudio)")
    p.add_argument("--video", help="video id or path (needed when the project has several)")
    p.add_argument("--from", dest="src", type=int, required=True, help="labeled frame")
    p.add_argument("--to", dest="dst", type=int, required=True, help="last frame to fill")
    p.add_argument("--track", help="only this track's label (id or name)")
    p.add_argument("--no-fill", action="store_true",
                   help="optical flow only: ignore the model's predictions")
    p.add_argument("--fb-max", type=float, default=1.0,
                   help="forward-backward error (px) over which a point stops (default 1.0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.cli.common import CliError, ProgressBar, ctrl_c_cancels
    from pose_studio.cli.labeling_common import FrameSource, one_video, track_filter
    from pose_studio.core.proposals import is_keyframe, place_generated
    from pose_studio.labeling.flow import FlowParams, propagate
    from pose_studio.labeling.project_io import video_items, write_proposal
    from pose_studio.store import Project

    if args.fb_max <= 0:
        raise CliError("--fb-max must be positive")
    with ctrl_c_cancels("keeping the frames done") as cancel, \
            Project.open(args.project) as project:
        v = one_video(project, args.video)
        for name, f in (("--from", args.src), ("--to", args.dst)):
            if not 0 <= f < v.frame_count:
                raise CliError(f"{name} {f} is outside video {v.id} (0..{v.frame_count - 1})")
        if args.src == args.dst:
            raise CliError("--from and --to are the same frame")
        tid = track_filter(project, args.track)
        lo, hi = min(args.src, args.dst), max(args.src, args.dst) + 1
        items = video_items(project, v.id, (lo, hi))
        start = [i for f, i in items if f == args.src and is_keyframe(i)
                 and (tid is None or i.track_id == tid)]
        if not start:
            raise CliError(f"frame {args.src} of video {v.id} has no label"
                           + (f" of track {args.track}" if tid is not None else "")
                           + " to propagate (a point placed by a person; interpolated or "
                           "propagated instances are not used as a start)")
        preds: dict[int, list[Any]] | None = None
        if not args.no_fill:
            preds = {}
            for f, i in items:
                if i.is_prediction:
                    preds.setdefault(f, []).append(i)
        n = abs(args.dst - args.src)
        with FrameSource(project, v) as frames, \
                ProgressBar(n, f"video {v.id}", enabled=not args.quiet) as bar:
            res = propagate(frames, start, args.src, args.dst, predictions=preds,
                            sigmas=project.skeleton.sigma_array(),
                            params=FlowParams(fb_max=args.fb_max),
                            progress=lambda d, t: bar.set(d), cancel=cancel.is_set)
        generated = [(f, inst) for f, insts in sorted(res.frames.items())
                     for inst in insts if inst is not None]
        prop = place_generated(generated, [(f, i) for f, i in items if f != args.src])
        write_proposal(project, v.id, prop)
        names = project.skeleton.keypoints
        print(f"video {v.id}: frames {args.src} -> {args.dst}: {prop.counts()}")
        for s in res.stops:
            who = start[s.instance]
            label = f"track {who.track_id}" if who.track_id is not None else \
                f"label {s.instance + 1}"
            print(f"  {label} {names[s.keypoint]} stopped at frame {s.frame}: {s.reason}")
    if cancel.is_set():
        print("cancelled: kept the frames done", file=sys.stderr)
        return 130
    return 0
