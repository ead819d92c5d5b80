"""``pose-studio models check|convert|list|get``: inspect an ONNX model, compress it (with a
check), list and download published models."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from pose_studio.cli import models_catalogue
from pose_studio.cli.models_convert import load_calibration, run_convert

__all__ = ["load_calibration", "register", "run_check", "run_convert"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("models", help="inspect, convert, list or download ONNX pose models",
                              description="Inspect (check) or compress (convert) ONNX models; "
                              "list and get published ones.")
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
    v.add_argument("--frames", metavar="PATH",
                   help="frames to check the copy on: a video, an image folder or a project "
                        "(default: held-back calibration frames, else synthetic people)")
    v.add_argument("--check-frames", type=int, default=16, metavar="N",
                   help="frames sampled from --frames (default 16)")
    v.add_argument("--min-oks", type=float, default=None, metavar="X",
                   help="refuse a copy whose keypoints' OKS against the float model is below "
                        "X (default 0.90)")
    v.add_argument("--max-shift", type=float, default=None, metavar="PX",
                   help="refuse a copy whose keypoints move more than PX pixels on average")
    v.add_argument("--min-speedup", type=float, default=None, metavar="X",
                   help="refuse a copy that runs at under X times the float model's speed "
                        "here (default 0.9: slower beyond timing noise)")
    v.add_argument("--force", action="store_true",
                   help="write the copy even when the check refuses it (figures printed)")
    v.set_defaults(func=run_convert)
    models_catalogue.register(sub)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _timing(model: Any, runs: int) -> dict[str, float]:
    import numpy as np

    b = model.batch_size or 1
    x = model.session.random_input(b, model.input_size)
    model.session.run_once(x)
    times = []
    for _ in range(max(1, runs)):
        t0 = time.perf_counter()
        model.session.run_once(x)
        times.append((time.perf_counter() - t0) * 1000)
    out = {"batch": float(b), "ms_per_run": float(np.median(times)),
           "ms_min": float(np.min(times))}
    if model.top_down and model.batch_size is None and not model.session.batch_limit:
        x8 = np.repeat(x, 8, axis=0)
        model.session.run_once(x8)
        t0 = time.perf_counter()
        for _ in range(max(1, runs // 2)):
            model.session.run_once(x8)
        out["ms_per_crop_batch8"] = (time.perf_counter() - t0) * 1000 / max(1, runs // 2) / 8
    return out


def run_check(args: argparse.Namespace) -> int:
    import numpy as np

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
    kind = "person detector" if not isinstance(m, PoseModel) else \
        ("top-down: predicts person crops (give it a detector, or boxes)" if m.top_down
         else "one-stage: finds the people itself")
    print(f"family:     {m.family}  (input {m.input_size[0]}x{m.input_size[1]} "
          f"{m.session.layout.upper()} {np.dtype(m.session.input_dtype).name}, batch "
          f"{info['batch']})")
    print(f"kind:       {kind}")
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


