"""Left/right: swap one keypoint with its flip partner, swap a whole instance's sides, and find
likely swaps (crossed limbs within a frame, a side that jumps between frames).

Swapping returns a new instance (positions, visibilities, scores and provenances move with
the points; the moved points are marked as user edits); nothing here writes anything.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pose_studio.core.annotation import Instance, Provenance
from pose_studio.core.skeleton import Skeleton, SkeletonError


def _permuted(inst: Instance, perm: np.ndarray, moved: np.ndarray) -> Instance:
    prov = np.array(inst.provenance, copy=True)[perm]
    prov[moved] = int(Provenance.USER)
    return inst.replace(
        xy=inst.xy[perm], visibility=inst.visibility[perm], provenance=prov,
        kp_scores=None if inst.kp_scores is None else inst.kp_scores[perm],
    )


def flip_partner(skeleton: Skeleton, k: int) -> int | None:
    for a, b in skeleton.flip_pairs:
        if k == a:
            return b
        if k == b:
            return a
    return None


def swap_keypoint(inst: Instance, k: int, skeleton: Skeleton) -> Instance:
    """Swap keypoint ``k`` with its flip partner (e.g. left ankle <-> right ankle)."""
    j = flip_partner(skeleton, k)
    if j is None:
        raise SkeletonError(f"keypoint {skeleton.keypoints[k]!r} has no left/right partner "
                            f"in skeleton {skeleton.name!r}")
    perm = np.arange(inst.num_keypoints)
    perm[k], perm[j] = j, k
    moved = np.zeros(inst.num_keypoints, bool)
    moved[[k, j]] = True
    return _permuted(inst, perm, moved)


def swap_sides(inst: Instance, skeleton: Skeleton) -> Instance:
    """Swap every left keypoint with its right partner (the skeleton's flip pairs)."""
    if not skeleton.flip_pairs:
        raise SkeletonError(f"skeleton {skeleton.name!r} has no left/right pairs to swap")
    perm = skeleton.flip_permutation()
    return _permuted(inst, perm, perm != np.arange(len(perm)))


@dataclass(frozen=True)
class SwapCandidate:
    """A likely left/right swap: on ``frame``, the flip pair ``pair`` (keypoint indices) of the
    instance ``track`` (its track id, or its index on the frame when untracked), why, and how
    sure (0..1)."""

    frame: int
    track: int
    pair: tuple[int, int]
    reason: str
    score: float


def _scale(inst: Instance) -> float:
    b = inst.box()
    return float(np.sqrt(max(b[2], 1.0) * max(b[3], 1.0))) if b is not None else 1.0


def crossed_limbs(inst: Instance, skeleton: Skeleton, *, min_len: float = 0.12
                  ) -> list[tuple[tuple[int, int], float]]:
    """Flip pairs whose left-to-right direction points against the body's (the mean
    left-to-right direction of the other labeled pairs): ``[(pair, score)]``. Pairs shorter
    than ``min_len`` body scales are ignored (seen side-on, left and right overlap)."""
    pairs = [(a, b) for a, b in skeleton.flip_pairs if inst.labeled[a] and inst.labeled[b]]
    if len(pairs) < 3:
        return []
    scale = _scale(inst)
    vecs = np.array([inst.xy[b] - inst.xy[a] for a, b in pairs])
    lens = np.linalg.norm(vecs, axis=1)
    out = []
    for i, (a, b) in enumerate(pairs):
        if lens[i] < min_len * scale:
            continue
        others = [j for j in range(len(pairs)) if j != i and lens[j] >= min_len * scale]
        if len(others) < 2:
            continue
        body = vecs[others].sum(axis=0)
        nb = float(np.linalg.norm(body))
        if nb == 0:
            continue
        cos = float(vecs[i] @ body) / (lens[i] * nb)
        if cos < -0.5:
            out.append(((a, b), min(1.0, -cos)))
    return out


def side_jumps(prev: Instance, cur: Instance, skeleton: Skeleton, *, ratio: float = 0.5,
               min_move: float = 0.1) -> list[tuple[tuple[int, int], float]]:
    """Flip pairs that look exchanged between two consecutive frames: each point of the pair
    is much nearer to where its partner was (``swapped < ratio * straight``) and the straight
    movement is more than ``min_move`` body scales. ``[(pair, score)]``."""
    scale = max(_scale(prev), _scale(cur))
    out = []
    for a, b in skeleton.flip_pairs:
        if not (prev.labeled[a] and prev.labeled[b] and cur.labeled[a] and cur.labeled[b]):
            continue
        straight = np.linalg.norm(cur.xy[a] - prev.xy[a]) + np.linalg.norm(cur.xy[b] - prev.xy[b])
        crossed = np.linalg.norm(cur.xy[a] - prev.xy[b]) + np.linalg.norm(cur.xy[b] - prev.xy[a])
        if straight > 2 * min_move * scale and crossed < ratio * straight:
            out.append(((a, b), min(1.0, float(1.0 - crossed / straight))))
    return out


def detect_swaps(track: Sequence[tuple[int, Instance]], skeleton: Skeleton,
                 track_key: int = 0) -> list[SwapCandidate]:
    """Likely swaps along one track (``(frame, instance)`` in any order): crossed limbs on
    each frame and sides that jump between consecutive frames. Highest score first."""
    seq = sorted(track, key=lambda t: t[0])
    out: list[SwapCandidate] = []
    for f, inst in seq:
        for pair, sc in crossed_limbs(inst, skeleton):
            out.append(SwapCandidate(f, track_key, pair, "crossed limbs", sc))
    for (f0, a), (f1, b) in itertools.pairwise(seq):
        if f1 != f0 + 1:
            continue
        for pair, sc in side_jumps(a, b, skeleton):
            out.append(SwapCandidate(f1, track_key, pair, "side jumps", sc))
    out.sort(key=lambda c: (-c.score, c.frame))
    return out
