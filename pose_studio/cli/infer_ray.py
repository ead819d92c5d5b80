"""``pose-studio infer ... --ray [ADDRESS]``: the videos through Ray workers (see
``inference/cluster.py``); the model is already loaded and checked by ``cmd_infer``."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any


def run_ray(args: argparse.Namespace, project: Any, pose: Any, det: Any, videos: list[Any],
            mapping: Any, fill: Any, threads: int, cancel: threading.Event) -> int:
    from pose_studio.cli.common import CliError, parse_range
    from pose_studio.inference import create_model_run
    from pose_studio.inference.cluster import (
        Chunk,
        ClusterError,
        InferJob,
        Progress,
        plan_chunks,
        run_on_ray,
    )
    from pose_studio.store import server

    if args.workers is not None and args.workers < 1:
        raise CliError("--workers must be at least 1")
    if args.chunk < 1:
        raise CliError("--chunk must be at least 1")
    work = []
    for v in videos:
        a, b = parse_range(args.frames, v.frame_count)
        if b <= a:
            continue
        run_id = create_model_run(project, pose, det, video_id=v.id, frames=[a, b],
                                  batch=args.batch, track=bool(args.track), ray=True)
        work.append((v.id, run_id, str(v.path), project.video_index(v.id), a, b))
    job = InferJob(model=str(args.model), detector=args.detector, provider=args.provider,
                   device_id=args.device_id, threads=threads if args.workers is None else 1,
                   batch=args.batch, track=bool(args.track), redetect_every=args.redetect_every,
                   mapping=mapping, fill=fill,
                   project=args.project if server.is_url(str(args.project)) else None)
    chunks = plan_chunks(work, args.chunk, args.batch, bool(args.track))
    print(f"ray: {len(chunks)} chunks of {len(work)} videos", file=sys.stderr)

    def show(p: Progress, c: Chunk) -> None:
        if not args.quiet:
            v = c.video_id
            print(f"video {v}: {p.done[v]}/{p.total[v]} frames", file=sys.stderr, flush=True)

    try:
        done = run_on_ray(project, job, chunks, address=args.ray or None, workers=args.workers,
                          cancel=cancel, on_progress=show)
    except ClusterError as e:
        raise CliError(str(e)) from None
    for vid, _run, *_ in work:
        print(f"video {vid}: {done.done.get(vid, 0)} frames, {done.instances.get(vid, 0)} "
              f"instances (model run {_run})")
    if cancel.is_set():
        print(f"cancelled: kept the predictions of {sum(done.done.values())} frames",
              file=sys.stderr)
        return 130
    return 0
