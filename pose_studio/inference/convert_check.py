"""The check every converted model passes before it is written: the float model and its copy
on the same frames, people found, how far keypoints (or boxes) move, OKS against the float
model, and the speed ratio on this machine.

Frames are the user's (held-back calibration frames, or ``--frames``) or, when none are
given, synthetic people from :mod:`pose_studio.synth` (with their true person boxes for
top-down models).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pose_studio.core.oks import oks
from pose_studio.inference.model import DetectorModel, PoseModel
from pose_studio.inference.results import PosePrediction

AnyModel = PoseModel | DetectorModel

#: OKS of the copy's keypoints against the float model's below this: refused
MIN_OKS = 0.90
#: mean IoU of a detector copy's boxes with the float model's below this: refused
MIN_BOX_IOU = 0.80
#: converted/float speed below this: refused (medians of interleaved timed runs; 10% is left
#: for timing noise, so a copy refused for speed is clearly slower)
MIN_SPEEDUP = 0.9


@dataclass(frozen=True)
class CheckFrames:
    """Frames (BGR uint8) and, for top-down models, person boxes per frame (``[N, 4]`` xyxy;
    None: found by the float model on the whole frame)."""

    frames: Sequence[np.ndarray]
    boxes: Sequence[np.ndarray | None] | None = None
    source: str = "your frames"


@dataclass(frozen=True)
class CheckReport:
    """The float model and its converted copy on the check frames."""

    frames: int
    source: str
    people_float: int
    people_converted: int
    shift_mean: float | None  # pixels, keypoints (pose) or box corners (detectors)
    shift_p95: float | None
    oks_vs_float: float | None  # pose models
    box_iou: float | None  # detectors
    ms_float: float
    ms_converted: float
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def speed_ratio(self) -> float:
        """How many times faster the copy runs here (below 1: slower)."""
        return self.ms_float / self.ms_converted if self.ms_converted > 0 else 0.0

    def lines(self) -> list[str]:
        out = [f"checked on {self.frames} frame(s) ({self.source}): people found "
               f"{self.people_float} (float) -> {self.people_converted} (converted)"]
        if self.shift_mean is not None:
            what = "box corners" if self.box_iou is not None else "keypoints"
            out.append(f"{what} moved {self.shift_mean:.2f} px on average (95th percentile "
                       f"{self.shift_p95:.2f} px)")
        if self.oks_vs_float is not None:
            out.append(f"OKS against the float model: {self.oks_vs_float:.3f} (1.0 = the same)")
        if self.box_iou is not None:
            out.append(f"box IoU with the float model: {self.box_iou:.3f}")
        out.append(f"speed on this machine: {self.ms_float:.2f} ms (float) -> "
                   f"{self.ms_converted:.2f} ms per input, {self.speed_ratio:.2f}x")
        return out


def synthetic_frames(model: AnyModel, n: int = 6, seed: int = 7) -> CheckFrames:
    """People rendered by :mod:`pose_studio.synth`, with their true boxes (top-down)."""
    from pose_studio.synth import render_scene

    rng = np.random.default_rng(seed)
    frames, boxes = [], []
    for i in range(n):
        img, gt = render_scene(rng, (480, 360), n_people=1 + i % 2, truncate=0.0,
                               occlude=0.0, effects=0.3)
        frames.append(img)
        b = np.asarray(gt.boxes, np.float64).reshape(-1, 4)
        b = b[(b[:, 2] > 4) & (b[:, 3] > 4)]
        boxes.append(np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1) if len(b) else None)
    return CheckFrames(frames, boxes if getattr(model, "top_down", False) else None,
                       "synthetic people")


def person_box(model: PoseModel, frame: np.ndarray) -> np.ndarray | None:
    """Without boxes, a top-down model is checked (and calibrated) on people, not on whole
    frames: the float model's confident keypoints on the whole frame give one box (None: use
    the whole frame)."""
    preds = model.predict(frame, None, keep_maps=False)
    if not preds:
        return None
    p = preds[0]
    ok = np.isfinite(p.xy).all(1) & (np.asarray(p.scores) >= model.keypoint_threshold)
    if ok.sum() < 4:
        return None
    x0, y0 = p.xy[ok].min(0)
    x1, y1 = p.xy[ok].max(0)
    mx, my = 0.1 * (x1 - x0) + 4, 0.1 * (y1 - y0) + 4
    return np.array([[x0 - mx, y0 - my, x1 + mx, y1 + my]], np.float64)


def model_inputs(model: AnyModel, frames: CheckFrames) -> list[np.ndarray]:
    """Model-ready single inputs (batch 1), made by the model's own pre-processing."""
    out: list[np.ndarray] = []
    for i, frame in enumerate(frames.frames):
        if isinstance(model, PoseModel):
            if model.top_down:
                x = model.prepare_crops(frame, _boxes(frames, i)).tensor
            else:
                x = model.prepare_image(frame)[0]
        else:
            x = model.prepare(frame)[0]
        out.extend(x[j:j + 1] for j in range(len(x)))
    return out


def _boxes(frames: CheckFrames, i: int) -> np.ndarray | None:
    b = frames.boxes[i] if frames.boxes is not None and i < len(frames.boxes) else None
    return None if b is None or len(b) == 0 else b


def _found(model: PoseModel, preds: Sequence[PosePrediction]) -> list[PosePrediction]:
    """People the model reports: above its score threshold with three confident keypoints
    (fewer for skeletons of under six)."""
    need = min(3, max(1, model.num_keypoints // 2))
    out = []
    for p in preds:
        good = np.isfinite(p.xy).all(1) & (np.asarray(p.scores) >= model.keypoint_threshold)
        if p.score >= model.score_threshold and good.sum() >= need:
            out.append(p)
    return out


def _pose_pairs(ref: PoseModel, a: list[PosePrediction], c: list[PosePrediction]
                ) -> list[tuple[PosePrediction, PosePrediction | None]]:
    """Each reference person with the converted person nearest to it (None: lost)."""
    pairs: list[tuple[PosePrediction, PosePrediction | None]] = []
    free = list(c)
    for p in a:
        ok = np.isfinite(p.xy).all(1)
        if not free:
            pairs.append((p, None))
            continue
        d = [float(np.nanmean(np.linalg.norm(p.xy[ok] - np.nan_to_num(q.xy[ok]), axis=1)))
             for q in free]
        pairs.append((p, free.pop(int(np.argmin(d)))))
    return pairs


def _time(ref: AnyModel, conv: AnyModel, inputs: list[np.ndarray], rounds: int = 3
          ) -> tuple[float, float]:
    """Median milliseconds per input of each session, runs interleaved so both see the same
    machine load."""
    xs = inputs[:8]
    if not xs:
        return 0.0, 0.0
    for x in xs[:1]:
        ref.session.run_once(x)
        conv.session.run_once(x)
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(rounds):
        for x in xs:
            t0 = time.perf_counter()
            ref.session.run_once(x)
            t1 = time.perf_counter()
            conv.session.run_once(x)
            t2 = time.perf_counter()
            ta.append(t1 - t0)
            tb.append(t2 - t1)
    return float(np.median(ta)) * 1000, float(np.median(tb)) * 1000


def check_copy(ref: AnyModel, conv: AnyModel, frames: CheckFrames, *,
               min_oks: float = MIN_OKS, max_shift: float | None = None,
               min_speedup: float = MIN_SPEEDUP) -> CheckReport:
    """Compare the converted copy with the float model on ``frames``; ``problems`` says why
    the copy must not be written (empty: it may)."""
    shifts: list[np.ndarray] = []
    sims: list[float] = []
    n_ref = n_conv = 0
    is_pose = isinstance(ref, PoseModel)
    for i, frame in enumerate(frames.frames):
        if isinstance(ref, PoseModel) and isinstance(conv, PoseModel):
            b = _boxes(frames, i) if ref.top_down else None
            a = _found(ref, ref.predict(frame, b, keep_maps=False))
            c = _found(conv, conv.predict(frame, b, keep_maps=False))
            n_ref, n_conv = n_ref + len(a), n_conv + len(c)
            sig = ref.skeleton.sigma_array()
            for p, q in _pose_pairs(ref, a, c):
                ok = np.isfinite(p.xy).all(1) & (np.asarray(p.scores) >= ref.keypoint_threshold)
                if q is None:
                    sims.append(0.0)
                    continue
                d = np.linalg.norm(p.xy[ok] - np.nan_to_num(q.xy[ok], nan=1e6), axis=1)
                shifts.append(d)
                ext = p.xy[ok].max(0) - p.xy[ok].min(0)
                area = max(float(ext[0] * ext[1]), 1.0)
                sims.append(float(oks(p.xy, np.where(ok, 2, 0), np.nan_to_num(q.xy, nan=1e6),
                                      area, sig)))
        else:
            assert isinstance(ref, DetectorModel) and isinstance(conv, DetectorModel)
            ba, _ = ref.detect(frame)
            bc, _ = conv.detect(frame)
            n_ref, n_conv = n_ref + len(ba), n_conv + len(bc)
            from pose_studio.core.geometry import box_iou

            free = list(range(len(bc)))
            for box in ba:
                if not free:
                    sims.append(0.0)
                    continue
                ious = box_iou(box, bc[free])
                j = free.pop(int(np.argmax(ious)))
                sims.append(float(ious.max()))
                shifts.append(np.linalg.norm((box - bc[j]).reshape(2, 2), axis=1))
    ms_a, ms_b = _time(ref, conv, model_inputs(ref, frames))
    d_all = np.concatenate(shifts) if shifts else np.zeros(0)
    mean_sim = float(np.mean(sims)) if sims else None
    rep = CheckReport(
        frames=len(frames.frames), source=frames.source, people_float=n_ref,
        people_converted=n_conv,
        shift_mean=float(d_all.mean()) if d_all.size else None,
        shift_p95=float(np.percentile(d_all, 95)) if d_all.size else None,
        oks_vs_float=mean_sim if is_pose else None, box_iou=None if is_pose else mean_sim,
        ms_float=ms_a, ms_converted=ms_b)
    problems = []
    if n_ref == 0:
        problems.append("the float model found nobody on the check frames, so nothing could be "
                        "compared: check on frames with people (--frames)")
    if n_conv < n_ref:
        problems.append(f"it finds fewer people than the float model ({n_conv} vs {n_ref})")
    if mean_sim is not None:
        floor = min_oks if is_pose else MIN_BOX_IOU
        if mean_sim < floor:
            what = "OKS against the float model" if is_pose else "box IoU"
            problems.append(f"it moves {'keypoints' if is_pose else 'boxes'} too far ({what} "
                            f"{mean_sim:.3f} < {floor:.2f})")
    if max_shift is not None and rep.shift_mean is not None and rep.shift_mean > max_shift:
        problems.append(f"keypoints move {rep.shift_mean:.2f} px on average (> {max_shift} px)")
    if ms_a > 0 and rep.speed_ratio < min_speedup:
        problems.append(f"it runs slower on this machine ({rep.speed_ratio:.2f}x the float "
                        f"model's speed, under {min_speedup:.2f}x)")
    return dataclasses.replace(rep, problems=tuple(problems))
