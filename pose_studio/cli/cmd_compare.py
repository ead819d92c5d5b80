"""``pose-studio compare PROJECT RUN_A RUN_B``: did the retrained model get better, and where.

Both runs are scored against the project's labels (COCO OKS AP, mean OKS, per keypoint) and the
frames that changed most are listed. Read-only: works while the window has the project open.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compare", help="score two model runs against the labels; frames that changed most",
        description="Compare two model runs of a project (ids from 'pose-studio info' or "
        "'compare --list'): OKS AP of each against the user's labels, per-keypoint OKS, and "
        "the frames that changed most.")
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("run_a", nargs="?", help="model run id (or 'none': predictions without "
                   "a run)")
    p.add_argument("run_b", nargs="?", help="the other model run")
    p.add_argument("--video", help="video id or path (default: every video)")
    p.add_argument("--top", type=int, default=10, help="frames to list (default 10)")
    p.add_argument("--list", action="store_true", help="list the runs with predictions")
    p.set_defaults(func=run)


def _run_arg(text: str) -> int | None:
    from pose_studio.cli.common import CliError

    if text.lower() in ("none", "null"):
        return None
    if not text.isdigit():
        raise CliError(f"{text!r} is not a model run id (a number, or 'none')")
    return int(text)


def _fmt(v: float) -> str:
    return "   -  " if v < 0 or v != v else f"{v:6.3f}"


def run(args: argparse.Namespace) -> int:
    from pose_studio.cli.cmd_infer import _videos
    from pose_studio.cli.common import CliError
    from pose_studio.inference.compare import compare_runs
    from pose_studio.store import Project

    with Project.open(args.project, read_only=True) as project:
        vids = [v.id for v in _videos(project, args.video)]
        if args.list or args.run_a is None:
            infos = [i for i in project.run_infos() if i.video_id in vids]
            if not infos:
                print("no predictions in this project")
                return 0
            for i in infos:
                shown = project.shown_runs(i.video_id)
                mark = " (shown)" if shown.run_id == i.run_id else \
                    " (second)" if shown.compare_run_id == i.run_id else ""
                print(f"video {i.video_id}: run {'none' if i.run_id is None else i.run_id}"
                      f"{mark}: {i.model_name or '?'}, {i.instances} predictions on "
                      f"{i.frames} frames ({i.first_frame}..{i.last_frame})")
            return 0
        if args.run_b is None:
            raise CliError("compare needs two runs: RUN_A RUN_B (see --list)")
        a, b = _run_arg(args.run_a), _run_arg(args.run_b)
        c = compare_runs(project, a, b, video_ids=vids, top=args.top)
    name_w = max(len(f"run {x.run_id}: {x.name}") for x in (c.a, c.b))
    print(f"labels: {c.labels} people on {c.labeled_frames} frames "
          f"({'video ' + str(vids[0]) if len(vids) == 1 else f'{len(vids)} videos'})")
    print(f"{'':<{name_w}}  {'AP':>6}  {'AP50':>6}  {'AP75':>6}  {'OKS':>6}  predicted frames")
    for e in (c.a, c.b):
        s = e.scores
        mean = float(s.label_oks.mean()) if len(s.label_oks) else float("nan")
        label = f"run {'none' if e.run_id is None else e.run_id}: {e.name}"
        print(f"{label:<{name_w}}  {_fmt(s.ap)}  {_fmt(s.ap50)}  {_fmt(s.ap75)}  {_fmt(mean)}  "
              f"{e.predicted_frames}")
    if c.labels == 0:
        print("no labels on these frames: AP and OKS need user labels (accept or draw some)")
    else:
        ka, kb = c.a.scores.keypoint_oks, c.b.scores.keypoint_oks
        d = kb - ka
        order = [i for i in sorted(range(len(d)), key=lambda i: -abs(d[i] if d[i] == d[i]
                                                                    else 0.0))
                 if d[i] == d[i]][:6]
        if order:
            print("per keypoint, mean OKS (A -> B): " + ", ".join(
                f"{c.keypoint_names[i]} {ka[i]:.2f}->{kb[i]:.2f}" for i in order))
    if c.changed:
        print("frames that changed most:")
        for ch in c.changed:
            where = f"video {ch.key.video_id} frame {ch.key.frame_idx}"
            if ch.oks_a == ch.oks_a:
                print(f"  {where}: OKS {ch.oks_a:.2f} -> {ch.oks_b:.2f} ({ch.delta:+.2f})")
            else:
                print(f"  {where} (unlabeled): the runs agree {ch.agreement:.2f}")
    return 0
