"""``pose-studio suggest PROJECT``: frames worth looking at, ranked (read-only).

Sources: ``uniform``, ``diverse`` (k-means on small thumbnails: a varied first training set),
``confidence`` (lowest keypoint confidence), ``jumps`` (temporal jumps of tracked keypoints),
``swaps`` (likely left/right swaps), ``identities`` (likely identity switches).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

KINDS = ("uniform", "diverse", "confidence", "jumps", "swaps", "identities")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "suggest", help="list frames worth labeling or checking, ranked",
        description="Rank frames to look at: " + ", ".join(KINDS) + ". Opens the project "
        "read-only.")
    p.add_argument("project", help="project file (.posestudio)")
    p.add_argument("--video", help="video id or path (default: every video)")
    p.add_argument("--kinds", default="confidence,jumps,swaps,identities",
                   help="comma-separated sources (default: confidence,jumps,swaps,identities; "
                        "'all' for every one)")
    p.add_argument("--count", type=int, default=20, help="how many to list (default 20)")
    p.add_argument("--sample", type=int, default=400,
                   help="diverse: frames read for the image features (default 400)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from pose_studio.cli.cmd_infer import _videos
    from pose_studio.cli.common import CliError
    from pose_studio.cli.labeling_common import FrameSource
    from pose_studio.core import suggest as sg
    from pose_studio.labeling.features import frame_features
    from pose_studio.labeling.project_io import video_items
    from pose_studio.store import Project

    kinds = KINDS if args.kinds == "all" else tuple(k.strip() for k in args.kinds.split(","))
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise CliError(f"unknown suggestion kind {bad[0]!r}: use {', '.join(KINDS)} or all")
    if args.count < 1:
        raise CliError("--count must be at least 1")
    out: list[Any] = []
    with Project.open(args.project, read_only=True) as project:
        sk = project.skeleton
        for v in _videos(project, args.video):
            items = video_items(project, v.id, None, "predicted")
            if "uniform" in kinds:
                out += sg.uniform(v.id, v.frame_count, args.count)
            if "diverse" in kinds:
                frames = np.unique(np.linspace(0, v.frame_count - 1,
                                               min(args.sample, v.frame_count)).astype(int))
                with FrameSource(project, v) as src:
                    feats = frame_features(src, [int(f) for f in frames])
                out += sg.diverse(v.id, [int(f) for f in frames], feats, args.count)
            if "confidence" in kinds:
                out += sg.low_confidence(v.id, items, args.count)
            if "jumps" in kinds:
                out += sg.temporal_jumps(v.id, items)
            if "swaps" in kinds:
                out += sg.swaps(v.id, items, sk)
            if "identities" in kinds:
                out += sg.identity_switches(v.id, items, sk.sigma_array())
    ranked = sg.rank(out, args.count)
    if args.json:
        print(json.dumps([{"video": s.video_id, "frame": s.frame, "reason": s.reason,
                           "score": round(s.score, 4)} for s in ranked]))
    else:
        if not ranked:
            print("no suggestions (predictions and tracks feed most sources: run "
                  "'pose-studio infer' and 'pose-studio track')")
        for s in ranked:
            print(f"video {s.video_id}\tframe {s.frame}\t{s.score:.2f}\t{s.reason}")
    return 0
