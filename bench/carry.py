"""What a carried fix costs and gains: one propagation of 30 frames, as the window's Carry
Fixes Forward runs it after a drag (the model re-run around each person, its peaks, each
point's path), with the path's repeat fit and 64 frames of history against the line and
parabola alone on 24 frames (the code before the repeat fit), measured in one run.

    python bench/carry.py [--reps N]

A crossing clip (two people passing in front of each other, ``synth.crossing``) is rendered;
the truth of its first 64 frames stands for what a person labeled (provenance ``user``), and
the pose on frame 64 is propagated to frame 94. Prints the worker time of each propagation
(median of ``--reps``, interleaved) and the median error of the propagated points against
the truth, all points and hidden elbows and wrists, then the ratio of the times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pose_studio.core.annotation import Instance, InstanceKind, Provenance  # noqa: E402
from pose_studio.core.motion import TrajectoryParams  # noqa: E402
from pose_studio.core.skeleton import COCO17  # noqa: E402
from pose_studio.inference import PoseModel, load_model  # noqa: E402
from pose_studio.inference.redetect import CropRedetector  # noqa: E402
from pose_studio.labeling.flow import propagate  # noqa: E402
from pose_studio.synth.crossing import render_crossing_clip  # noqa: E402
from pose_studio.train.api import bundled_model  # noqa: E402

START, AHEAD = 64, 30
ARMS = [7, 8, 9, 10]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    clip = render_crossing_clip(5, START + AHEAD + 1, (480, 270), 2, occlude=True)
    model = load_model(bundled_model(), expect="pose", threads=1)
    assert isinstance(model, PoseModel)
    people = range(len(clip.gts[0].boxes))

    def label(f: int, p: int) -> Instance:
        g = clip.gts[f]
        return Instance(xy=g.keypoints[p], visibility=np.maximum(g.visibility[p], 2),
                        kind=InstanceKind.USER, track_id=p,
                        provenance=np.full(17, int(Provenance.USER), np.uint8))

    start = [label(START, p) for p in people]
    variants = {
        "repeat fit, 64 frames": (TrajectoryParams(), 64),
        "line + parabola, 24 frames (as before the repeat fit)": (TrajectoryParams(repeat_span=0), 24),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    errors: dict[str, tuple[float, float]] = {}
    for _ in range(args.reps):
        for name, (traj, hist) in variants.items():
            redetect = CropRedetector(model, clip.frames.__getitem__)
            history = [[label(START - b, p) for b in range(1, hist + 1)] for p in people]
            t0 = time.perf_counter()
            res = propagate(clip.frames.__getitem__, start, START, START + AHEAD,
                            redetect=redetect, history=history, trajectory=traj,
                            sigmas=np.asarray(COCO17.sigmas), keypoint_names=COCO17.keypoints,
                            flip_perm=COCO17.flip_permutation())
            times[name].append(time.perf_counter() - t0)
            every, arms = [], []
            for f in range(START + 1, START + AHEAD + 1):
                g = clip.gts[f]
                for i, p in enumerate(people):
                    inst = res.frames[f][i]
                    if inst is None:
                        continue
                    d = np.linalg.norm(inst.xy - g.keypoints[p], axis=1)
                    seen = g.visibility[p] > 0
                    every += list(d[seen])
                    arms += [float(d[j]) for j in ARMS if g.visibility[p][j] == 1]
            errors[name] = (float(np.median(every)), float(np.median(arms)) if arms else np.nan)
    for name in variants:
        t = statistics.median(times[name])
        e, a = errors[name]
        print(f"{name}: {t * 1000:.0f} ms for {AHEAD} frames x {len(start)} people; median "
              f"error {e:.2f} px, hidden elbows and wrists {a:.2f} px")
    new, old = (statistics.median(times[k]) for k in variants)
    print(f"carry: repeat fit / before = {new / old:.2f}x the time")


if __name__ == "__main__":
    main()
