"""Confidence-weighted filling: combine the model's keypoints with propagated or interpolated
ones, each by how far it can be trusted.

Every source of a keypoint position becomes an estimate with an uncertainty ``sigma`` in
pixels (the standard deviation of its error):

* **user** label: ``params.user_sigma`` (placement precision).
* **model** keypoint with confidence ``c``: ``scale * (model_floor + model_slope * (1 - c) / c)``,
  ``scale`` being the person's size (square root of the box area). A heatmap peak near 1 is
  about as good as the model ever is (``model_floor``); the error grows fast as the peak
  flattens. Keypoints under ``min_confidence`` (and NaN ones) are no estimate at all.
* **propagated** point (optical flow, ``pose_studio.labeling.flow``): the sigma it had on the
  previous frame, grown by the flow's own step error (``flow_sigma`` plus ``flow_motion`` times
  how fast the point moves, by the flow or by its own recent motion, whichever is faster:
  Lucas-Kanade on a thin fast limb locks onto the still background and reports no motion)
  and by its forward-backward disagreement.
* **motion** (only where the flow lost the point): where the point's constant velocity puts
  it; sigma ``motion_sigma`` plus ``motion_accel`` times its last acceleration (steady motion
  is predicted well, a limb that turns back is not).
* **interpolated** point: ``user_sigma`` at the keyframes, growing towards the middle of the
  gap in proportion to how far the point travels (``interp_motion``).

They are combined per keypoint by **inverse-variance weighting** (what a Kalman update does: the
weights are ``1/sigma²``, the result's sigma is ``(sum 1/sigma²)^-1/2``), with one guard: two
estimates farther apart than ``gate`` times their combined sigma disagree (a swapped or
mislocated model point, or a flow point that slid onto the background), and then averaging
would give a point that is wrong for both. So the estimates are taken from the most certain
down, and one that disagrees with what has been combined so far is left out.

Each source's sigma is also scaled per body part (:data:`PART_SCALES`, by a word in the
keypoint's name), where a source is better or worse than its own measure says.

The numbers in :class:`FusionParams` were measured on the bundled model and rendered people:
the model's error against its confidence (median 1-2% of the person's size above 0.85, 7%
at 0.5-0.7), the flow's against speed (a quarter pixel for slow points, useless past ~4 px a
frame on thin limbs), then the remaining ones tuned by the effort benchmark's annotator on a
calibration clip that is not one of the benchmark's clips.

What that gives: a confident model keypoint that agrees with the propagated one refines it
(and stops the flow's drift from adding up); a confident model keypoint where the flow has lost
the point replaces it; an unsure one (a flat heatmap) barely moves a good propagated point; a
confident model point on the wrong side (left/right swap) is outvoted by a fresh propagated
point and left out. Nothing here looks at the image: the caller supplies the estimates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind, Provenance, Visibility
from pose_studio.core.candidates import KeypointCandidates, pick


@dataclass(frozen=True)
class FusionParams:
    """Uncertainty model of each source (see the module docstring)."""

    user_sigma: float = 0.35
    model_floor: float = 0.03
    model_slope: float = 0.12
    min_confidence: float = 0.05
    flow_sigma: float = 0.25
    flow_motion: float = 0.6
    flow_fb: float = 1.0
    interp_motion: float = 0.1
    motion_sigma: float = 0.3
    motion_accel: float = 2.0
    gate: float = 2.0
    partner_weight: float = 0.5
    offset_rate: float = 0.2
    offset_max: float = 0.1
    part_scaled: bool = True  # the sources' sigmas scaled per body part (PART_SCALES)
    accepted_sigma: float = 2.0  # a label's point a person accepted from a tool, not placed


#: How much each source's sigma is scaled on each body part (flow, motion, model, path), by a
#: word in the keypoint's name. Fitted on the effort benchmark's calibration clips (replaying
#: the fusion on their logged estimates, minimising the drags; never on the benchmark's
#: clips; docs/LABELING.md): the flow is worse than its step error says on thin fast limbs
#: (elbows, wrists) and on hips, better on ankles and shoulders; a point's path is better on
#: steady parts (face, shoulders, hips, elbows) and worse on ankles, which stop and start with
#: every step; the bundled model is better than its confidence says on wrists and shoulders,
#: worse on faces and hips. A keypoint whose name has none of these words keeps every sigma.
PART_SCALES: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("nose", (1.0, 0.8, 1.25, 0.6)),
    ("eye", (1.0, 0.8, 1.25, 0.6)),
    ("ear", (1.0, 0.8, 1.25, 0.6)),
    ("shoulder", (0.8, 1.0, 0.8, 0.48)),
    ("elbow", (2.0, 1.0, 1.0, 0.75)),
    ("wrist", (1.5, 2.0, 0.75, 1.0)),
    ("hip", (2.0, 0.75, 1.25, 0.48)),
    ("knee", (1.0, 0.6, 1.0, 1.0)),
    ("ankle", (0.6, 1.0, 1.0, 2.0)),
)


def part_scales(names: Sequence[str] | None, k: int,
                table: Sequence[tuple[str, tuple[float, ...]]] = PART_SCALES) -> np.ndarray:
    """``(4, k)`` sigma factors for the flow, motion, model and path estimates of keypoints
    named ``names``: a name's words (``left_elbow``, ``Left Elbow``, ``leftElbow``: split at
    anything but letters and at capitals) matched against ``table`` (``forearm`` is no
    ``ear``); ones for a name with none of its words."""
    out = np.ones((4, k))
    for j, name in enumerate(list(names or ())[:k]):
        words = {w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", str(name))}
        hit = next((f for word, f in table if word in words or word + "s" in words), None)
        if hit is not None:
            out[:, j] = hit
    return out


@dataclass(frozen=True, eq=False)
class Estimate:
    """Positions of K keypoints from one source with their sigmas (inf: no estimate)."""

    xy: np.ndarray  # (K, 2)
    sigma: np.ndarray  # (K,)
    source: Provenance
    visibility: np.ndarray | None = None  # (K,) what the source says, if anything

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.sigma) & np.isfinite(self.xy).all(axis=1)

    def scaled(self, factor: np.ndarray) -> Estimate:
        """The same estimate with each keypoint's sigma multiplied by ``factor`` ``(K,)``."""
        return Estimate(self.xy, self.sigma * np.asarray(factor, np.float64), self.source,
                        self.visibility)

    def shifted(self, offset: np.ndarray) -> Estimate:
        """The same estimate moved by ``offset`` ``(K, 2)`` (NaN rows: not moved)."""
        off = np.nan_to_num(np.asarray(offset, np.float64).reshape(self.xy.shape))
        return Estimate(self.xy + off, self.sigma, self.source, self.visibility)


def person_scale(inst: Instance) -> float:
    b = inst.box()
    return float(np.sqrt(max(b[2], 1.0) * max(b[3], 1.0))) if b is not None else 1.0


def model_sigma(conf: np.ndarray, scale: float, params: FusionParams) -> np.ndarray:
    c = np.asarray(conf, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = scale * (params.model_floor + params.model_slope * (1 - c) / c)
    return np.where(np.isfinite(c) & (c >= params.min_confidence), s, np.inf)


def model_estimate(pred: Instance, params: FusionParams, scale: float | None = None
                   ) -> Estimate:
    """The model's keypoints as an estimate; its confidences decide their sigmas. A predicted
    keypoint stored with visibility 0 (under the model's threshold) still counts, with the
    large sigma its low confidence gives."""
    k = pred.num_keypoints
    conf = pred.kp_scores if pred.kp_scores is not None else np.where(pred.labeled, 1.0, 0.0)
    sig = model_sigma(np.asarray(conf, np.float64), scale or person_scale(pred), params)
    sig = np.where(np.isfinite(pred.xy).all(axis=1), sig, np.inf)
    return Estimate(np.nan_to_num(pred.xy), sig.reshape(k), Provenance.PREDICTED)


def candidate_estimate(pred: Instance, cands: KeypointCandidates, prior: Estimate,
                       params: FusionParams, scale: float | None = None,
                       flip_perm: np.ndarray | None = None) -> Estimate:
    """The model's keypoints as an estimate, each taken from the heatmap peak (own, or the
    flip partner's) that agrees best with ``prior`` (what is known without the model:
    :func:`pose_studio.core.candidates.pick`); a keypoint without peaks keeps the
    prediction's point. Without a prior this is :func:`model_estimate`."""
    base = model_estimate(pred, params, scale)
    if cands.num_keypoints != pred.num_keypoints:
        return base
    sc = scale or person_scale(pred)
    peak_sig = model_sigma(cands.value, sc, params)
    prior_s = np.where(prior.valid, prior.sigma, np.inf)
    xy, _, sig = pick(cands, np.nan_to_num(prior.xy), prior_s, peak_sig, flip_perm=flip_perm,
                      partner_weight=params.partner_weight)
    ok = np.isfinite(sig)
    return Estimate(np.where(ok[:, None], xy, base.xy), np.where(ok, sig, base.sigma),
                    Provenance.PREDICTED)


def label_sigmas(inst: Instance, params: FusionParams) -> np.ndarray:
    """How far a label's points are trusted as a start (``(K,)``, px): ``user_sigma`` for a
    point a person placed (provenance ``user``), ``accepted_sigma`` for one they accepted as a
    tool proposed it (propagated, predicted, interpolated: near the truth, not on it; the
    effort benchmark's calibration clips: 2 px trusted this way does nearly as well as each
    point's own fused sigma, 0.35 px for all much worse)."""
    placed = np.asarray(inst.provenance) == int(Provenance.USER)
    return np.where(placed, params.user_sigma, params.accepted_sigma).astype(np.float64)


def user_estimate(inst: Instance, params: FusionParams) -> Estimate:
    sig = np.where(inst.labeled, params.user_sigma, np.inf)
    return Estimate(inst.xy, sig, Provenance.USER, inst.visibility)


def interpolated_estimate(inst: Instance, frame: int, before: int, after: int,
                          travel: np.ndarray, params: FusionParams) -> Estimate:
    """An interpolated instance as an estimate: ``travel`` (K,) is how far each point moves
    between the keyframes ``before`` and ``after``; the sigma peaks mid-gap."""
    gap = max(after - before, 1)
    u = min(frame - before, after - frame) / gap  # 0 at a keyframe, 0.5 mid-gap
    sig = params.user_sigma + params.interp_motion * 2 * u * np.asarray(travel, np.float64)
    return Estimate(inst.xy, np.where(inst.labeled, sig, np.inf), Provenance.INTERPOLATED,
                    inst.visibility)


def learn_offsets(offsets: np.ndarray | None, model_xy: np.ndarray, placed_xy: np.ndarray,
                  placed: np.ndarray, scale: float, params: FusionParams) -> np.ndarray:
    """The model's offset on one person, updated from the points a person placed on a frame.

    A model is often off the same way on the same person for many frames (how it reads this
    person's shoulders, or their face turned away): measured on the bundled model, the
    average of a keypoint's last errors predicts the next one to within 0.7 px on the face
    and 1.3 px on the shoulders, where the error itself is 1.0 and 2.3 px. Each point a
    person dragged (``placed``) moves that keypoint's offset towards ``placed_xy -
    model_xy`` by ``params.offset_rate`` (an exponential average over the fixes); a
    residual over ``params.offset_max * scale`` is not an offset but the model finding
    another place (a swap), and is left out. Points a person accepted without moving them
    teach nothing (they are what the tool proposed).

    Returns:
        New offsets ``(K, 2)`` (the old ones, zeros when None, are not modified).
    """
    m = np.asarray(model_xy, np.float64)
    out = np.zeros_like(m) if offsets is None else np.array(offsets, np.float64)
    r = np.asarray(placed_xy, np.float64) - m
    ok = np.asarray(placed, bool) & np.isfinite(r).all(axis=1)
    ok &= np.linalg.norm(np.nan_to_num(r), axis=1) <= params.offset_max * scale
    out[ok] += params.offset_rate * (r[ok] - out[ok])
    return out


def fuse(estimates: Sequence[Estimate], params: FusionParams
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combine estimates per keypoint (see the module docstring).

    Returns:
        ``xy (K, 2)``, ``sigma (K,)`` (inf where no source had the point) and the weights
        ``(n_estimates, K)`` each source got (0 when absent or left out as disagreeing).
    """
    if not estimates:
        raise ValueError("fuse needs at least one estimate")
    k = len(estimates[0].sigma)
    xs = np.stack([e.xy for e in estimates]).astype(np.float64)  # (n, K, 2)
    ss = np.stack([np.where(e.valid, e.sigma, np.inf) for e in estimates])  # (n, K)
    order = np.argsort(ss, axis=0, kind="stable")
    out_xy = np.zeros((k, 2))
    out_s = np.full(k, np.inf)
    weights = np.zeros((len(estimates), k))
    for j in range(k):
        acc_w = 0.0
        acc = np.zeros(2)
        for i in order[:, j]:
            s = ss[i, j]
            if not np.isfinite(s):
                break
            w = 1.0 / max(s, 1e-6) ** 2
            if acc_w > 0:
                cur = acc / acc_w
                cur_s = 1.0 / np.sqrt(acc_w)
                if np.linalg.norm(xs[i, j] - cur) > params.gate * np.hypot(cur_s, s):
                    continue  # disagrees: a swap, another person, or a lost flow point
            acc += w * xs[i, j]
            acc_w += w
            weights[i, j] = w
        if acc_w > 0:
            out_xy[j] = acc / acc_w
            out_s[j] = 1.0 / np.sqrt(acc_w)
    tot = weights.sum(axis=0)
    weights = np.divide(weights, tot, out=np.zeros_like(weights), where=tot > 0)
    return out_xy, out_s, weights


def fill_instance(estimates: Sequence[Estimate], params: FusionParams, *,
                  track_id: int | None = None, max_sigma: float = np.inf) -> Instance | None:
    """A user instance (a proposal) from fused estimates: each keypoint's provenance is the
    source that weighed most; points with no estimate, or fused sigma over ``max_sigma``,
    are left unlabeled. None when no point is left."""
    xy, sig, w = fuse(estimates, params)
    ok = np.isfinite(sig) & (sig <= max_sigma)
    if not ok.any():
        return None
    best = np.argmax(w, axis=0)
    prov = np.array([int(estimates[b].source) for b in best], dtype=np.uint8)
    vis = np.full(len(sig), int(Visibility.VISIBLE), dtype=np.uint8)
    for j in range(len(sig)):
        v = estimates[best[j]].visibility
        if v is not None and v[j] > 0:
            vis[j] = v[j]
    vis = np.where(ok, vis, int(Visibility.UNLABELED)).astype(np.uint8)
    xy = np.where(ok[:, None], xy, 0.0)
    prov = np.where(ok, prov, int(Provenance.USER)).astype(np.uint8)
    return Instance(xy=xy, visibility=vis, kind=InstanceKind.USER, provenance=prov,
                    track_id=track_id)
