"""The model's word on a frame, for propagation and filling: which prediction is this person's,
and where each of its keypoints is, given what is already known there.

Two ways to ask the model:

* **stored predictions** (a model run over the video, boxes from a detector): the carried
  person's prediction is found by track id, else by OKS against where the person is now;
* **re-detection** (``redetect``, when a model is loaded): the model is run again on a crop
  around where the person is now (the flow's and the motion's pose, which after a person's fix
  is a far better box than a detector's: measured on the bundled model, elbows 3.2 -> 2.5 px
  and shoulders 2.2 -> 1.9 px median error with the pose's own box instead of a loose
  detector box), and the prediction belongs to the person by construction. A pose that covers
  too little of the skeleton (a few points labeled) would give a crop that cuts the person, so
  it falls back to the stored predictions.

Either way, with the prediction's heatmap peaks (:class:`KeypointCandidates`) each keypoint is
taken from the peak that agrees best with the prior
(:func:`pose_studio.core.fusion.candidate_estimate`), else the prediction's own point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from pose_studio.core.annotation import Instance
from pose_studio.core.candidates import KeypointCandidates
from pose_studio.core.fusion import (
    Estimate,
    FusionParams,
    candidate_estimate,
    model_estimate,
    person_scale,
)
from pose_studio.core.tracking import box_area, instance_box, pose_oks_matrix

__all__ = ["Redetect", "candidates_of", "match_predictions", "model_estimates", "pose_box"]

#: ``redetect(frame, boxes)``: the model run on ``frame`` in each box ``(N, 4)`` (x1, y1, x2,
#: y2, image pixels); per box its prediction and heatmap peaks, or None where it found no one.
Redetect = Callable[[int, np.ndarray],
                    Sequence[tuple[Instance, KeypointCandidates | None] | None]]

#: A pose must have at least this share of the skeleton's points to be its own crop's box.
MIN_BOX_COVER = 0.6


def candidates_of(candidates: Mapping[int, Sequence[KeypointCandidates | None]] | None,
                  frame: int, n: int) -> list[KeypointCandidates | None]:
    """The candidates of a frame's ``n`` predictions (None each where there are none)."""
    got = candidates.get(frame) if candidates is not None else None
    if not got:
        return [None] * n
    if len(got) != n:
        raise ValueError(f"frame {frame}: {len(got)} candidate sets for {n} predictions "
                         "(one per prediction, in the same order)")
    return list(got)


def match_predictions(carried: Sequence[Instance | None], preds: Sequence[Instance],
           sigmas: np.ndarray) -> dict[int, int]:
    """carried index -> prediction index: same track id when both have one, else the
    assignment that maximises OKS (pairs under 0.1 are left apart)."""
    out: dict[int, int] = {}
    free_c = [i for i, c in enumerate(carried) if c is not None]
    free_p = list(range(len(preds)))
    for i in list(free_c):
        tid = carried[i].track_id  # type: ignore[union-attr]
        if tid is None:
            continue
        for j in free_p:
            if preds[j].track_id == tid:
                out[i] = j
                free_c.remove(i)
                free_p.remove(j)
                break
    if free_c and free_p:
        a = [carried[i] for i in free_c]
        o = pose_oks_matrix(
            np.array([c.xy for c in a]), np.array([c.labeled for c in a]),  # type: ignore[union-attr]
            np.array([box_area(instance_box(c)) for c in a]),  # type: ignore[arg-type]
            np.array([preds[j].xy for j in free_p]),
            np.array([np.isfinite(preds[j].xy).all(1) for j in free_p]), sigmas)
        rows, cols = linear_sum_assignment(-o)
        for r, c in zip(rows, cols):
            if o[r, c] >= 0.1:
                out[free_c[r]] = free_p[c]
    return out



def pose_box(xy: np.ndarray, ok: np.ndarray, min_cover: float = MIN_BOX_COVER
             ) -> np.ndarray | None:
    """The box ``(x1, y1, x2, y2)`` around a pose's known points (``ok``), or None when they
    are under ``min_cover`` of the keypoints or span less than 2 px either way."""
    ok = np.asarray(ok, bool) & np.isfinite(xy).all(axis=1)
    if ok.sum() < max(2, int(np.ceil(min_cover * len(ok)))):
        return None
    lo, hi = xy[ok].min(axis=0), xy[ok].max(axis=0)
    if (hi - lo < 2).any():
        return None
    return np.array([lo[0], lo[1], hi[0], hi[1]], dtype=np.float64)


def _estimate(pred: Instance, cand: KeypointCandidates | None, prior: Estimate,
              fu: FusionParams, scale: float, flip_perm: np.ndarray | None) -> Estimate:
    if cand is not None:
        return candidate_estimate(pred, cand, prior, fu, scale, flip_perm)
    return model_estimate(pred, fu, scale)


def model_estimates(
    frame: int,
    priors: Sequence[Estimate | None],
    track_ids: Sequence[int | None],
    *,
    predictions: Mapping[int, Sequence[Instance]] | None,
    candidates: Mapping[int, Sequence[KeypointCandidates | None]] | None,
    redetect: Redetect | None,
    oks_sigmas: np.ndarray,
    fusion: FusionParams,
    flip_perm: np.ndarray | None = None,
) -> list[Estimate | None]:
    """Per carried person (``priors``: what is known of its points on ``frame`` without the
    model; None: nothing), the model's estimate of its keypoints, or None where the model
    has nothing for it. See the module docstring."""
    out: list[Estimate | None] = [None] * len(priors)
    todo = []
    if redetect is not None:
        boxes, who = [], []
        for i, pr in enumerate(priors):
            b = pose_box(pr.xy, pr.valid) if pr is not None else None
            if b is not None:
                boxes.append(b)
                who.append(i)
        got = list(redetect(frame, np.array(boxes).reshape(-1, 4))) if boxes else []
        if len(got) != len(who):
            raise ValueError(f"redetect gave {len(got)} predictions for {len(who)} boxes")
        for i, g in zip(who, got):
            if g is None:
                continue
            pred, cand = g
            pr = priors[i]
            assert pr is not None
            scale = person_scale(pred) if pred.box() is not None else 1.0
            out[i] = _estimate(pred, cand, pr, fusion, scale, flip_perm)
    todo = [i for i in range(len(priors)) if out[i] is None and priors[i] is not None]
    preds = list(predictions.get(frame) or ()) if predictions is not None else []
    if not todo or not preds:
        return out
    draft: list[Instance | None] = [None] * len(priors)
    for i in todo:
        pr = priors[i]
        assert pr is not None
        ok = pr.valid
        if ok.any():
            draft[i] = Instance(xy=np.where(ok[:, None], pr.xy, 0.0), visibility=np.where(ok, 2, 0),
                                track_id=track_ids[i])
    cands = candidates_of(candidates, frame, len(preds))
    for ci, pj in match_predictions(draft, preds, oks_sigmas).items():
        pr = priors[ci]
        assert pr is not None
        p = preds[pj]
        scale = person_scale(p) if p.box() is not None else person_scale(draft[ci])  # type: ignore[arg-type]
        out[ci] = _estimate(p, cands[pj], pr, fusion, scale, flip_perm)
    return out
