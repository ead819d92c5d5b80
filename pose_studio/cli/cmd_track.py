"""``pose-studio track PROJECT``: give predictions track ids across frames.

Runs the tracker (``pose_studio.labeling.tracker``) over the stored predictions, creates one
track per identity and points the predictions at them (labels accepted from a prediction
follow it), as ONE step of the edit history (``pose_studio.app.tracks``, the window's verb;
``pose-studio undo`` takes it back); nothing else about the predictions changes. Then lists
the likely identity switches to check.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "track", help="give predictions track ids across frames (identities)",
        description="Track the stored predictions of a video: OKS and box IoU with a "
        "constant-velocity Kalman filter, optimal assignment, re-identification after short "
        "occlusions. Writes track ids only (one undoable step) and lists likely identity "
        "switches as (frame, tracks, reason).")
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("--video", help="video id or path (default: every video)")
    p.add_argument("--frames", help="frame range a:b (half-open, either side optional)")
    p.add_argument("--run", type=int, help="only the predictions of this model run id")
    p.add_argument("--max-age", type=int, default=25,
                   help="frames a person may be unseen and keep their identity (default 25)")
    p.add_argument("--min-score", type=float, default=0.0,
                   help="predictions under this score start no track (default 0)")
    p.add_argument("--motion", choices=["kalman", "velocity"], default="kalman")
    p.add_argument("--show", type=int, default=20,
                   help="how many likely identity switches to list (default 20)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.app.tracks import (
        identity_switches,
        run_tracker,
        tracker_plan,
        tracker_request,
    )
    from pose_studio.cli.cmd_infer import _videos
    from pose_studio.cli.common import CliError, parse_range
    from pose_studio.core.edits import Edit
    from pose_studio.labeling.tracker import TrackerParams
    from pose_studio.store import Project

    if args.max_age < 0:
        raise CliError("--max-age must be 0 or more")
    params = TrackerParams(max_age=args.max_age, min_score=args.min_score, motion=args.motion)
    with Project.open(args.project) as project:
        edits = []
        report = []
        first_id: int | None = None
        for v in _videos(project, args.video):
            rng = parse_range(args.frames, v.frame_count)
            req = tracker_request(project, v.id, rng, run="shown" if args.run is None
                                  else args.run, params=params)
            plan = tracker_plan(project, req, run_tracker(req), first_id=first_id)
            n_tracks = 0
            if plan.edit is not None:
                created = [t.track_id for t in plan.edit.tracks if t.before is None]
                n_tracks = len(created)
                first_id = max(created) + 1
                edits.append(plan.edit)
            report.append((v, req.n_predictions, n_tracks))
        if not edits:
            raise CliError("no predictions to track (run 'pose-studio infer' first, or check "
                           "--video/--frames/--run)")
        n = sum(r[1] for r in report)
        project.apply_edit(Edit.batch(f"track {n} predictions", edits))
        for v, n_items, n_tracks in report:
            print(f"video {v.id}: {n_items} predictions, {n_tracks} tracks")
            cands = identity_switches(project, v.id)
            if cands:
                cands.sort(key=lambda c: (-c.score, c.frame))
                print(f"  likely identity switches ({len(cands)}; frame, tracks, reason):")
                for c in cands[:args.show]:
                    print(f"  {c.frame}\t{', '.join(map(str, c.tracks))}\t{c.reason}")
        print(f"one step: 'pose-studio undo {args.project}' takes it back")
    return 0
