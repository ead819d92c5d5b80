"""``pose-studio models convert``: an FP16 or INT8 copy, written only when its check passes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pose_studio.core.errors import PoseStudioError


def run_convert(args: argparse.Namespace) -> int:
    from pose_studio.inference.convert import MIN_OKS, MIN_SPEEDUP, convert_model

    mode = "fp16" if args.fp16 else "int8" if args.int8 else "int8-static"
    calib = None
    if mode == "int8-static":
        if not args.calibrate:
            print("error: --int8-static needs --calibrate VIDEO|FOLDER|PROJECT: frames like the "
                  "ones the model will see", file=sys.stderr)
            return 2
        calib = load_calibration(args.calibrate, max(2, args.calib_frames))
    check = load_calibration(args.frames, max(1, args.check_frames), "your frames") \
        if getattr(args, "frames", None) else None
    min_oks = args.min_oks if getattr(args, "min_oks", None) is not None else MIN_OKS
    speed = getattr(args, "min_speedup", None)
    s = convert_model(args.model, args.out, mode, calib, check_frames=check,
                      force=bool(getattr(args, "force", False)), min_oks=min_oks,
                      max_shift=getattr(args, "max_shift", None),
                      min_speedup=MIN_SPEEDUP if speed is None else speed)
    print(f"{mode} copy of {Path(args.model).name}: {s.size_in / 1e6:.2f} MB -> "
          f"{s.size_out / 1e6:.2f} MB, largest output change on a probe input "
          f"{s.max_abs_diff:.4g}")
    if mode == "int8-static":
        print(f"calibrated on {s.calibration_frames} of {s.calibration_frames + s.held_back} "
              f"frames from {args.calibrate} ({s.calibration_inputs} model inputs); "
              f"{s.held_back} held back for the check")
    if s.float_nodes:
        print(f"kept in float: {len(s.float_nodes)} node(s) that write the outputs "
              f"({', '.join(s.float_nodes[:4])}{', ...' if len(s.float_nodes) > 4 else ''})")
    for line in s.check.lines():
        print(line)
    if s.problems and not s.written:
        print(f"error: not written: {'; '.join(s.problems)}. --force writes it anyway",
              file=sys.stderr)
        return 1
    if s.problems:
        print(f"warning: written despite the check (--force): {'; '.join(s.problems)}",
              file=sys.stderr)
    print(f"wrote {s.out_path} (and its model card {s.out_path.with_suffix('.json').name})")
    return 0


def load_calibration(path_text: str, n_frames: int, source: str | None = None) -> Any:
    """Frames (and person boxes, from a project) sampled evenly: for static quantisation and
    for the check of a converted model."""
    import numpy as np

    from pose_studio.inference.convert_check import CheckFrames
    from pose_studio.store import Project
    from pose_studio.video import open_video

    path = Path(path_text)
    label = source or str(path.name)
    frames: list[Any] = []
    boxes: list[Any] = []
    if path.is_file() and path.suffix == ".posestudio":
        with Project.open(path, read_only=True) as proj:
            per_frame: dict[tuple[int, int], list[list[float]]] = {}
            for kind in ("user", "predicted"):
                for vid, f, inst in proj.iter_instances(kind):
                    b = inst.box()
                    if b is not None and b[2] > 1 and b[3] > 1:
                        per_frame.setdefault((vid, f), []).append(
                            [b[0], b[1], b[0] + b[2], b[1] + b[3]])
                if per_frame:
                    break
            videos = {v.id: v for v in proj.videos()}
        if per_frame:
            keys = sorted(per_frame)
            pick = [keys[i] for i in np.linspace(0, len(keys) - 1, min(n_frames, len(keys)))
                    .round().astype(int)]
            for vid in sorted({k[0] for k in pick}):
                with open_video(videos[vid].path) as r:
                    for key in (k for k in pick if k[0] == vid):
                        frames.append(r.get(key[1]))
                        boxes.append(np.asarray(per_frame[key], np.float64))
            return CheckFrames(frames, boxes, label)
        sources = [v.path for v in videos.values()]
    else:
        sources = [path]
    if not sources:
        raise PoseStudioError(f"{path}: no frames to use (the project has no videos)")
    per_source = max(1, n_frames // len(sources))
    for src in sources:
        with open_video(src) as r:
            n = len(r)
            for i in np.linspace(0, n - 1, min(per_source, n)).round().astype(int):
                frames.append(r.get(int(i)))
    return CheckFrames(frames, None, label)
