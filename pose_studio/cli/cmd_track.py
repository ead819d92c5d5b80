"""``pose-studio track PROJECT``: give predictions track ids across frames.

Runs the tracker (``pose_studio.labeling.tracker``) over the stored predictions, creates one
track per identity and points the predictions at them, in ONE transaction; nothing else about
the predictions changes. Then lists the likely identity switches to check.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "track", help="give predictions track ids across frames (identities)",
        description="Track the stored predictions of a video: OKS and box IoU with a "
        "constant-velocity Kalman filter, optimal assignment, re-identification after short "
        "occlusions. Writes track ids only (one transaction) and lists likely identity "
        "switches as (frame, tracks, reason).")
    p.add_argument("project", help="project file (.posestudio)")
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
    from pose_studio.cli.cmd_infer import _videos
    from pose_studio.cli.common import CliError, parse_range
    from pose_studio.core.tracking import identity_switch_candidates
    from pose_studio.labeling.project_io import video_items, write_tracks
    from pose_studio.labeling.tracker import TrackerParams, track_frames
    from pose_studio.store import Project

    if args.max_age < 0:
        raise CliError("--max-age must be 0 or more")
    params = TrackerParams(max_age=args.max_age, min_score=args.min_score, motion=args.motion)
    with Project.open(args.project) as project:
        sigmas = project.skeleton.sigma_array()
        numbers: dict[int, int] = {}
        report = []
        offset = 0
        for v in _videos(project, args.video):
            rng = parse_range(args.frames, v.frame_count)
            items = [(f, i) for f, i in video_items(project, v.id, rng, "predicted")
                     if args.run is None or i.model_run_id == args.run]
            frames: dict[int, list[Any]] = {}
            for f, inst in items:
                frames.setdefault(f, []).append(inst)
            got = track_frames(frames, sigmas, params)
            n_tracks = 0
            tracked = []
            for f, insts in frames.items():
                for inst, t in zip(insts, got.get(f, [])):
                    if t < 0 or inst.id is None:
                        continue
                    numbers[inst.id] = offset + t
                    n_tracks = max(n_tracks, t + 1)
                    tracked.append((f, inst.replace(track_id=offset + t)))
            report.append((v, len(items), n_tracks, offset, tracked))
            offset += n_tracks
        if not numbers:
            raise CliError("no predictions to track (run 'pose-studio infer' first, or check "
                           "--video/--frames/--run)")
        ids = write_tracks(project, numbers)
        for v, n_items, n_tracks, _, tracked in report:
            print(f"video {v.id}: {n_items} predictions, {n_tracks} tracks")
            named = [(f, i.replace(track_id=ids[i.track_id])) for f, i in tracked]
            cands = identity_switch_candidates(named, sigmas)
            if cands:
                print(f"  likely identity switches ({len(cands)}; frame, tracks, reason):")
                for c in cands[:args.show]:
                    print(f"  {c.frame}\t{', '.join(map(str, c.tracks))}\t{c.reason}")
    return 0
