"""``pose-studio models check|convert``: inspect an ONNX pose model, compress it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from pose_studio.core.errors import PoseStudioError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("models", help="inspect or convert ONNX pose models",
                              description="Inspect (check) or compress (convert) ONNX models.")
    sub = p.add_subparsers(dest="models_command", metavar="ACTION")
    c = sub.add_parser("check", help="family, inputs/outputs, keypoints, providers, timing")
    c.add_argument("model", help="the .onnx file")
    c.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda", "dml", "coreml"])
    c.add_argument("--device-id", type=int, default=0)
    c.add_argument("--runs", type=int, default=10, help="timed runs (default 10)")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.set_defaults(func=run_check)
    v = sub.add_parser("convert", help="write an FP16 or INT8 copy of a model")
    v.add_argument("model", help="the .onnx file")
    g = v.add_mutually_exclusive_group(required=True)
    g.add_argument("--fp16", action="store_true", help="FP16 weights, float32 I/O (GPU)")
    g.add_argument("--int8", action="store_true",
                   help="dynamic INT8 weights (CPU; expect an accuracy drop, check it)")
    g.add_argument("--int8-static", action="store_true",
                   help="static INT8, activations calibrated on --calibrate (CPU; fastest)")
    v.add_argument("--calibrate", metavar="PATH",
                   help="for --int8-static: a video, an image folder, or a project "
                        "(its labeled or predicted people give the crops)")
    v.add_argument("--calib-frames", type=int, default=64, metavar="N",
                   help="frames sampled evenly for calibration (default 64)")
    v.add_argument("--out", required=True, help="output .onnx file")
    v.set_defaults(func=run_convert)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _timing(model: Any, runs: int) -> dict[str, float]:
    import numpy as np

    w, h = model.input_size
    b = model.batch_size or 1
    x = np.random.default_rng(0).uniform(-1, 1, (b, 3, h, w)).astype(np.float32)
    model.session.run_once(x)
    times = []
    for _ in range(max(1, runs)):
        t0 = time.perf_counter()
        model.session.run_once(x)
        times.append((time.perf_counter() - t0) * 1000)
    out = {"batch": float(b), "ms_per_run": float(np.median(times)),
           "ms_min": float(np.min(times))}
    top_down = getattr(model, "top_down", False)
    if top_down and model.batch_size is None and not model.session.batch_limit:
        x8 = np.repeat(x, 8, axis=0)
        model.session.run_once(x8)
        t0 = time.perf_counter()
        for _ in range(max(1, runs // 2)):
            model.session.run_once(x8)
        out["ms_per_crop_batch8"] = (time.perf_counter() - t0) * 1000 / max(1, runs // 2) / 8
    return out


def run_check(args: argparse.Namespace) -> int:
    from pose_studio.inference import PoseModel, load_model
    from pose_studio.inference.providers import available_providers, duplicate_ort_message

    m = load_model(args.model, provider=args.provider, device_id=args.device_id)
    info: dict[str, Any] = m.describe()
    info["available_providers"] = available_providers()
    info["load_ms"] = round(m.load_ms, 1)
    if isinstance(m, PoseModel):
        info["keypoints"] = {"count": m.num_keypoints, "skeleton": m.skeleton.name,
                             "names": list(m.keypoint_names)}
    info["timing"] = _timing(m, args.runs)
    dup = duplicate_ort_message()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"model:      {info['path']}")
    print(f"family:     {m.family}  (input {m.input_size[0]}x{m.input_size[1]}, batch "
          f"{info['batch']})")
    for t in info["inputs"]:
        print(f"input:      {t}")
    for t in info["outputs"]:
        print(f"output:     {t}")
    if isinstance(m, PoseModel):
        names = ", ".join(m.keypoint_names[:6]) + (", ..." if m.num_keypoints > 6 else "")
        print(f"keypoints:  {m.num_keypoints} ({m.skeleton.name}: {names})")
        extra = {k: v for k, v in m.params().items() if k in ("stride", "split_ratio", "refine",
                                                            "dark_kernel", "color")}
        print(f"decoding:   {', '.join(f'{k}={v}' for k, v in extra.items())}")
    print(f"card:       {info['card'] or 'none (everything inferred from the file)'}")
    print(f"providers:  available {', '.join(info['available_providers'])}")
    print(f"            requested {', '.join(m.requested_providers)}")
    print(f"            used      {', '.join(m.providers)}")
    t = info["timing"]
    line = f"timing:     {t['ms_per_run']:.2f} ms per run (batch {int(t['batch'])}, median of " \
           f"{args.runs})"
    if "ms_per_crop_batch8" in t:
        line += f"; {t['ms_per_crop_batch8']:.2f} ms per crop at batch 8"
    print(line)
    for w in m.warnings:
        print(f"warning:    {w}")
    if dup and dup not in m.warnings:
        print(f"warning:    {dup}")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from pose_studio.inference.convert import convert_model

    mode = "fp16" if args.fp16 else "int8" if args.int8 else "int8-static"
    calib = None
    if mode == "int8-static":
        if not args.calibrate:
            print("error: --int8-static needs --calibrate VIDEO|FOLDER|PROJECT: frames like the "
                  "ones the model will see", file=sys.stderr)
            return 2
        calib = load_calibration(args.calibrate, max(2, args.calib_frames))
    s = convert_model(args.model, args.out, mode, calib)
    print(f"wrote {s.out_path} ({mode}): {s.size_in / 1e6:.2f} MB -> {s.size_out / 1e6:.2f} MB, "
          f"largest output change on a probe image {s.max_abs_diff:.4g}")
    if s.calibration_inputs:
        print(f"calibrated on {s.calibration_inputs} inputs from {args.calibrate}")
    if s.float_nodes:
        print(f"kept in float: {', '.join(s.float_nodes)} (the output layers)")
    if s.keypoint_shift_mean is not None:
        print(f"keypoints moved {s.keypoint_shift_mean:.2f} px on average "
              f"(95th percentile {s.keypoint_shift_p95:.2f} px) on held-back frames")
    if s.oks_vs_float is not None:
        print(f"OKS of the INT8 keypoints against the float model's: {s.oks_vs_float:.3f} "
              "(1.0 = the same)")
    if mode != "fp16":
        print("note: INT8 can cost pose accuracy; compare keypoints before relying on it")
    return 0


def load_calibration(path_text: str, n_frames: int) -> Any:
    """Frames (and person boxes, from a project) sampled evenly for static quantisation."""
    import numpy as np

    from pose_studio.inference.convert import Calibration
    from pose_studio.store import Project
    from pose_studio.video import open_video

    path = Path(path_text)
    frames: list[Any] = []
    boxes: list[Any] = []
    if path.is_file() and path.suffix == ".posestudio":
        with Project.open(path, read_only=True) as proj:
            per_frame: dict[tuple[int, int], list[list[float]]] = {}
            for source in ("user", "predicted"):
                for vid, f, inst in proj.iter_instances(source):
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
            return Calibration(frames, boxes)
        sources = [v.path for v in videos.values()]
    else:
        sources = [path]
    if not sources:
        raise PoseStudioError(f"{path}: nothing to calibrate on (no videos)")
    per_source = max(1, n_frames // len(sources))
    for src in sources:
        with open_video(src) as r:
            n = len(r)
            for i in np.linspace(0, n - 1, min(per_source, n)).round().astype(int):
                frames.append(r.get(int(i)))
    return Calibration(frames, None)
