"""How many actions does it take to label a video? The effort benchmark of issue 15.

Clips (``pose_studio.synth.crossing``): people walking across each other with fast arm
swings, 300 frames each, with exact ground truth. Two clips where they pass in front of each
other (occlusion), one where they stay more than half a body apart.

Predictions: the bundled model (``models/posestudio-hrnet-coco17.onnx`` through
``pose_studio.inference``) on every frame. No person detector is bundled, so, as in
``pose-studio demo``, the model gets the renderer's person boxes, loosened by up to 5% on each
side and shuffled on every frame (a detector's boxes are neither tight nor in a stable order);
people whose visible area is under 200 px get no box (hidden).

Identities: the tracker (``pose_studio.labeling.tracker``) and a plain frame-to-frame IoU
tracker (``pose_studio.core.tracking.iou_tracker``) on those predictions; identity switches
counted against the truth (MOT's IDSW).

Effort: a scripted annotator (``effort_sim.py``: what it may see and what it pays) brings
every frame within OKS 0.95 of the truth with (a) frame by frame, (b) keyframes + linear
interpolation, (c) Pose Studio (tracked predictions, propagate and fill with confidence, the
model re-run around each propagated person with its heatmap peaks picked by the flow and its
offset learned from the drags, each point's path through the points it placed, a line, a
parabola or the swing before that this one repeats (``core.motion``), fix only what is off,
accept ranges).

``CALIBRATION`` holds clips with other seeds, to tune parameters on without looking at the
benchmark's clips.

Usage: python bench/labeling_effort.py [--quick] [--cache DIR]
The last line is ``effort: (c) X.XX actions/frame, (a) Y.YY, (b) Z.ZZ; ratio c/a R.RR;
id switches N (iou baseline M)``.
"""

from __future__ import annotations

import argparse
import functools
import pickle
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import effort_sim as sim  # noqa: E402

from pose_studio.core.skeleton import COCO17  # noqa: E402
from pose_studio.core.tracking import count_id_switches, iou_tracker  # noqa: E402
from pose_studio.labeling.tracker import track_frames  # noqa: E402

CACHE_VERSION = 2  # 2: with the heatmaps' peaks


@dataclass(frozen=True)
class ClipSpec:
    name: str
    seed: int
    people: int
    occlude: bool
    frames: int
    size: tuple[int, int]


FULL = (
    ClipSpec("cross3-occluding", 11, 3, True, 300, (480, 270)),
    ClipSpec("cross2-occluding", 13, 2, True, 300, (480, 270)),
    ClipSpec("cross2-apart", 12, 2, False, 300, (480, 270)),
)
#: Other seeds, for tuning the fusion's parameters without looking at the benchmark's clips.
CALIBRATION = (
    ClipSpec("calib2-occluding", 41, 2, True, 200, (480, 270)),
    ClipSpec("calib2-apart", 42, 2, False, 200, (480, 270)),
    ClipSpec("calib3-occluding", 43, 3, True, 200, (480, 270)),
)
QUICK = (
    ClipSpec("quick-occluding", 21, 2, True, 40, (320, 180)),
    ClipSpec("quick-apart", 22, 2, False, 40, (320, 180)),
)


def build_clip(spec: ClipSpec, model: Any) -> tuple[sim.Clip, float]:
    """Render the clip and predict every frame; returns the clip and the minimum distance
    between two people in body heights."""
    from pose_studio.synth.crossing import render_crossing_clip

    c = render_crossing_clip(spec.seed, spec.frames, spec.size, spec.people,
                             occlude=spec.occlude)
    rng = np.random.default_rng(spec.seed)
    people, preds, cands, truth = [], [], [], []
    for frame, gt in zip(c.frames, c.gts):
        keep = [p for p in range(len(gt.boxes))
                if gt.areas[p] >= sim.MIN_AREA and (gt.visibility[p] > 0).any()]
        people.append([sim.Person(p, gt.keypoints[p].copy(), gt.visibility[p].copy(),
                                  float(gt.areas[p])) for p in keep])
        rng.shuffle(keep)
        b = gt.boxes[keep].copy().reshape(-1, 4)
        b[:, :2] -= b[:, 2:] * rng.uniform(0, 0.05, (len(b), 2))
        b[:, 2:] *= 1 + rng.uniform(0, 0.1, (len(b), 2))
        b[:, 2:] += b[:, :2]
        out = model.predict_crops(frame, b, keep_maps=True) if len(b) else []
        preds.append([p.to_instance(model.keypoint_threshold) for p in out])
        # the heatmaps' peaks, kept with the predictions (the maps themselves are dropped)
        cands.append([p.maps.candidates() if p.maps is not None else None for p in out])
        truth.append(list(keep))
    return sim.Clip(spec.name, c.frames, people, preds, truth, cands), c.min_gap_bodies


def bundled_pose_model() -> Any:
    from pose_studio.inference import PoseModel, load_model
    from pose_studio.train.api import bundled_model

    model = load_model(bundled_model(), expect="pose", threads=1)
    assert isinstance(model, PoseModel)
    return model


def load_clips(specs: tuple[ClipSpec, ...], cache: Path | None) -> list[tuple[sim.Clip, float]]:
    model = None
    out = []
    for spec in specs:
        path = cache / (f"{spec.name}-{spec.seed}-{spec.frames}-{spec.size[0]}x{spec.size[1]}"
                        f"-v{CACHE_VERSION}.pkl") if cache else None
        if path is not None and path.is_file():
            out.append(pickle.loads(path.read_bytes()))
            continue
        if model is None:
            model = bundled_pose_model()
        item = build_clip(spec, model)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps(item))
        out.append(item)
    return out


def tracking(clip: sim.Clip) -> tuple[int, int]:
    """Identity switches of the tracker and of the IoU baseline; tags the clip's predictions
    with the tracker's ids (what strategy (c) works from)."""
    frames = {f: clip.preds[f] for f in range(len(clip))}
    truth = {f: clip.truth_of_pred[f] for f in range(len(clip))}
    ours = track_frames(frames, COCO17.sigmas)
    base = iou_tracker(frames)
    clip.preds = [[p.replace(track_id=t) for p, t in zip(clip.preds[f], ours[f])]
                  for f in range(len(clip))]
    return count_id_switches(truth, ours), count_id_switches(truth, base)


def run(specs: tuple[ClipSpec, ...], cache: Path | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    clips = load_clips(specs, cache)
    print(f"clips rendered and predicted in {time.perf_counter() - t0:.1f} s", flush=True)
    from pose_studio.inference.redetect import CropRedetector

    model = bundled_pose_model()  # (c) re-runs it around the propagated poses
    totals = {"a": Counter(), "b": Counter(), "c": Counter()}  # type: ignore[var-annotated]
    frames = 0
    sw_ours = sw_base = 0
    per_clip = []
    for clip, gap in clips:
        ids, base = tracking(clip)
        sw_ours += ids
        sw_base += base
        row = {"clip": clip.name, "frames": len(clip), "gap": gap, "ids": ids, "iou_ids": base}
        redetect = CropRedetector(model, clip.frames.__getitem__)
        for key, fn in (("a", sim.frame_by_frame), ("b", sim.keyframes_linear),
                        ("c", functools.partial(sim.pose_studio, redetect=redetect))):
            t = time.perf_counter()
            ann = fn(clip)
            totals[key].update(ann.actions)
            row[key] = ann.total / len(clip)
            row[f"{key}_s"] = time.perf_counter() - t
            row[f"{key}_actions"] = dict(ann.actions)
        frames += len(clip)
        per_clip.append(row)
        print(f"{clip.name}: {len(clip)} frames, people apart >= {gap:.2f} bodies; "
              f"id switches {ids} (iou {base}); actions/frame (a) {row['a']:.2f} "
              f"(b) {row['b']:.2f} (c) {row['c']:.2f}", flush=True)
        for key in ("a", "b", "c"):
            print(f"   ({key}) {row[key + '_actions']}  [{row[key + '_s']:.1f} s]")
    a, b, c = (sum(v for k2, v in totals[k].items() if "(auto)" not in k2) / frames
               for k in ("a", "b", "c"))
    c_manual = sum(totals["c"].values()) / frames
    return {"a": a, "b": b, "c": c, "c_manual": c_manual, "ratio": c / a, "ids": sw_ours,
            "iou_ids": sw_base,
            "clips": per_clip, "seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="two short small clips (smoke test)")
    ap.add_argument("--cache", type=Path, help="keep rendered clips and predictions here")
    args = ap.parse_args(argv)
    res = run(QUICK if args.quick else FULL, args.cache)
    print(f"(c) with a key to re-propagate after every fix: {res['c_manual']:.2f} "
          f"actions/frame, ratio c/a {res['c_manual'] / res['a']:.2f}")
    print(f"took {res['seconds']:.1f} s")
    print(f"effort: (c) {res['c']:.2f} actions/frame, (a) {res['a']:.2f}, (b) {res['b']:.2f}; "
          f"ratio c/a {res['ratio']:.2f}; id switches {res['ids']} "
          f"(iou baseline {res['iou_ids']})")
    return res


if __name__ == "__main__":
    main()
