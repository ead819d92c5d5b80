"""``pose-studio suggest PROJECT``: frames worth looking at, ranked (read-only unless
``--save``, which keeps them in the project for the window's Suggestions panel).

Sources: ``uniform``, ``diverse`` (k-means on small thumbnails: a varied first training set),
``confidence`` (lowest keypoint confidence), ``jumps`` (temporal jumps of tracked keypoints),
``swaps`` (likely left/right swaps), ``identities`` (likely identity switches).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pose_studio.app.suggestions import KINDS


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "suggest", help="list frames worth labeling or checking, ranked",
        description="Rank frames to look at: " + ", ".join(KINDS) + ". Opens the project "
        "read-only, unless --save keeps them in it (for the window's Suggestions panel; "
        "suggestions already marked done stay).")
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("--video", help="video id or path (default: every video)")
    p.add_argument("--kinds", default="confidence,jumps,swaps,identities",
                   help="comma-separated sources (default: confidence,jumps,swaps,identities; "
                        "'all' for every one)")
    p.add_argument("--count", type=int, default=20, help="how many to list (default 20)")
    p.add_argument("--sample", type=int, default=400,
                   help="diverse: frames read for the image features (default 400)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--save", action="store_true",
                   help="keep them in the project (replacing the ones not marked done)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.app import suggestions as sug
    from pose_studio.cli.cmd_infer import _videos
    from pose_studio.cli.common import CliError
    from pose_studio.store import Project
    from pose_studio.store import suggestions as stored

    kinds = tuple(KINDS) if args.kinds == "all" else \
        tuple(k.strip() for k in args.kinds.split(","))
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise CliError(f"unknown suggestion kind {bad[0]!r}: use {', '.join(KINDS)} or all")
    if args.count < 1:
        raise CliError("--count must be at least 1")
    with Project.open(args.project, read_only=not args.save) as project:
        vids = [int(v.id) for v in _videos(project, args.video)]
        found = sug.compute(project, kinds, args.count, video_ids=vids, sample=args.sample)
        if args.save:
            n = stored.replace(project, vids, found)
            print(f"kept {n} suggestions in {args.project} (the window's Suggestions panel)")
    ranked = sorted(found, key=lambda s: (-s.score, s.video_id, s.frame))[:args.count]
    if args.json:
        print(json.dumps([{"video": s.video_id, "frame": s.frame, "reason": s.reason,
                           "kinds": list(s.kinds), "score": round(s.score, 4)}
                          for s in ranked]))
    else:
        if not ranked:
            print("no suggestions (predictions and tracks feed most sources: run "
                  "'pose-studio infer' and 'pose-studio track')")
        for s in ranked:
            print(f"video {s.video_id}\tframe {s.frame}\t{s.score:.2f}\t{s.reason}")
    return 0
