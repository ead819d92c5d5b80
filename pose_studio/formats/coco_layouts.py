"""Keypoint layouts of COCO categories and how they land on a project skeleton (pure).

A category names its keypoints (``keypoints``), or names none (Halpe's and Datumaro's files): its
layout is then known by the number of points (17, 26, 133, 136: the built-in presets) or only by
position. COCO-WholeBody keeps 17 body points in ``keypoints`` and the other 116 in four arrays
(``foot_kpts``, ``face_kpts``, ``lefthand_kpts``, ``righthand_kpts``): together they are the
``wholebody133`` layout.

:func:`map_layout` puts a layout onto a skeleton: in place when the names are the same, by name
when they are the same names in another order or a part of them, by position when the file
numbers its points or names none and the counts agree. File points that have no place in the
skeleton are listed (the importer says so); a layout that shares too few names is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pose_studio.core.skeleton import COCO17, Skeleton
from pose_studio.core.skeleton_presets import BUILTIN_SKELETONS

__all__ = [
    "WHOLEBODY_PARTS",
    "KeypointMap",
    "Layout",
    "category_layout",
    "map_layout",
    "norm_name",
    "skeleton_for_layout",
]

#: COCO-WholeBody's arrays, in the order of the ``wholebody133`` skeleton.
WHOLEBODY_PARTS: tuple[tuple[str, int], ...] = (
    ("keypoints", 17), ("foot_kpts", 6), ("face_kpts", 68), ("lefthand_kpts", 21),
    ("righthand_kpts", 21),
)


def _presets_by_count() -> dict[int, Skeleton]:
    from pose_studio.core.skeleton_presets import HALPE26, HALPE136, WHOLEBODY133

    return {17: COCO17, 26: HALPE26, 133: WHOLEBODY133, 136: HALPE136}


def norm_name(name: str) -> str:
    """Names compared case-, space- and hyphen-insensitively (``Left Eye`` == ``left_eye``)."""
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


@dataclass(frozen=True)
class Layout:
    """The keypoints of one category as the file lays them out.

    Attributes:
        names: One name per point, in file order (``"1"``.. ``"n"`` when the file names none
            and the count matches no preset).
        named: The file (or a preset known by the count) gave real names.
        wholebody: The COCO-WholeBody arrays layout (17 + 6 + 68 + 21 + 21).
        preset: The built-in skeleton the layout is (by names or by count), if any.
        note: How an unnamed layout was understood, for the import summary.
    """

    names: tuple[str, ...]
    named: bool
    wholebody: bool = False
    preset: Skeleton | None = None
    note: str | None = None

    @property
    def num_points(self) -> int:
        return len(self.names)


def category_layout(
    category_name: str, names: Sequence[str], n_points: int | None, wholebody: bool
) -> Layout | str:
    """The layout of a category from its keypoint names, the points its annotations carry and
    whether they carry the WholeBody arrays; a problem string when it cannot be told."""
    presets = _presets_by_count()
    wb = presets[133]
    if wholebody:
        if names and tuple(norm_name(n) for n in names) != tuple(
                norm_name(n) for n in COCO17.keypoints):
            return (f"category {category_name!r}: its annotations have COCO-WholeBody arrays but "
                    "its keypoints are not COCO's 17 body points")
        return Layout(wb.keypoints, True, wholebody=True, preset=wb)
    if names:
        names_t = tuple(str(n) for n in names)
        known = next((s for s in BUILTIN_SKELETONS.values() if s.keypoints == names_t), None)
        return Layout(names_t, True, preset=known)
    if n_points is None or n_points <= 0:
        return f"category {category_name!r} names no keypoints and has no annotation with any"
    preset = presets.get(n_points)
    if preset is not None:
        note = (f"category {category_name!r} names no keypoints; its {n_points} points are read "
                f"as the {preset.name} layout (by their count)")
        return Layout(preset.keypoints, True, preset=preset, note=note)
    return Layout(tuple(str(i + 1) for i in range(n_points)), False)


@dataclass(frozen=True)
class KeypointMap:
    """Where each file point goes: ``target[i]`` is the skeleton index, -1 for no place."""

    target: np.ndarray
    how: str  # "identical" | "by name" | "by position"
    dropped: tuple[str, ...] = field(default=())

    @property
    def kept(self) -> np.ndarray:
        return self.target >= 0


def map_layout(layout: Layout, skeleton: Skeleton, category_name: str) -> KeypointMap | str:
    """Map a category's layout onto ``skeleton``; a problem string when it does not fit."""
    k = skeleton.num_keypoints
    n = layout.num_points
    proj = [norm_name(x) for x in skeleton.keypoints]
    if not layout.named:
        if n == k:
            return KeypointMap(np.arange(k), "by position")
        return (f"category {category_name!r}: unknown keypoint layout: the category names no "
                f"keypoints and its annotations have {n} points; the project skeleton "
                f"{skeleton.name!r} has {k}")
    norm = [norm_name(x) for x in layout.names]
    if norm == proj:
        return KeypointMap(np.arange(k), "identical")
    if len(set(norm)) != len(norm):
        return f"category {category_name!r}: duplicate keypoint names"
    if n == k and norm in ([str(i) for i in range(1, k + 1)], [str(i) for i in range(k)]):
        return KeypointMap(np.arange(k), "by position")
    index = {x: i for i, x in enumerate(proj)}
    target = np.array([index.get(x, -1) for x in norm], dtype=np.intp)
    mapped = int((target >= 0).sum())
    # The same kind of body: most of the file's points have a place (CrowdPose's 14 in COCO's
    # 17), or every point of the skeleton is in the file (a whole-body file into a body
    # skeleton). Two shared ear names are not.
    if mapped == 0 or (mapped * 2 < n and mapped < k):
        unknown = [layout.names[i] for i in range(n) if target[i] < 0]
        shown = ", ".join(repr(u) for u in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        return (
            f"category {category_name!r}: unknown keypoint layout: {len(unknown)} of its "
            f"{n} keypoints ({shown}) are not in the project skeleton {skeleton.name!r} "
            f"({k} keypoints: {', '.join(skeleton.keypoints[:4])}, ...)"
        )
    dropped = tuple(layout.names[i] for i in range(n) if target[i] < 0)
    return KeypointMap(target, "by name", dropped)


def skeleton_for_layout(
    layout: Layout, category: Mapping[str, Any], name: str
) -> tuple[Skeleton, list[str]]:
    """The skeleton a category defines (for a new project), with notes on what was changed.

    A known layout is the built-in skeleton (its OKS sigmas and flips). Otherwise the names and
    the 1-based ``skeleton`` limbs; limbs that point past the keypoints (CrowdPose ships COCO's
    17-point limbs with 14 names) are left out and named.
    """
    notes = [layout.note] if layout.note else []
    if layout.preset is not None:
        return layout.preset, notes
    names = layout.names
    raw = category.get("skeleton") or []
    edges: list[tuple[int, int]] = []
    dropped: list[Any] = []
    if isinstance(raw, list):
        # The same 0/1-based rule as core.skeleton.coco_limbs, one pair at a time, so a bad
        # limb is left out instead of refusing the skeleton.
        ints = [v for p in raw if isinstance(p, list) for v in p
                if isinstance(v, int) and not isinstance(v, bool)]
        shift = 0 if ints and min(ints) == 0 and max(ints) < len(names) else 1
        for pair in raw:
            try:
                edge = _limb(pair, names, shift)
            except (ValueError, TypeError):
                dropped.append(pair)
                continue
            edges.append(edge)
    if dropped:
        shown = ", ".join(str(p) for p in dropped[:4]) + (" ..." if len(dropped) > 4 else "")
        notes.append(f"category {name!r}: {len(dropped)} limb(s) of its 'skeleton' ({shown}) "
                     f"name keypoints it does not have (1..{len(names)}): left out")
    sk = Skeleton(name=re.sub(r"\s+", "_", name.strip()) or "custom", keypoints=names,
                  edges=tuple(dict.fromkeys(e for e in edges if e[0] != e[1])),
                  flip_pairs=Skeleton.from_dict({"keypoints": list(names)}).flip_pairs)
    return sk, notes


def _limb(pair: Any, names: Sequence[str], shift: int) -> tuple[int, int]:
    if not isinstance(pair, list) or len(pair) != 2:
        raise ValueError(pair)
    ends = []
    for v in pair:
        if isinstance(v, str) and v in names:
            ends.append(list(names).index(v))
        elif isinstance(v, int) and not isinstance(v, bool):
            ends.append(v - shift)
        else:
            raise ValueError(pair)
    a, b = ends
    if not (0 <= a < len(names) and 0 <= b < len(names)) or a == b:
        raise ValueError(pair)
    return a, b
