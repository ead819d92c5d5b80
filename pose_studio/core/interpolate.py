"""Interpolation between a track's keyframes (user instances), per keypoint.

* ``linear``: straight lines between consecutive keyframes.
* ``cubic``: a cubic Hermite curve between consecutive keyframes whose tangents are the
  finite-difference velocities at the keyframes (Catmull-Rom for uneven spacing); with two
  keyframes, or at the ends of a run, the tangent is the secant, so it falls back to linear.
  Both reproduce motion at constant velocity exactly.

A keypoint is interpolated between two keyframes only when both label it (visibility > 0): a
point missing at either end is not invented. It is hidden (1) when hidden at either end.
Results are new user instances with provenance ``interpolated`` on the interpolated points,
the keyframes' track, no store id: proposals to be added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind, Provenance, Visibility
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.proposals import Proposal, is_keyframe, place_generated

Method = Literal["linear", "cubic"]


class InterpolationError(PoseStudioError):
    """Keyframes that cannot be interpolated (too few, or of different skeletons)."""


def _hermite(p0: np.ndarray, p1: np.ndarray, m0: np.ndarray, m1: np.ndarray, s: float,
             h: float) -> np.ndarray:
    s2, s3 = s * s, s * s * s
    return ((2 * s3 - 3 * s2 + 1) * p0 + (s3 - 2 * s2 + s) * h * m0
            + (-2 * s3 + 3 * s2) * p1 + (s3 - s2) * h * m1)


def _tangents(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Finite-difference velocities at the keyframes ``t`` of positions ``p`` (n, 2)."""
    n = len(t)
    m = np.zeros_like(p)
    if n < 2:
        return m
    m[0] = (p[1] - p[0]) / (t[1] - t[0])
    m[-1] = (p[-1] - p[-2]) / (t[-1] - t[-2])
    if n > 2:
        m[1:-1] = (p[2:] - p[:-2]) / (t[2:] - t[:-2])[:, None]
    return m


def interpolate_track(
    keyframes: Mapping[int, Instance],
    frames: Iterable[int],
    method: Method = "linear",
) -> dict[int, Instance]:
    """Proposals for ``frames`` (those strictly between the first and last keyframe and not
    keyframes themselves) from the user instances ``keyframes`` ({frame: instance}) of one
    track. Frames where no keypoint can be interpolated get no instance.
    """
    if method not in ("linear", "cubic"):
        raise InterpolationError(f"unknown interpolation {method!r}: use linear or cubic")
    keys = sorted(keyframes)
    if len(keys) < 2:
        return {}
    k = keyframes[keys[0]].num_keypoints
    if any(keyframes[f].num_keypoints != k for f in keys):
        raise InterpolationError("keyframes have different numbers of keypoints")
    t = np.asarray(keys, dtype=np.float64)
    xy = np.stack([keyframes[f].xy for f in keys])  # (n, K, 2)
    vis = np.stack([keyframes[f].visibility for f in keys])  # (n, K)
    wanted = sorted({int(f) for f in frames} - set(keys))
    wanted = [f for f in wanted if keys[0] < f < keys[-1]]
    if not wanted:
        return {}
    seg = np.searchsorted(t, wanted) - 1  # keyframe index before each wanted frame
    out_xy = np.zeros((len(wanted), k, 2))
    out_vis = np.zeros((len(wanted), k), dtype=np.uint8)
    for j in range(k):
        lab = vis[:, j] > 0
        # tangents per run of consecutive keyframes that label the point
        m = np.zeros((len(keys), 2))
        if method == "cubic":
            start = 0
            while start < len(keys):
                if not lab[start]:
                    start += 1
                    continue
                end = start
                while end + 1 < len(keys) and lab[end + 1]:
                    end += 1
                m[start:end + 1] = _tangents(t[start:end + 1], xy[start:end + 1, j])
                start = end + 1
        for w, (f, a) in enumerate(zip(wanted, seg)):
            b = a + 1
            if not (lab[a] and lab[b]):
                continue
            h = t[b] - t[a]
            s = (f - t[a]) / h
            if method == "linear":
                out_xy[w, j] = xy[a, j] + s * (xy[b, j] - xy[a, j])
            else:
                out_xy[w, j] = _hermite(xy[a, j], xy[b, j], m[a], m[b], s, h)
            hidden = vis[a, j] == Visibility.OCCLUDED or vis[b, j] == Visibility.OCCLUDED
            out_vis[w, j] = Visibility.OCCLUDED if hidden else Visibility.VISIBLE
    first = keyframes[keys[0]]
    out: dict[int, Instance] = {}
    for w, f in enumerate(wanted):
        if not out_vis[w].any():
            continue
        prov = np.where(out_vis[w] > 0, int(Provenance.INTERPOLATED), int(Provenance.USER))
        out[f] = Instance(xy=out_xy[w], visibility=out_vis[w], kind=InstanceKind.USER,
                          provenance=prov, track_id=first.track_id)
    return out


def interpolation_proposal(items: Sequence[tuple[int, Instance]], frames: tuple[int, int],
                           method: Method = "linear", track_id: int | None = None) -> Proposal:
    """Interpolate every track (or only ``track_id``) over ``frames`` (half-open) from its
    keyframes in that range, as a proposal (see :func:`place_generated`). Untracked user
    instances count as one track when no frame has two of them."""
    lo, hi = frames
    keys: dict[int | None, dict[int, Instance]] = {}
    for f, inst in items:
        if not (lo <= f < hi) or not is_keyframe(inst):
            continue
        if track_id is not None and inst.track_id != track_id:
            continue
        per = keys.setdefault(inst.track_id, {})
        if f in per:
            if inst.track_id is None:
                raise InterpolationError(
                    f"frame {f} has two untracked labels: track them, or name one with --track")
            raise InterpolationError(f"frame {f} has two labels of track {inst.track_id}")
        per[f] = inst
    generated = []
    for tid, per in keys.items():
        got = interpolate_track(per, range(lo, hi), method)
        generated += [(f, inst.replace(track_id=tid)) for f, inst in sorted(got.items())]
    return place_generated(generated, [(f, i) for f, i in items if lo <= f < hi])
