"""Keypoint helpers the readers share: skeletons from a file's names, points a file can't mean,
and mapping a dataset onto the project's skeleton.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from pose_studio.core.skeleton import Skeleton, SkeletonError
from pose_studio.core.skeleton_presets import BUILTIN_SKELETONS
from pose_studio.formats.dataset import Annotation, Dataset, Frame
from pose_studio.formats.fileio import FormatError

__all__ = ["COORD_LIMIT", "clean_points", "map_to_skeleton", "skeleton_from_names"]

#: Coordinates beyond this (pixels) are not a position on any image: read as "not labeled".
COORD_LIMIT = 1e7


def clean_points(points: np.ndarray) -> tuple[np.ndarray, int]:
    """``(K, 3)`` points with non-finite or absurd coordinates turned into unlabeled NaN rows.

    Returns the cleaned copy and how many labeled points were turned (for ``not_kept``). Rows
    that were already ``v == 0`` with NaN coordinates are not counted.
    """
    p = np.array(points, dtype=np.float64, copy=True)
    xy = p[:, :2]
    bad_xy = ~np.isfinite(xy).all(axis=1) | (np.abs(np.nan_to_num(xy)) > COORD_LIMIT).any(axis=1)
    bad_v = ~np.isin(p[:, 2], (0.0, 1.0, 2.0))
    bad = bad_xy | bad_v
    counted = bad & ~(np.isnan(xy).all(axis=1) & (p[:, 2] == 0))
    p[bad, 0:2] = np.nan
    p[bad, 2] = 0
    return p, int(counted.sum())


def skeleton_from_names(
    names: Sequence[str],
    *,
    name: str = "custom",
    edges: Sequence[tuple[int, int]] = (),
    flip_pairs: Sequence[tuple[int, int]] | None = None,
    not_kept: list[str] | None = None,
) -> Skeleton:
    """A skeleton for a file's keypoint names.

    Names equal (in order) to a built-in layout take that layout's OKS sigmas, colours and
    name; the file's own limbs and flip pairs win when it has them. Without flip pairs,
    ``left_*``/``right_*`` names are paired. Pairs the skeleton refuses (a keypoint in two flip
    pairs, a limb to itself) are dropped and said in ``not_kept``.
    """
    names = tuple(str(n) for n in names)
    if not names:
        raise FormatError("the file names no keypoints")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise FormatError(f"keypoint name {dup!r} appears twice in the file's skeleton")
    k = len(names)
    good_edges = [(int(a), int(b)) for a, b in edges if 0 <= a < k and 0 <= b < k and a != b]
    flips: list[tuple[int, int]] = []
    if flip_pairs is not None:
        used: set[int] = set()
        for a, b in (_oriented(p, names) for p in flip_pairs):
            if 0 <= a < k and 0 <= b < k and a != b and a not in used and b not in used:
                flips.append((int(a), int(b)))
                used.update((a, b))
    dropped = len(edges) - len(good_edges) + (len(flip_pairs or ()) - len(flips))
    if dropped and not_kept is not None:
        not_kept.append(f"{dropped} limb/symmetry pair(s) of the skeleton that do not fit it")
    for known in BUILTIN_SKELETONS.values():
        if known.keypoints == names:
            return dataclasses.replace(
                known,
                edges=tuple(good_edges) or known.edges,
                flip_pairs=tuple(flips) if flip_pairs else known.flip_pairs,
            )
    try:
        if flip_pairs is None or not flips:
            return Skeleton(name=name or "custom", keypoints=names, edges=tuple(good_edges),
                            flip_pairs=_name_pairs(names))
        return Skeleton(name=name or "custom", keypoints=names, edges=tuple(good_edges),
                        flip_pairs=tuple(flips))
    except SkeletonError as exc:
        raise FormatError(str(exc)) from None


def _side(name: str) -> int:
    low = name.lower()
    return -1 if low.startswith(("left", "l_")) else 1 if low.startswith(("right", "r_")) else 0


def _oriented(pair: tuple[int, int], names: tuple[str, ...]) -> tuple[int, int]:
    """A flip pair as (left, right): sides come from the first member (see Skeleton.side)."""
    a, b = int(pair[0]), int(pair[1])
    if not (0 <= a < len(names) and 0 <= b < len(names)):
        return a, b
    sa, sb = _side(names[a]), _side(names[b])
    if (sa, sb) in ((1, -1), (1, 0), (0, -1)) or (sa == sb and a > b):
        return b, a
    return a, b


def _name_pairs(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    try:
        return Skeleton.from_dict({"keypoints": list(names)}).flip_pairs
    except SkeletonError:
        return ()


def map_to_skeleton(ds: Dataset, target: Skeleton | None) -> Dataset:
    """The dataset with every annotation's keypoints in ``target``'s order.

    Keypoints map by name; when no name matches and the counts agree, by position. Keypoints of
    the file that the target lacks are named in ``not_kept``; target keypoints the file lacks
    are unlabeled. ``target`` None or equal layouts: the dataset unchanged.
    """
    if target is None or target.keypoints == ds.skeleton.keypoints:
        return ds
    src = ds.skeleton.keypoints
    common = [n for n in src if n in target.keypoints]
    if common:
        pairs = [(src.index(n), target.keypoints.index(n)) for n in common]
        missing = [n for n in src if n not in target.keypoints]
        if missing:
            ds.not_kept.append(
                f"{len(missing)} keypoint(s) the project's skeleton lacks: "
                + ", ".join(missing[:12]) + (" ..." if len(missing) > 12 else "")
            )
    elif len(src) == target.num_keypoints:
        pairs = [(i, i) for i in range(len(src))]
        ds.not_kept.append(
            f"keypoint names of the file ({', '.join(src[:4])}...) differ from the project's; "
            "mapped by position"
        )
    else:
        raise FormatError(
            f"the file's {len(src)} keypoints ({', '.join(src[:4])}...) share no name with the "
            f"project's skeleton {target.name!r} ({target.num_keypoints} keypoints)"
        )
    si = np.array([a for a, _ in pairs], dtype=np.intp)
    ti = np.array([b for _, b in pairs], dtype=np.intp)
    k = target.num_keypoints

    def remap(a: Annotation) -> Annotation:
        pts = np.full((k, 3), np.nan)
        pts[:, 2] = 0
        pts[ti] = a.points[si]
        scores = None
        if a.kp_scores is not None:
            scores = np.full(k, np.nan, dtype=np.float32)
            scores[ti] = a.kp_scores[si]
        return dataclasses.replace(a, points=pts, kp_scores=scores)

    frames = [
        Frame(f.source, f.index, tuple(remap(a) for a in f.annotations), f.regions, f.extra)
        for f in ds.frames
    ]
    return dataclasses.replace(ds, skeleton=target, frames=frames)
