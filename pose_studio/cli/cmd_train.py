"""``pose-studio train``: train or fine-tune the heatmap pose model (needs the ``train`` extra).

Data: synthetic people (pre-rendered caches and/or scenes rendered on the fly) and/or a
project's user labels. Writes checkpoints to ``--out`` (rerun to resume) and exports
``<out>/<name>.onnx`` + ``.json`` for :func:`pose_studio.inference.load_model`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pose_studio.cli.common import CliError
from pose_studio.core.errors import PoseStudioError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train/fine-tune a pose model on synthetic people and/or a project's labels",
        description=(
            "Train an HRNet-style heatmap model (COCO-17). Needs PyTorch: "
            'pip install "pose-studio[train]". Rerunning with the same --out resumes.'
        ),
    )
    p.add_argument("--out", required=True, help="output folder (checkpoints, model, card)")
    p.add_argument("--project", help="project file whose user labels to train on")
    p.add_argument("--synthetic-cache", action="append", default=[], metavar="NPZ",
                   help="pre-rendered synthetic crops (python -m pose_studio.train.cache)")
    p.add_argument("--synthetic-scenes", type=int, default=None,
                   help="synthetic scenes rendered now (default 2000 alone, 0 with --project "
                        "unless given)")
    p.add_argument("--style", default="default", help="synthetic style (default|cartoon)")
    p.add_argument("--val-cache", help="validation crops (.npz) instead of a split")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--input", default=None,
                   help="model input WIDTHxHEIGHT (default: that of --init or of the checkpoint "
                        "resumed, else 96x128)")
    p.add_argument("--width", type=int, default=None,
                   help="HRNet base width (default: that of --init, else 16)")
    p.add_argument("--time-budget", type=float, default=None, metavar="MIN",
                   help="stop after MIN minutes of training (the LR schedule fits into it)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for PyTorch")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--init", help='start weights: "bundled" or a .pt checkpoint')
    p.add_argument("--no-resume", action="store_true", help="ignore <out>/last.pt")
    p.add_argument("--export", choices=("best", "last"), default="best",
                   help="export the best epoch by validation AP (default) or the last one")
    p.add_argument("--name", default="model", help="exported model name (default: model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json-progress", action="store_true",
                   help="print progress as JSON lines on stdout (for the window)")
    p.set_defaults(func=run)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CliError(f"--input must look like 96x128, not {text!r}") from None
    if w % 32 or h % 32:
        raise CliError(f"--input {text}: width and height must be multiples of 32")
    return w, h


def run(args: argparse.Namespace) -> int:
    from pose_studio.train import api

    if not api.torch_available():
        print(f"error: {api.INSTALL_HINT}", file=sys.stderr)
        return 1
    from pose_studio.train.trainer import TrainConfig, train

    init = args.init
    if init == "bundled":
        w = api.bundled_weights()
        if w is None:
            raise CliError("--init bundled: the bundled model's weights (.pt) are not installed")
        init = str(w)
    scenes = args.synthetic_scenes
    if scenes is None:
        scenes = 0 if (args.project or args.synthetic_cache) else 2000
    cfg = TrainConfig(
        out_dir=args.out, input_size=_size(args.input) if args.input else None, epochs=args.epochs, batch=args.batch,
        lr=args.lr, time_budget_min=args.time_budget, threads=args.threads, device=args.device,
        seed=args.seed, synthetic_caches=list(args.synthetic_cache), synthetic_scenes=scenes,
        synthetic_style=args.style, val_cache=args.val_cache, project=args.project,
        steps_per_epoch=args.steps_per_epoch, init=init, resume=not args.no_resume,
        net={"width": args.width} if args.width else {}, export_name=args.name, export=args.export,
    )
    if args.json_progress:
        def emit(ev: dict[str, Any]) -> None:
            print(api.format_progress_line(ev), flush=True)

        try:
            res = train(cfg, emit)
        except Exception as exc:  # report to the parent process, then fail
            emit({"event": "error", "message": str(exc)})
            return 1
        return 0 if res.onnx_path else 1

    from pose_studio.cli.common import ProgressBar

    bar: ProgressBar | None = None

    def show(ev: dict[str, Any]) -> None:
        nonlocal bar
        kind = ev.get("event")
        if kind == "step":
            if bar is None:
                bar = ProgressBar(ev["total_steps"], "training", unit="step")
                bar.__enter__()
            bar.desc = f"epoch {ev['epoch']} loss {ev['loss']:.3f}"
            bar.set(ev["step"])
        elif kind == "epoch":
            print(f"\nepoch {ev['epoch']}/{ev['epochs']}: loss {ev['loss']:.3f}  val AP "
                  f"{ev['val_ap']:.3f} (best {ev['best_ap']:.3f})", file=sys.stderr)
        elif kind in ("data", "status", "resume"):
            print({k: v for k, v in ev.items() if k != "event"}, file=sys.stderr)
        elif kind == "exported":
            print(f"model: {ev['onnx']}\ncard:  {ev['card']}")

    res = train(cfg, show)
    if bar is not None:
        bar.close()
    return 0 if res.onnx_path else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m pose_studio.cli.cmd_train ...`` (same options, without the other commands)."""
    parser = argparse.ArgumentParser(prog="pose-studio")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except PoseStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
