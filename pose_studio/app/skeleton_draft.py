"""The skeleton editor's working copy (no Qt): keypoints, edges, flip pairs and colours being
edited, and the :class:`~pose_studio.core.skeleton_edit.SkeletonChange` they amount to.

Each keypoint of the draft remembers which keypoint of the project's skeleton it was (or that
it is new), so renaming, reordering, adding and removing become one change in which every
instance follows: a kept keypoint keeps its values under its new name and place, a new one
starts unlabeled, a removed one goes (undo brings it back). Edges and flip pairs name keypoints
by a key that survives reordering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pose_studio.core.skeleton import DEFAULT_SIGMA, SIDE_COLORS, Skeleton, SkeletonError
from pose_studio.core.skeleton_edit import NEW, SkeletonChange

__all__ = ["DraftPoint", "SkeletonDraft"]

_NAME = re.compile(r"^[^\s,;\"'][^,;\"']*$")  # no separators files use, no leading space
#: Names of the built-in layouts: an edited copy gets another name (the layout is not theirs).
_BUILT_IN = ("coco17", "halpe26", "wholebody133")


def _side(name: str) -> str:
    """The side a name like ``left_x`` / ``r_x`` says (``center`` otherwise)."""
    return Skeleton("probe", (name,)).side(0)


@dataclass
class DraftPoint:
    key: int
    name: str
    source: int  # index in the project's skeleton, or NEW
    color: tuple[int, int, int]
    sigma: float


class SkeletonDraft:
    """See the module docstring. Every method raises :class:`SkeletonError` with one clear line
    when asked for something the skeleton cannot be."""

    def __init__(self, skeleton: Skeleton) -> None:
        self.original = skeleton
        self.name = skeleton.name
        self.points = [DraftPoint(i, n, i, tuple(skeleton.colors[i]), float(skeleton.sigmas[i]))  # type: ignore[arg-type]
                       for i, n in enumerate(skeleton.keypoints)]
        self.edges: list[tuple[int, int]] = [tuple(e) for e in skeleton.edges]  # type: ignore[misc]
        self.flips: list[tuple[int, int]] = [tuple(p) for p in skeleton.flip_pairs]  # type: ignore[misc]
        self._next_key = skeleton.num_keypoints

    # --- lookup ----------------------------------------------------------------------------------
    def index(self, key: int) -> int:
        for i, p in enumerate(self.points):
            if p.key == key:
                return i
        raise SkeletonError(f"no keypoint with key {key}")

    def point(self, key: int) -> DraftPoint:
        return self.points[self.index(key)]

    def key_of(self, name: str) -> int:
        for p in self.points:
            if p.name == name:
                return p.key
        raise SkeletonError(f"the skeleton has no keypoint {name!r}")

    def partner(self, key: int) -> int | None:
        for a, b in self.flips:
            if key in (a, b):
                return b if a == key else a
        return None

    def _check_name(self, name: str, key: int | None = None) -> str:
        name = name.strip()
        if not name:
            raise SkeletonError("a keypoint needs a name")
        if not _NAME.match(name):
            raise SkeletonError(f"{name!r}: keypoint names cannot hold commas, semicolons or "
                                "quotes")
        if any(p.name == name and p.key != key for p in self.points):
            raise SkeletonError(f"the skeleton already has a keypoint named {name!r}")
        return name

    # --- keypoints -------------------------------------------------------------------------------
    def add(self, name: str, after: int | None = None) -> int:
        """A new keypoint (unlabeled on every instance) after keypoint ``after`` (key), else at
        the end; returns its key."""
        name = self._check_name(name)
        color = tuple(SIDE_COLORS[_side(name)])
        key = self._next_key
        self._next_key += 1
        at = len(self.points) if after is None else self.index(after) + 1
        self.points.insert(at, DraftPoint(key, name, NEW, color, DEFAULT_SIGMA))  # type: ignore[arg-type]
        return key

    def rename(self, key: int, name: str) -> None:
        self.point(key).name = self._check_name(name, key)

    def remove(self, key: int) -> None:
        """Remove a keypoint, its edges and its flip pair."""
        if len(self.points) == 1:
            raise SkeletonError("a skeleton needs at least one keypoint")
        del self.points[self.index(key)]
        self.edges = [e for e in self.edges if key not in e]
        self.flips = [p for p in self.flips if key not in p]

    def move(self, key: int, delta: int) -> None:
        """Move a keypoint up (-1) or down (+1) in the order (the click-to-place order)."""
        i = self.index(key)
        j = max(0, min(len(self.points) - 1, i + delta))
        self.points.insert(j, self.points.pop(i))

    def set_color(self, key: int, rgb: tuple[int, int, int]) -> None:
        if len(rgb) != 3 or any(not 0 <= int(c) <= 255 for c in rgb):
            raise SkeletonError(f"a colour is three values from 0 to 255, not {rgb!r}")
        self.point(key).color = (int(rgb[0]), int(rgb[1]), int(rgb[2]))

    # --- edges and flip pairs --------------------------------------------------------------------
    def add_edge(self, a: int, b: int) -> None:
        self.index(a), self.index(b)
        if a == b:
            raise SkeletonError("an edge joins two different keypoints")
        if (a, b) in self.edges or (b, a) in self.edges:
            raise SkeletonError(f"{self.point(a).name} and {self.point(b).name} are already "
                                "joined")
        self.edges.append((a, b))

    def remove_edge(self, a: int, b: int) -> None:
        self.edges = [e for e in self.edges if e not in ((a, b), (b, a))]

    def set_partner(self, key: int, other: int | None) -> None:
        """Make ``key`` and ``other`` a left/right flip pair (None: ``key`` has no partner);
        their previous pairs are undone."""
        self.index(key)
        drop = {key} if other is None else {key, other}
        if other is not None:
            self.index(other)
            if other == key:
                raise SkeletonError("a keypoint cannot be its own flip partner")
        self.flips = [p for p in self.flips if not (set(p) & drop)]
        if other is not None:
            # (left, right): the first of a pair is drawn as the left side
            if _side(self.point(key).name) == "right" or _side(self.point(other).name) == "left":
                key, other = other, key
            self.flips.append((key, other))

    # --- the result ------------------------------------------------------------------------------
    def skeleton(self) -> Skeleton:
        at = {p.key: i for i, p in enumerate(self.points)}
        name = self.name.strip() or "custom"
        if name in _BUILT_IN and [p.name for p in self.points] != list(self.original.keypoints):
            name = f"{name}-custom"
        return Skeleton(
            name=name,
            keypoints=tuple(p.name for p in self.points),
            edges=tuple((at[a], at[b]) for a, b in self.edges),
            flip_pairs=tuple((at[a], at[b]) for a, b in self.flips),
            sigmas=tuple(p.sigma for p in self.points),
            colors=tuple(p.color for p in self.points),
        )

    def change(self) -> SkeletonChange:
        return SkeletonChange(self.original, self.skeleton(),
                              tuple(p.source for p in self.points))

    def removed_names(self) -> list[str]:
        kept = {p.source for p in self.points}
        return [n for i, n in enumerate(self.original.keypoints) if i not in kept]
