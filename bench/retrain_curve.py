"""Retraining on a style the bundled model has not seen: accuracy vs number of labeled frames.

For each N in --labels: a project with synthetic "cartoon" clips (other proportions and colours),
ground truth stored as user labels on N frames spread over the clips, then the real retraining
path (``pose_studio.train.api.train_command`` as a subprocess, starting from the base weights,
mixed with default-style synthetic scenes), then OKS AP on held-out cartoon clips (other seeds)
through the inference engine. The base model's AP on the same clips is the baseline.

    python bench/retrain_curve.py --base models/posestudio-hrnet-coco17.onnx \
        --weights models/posestudio-hrnet-coco17.pt --out /tmp/retrain --labels 10 25 50 100
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from pose_studio.core.skeleton import COCO17
from pose_studio.store.project import Project
from pose_studio.synth import render_clip, write_clip
from pose_studio.train import api
from pose_studio.train.evaluate import evaluate_onnx
from pose_studio.video import open_video

POOL_SEED0 = 60_000  # labeled clips: seeds POOL_SEED0, POOL_SEED0 + 1, ...
EVAL_SEEDS = tuple(range(70_000, 70_024))  # held-out clips


def build_project(path: Path, n_labels: int, clip_dir: Path, pool_clips: int = 24,
                  frames_per_clip: int = 20) -> int:
    """A project with the pool clips (like a user's several videos); user labels (ground
    truth) on ``n_labels`` frames spread evenly over all of them."""
    clips = []
    for s in range(POOL_SEED0, POOL_SEED0 + pool_clips):
        video = clip_dir / f"cartoon-{s}-{frames_per_clip}.avi"
        frames, gts = render_clip(s, frames_per_clip, (320, 240), 1 + s % 2, style="cartoon")
        if not video.exists():
            write_clip(video, frames, fps=25)
        clips.append((video, gts))
    # spread the labels evenly over all (clip, frame) pairs
    pairs = [(c, f) for c in range(len(clips)) for f in range(frames_per_clip)]
    pick = np.linspace(0, len(pairs) - 1, n_labels).round().astype(int)
    chosen = [pairs[i] for i in sorted(set(pick.tolist()))]
    n_inst = 0
    with Project.create(path, COCO17) as proj:
        vids = []
        for video, _ in clips:
            with open_video(video) as r:
                m = r.meta
                vids.append(proj.add_video(video, width=m.width, height=m.height,
                                           frame_count=m.frame_count, fps=m.fps,
                                           index=r.index_bytes()))
        for c, f in chosen:
            for inst in clips[c][1][f].instances(min_area=200.0):
                proj.add_instance(vids[c], f, inst)
                n_inst += 1
    return n_inst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", required=True, help="base ONNX model")
    ap.add_argument("--weights", required=True, help="base weights (.pt)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--labels", type=int, nargs="+", default=[10, 25, 50, 100])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--steps-per-epoch", type=int, default=50)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--synthetic-scenes", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-frames", type=int, default=6)
    ap.add_argument("--pool-clips", type=int, default=24, help="videos the labels come from")
    ap.add_argument("--frames-per-clip", type=int, default=20)
    ap.add_argument("--card", help="model card (JSON) to record the curve in")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    clip_dir = out / "clips"
    clip_dir.mkdir(exist_ok=True)
    t0 = time.time()
    base = evaluate_onnx(a.base, seeds=EVAL_SEEDS, n_frames=a.eval_frames, style="cartoon",
                         threads=a.threads)
    base_default = evaluate_onnx(a.base, seeds=EVAL_SEEDS, n_frames=a.eval_frames,
                                 style="default", threads=a.threads)
    results = {"base": {"cartoon": base, "default": base_default}, "curve": []}
    print(f"base model: cartoon AP {base['AP']:.3f}, default AP {base_default['AP']:.3f}",
          flush=True)
    for n in a.labels:
        proj = out / f"labels-{n}.posestudio"
        if proj.exists():
            proj.unlink()
        n_inst = build_project(proj, n, clip_dir, a.pool_clips, a.frames_per_clip)
        run_dir = out / f"run-{n}"
        cmd = api.train_command(proj, run_dir, a.epochs, name=f"retrained-{n}",
                                synthetic_scenes=a.synthetic_scenes, threads=a.threads,
                                init=a.weights, lr=a.lr)
        cmd += ["--steps-per-epoch", str(a.steps_per_epoch), "--export", "last", "--no-resume"]
        t1 = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        events = [api.parse_progress_line(x) for x in proc.stdout.splitlines()]
        events = [e for e in events if e]
        if proc.returncode != 0:
            print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
            return 1
        model = run_dir / f"retrained-{n}.onnx"
        # same decoding settings as the base model (flip test) for a fair comparison
        base_card = json.loads(Path(a.base).with_suffix(".json").read_text())
        card_path = model.with_suffix(".json")
        rcard = json.loads(card_path.read_text())
        rcard["flip_test"] = bool(base_card.get("flip_test", False))
        card_path.write_text(json.dumps(rcard, indent=2))
        ev = evaluate_onnx(model, seeds=EVAL_SEEDS, n_frames=a.eval_frames, style="cartoon",
                           threads=a.threads)
        ev_d = evaluate_onnx(model, seeds=EVAL_SEEDS, n_frames=a.eval_frames, style="default",
                             threads=a.threads)
        rec = {"labeled_frames": n, "labeled_instances": n_inst, "cartoon_ap": ev["AP"],
               "cartoon_ap_gain": ev["AP"] - base["AP"], "default_ap": ev_d["AP"],
               "train_s": round(time.time() - t1, 1),
               "epochs": [e for e in events if e["event"] == "epoch"]}
        results["curve"].append(rec)
        print(f"{n:4d} frames ({n_inst} people): cartoon AP {ev['AP']:.3f} "
              f"({ev['AP'] - base['AP']:+.3f}), default AP {ev_d['AP']:.3f}, "
              f"{rec['train_s']:.0f}s", flush=True)
        (out / "curve.json").write_text(json.dumps(results, indent=1))
    print(f"total {time.time() - t0:.0f}s; results in {out / 'curve.json'}")
    if a.card:
        card_path = Path(a.card)
        card = json.loads(card_path.read_text())
        card.setdefault("accuracy", {})["retraining_unseen_style"] = {
            "protocol": "style 'cartoon' (bigger heads, thicker limbs, shorter legs, flat "
                        "saturated colours with outlines; never seen in training). Labels: "
                        "ground truth stored as user labels on N frames spread over "
                        f"{a.pool_clips} clips of {a.frames_per_clip} frames (320x240, 1-2 "
                        "people) in a project; "
                        "retrained with `pose-studio train --project ... --init <bundled "
                        f"weights>` ({a.epochs} epochs x {a.steps_per_epoch} steps, batch 16, "
                        f"lr {a.lr:g}, mixed with {a.synthetic_scenes} default-style synthetic "
                        "scenes); OKS AP on held-out cartoon clips "
                        f"(seeds {EVAL_SEEDS[0]}-{EVAL_SEEDS[-1]}, {a.eval_frames} frames each) "
                        "through pose_studio.inference with the renderer's boxes",
            "base_ap": round(base["AP"], 4),
            "base_ap_default_style": round(base_default["AP"], 4),
            "curve": [{"labeled_frames": r["labeled_frames"],
                       "labeled_people": r["labeled_instances"],
                       "ap": round(r["cartoon_ap"], 4),
                       "gain": round(r["cartoon_ap_gain"], 4),
                       "ap_default_style_after": round(r["default_ap"], 4)}
                      for r in results["curve"]],
        }
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        print(f"recorded in {card_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
