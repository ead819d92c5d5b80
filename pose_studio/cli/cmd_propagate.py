"""``pose-studio propagate PROJECT --video V --from F --to G``: carry the labels of frame F to
the frames up to G (forward or backward) with optical flow, filling with the model's
predictions where they exist (confidence-weighted, see ``pose_studio.core.fusion``).

With ``--model M`` (a top-down heatmap or SimCC model with the project's keypoints;
``bundled`` for the bundled one) the model is also re-run on every frame on a crop around
where the flow puts each person, and each keypoint is taken from the heatmap peak that agrees
with the flow (``pose_studio.labeling.model_step``).

Written as user instances with provenance ``propagated`` (``predicted`` on the points where
the model weighed most) in ONE transaction; frames where a track already has a label are left
alone. Points the flow stopped following are listed with the frame and the reason. Ctrl-C stops
early and keeps the frames done.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
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
    p.add_argument("--model", help="re-run this top-down pose model (.onnx, or 'bundled') on "
                   "a crop around each propagated person and pick its heatmap peaks by the "
                   "flow")
    p.add_argument("--fb-max", type=float, default=1.0,
                   help="forward-backward error (px) over which a point stops (default 1.0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pose_studio.cli.common import CliError, ProgressBar
    from pose_studio.cli.labeling_common import FrameSource, one_video, track_filter
    from pose_studio.core.proposals import is_keyframe, place_generated
    from pose_studio.labeling.flow import FlowParams, propagate
    from pose_studio.labeling.project_io import video_items, write_proposal
    from pose_studio.store import Project

    if args.fb_max <= 0:
        raise CliError("--fb-max must be positive")
    if args.model and args.no_fill:
        raise CliError("--model fills with the model: drop --no-fill or --model")
    cancel = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\ncancelling: keeping the frames done ...", file=sys.stderr, flush=True)

    in_main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, on_sigint) if in_main else None
    try:
        with Project.open(args.project) as project:
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
            model = _redetect_model(args.model, project.skeleton) if args.model else None
            n = abs(args.dst - args.src)
            with FrameSource(project, v) as frames, \
                    ProgressBar(n, f"video {v.id}", enabled=not args.quiet) as bar:
                redetect = None
                if model is not None:
                    from pose_studio.inference.redetect import CropRedetector

                    redetect = CropRedetector(model, frames)
                res = propagate(frames, start, args.src, args.dst, predictions=preds,
                                redetect=redetect, flip_perm=project.skeleton.flip_permutation(),
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
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
    if cancel.is_set():
        print("cancelled: kept the frames done", file=sys.stderr)
        return 130
    return 0


def _redetect_model(spec: str, skeleton: Any) -> Any:
    """The ``--model`` to re-run: top-down, with the project's keypoints in its order."""
    from pose_studio.cli.common import CliError
    from pose_studio.inference import PoseModel, load_model

    path = spec
    if spec == "bundled":
        from pose_studio.train.api import bundled_model

        path = str(bundled_model())
    model = load_model(path, expect="pose", threads=1)
    assert isinstance(model, PoseModel)
    if not model.top_down:
        raise CliError(f"{spec} is a one-stage model ({model.family}): --model needs a "
                       "top-down model (it is run on a crop around each person)")
    if tuple(model.keypoint_names) != tuple(skeleton.keypoints):
        raise CliError(f"{spec} predicts the keypoints of {model.skeleton.name} "
                       f"({model.num_keypoints}), not the project's skeleton "
                       f"{skeleton.name!r} ({skeleton.num_keypoints}) in its order")
    return model
