"""``pose-studio infer PROJECT --model POSE.onnx``: predict poses on a project's videos.

Predictions are committed in batches while the model runs; Ctrl-C stops cleanly (what was
done is kept), exit code 130.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "infer", help="run an ONNX pose model on a project's videos",
        description="Predict poses with an ONNX model (top-down with an optional person "
        "detector, or one-stage) and store them in the project as predictions.")
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("--model", required=True, help="pose model (.onnx)")
    p.add_argument("--detector", help="person detector (.onnx) for top-down models")
    p.add_argument("--video", help="video id or path in the project (default: all videos)")
    p.add_argument("--videos", nargs="+", metavar="ID",
                   help="'all' or video ids/paths (several at once; default: all)")
    p.add_argument("--frames", help="frame range a:b (half-open, either side optional)")
    p.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda", "dml", "coreml"])
    p.add_argument("--device-id", type=int, default=0, help="GPU index (default 0)")
    p.add_argument("--batch", type=int, default=8, help="frames per model run (default 8)")
    p.add_argument("--threads", type=int,
                   help="CPU threads for the model (default: every core; no window needs one)")
    p.add_argument("--track", action="store_true",
                   help="top-down without a detector per frame: follow the previous keypoints")
    p.add_argument("--redetect-every", type=int, default=0,
                   help="with --track: re-detect every N frames (0: only when lost)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="fan videos and chunks out to a Ray cluster (ADDRESS: ray://host:port or "
                   "'auto'; none: a local one); needs pip install \"pose-studio[cluster]\"")
    p.add_argument("--workers", type=int, help="with --ray: workers (default: the cluster's "
                   "GPUs, else its CPUs)")
    p.add_argument("--chunk", type=int, default=512,
                   help="with --ray: frames per chunk of a long video (default 512)")
    p.set_defaults(func=run)


def _videos(project: Any, spec: str | None) -> list[Any]:
    from pathlib import Path

    from pose_studio.cli.common import CliError

    videos = project.videos()
    if spec is None:
        if not videos:
            raise CliError(f"project {project.path} has no videos; add one with "
                           f"'pose-studio add-video'")
        return list(videos)
    if spec.isdigit():
        for v in videos:
            if v.id == int(spec):
                return [v]
        raise CliError(f"project {project.path} has no video with id {spec} "
                       f"(ids: {', '.join(str(v.id) for v in videos) or 'none'})")
    vid = project.find_video(Path(spec))
    if vid is None:
        raise CliError(f"{spec} is not a video of project {project.path}; add it first with "
                       f"'pose-studio add-video {project.path} {spec}'")
    return [project.video(vid)]


def run(args: argparse.Namespace) -> int:
    from pose_studio.cli.common import CliError, ProgressBar, ctrl_c_cancels, parse_range
    from pose_studio.formats.frame_check import verify_sources
    from pose_studio.inference import (
        DetectorModel,
        PoseModel,
        create_model_run,
        load_model,
        run_video,
        stream_to_project,
    )
    from pose_studio.inference.providers import usable_cores
    from pose_studio.store import Project
    from pose_studio.video import open_video

    if args.batch < 1:
        raise CliError("--batch must be at least 1")
    if args.ray is not None:
        from pose_studio.inference.cluster import ClusterError, require_ray

        try:
            require_ray()
        except ClusterError as e:
            raise CliError(str(e)) from None
    if args.threads is not None and args.threads < 1:
        raise CliError("--threads must be at least 1")
    # Unlike the window, the command line has no GUI thread to keep responsive: on 2 cores the
    # model at 2 threads ran 1.6x faster than at 1 (bench/inference.py), decoding included.
    threads = args.threads if args.threads is not None else usable_cores()
    pose = load_model(args.model, provider=args.provider, device_id=args.device_id,
                      threads=threads, expect="pose")
    assert isinstance(pose, PoseModel)
    det = None
    if args.detector:
        if not pose.top_down:
            raise CliError(f"{args.model} is a one-stage model ({pose.family}); it finds the "
                           f"persons itself, drop --detector")
        d = load_model(args.detector, provider=args.provider, device_id=args.device_id,
                       threads=threads, expect="detector")
        assert isinstance(d, DetectorModel)
        det = d
    print(f"model: {pose.name} ({pose.family}, {pose.num_keypoints} keypoints) on "
          f"{', '.join(pose.providers)}", file=sys.stderr)
    for w in pose.warnings + (det.warnings if det else []):
        print(f"warning: {w}", file=sys.stderr)

    kept_total = 0
    with ctrl_c_cancels("finishing the current batch") as cancel, \
            Project.open(args.project) as project:
        mapping = fill = None
        if project.skeleton.keypoints != pose.skeleton.keypoints:
            from pose_studio.inference.keypoint_map import (
                keypoint_mapping,
                missing_keypoints,
                names_mapping,
            )

            mapping = keypoint_mapping(pose.skeleton, project.skeleton)
            fill = None if mapping is not None else \
                names_mapping(pose.skeleton.keypoints, project.skeleton)
            if fill is not None and (fill >= 0).any():
                # an edited project skeleton: by name, its keypoints the model lacks unlabeled
                missing = missing_keypoints(pose.skeleton, project.skeleton)
                print(f"storing the keypoints of {pose.skeleton.name} by name; "
                      f"{', '.join(missing)} (not in the model) left unlabeled",
                      file=sys.stderr)
            elif mapping is None and pose.num_keypoints == project.skeleton.num_keypoints:
                fill = None  # no name in common, as many keypoints: by position
            elif mapping is None:
                missing = missing_keypoints(pose.skeleton, project.skeleton)
                raise CliError(
                    f"{args.model} predicts {pose.num_keypoints} keypoints "
                    f"({pose.skeleton.name}) but project {project.path} uses skeleton "
                    f"{project.skeleton.name!r} with {project.skeleton.num_keypoints}, "
                    f"and {len(missing)} of them have no namesake in the model "
                    f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''})")
            if mapping is not None:
                print(f"storing the {len(mapping)} keypoints of {pose.skeleton.name} that "
                      f"{project.skeleton.name} has (matched by name)", file=sys.stderr)
        if args.videos and args.video:
            raise CliError("give --video or --videos, not both")
        if args.videos and [s.lower() for s in args.videos] != ["all"]:
            videos = [v for spec in args.videos for v in _videos(project, spec)]
        else:
            videos = _videos(project, args.video)
        verify_sources(project, [v.id for v in videos], action="infer")
        if args.ray is not None:
            from pose_studio.cli.infer_ray import run_ray

            return run_ray(args, project, pose, det, videos, mapping, fill, threads, cancel)
        for v in videos:
            if cancel.is_set():
                break
            a, b = parse_range(args.frames, v.frame_count)
            index = project.video_index(v.id)

            def factory(path: Any = v.path, idx: Any = index) -> Any:
                return open_video(path, index=idx)

            run_id = create_model_run(project, pose, det, video_id=v.id, frames=[a, b],
                                      batch=args.batch, track=bool(args.track))
            n_inst = 0
            with ProgressBar(b - a, desc=f"video {v.id}", enabled=not args.quiet) as bar:
                def counted(results: Iterator[Any]) -> Iterator[Any]:
                    nonlocal n_inst
                    for r in results:
                        if mapping is not None:
                            from pose_studio.inference.keypoint_map import remap_result

                            r = remap_result(r, mapping)
                        elif fill is not None:
                            from pose_studio.inference.keypoint_map import fill_result

                            r = fill_result(r, fill)
                        n_inst += len(r.instances)
                        bar.update(1)
                        yield r

                results = run_video(factory, pose, detector=det, frames=range(a, b),
                                    batch=args.batch, cancel=cancel, track=args.track,
                                    redetect_every=args.redetect_every, keep_maps=False)
                n = stream_to_project(project, v.id, counted(results), run_id)
                rate = bar.rate
            kept_total += n
            shown = project.shown_runs(v.id)
            note = "shown" if shown.run_id == run_id else \
                f"kept beside run {shown.run_id}, which stays shown (chosen by the user)"
            print(f"video {v.id}: {n} frames, {n_inst} instances, {rate:.1f} frames/s "
                  f"(model run {run_id}, {note})")
    if cancel.is_set():
        print(f"cancelled: kept the predictions of {kept_total} frames", file=sys.stderr)
        return 130
    return 0
