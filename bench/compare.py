"""Comparing two model runs on a long video: ``compare_runs`` (read both runs and the labels from
the project, score each against the labels, find the frames that changed most) vs the same AP
computed by ``coco_keypoint_ap`` (the per-image reference implementation) on the same data.

    python bench/compare.py [--frames 10000] [--people 2] [--labeled 0.3] [--repeat 3]

Target: under 2 s for two runs on 10,000 frames. Also what the window does on the GUI thread
when the user switches runs in the Runs panel (show A and B, re-read the timeline's arrays, B's
row and the run list): it should feel immediate.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pose_studio.app.runs import run_rows
from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.oks import coco_keypoint_ap
from pose_studio.core.skeleton import COCO17
from pose_studio.inference.compare import compare_runs
from pose_studio.store import Project

K = 17


def build(path: Path, frames: int, people: int, labeled: float, seed: int = 0) -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    base = [np.stack([np.linspace(60 + 200 * p, 120 + 200 * p, K), np.linspace(40, 400, K)], 1)
            for p in range(people)]
    with Project.create(path, COCO17) as proj:
        vid = proj.add_video(path.with_suffix(".mp4"), width=1280, height=720,
                             frame_count=frames, fps=30.0)
        lab = rng.random(frames) < labeled
        with proj.import_transaction() as w:
            w.add_instances((vid, int(f), Instance(base[p] + rng.normal(0, 1, (K, 2)),
                                                   np.full(K, 2, np.uint8)))
                            for f in np.flatnonzero(lab) for p in range(people))
        runs = []
        for noise in (6.0, 3.0):
            run = proj.create_model_run(model_path=f"/m/noise{noise}.onnx", model_hash="x",
                                        providers=[], params={"pose": {"name": f"n{noise}"}})
            items = [(f, Instance(base[p] + rng.normal(0, noise, (K, 2)),
                                  np.full(K, 2, np.uint8), kind=InstanceKind.PREDICTED,
                                  kp_scores=rng.random(K).astype(np.float32),
                                  score=float(rng.random()),
                                  bbox=(40 + 200 * p, 30, 100, 380)))
                     for f in range(frames) for p in range(people)]
            for i in range(0, len(items), 20000):
                proj.add_predictions(vid, items[i:i + 20000], run)
            runs.append(run)
    return runs[0], runs[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--people", type=int, default=2)
    ap.add_argument("--labeled", type=float, default=0.3, help="share of frames with labels")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.posestudio"
        t0 = time.perf_counter()
        ra, rb = build(path, args.frames, args.people, args.labeled)
        print(f"{args.frames} frames, {args.people} people per frame, two runs, labels on "
              f"{args.labeled:.0%} of the frames (built in {time.perf_counter() - t0:.1f} s)")
        times = []
        with Project.open(path, read_only=True) as proj:
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                c = compare_runs(proj, ra, rb)
                times.append(time.perf_counter() - t0)
            # the reference AP on the same data, per image (what compare would cost without
            # the vectorised evaluation)
            gt: dict[int, list[Instance]] = {}
            dt: dict[int, list[Instance]] = {}
            for _, f, inst in proj.iter_instances("all", run=ra):
                (dt if inst.is_prediction else gt).setdefault(f, []).append(inst)
            dt = {f: v for f, v in dt.items() if f in gt}
            t0 = time.perf_counter()
            ref = coco_keypoint_ap(gt, dt, COCO17.sigma_array())
            t_ref = time.perf_counter() - t0
        gui, job = [], []
        with Project.open(path) as proj:
            vid = proj.videos()[0].id
            for i in range(args.repeat * 2):
                a, b = (ra, rb) if i % 2 else (rb, ra)
                t0 = time.perf_counter()
                proj.set_shown_runs(vid, a, compare=b)  # Session.set_shown_runs
                proj.frame_arrays(vid)                  # the timeline and Confidence arrays
                proj.instances(vid, 0, run=b)           # B on the frame shown
                t1 = time.perf_counter()
                proj.run_frame_arrays(vid, b)           # B's timeline row   (background job)
                run_rows(proj, vid)                     # the Runs panel     (background job)
                gui.append(t1 - t0)
                job.append(time.perf_counter() - t1)
    print(f"switching A and B in the window: GUI thread (store, arrays, B on the frame) median "
          f"{float(np.median(gui)) * 1e3:.0f} ms; background (B's row, run list) median "
          f"{float(np.median(job)) * 1e3:.0f} ms")
    print(f"compare_runs (both runs read, scored, frames ranked): best {min(times):.3f} s, "
          f"median {float(np.median(times)):.3f} s of {args.repeat} (target < 2 s)")
    print(f"AP run A {c.a.scores.ap:.4f} (reference coco_keypoint_ap {ref['AP']:.4f}, "
          f"{t_ref:.2f} s for one run), run B {c.b.scores.ap:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
