"""``pose-studio propagate PROJECT --video V --from F --to G``: carry the labels of frame F to
the frames up to G (forward or backward) with optical flow, filling with the model's
predictions where they exist (confidence-weighted, see ``pose_studio.core.fusion``).

With ``--model M`` (a top-down heatmap or SimCC model with the project's keypoints;
``bundled`` for the bundled one) the model is also re-run on every frame on a crop around
where the flow puts each person, and each keypoint is taken from the heatmap peak that agrees
with the flow (``pose_studio.labeling.model_step``).

Written as user instances with provenance ``propagated`` (``predicted`` on the points where
the model weighed most) as ONE step of the edit history (``pose_studio.app.carry``, the
window's verb; ``pose-studio undo`` takes it back); frames where a track already has a label
are left alone. Points the flow stopped following are listed with the frame and the reason.
Ctrl-C stops early and keeps the frames done.
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
        "with provenance 'propagated' as one undoable step.")
    p.add_argument("project", help="project file (.posestudio) or database URL")
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
    from pose_studio.app.carry import propagation_plan, propagation_request_for, run_propagation
    from pose_studio.app.proposal_edits import edit_counts
    from pose_studio.cli.common import CliError, ProgressBar, ctrl_c_cancels
    from pose_studio.cli.labeling_common import one_video, track_filter
    from pose_studio.core.errors import PoseStudioError
    from pose_studio.labeling.flow import FlowParams
    from pose_studio.store import Project

    if args.fb_max <= 0:
        raise CliError("--fb-max must be positive")
    if args.model and args.no_fill:
        raise CliError("--model fills with the model: drop --no-fill or --model")
    with ctrl_c_cancels("keeping the frames done") as cancel, \
            Project.open(args.project) as project:
        v = one_video(project, args.video)
        for name, f in (("--from", args.src), ("--to", args.dst)):
            if not 0 <= f < v.frame_count:
                raise CliError(f"{name} {f} is outside video {v.id} (0..{v.frame_count - 1})")
        if args.src == args.dst:
            raise CliError("--from and --to are the same frame")
        if v.missing:
            raise CliError(f"video {v.id} ({v.stored_path}) is missing: relink it first")
        tid = track_filter(project, args.track)
        try:
            req = propagation_request_for(
                project, v, args.src, 1 if args.dst > args.src else -1, to_frame=args.dst,
                track_id=tid, fill=not args.no_fill, stop_at_labels=False,
                flow=FlowParams(fb_max=args.fb_max))
        except PoseStudioError as exc:
            raise CliError(f"{exc} (video {v.id})") from exc
        model = _redetect_model(args.model, project.skeleton) if args.model else None
        with ProgressBar(req.n_frames, f"video {v.id}", enabled=not args.quiet) as bar:
            res = run_propagation(req, progress=lambda d, t: bar.set(d),
                                  cancel=cancel.is_set, redetect_model=model)
        plan = propagation_plan(project, req, res)
        if plan.edit is not None:
            project.apply_edit(plan.edit)
        print(f"video {v.id}: frames {args.src} -> {args.dst}: {edit_counts(plan.edit)}"
              + ("" if plan.edit is None else
                 f" ('pose-studio undo {args.project}' takes it back)"))
        names = project.skeleton.keypoints
        for s in res.stops:
            who = req.start[s.instance]
            label = f"track {who.track_id}" if who.track_id is not None else \
                f"label {s.instance + 1}"
            print(f"  {label} {names[s.keypoint]} stopped at frame {s.frame}: {s.reason}")
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
