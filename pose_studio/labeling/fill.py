"""Fill the frames between a track's keyframes from everything known about them.

For each frame between two keyframes (labels) of one track, four estimates of every keypoint
are combined by their confidence (:func:`pose_studio.core.fusion.fuse`):

* optical flow carried forward from the keyframe before (:func:`propagate`),
* optical flow carried backward from the keyframe after,
* interpolation between the keyframes (cubic where there are keyframes around the gap, else
  linear); its sigma grows with how much the cubic and the straight line disagree there (how
  much the motion bends) and with the distance to the nearest keyframe,
* the model's prediction on that frame, when one matches (by track id, else by OKS).

So a point moving smoothly is interpolated, a point the flow sees is followed, a fast limb the
flow loses is taken from a confident model, and a doubtful model point is outvoted. Pure:
frames are read through a callable; proposals (user instances, provenance of the source that
weighed most) are returned, not written.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind, Provenance, Visibility
from pose_studio.core.candidates import KeypointCandidates
from pose_studio.core.fusion import Estimate, FusionParams, fuse
from pose_studio.core.interpolate import interpolate_track
from pose_studio.labeling.flow import FlowParams, propagate
from pose_studio.labeling.model_step import Redetect, model_estimates

__all__ = ["Filled", "fill_track"]


@dataclass(frozen=True, eq=False)
class Filled:
    """A filled frame: the proposal, its keypoints' sigmas (px; inf: unlabeled) and where the
    model put them before any learned offset (``(K, 2)``, NaN: nowhere; None: no model)."""

    instance: Instance
    sigma: np.ndarray
    model: np.ndarray | None = None


def _interp_estimates(keys: Mapping[int, Instance], frames: Sequence[int],
                      key_sigma: Mapping[int, np.ndarray], fu: FusionParams
                      ) -> dict[int, Estimate]:
    lin = interpolate_track(keys, frames, "linear")
    cub = interpolate_track(keys, frames, "cubic")
    ks = sorted(keys)
    out = {}
    for f, li in lin.items():
        cu = cub.get(f, li)
        a = max(k for k in ks if k < f)
        b = min(k for k in ks if k > f)
        bend = np.linalg.norm(cu.xy - li.xy, axis=1)
        near = min(f - a, b - f)
        base = np.maximum(key_sigma.get(a, fu.user_sigma), key_sigma.get(b, fu.user_sigma))
        sig = base + fu.interp_motion * bend * (1 + 0.5 * (near - 1))
        out[f] = Estimate(cu.xy, np.where(cu.labeled, sig, np.inf), Provenance.INTERPOLATED,
                          cu.visibility)
    return out


def fill_track(
    get_frame: Callable[[int], np.ndarray],
    keyframes: Mapping[int, Instance],
    frames: Iterable[int],
    *,
    predictions: Mapping[int, Sequence[Instance]] | None = None,
    candidates: Mapping[int, Sequence[KeypointCandidates | None]] | None = None,
    flip_perm: np.ndarray | None = None,
    redetect: Redetect | None = None,
    model_offset: np.ndarray | None = None,
    key_sigmas: Mapping[int, np.ndarray] | None = None,
    sigmas: Sequence[float] | np.ndarray | None = None,
    flow: FlowParams | None = None,
    fusion: FusionParams | None = None,
    cancel: Callable[[], bool] | None = None,
) -> dict[int, Filled]:
    """Proposals for ``frames`` strictly between the first and last of ``keyframes`` (one
    track's labels, ``{frame: instance}``); keyframes themselves are skipped.

    ``key_sigmas``: per keyframe, its points' uncertainty (default: a user label's).
    ``candidates``, ``flip_perm`` and ``redetect``: the predictions' heatmap peaks and
    re-running the model around the person, and ``model_offset`` (the model's learned offset
    on this track), as for :func:`pose_studio.labeling.flow.propagate`; the prior is what the
    flow from both sides and the interpolation agree on.
    """
    fu = fusion or FusionParams()
    ks = sorted(keyframes)
    if len(ks) < 2:
        return {}
    k = keyframes[ks[0]].num_keypoints
    sig_k = np.asarray(sigmas if sigmas is not None else np.full(k, 0.072), np.float64)
    ksig = dict(key_sigmas or {})
    wanted = sorted({int(f) for f in frames if ks[0] < f < ks[-1]} - set(ks))
    interp = _interp_estimates(keyframes, wanted, ksig, fu)
    track_id = keyframes[ks[0]].track_id
    out: dict[int, Filled] = {}
    for a, b in itertools.pairwise(ks):
        gap = [f for f in wanted if a < f < b]
        if not gap:
            continue
        if cancel is not None and cancel():
            break

        def run(src: int, dst: int) -> dict[int, Estimate]:
            d = 1 if dst > src else -1  # the labels just behind src give its motion
            history = [[keyframes.get(src - d), keyframes.get(src - 2 * d)]]
            res = propagate(get_frame, [keyframes[src]], src, dst, params=flow, fusion=fu,
                            sigmas=sig_k, history=history, cancel=cancel,
                            start_sigmas=[ksig.get(src, np.full(k, fu.user_sigma))])
            ests = {}
            for f, insts in res.frames.items():
                inst = insts[0]
                if inst is not None:
                    ests[f] = Estimate(inst.xy, res.sigmas[f][0], Provenance.PROPAGATED,
                                       keyframes[src].visibility)
            return ests

        fwd = run(a, max(gap))
        bwd = run(b, min(gap))
        for f in gap:
            est = [e for e in (fwd.get(f), bwd.get(f), interp.get(f)) if e is not None]
            if not est:
                continue
            raw = None
            if predictions is not None or redetect is not None:
                guess, gs, _ = fuse(est, fu)
                prior = Estimate(guess, gs, Provenance.INTERPOLATED)
                m = model_estimates(f, [prior], [track_id], predictions=predictions,
                                    candidates=candidates, redetect=redetect,
                                    oks_sigmas=sig_k, fusion=fu, flip_perm=flip_perm)[0]
                if m is not None:
                    raw = np.where(m.valid[:, None], m.xy, np.nan)
                    est.append(m.shifted(model_offset) if model_offset is not None else m)
            xy, sg, w = fuse(est, fu)
            ok = np.isfinite(sg)
            if not ok.any():
                continue
            best = np.argmax(w, axis=0)
            prov = np.array([int(est[i].source) for i in best], dtype=np.uint8)
            vis = np.full(k, int(Visibility.VISIBLE), dtype=np.uint8)
            for j in range(k):
                v = est[best[j]].visibility
                if v is not None and v[j] > 0:
                    vis[j] = v[j]
            out[f] = Filled(Instance(
                xy=np.where(ok[:, None], xy, 0.0), kind=InstanceKind.USER,
                visibility=np.where(ok, vis, int(Visibility.UNLABELED)),
                provenance=np.where(ok, prov, int(Provenance.USER)), track_id=track_id), sg, raw)
    return out
