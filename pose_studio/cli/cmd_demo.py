"""``pose-studio demo``: a synthetic clip, a project, the bundled model, and the window.

Renders a short clip of synthetic people (``pose_studio.synth``), writes it as a video with a
project beside it, runs the bundled model over every frame and opens the window on the project.
With ``--headless`` it instead exports the predictions as COCO JSON and prints their OKS AP
against the clip's exact ground truth.

No person detector is bundled, so the top-down model is given the renderer's person boxes
(what a detector would provide); the keypoints are the model's own.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from pose_studio.cli.common import CliError, ProgressBar


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="render a synthetic clip, run the bundled model and open the window on it",
        description=(
            "Make a short clip of synthetic people and a project in a temporary folder (or "
            "--out), run the bundled pose model on it and open the window. --headless exports "
            "COCO JSON and prints the OKS AP against the clip's ground truth instead."
        ),
    )
    p.add_argument("--seed", type=int, default=7, help="clip seed (default 7)")
    p.add_argument("--frames", type=int, default=60, help="clip length (default 60)")
    p.add_argument("--people", type=int, default=2, help="people in the clip (default 2)")
    p.add_argument("--size", default="640x480", help="frame WIDTHxHEIGHT (default 640x480)")
    p.add_argument("--style", default="default", help="synthetic style: default | cartoon")
    p.add_argument("--model", help="pose model (.onnx) instead of the bundled one")
    p.add_argument("--out", help="folder for the clip, project and exports (default: temp)")
    p.add_argument("--headless", action="store_true",
                   help="no window: export COCO JSON and print the OKS AP")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CliError(f"--size must look like 640x480, not {text!r}") from None
    if w < 64 or h < 64 or w > 4096 or h > 4096:
        raise CliError(f"--size {text}: width and height must be between 64 and 4096")
    return w, h


def _boxes(gt: Any, min_area: float = 200.0) -> Any:
    import numpy as np

    keep = [p for p in range(len(gt.boxes)) if gt.areas[p] >= min_area]
    b = gt.boxes[keep] if keep else np.zeros((0, 4))
    return np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], 1)


def make_demo(out: Path, *, seed: int, n_frames: int, size: tuple[int, int], people: int,
              style: str, model_path: Path | None, quiet: bool) -> dict[str, Any]:
    """Clip + project + predictions in ``out``; returns paths and the OKS AP of the
    predictions against the ground truth."""
    from pose_studio.core.oks import coco_keypoint_ap
    from pose_studio.core.skeleton import COCO17
    from pose_studio.inference import (
        PoseModel,
        create_model_run,
        load_model,
        run_video,
        stream_to_project,
    )
    from pose_studio.store.project import Project
    from pose_studio.synth import SynthError, render_clip, write_clip, write_gt
    from pose_studio.train.api import bundled_model
    from pose_studio.train.evaluate import gt_annotations
    from pose_studio.video import open_video

    mp = model_path or bundled_model()
    if not mp.is_file():
        raise CliError(f"{mp}: the pose model is missing (the bundled model ships in models/)")
    out.mkdir(parents=True, exist_ok=True)
    try:
        frames, gts = render_clip(seed, n_frames, size, people, style=style)
    except SynthError as exc:
        raise CliError(str(exc)) from exc
    video = write_clip(out / f"demo-{seed}.mp4", frames, fps=25.0)
    write_gt(out / f"demo-{seed}.gt.json", gts)
    proj_path = out / f"demo-{seed}.posestudio"
    if proj_path.exists():
        raise CliError(f"{proj_path}: already exists; choose another --out or --seed")
    model = load_model(mp, expect="pose")
    assert isinstance(model, PoseModel)
    with open_video(video) as reader:
        meta = reader.meta
        index = reader.index_bytes()
    boxes = {i: _boxes(g) for i, g in enumerate(gts)}
    with Project.create(proj_path, COCO17) as proj:
        vid = proj.add_video(video, width=meta.width, height=meta.height,
                             frame_count=meta.frame_count, fps=meta.fps, vfr=meta.vfr,
                             codec=meta.codec, duration_s=meta.duration_s, index=index)
        run_id = create_model_run(proj, model, boxes="synthetic ground-truth person boxes")
        with ProgressBar(len(frames), "demo inference", enabled=not quiet) as bar:
            results = run_video(lambda: open_video(video, index=index), model,  # type: ignore[arg-type]
                                boxes=boxes, keep_maps=False,
                                progress=lambda done, total, fps: bar.set(done))
            stream_to_project(proj, vid, results, run_id)
        dts: dict[int, list[dict[str, Any]]] = {}
        for _, fidx, inst in proj.iter_instances("predicted", vid):
            xy = inst.xy.copy()
            xy[~(xy == xy)] = 0.0  # NaN (no peak) -> 0
            kp = [[float(x), float(y), 1.0] for x, y in xy]
            dts.setdefault(fidx, []).append({
                "keypoints": [v for row in kp for v in row],
                "score": float(inst.score if inst.score is not None else 1.0)})
    gt_by_frame = {i: gt_annotations(g) for i, g in enumerate(gts)}
    stats = coco_keypoint_ap(gt_by_frame, dts, COCO17.sigmas)  # type: ignore[arg-type]
    return {"video": video, "project": proj_path, "model": mp, "stats": stats,
            "instances": sum(len(v) for v in gt_by_frame.values()), "frames": len(frames)}


def run(args: argparse.Namespace) -> int:
    size = _size(args.size)
    if not 1 <= args.frames <= 10_000:
        raise CliError(f"--frames must be between 1 and 10000, not {args.frames}")
    if not 0 <= args.people <= 8:
        raise CliError(f"--people must be between 0 and 8, not {args.people}")
    if not args.headless:
        from pose_studio.cli.qt_preflight import preflight_gui

        stop = preflight_gui()  # say what to install before minutes of work, not after
        if stop is not None:
            return stop
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="pose-studio-demo-"))
    res = make_demo(out, seed=args.seed, n_frames=args.frames, size=size, people=args.people,
                    style=args.style, model_path=Path(args.model) if args.model else None,
                    quiet=args.quiet)
    st = res["stats"]
    if args.headless:
        from pose_studio.formats.coco import export_coco
        from pose_studio.store.project import Project

        coco_path = out / f"demo-{args.seed}.predictions.coco.json"
        with Project.open(res["project"], read_only=True) as proj:
            export_coco(proj, coco_path, source="predicted")
        summary = {"project": str(res["project"]), "video": str(res["video"]),
                   "coco": str(coco_path), "model": str(res["model"]),
                   "frames": res["frames"], "instances": res["instances"],
                   "oks_ap": round(st["AP"], 4), "oks_ap50": round(st["AP50"], 4),
                   "oks_ap75": round(st["AP75"], 4)}
        print(f"project: {res['project']}\nvideo:   {res['video']}\ncoco:    {coco_path}")
        print(f"OKS AP {st['AP']:.3f} (AP50 {st['AP50']:.3f}, AP75 {st['AP75']:.3f}) on "
              f"{res['instances']} people in {res['frames']} frames, against the clip's "
              f"ground truth (person boxes from the renderer)")
        (out / f"demo-{args.seed}.summary.json").write_text(json.dumps(summary, indent=1))
        return 0
    print(f"project: {res['project']}  (OKS AP {st['AP']:.3f} against ground truth)",
          file=sys.stderr)
    try:
        from pose_studio.gui.app import run_app
    except ImportError as exc:
        raise CliError(f"the window needs PySide6 and pyqtgraph ({exc}); "
                       f"use --headless") from exc
    return int(run_app([str(res["project"])]))
