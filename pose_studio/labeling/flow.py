"""Carry labeled keypoints through time with optical flow, optionally filling with the model.

:func:`propagate` follows every labeled keypoint of some instances from one frame to the
next with pyramidal Lucas-Kanade (OpenCV), forward or backward. Each step is checked by
tracking the point back again (the forward-backward check): a point whose round trip misses
its start by more than ``fb_max`` pixels, that LK loses, or that leaves the image stops there,
and the result says which point stopped on which frame and why.

With ``predictions`` (the model's instances per frame) it also fills: on every frame each
carried instance is matched to a prediction and every keypoint is the confidence-weighted
combination of the flow's point and the model's (:mod:`pose_studio.core.fusion`); the
combination, not the raw flow point, is what is carried on, so a confident model keypoint
stops the flow drifting and takes over a point the flow lost, while a doubtful one is outvoted.

Pure: it reads frames through a callable and returns new instances (provenance
``propagated``; ``predicted`` where the model's point weighed most); it writes nothing. It
reports progress and can be cancelled between frames, so a worker thread can run it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind, Provenance, Visibility
from pose_studio.core.candidates import KeypointCandidates
from pose_studio.core.fusion import Estimate, FusionParams, fuse, label_sigmas, part_scales
from pose_studio.core.motion import TrajectoryParams, trajectory_estimate
from pose_studio.labeling.model_step import Redetect, model_estimates

#: The sigma (px) of a point known only roughly (where it was last seen).
ROUGHLY = 1e6
__all__ = ["FlowParams", "PropagationResult", "Stop", "flow_step", "propagate"]


@dataclass(frozen=True)
class FlowParams:
    """Lucas-Kanade settings and the reliability check."""

    win: int = 9
    levels: int = 3
    iterations: int = 40
    epsilon: float = 0.005
    fb_max: float = 1.0  # px: forward-backward round-trip error over which a point stops
    min_eig: float = 1e-4  # OpenCV's minEigThreshold: flat patches are lost


@dataclass(frozen=True)
class Stop:
    """A keypoint the flow stopped carrying: ``instance`` (index in the start list),
    ``keypoint``, the first ``frame`` it was not carried to, and why."""

    instance: int
    keypoint: int
    frame: int
    reason: str


@dataclass(frozen=True, eq=False)
class PropagationResult:
    """``frames[f]``: one instance per start instance (None where nothing is left);
    ``sigmas[f]``: their keypoint uncertainties in pixels ((n, K), inf: unlabeled);
    ``model[f]``: where the model put each instance's keypoints on that frame, before any
    learned offset ((n, K, 2), NaN where it had nothing): what
    :func:`pose_studio.core.fusion.learn_offsets` compares a person's fixes with."""

    frames: dict[int, tuple[Instance | None, ...]]
    sigmas: dict[int, np.ndarray]
    stops: tuple[Stop, ...]
    cancelled: bool = False
    model: dict[int, np.ndarray] = field(default_factory=dict)


def _gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_BGR2GRAY)


def flow_step(prev_gray: np.ndarray, next_gray: np.ndarray, pts: np.ndarray,
              params: FlowParams | None = None, guess: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Track ``pts`` (N, 2) from one grey frame to the next; ``guess`` (N, 2) is where they
    are expected (constant velocity), LK's starting point: fast limbs then stay in reach.

    Returns:
        New points (N, 2), the forward-backward error per point (inf when lost) and a
        reason per point ("" when the point is reliable).
    """
    p = params or FlowParams()
    n = len(pts)
    if n == 0:
        return np.zeros((0, 2)), np.zeros(0), []
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, p.iterations, p.epsilon)
    kw = {"winSize": (p.win, p.win), "maxLevel": p.levels, "criteria": crit,
          "minEigThreshold": p.min_eig}
    p0 = np.ascontiguousarray(pts, dtype=np.float32).reshape(-1, 1, 2)
    if guess is not None:
        g = np.ascontiguousarray(guess, dtype=np.float32).reshape(-1, 1, 2)
        p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev_gray, next_gray, p0, g.copy(),  # type: ignore[call-overload]
                                              flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **kw)
        lost = st1[:, 0] == 0
        if lost.any():  # the guess led LK astray: try those points without it
            q1, sq1, _ = cv2.calcOpticalFlowPyrLK(prev_gray, next_gray, p0[lost], None, **kw)  # type: ignore[call-overload]
            p1[lost], st1[lost] = q1, sq1
    else:
        p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev_gray, next_gray, p0, None, **kw)  # type: ignore[call-overload]
    p0b, st2, _ = cv2.calcOpticalFlowPyrLK(next_gray, prev_gray, p1, None, **kw)  # type: ignore[call-overload]
    new = p1.reshape(-1, 2).astype(np.float64)
    fb = np.linalg.norm(p0b.reshape(-1, 2) - p0.reshape(-1, 2), axis=1).astype(np.float64)
    h, w = next_gray.shape[:2]
    reasons = []
    for i in range(n):
        x, y = new[i]
        if not (st1[i, 0] and st2[i, 0]) or not np.isfinite(new[i]).all():
            reasons.append("lost by the flow (flat or changed patch)")
            fb[i] = np.inf
        elif not (0 <= x <= w - 1 and 0 <= y <= h - 1):
            reasons.append("left the image")
        elif fb[i] > p.fb_max:
            reasons.append(f"forward-backward error {fb[i]:.1f} px")
        else:
            reasons.append("")
    return new, fb, reasons


def _history_motion(start: Sequence[Instance], history: Sequence[Sequence[Instance | None]]
                    | None, k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Velocity and acceleration (NaN: unknown) of each start instance's points from its
    poses on the frames before (nearest first)."""
    vel = [np.full((k, 2), np.nan) for _ in start]
    acc = [np.full((k, 2), np.nan) for _ in start]
    for i, s in enumerate(start):
        h = list(history[i]) if history is not None and i < len(history) else []
        p1 = h[0] if len(h) > 0 else None
        p2 = h[1] if len(h) > 1 else None
        if p1 is None:
            continue
        ok1 = s.labeled & p1.labeled
        vel[i][ok1] = s.xy[ok1] - p1.xy[ok1]
        if p2 is not None:
            ok2 = ok1 & p2.labeled
            acc[i][ok2] = vel[i][ok2] - (p1.xy[ok2] - p2.xy[ok2])
    return vel, acc


def _history_samples(start: Sequence[Instance],
                     history: Sequence[Sequence[Instance | None]] | None, k: int
                     ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per start instance, its labeled positions over time: ``times (T,)`` (0: the start,
    -1 the frame before in the direction of travel, ...), ``xy (T, K, 2)`` (NaN: not
    labeled there) and ``(T, K)`` which points a person placed (provenance ``user``).
    """
    out = []
    for i, s in enumerate(start):
        h = list(history[i]) if history is not None and i < len(history) else []
        insts = [(0.0, s)] + [(-float(back), inst) for back, inst in enumerate(h, start=1)
                              if inst is not None and inst.num_keypoints == k]
        times = np.array([t for t, _ in insts])
        pos = np.stack([np.where(inst.labeled[:, None], inst.xy, np.nan) for _, inst in insts])
        placed = np.stack([inst.labeled & (inst.provenance == int(Provenance.USER))
                           for _, inst in insts])
        out.append((times, pos.reshape(len(insts), k, 2), placed.reshape(len(insts), k)))
    return out


def propagate(
    get_frame: Callable[[int], np.ndarray],
    start: Sequence[Instance],
    from_frame: int,
    to_frame: int,
    *,
    predictions: Mapping[int, Sequence[Instance]] | None = None,
    candidates: Mapping[int, Sequence[KeypointCandidates | None]] | None = None,
    flip_perm: np.ndarray | None = None,
    redetect: Redetect | None = None,
    model_offsets: Sequence[np.ndarray | None] | None = None,
    sigmas: Sequence[float] | np.ndarray | None = None,
    keypoint_names: Sequence[str] | None = None,
    params: FlowParams | None = None,
    fusion: FusionParams | None = None,
    start_sigmas: Sequence[np.ndarray] | None = None,
    history: Sequence[Sequence[Instance | None]] | None = None,
    trajectory: TrajectoryParams | None = TrajectoryParams(),  # noqa: B008 (frozen)
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> PropagationResult:
    """Carry ``start`` (instances on ``from_frame``) to every frame up to ``to_frame``
    (backward when ``to_frame < from_frame``). See the module docstring.

    Each step combines, per keypoint, the optical flow's estimate and, when filling, the
    model's (:func:`pose_studio.core.fusion.fuse`); where the flow has lost a point while
    filling, the point's own motion (constant velocity from the frames before, its sigma
    growing with the point's acceleration) stands in for the flow. While filling, each
    point's path through the points a person placed on the frames before
    (:mod:`pose_studio.core.motion`, with the sigma its backtest earned) is an estimate too,
    and part of what the model's point is chosen by (its heatmap peaks, the crop it is re-run
    on): a point behind the torso, where the flow follows the torso, goes on along its path.

    Args:
        get_frame: ``frame index -> BGR or grey image``.
        predictions: ``{frame: predicted instances}`` to fill with (None: flow only; a point
            the flow stops carrying then stops for good).
        candidates: ``{frame: per prediction (same order), its heatmap peaks}``: the model's
            point is then the peak that agrees best with the flow and the motion
            (:func:`pose_studio.core.fusion.candidate_estimate`), so a left/right confusion or
            a second-best peak of the model is resolved by where the point was.
        flip_perm: The skeleton's flip permutation: a keypoint's candidates then include its
            flip partner's peaks.
        redetect: Runs the model on a crop around where each person is now (see
            :mod:`pose_studio.labeling.model_step`); the stored predictions are then used
            only for a person it cannot crop.
        model_offsets: Per start instance, the model's offset on that person learned from a
            person's fixes (:func:`pose_studio.core.fusion.learn_offsets`; ``(K, 2)``,
            None: none), added to the model's points.
        sigmas: OKS sigmas, to match carried instances to predictions without track ids.
        keypoint_names: The skeleton's names: each source's sigma is then scaled for the body
            part (:data:`pose_studio.core.fusion.PART_SCALES`: the flow on an elbow is worth
            less than its step error says, a head's path more); None: no scaling.
        start_sigmas: Per start instance, its keypoints' uncertainty in pixels (default:
            by provenance, :func:`pose_studio.core.fusion.label_sigmas`: a placed point
            ``fusion.user_sigma``, an accepted one ``fusion.accepted_sigma``); pass what a
            previous run returned to go on where it stopped.
        history: Per start instance, its poses on the frames before ``from_frame`` (in the
            direction of travel, nearest first, one per frame; None where unknown): the
            motion prior (velocity from the first two) and, while filling, each point's
            trajectory (:func:`pose_studio.core.motion.trajectory_estimate`, from all of
            them and the start, the points of provenance ``user`` as the placed ones;
            ``trajectory=None`` leaves it out).
        progress: ``progress(done, total)`` after each frame.
        cancel: Checked before each frame; True stops (the frames done are returned).
    """
    fp = params or FlowParams()
    fu = fusion or FusionParams()
    step = 1 if to_frame >= from_frame else -1
    targets = list(range(from_frame + step, to_frame + step, step))
    k = start[0].num_keypoints if start else 0
    sig_k = np.asarray(sigmas if sigmas is not None else np.full(k, 0.072), np.float64)
    xy = [np.array(s.xy, dtype=np.float64) for s in start]
    sg = [np.where(s.labeled, label_sigmas(s, fu) if start_sigmas is None else
                   np.asarray(start_sigmas[i], np.float64), np.inf) for i, s in enumerate(start)]
    vel, acc = _history_motion(start, history, k)
    # each source's sigma on each body part, as measured (``core.fusion.PART_SCALES``)
    scales = part_scales(keypoint_names, k) if fu.part_scaled else np.ones((4, k))
    samples = _history_samples(start, history, k)
    carried_on = [s.labeled.copy() for s in start]  # the flow still follows the point
    frames_out: dict[int, tuple[Instance | None, ...]] = {}
    sig_out: dict[int, np.ndarray] = {}
    model_out: dict[int, np.ndarray] = {}
    stops: list[Stop] = []
    prev = _gray(get_frame(from_frame)) if start else None
    filling = predictions is not None or redetect is not None
    cancelled = False
    for n, f in enumerate(targets):
        if cancel is not None and cancel():
            cancelled = True
            break
        cur = _gray(get_frame(f))
        flow_est: list[Estimate] = []
        motion_est: list[Estimate] = []
        for i in range(len(start)):
            live = np.isfinite(sg[i])
            known_v = np.isfinite(vel[i]).all(1)
            guess = xy[i] + np.where(known_v[:, None], vel[i], 0.0)
            f_xy = np.zeros((k, 2))
            f_sg = np.full(k, np.inf)
            idx = np.flatnonzero(live & carried_on[i])
            if idx.size:
                pts, fb, why = flow_step(prev, cur, xy[i][idx], fp, guess=guess[idx])  # type: ignore[arg-type]
                for m, j in enumerate(idx):
                    if why[m]:
                        stops.append(Stop(i, int(j), f, why[m]))
                        carried_on[i][j] = False
                        continue
                    # LK on a thin, fast limb locks onto the still background behind it
                    # and reports little motion: judge it by how fast the point was moving
                    speed = max(float(np.linalg.norm(pts[m] - xy[i][j])),
                                float(np.linalg.norm(vel[i][j])) if known_v[j] else 0.0)
                    grow = fu.flow_sigma + fu.flow_motion * speed + fu.flow_fb * fb[m]
                    f_xy[j] = pts[m]
                    f_sg[j] = float(np.hypot(sg[i][j], grow))
            flow_est.append(Estimate(f_xy, f_sg, Provenance.PROPAGATED, start[i].visibility))
            # the point's own motion: where constant velocity puts it, as sure as the motion
            # was steady (acceleration known) or slow (only the velocity known)
            a = np.where(np.isfinite(acc[i]).all(1), np.linalg.norm(np.nan_to_num(acc[i]), axis=1),
                         0.5 * np.linalg.norm(np.nan_to_num(vel[i]), axis=1))
            m_sg = np.hypot(sg[i], fu.motion_sigma + fu.motion_accel * a)
            # only where the flow has nothing this frame: what the image shows beats what the
            # motion so far suggests (a point that stops must stop), and the model may still
            # outvote it
            m_ok = live & known_v & ~np.isfinite(f_sg) & filling
            motion_est.append(Estimate(guess, np.where(m_ok, m_sg, np.inf),
                                       Provenance.PROPAGATED, start[i].visibility))
        model: list[Estimate | None] = [None] * len(start)
        traj_est: list[Estimate | None] = [None] * len(start)
        if filling and trajectory is not None:
            for i in range(len(start)):
                t_i, xy_i, placed_i = samples[i]
                txy, tsg = trajectory_estimate(t_i, xy_i, float(n + 1), trajectory, placed_i)
                if np.isfinite(tsg).any():
                    traj_est[i] = Estimate(txy, tsg, Provenance.PROPAGATED, start[i].visibility)
        if filling:
            priors: list[Estimate | None] = []
            for i in range(len(start)):
                known = [e for e in (flow_est[i], motion_est[i], traj_est[i]) if e is not None]
                pxy, psg, _ = fuse(known, fu)
                # a point neither the flow nor the motion has is still where it was last,
                # roughly: enough to find the person, not to choose between peaks
                last = ~np.isfinite(psg) & np.isfinite(sg[i])
                pxy = np.where(last[:, None], xy[i], pxy)
                psg = np.where(last, ROUGHLY, psg)
                ok = np.isfinite(psg)
                priors.append(Estimate(pxy, psg, Provenance.PROPAGATED) if ok.any() else None)
            model = model_estimates(f, priors, [s.track_id for s in start],
                                    predictions=predictions, candidates=candidates,
                                    redetect=redetect, oks_sigmas=sig_k, fusion=fu,
                                    flip_perm=flip_perm)
            raw = np.full((len(start), k, 2), np.nan)
            for i, est_i in enumerate(model):
                if est_i is None:
                    continue
                raw[i] = np.where(est_i.valid[:, None], est_i.xy, np.nan)
                off = model_offsets[i] if model_offsets is not None else None
                if off is not None:
                    model[i] = est_i.shifted(off)
            model_out[f] = raw
        insts: list[Instance | None] = []
        sig_f = np.full((len(start), k), np.inf)
        for i, s in enumerate(start):
            est = [e.scaled(scales[n_src]) for n_src, e in
                   enumerate((flow_est[i], motion_est[i], model[i], traj_est[i]))
                   if e is not None]
            fxy, fsg, w = fuse(est, fu)
            w_model = w[2] if model[i] is not None else np.zeros(k)
            ok = np.isfinite(fsg)
            # a point the model has just filled in had no place before: no velocity yet
            new_vel = np.where((ok & np.isfinite(sg[i]))[:, None], fxy - xy[i], np.nan)
            acc[i] = np.where(ok[:, None] & np.isfinite(vel[i]), new_vel - vel[i], np.nan)
            vel[i] = new_vel
            xy[i] = np.where(ok[:, None], fxy, xy[i])
            sg[i] = fsg
            sig_f[i] = fsg
            if not ok.any():
                insts.append(None)
                continue
            prov = np.full(k, int(Provenance.PROPAGATED), dtype=np.uint8)
            prov = np.where(w_model > 1 - w_model, int(Provenance.PREDICTED), prov)
            vis = np.where(ok, np.where(s.visibility > 0, s.visibility, int(Visibility.VISIBLE)),
                           int(Visibility.UNLABELED)).astype(np.uint8)
            insts.append(Instance(xy=np.where(ok[:, None], fxy, 0.0), visibility=vis,
                                  kind=InstanceKind.USER,
                                  provenance=np.where(ok, prov, int(Provenance.USER)),
                                  track_id=s.track_id))
        frames_out[f] = tuple(insts)
        sig_out[f] = sig_f
        prev = cur
        if progress is not None:
            progress(n + 1, len(targets))
    return PropagationResult(frames_out, sig_out, tuple(stops), cancelled, model_out)
