"""A change of a project's skeleton, as a value, and what it does to keypoint arrays.

A :class:`SkeletonChange` is the skeleton before and after and, for each keypoint of the new
skeleton, where it comes from: its index in the old skeleton, or :data:`NEW` (a keypoint that
did not exist: it starts unlabeled on every instance). Old keypoints that no new keypoint comes
from are removed. Renaming, reordering, adding and removing keypoints, and any change of edges,
flip pairs, colours or sigmas, are all this one type.

:func:`remap` applies it to the keypoint columns of many instances at once; :func:`restore` is
its inverse, given the removed columns (which the store keeps with the history step, so undo
brings removed points back exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pose_studio.core.skeleton import Skeleton, SkeletonError

__all__ = ["NEW", "Columns", "SkeletonChange", "remap", "restore"]

#: In :attr:`SkeletonChange.source`: a keypoint that is new (starts unlabeled everywhere).
NEW = -1


@dataclass(frozen=True, eq=False)
class SkeletonChange:
    """See the module docstring.

    Attributes:
        before: The project's skeleton now.
        after: The skeleton it becomes.
        source: For each keypoint of ``after``, its index in ``before`` or :data:`NEW`.
    """

    before: Skeleton
    after: Skeleton
    source: tuple[int, ...]

    def __post_init__(self) -> None:
        src = tuple(int(s) for s in self.source)
        object.__setattr__(self, "source", src)
        if len(src) != self.after.num_keypoints:
            raise SkeletonError(f"a skeleton change needs a source for each of the "
                                f"{self.after.num_keypoints} new keypoints, got {len(src)}")
        kept = [s for s in src if s != NEW]
        if any(not 0 <= s < self.before.num_keypoints for s in kept):
            raise SkeletonError("a skeleton change refers to a keypoint the skeleton does not have")
        if len(set(kept)) != len(kept):
            raise SkeletonError("a skeleton change takes one old keypoint into two new ones")

    @classmethod
    def by_name(cls, before: Skeleton, after: Skeleton) -> SkeletonChange:
        """Keypoints of ``after`` come from the keypoints of ``before`` with the same name."""
        index = {n: i for i, n in enumerate(before.keypoints)}
        return cls(before, after, tuple(index.get(n, NEW) for n in after.keypoints))

    # --- what it does ----------------------------------------------------------------------------
    @property
    def removed(self) -> tuple[int, ...]:
        """Old keypoints that are gone, ascending."""
        kept = set(self.source)
        return tuple(i for i in range(self.before.num_keypoints) if i not in kept)

    @property
    def added(self) -> tuple[int, ...]:
        """New keypoints that start unlabeled."""
        return tuple(j for j, s in enumerate(self.source) if s == NEW)

    def renamed(self) -> list[tuple[str, str]]:
        """``(old name, new name)`` of kept keypoints whose name changed."""
        return [(self.before.keypoints[s], self.after.keypoints[j])
                for j, s in enumerate(self.source)
                if s != NEW and self.before.keypoints[s] != self.after.keypoints[j]]

    def moves_keypoints(self) -> bool:
        """Instances need rewriting (keypoints added, removed or reordered)."""
        return self.source != tuple(range(self.before.num_keypoints))

    @property
    def empty(self) -> bool:
        return not self.moves_keypoints() and self.before.to_dict() == self.after.to_dict()

    def inverse_source(self) -> tuple[int, ...]:
        """For each old keypoint, its index in the new skeleton or :data:`NEW` (removed)."""
        out = [NEW] * self.before.num_keypoints
        for j, s in enumerate(self.source):
            if s != NEW:
                out[s] = j
        return tuple(out)

    def describe(self) -> str:
        """A short label for the history: ``skeleton: add neck, remove left_ear, 2 edges``."""
        b, a = self.before, self.after
        parts: list[str] = []
        names = [a.keypoints[j] for j in self.added]
        if names:
            parts.append("add " + ", ".join(names[:3]) + (" …" if len(names) > 3 else ""))
        gone = [b.keypoints[i] for i in self.removed]
        if gone:
            parts.append("remove " + ", ".join(gone[:3]) + (" …" if len(gone) > 3 else ""))
        ren = self.renamed()
        if ren:
            parts.append("rename " + ", ".join(f"{o} → {n}" for o, n in ren[:2])
                         + (" …" if len(ren) > 2 else ""))
        kept = [s for s in self.source if s != NEW]
        if kept != sorted(kept):
            parts.append("reorder")

        def named(pairs: Sequence[tuple[int, int]], sk: Skeleton) -> set[frozenset[str]]:
            return {frozenset((sk.keypoints[x], sk.keypoints[y])) for x, y in pairs}

        # Edges and pairs compared through the names they join (a rename is not an edge change).
        rename = dict(self.renamed())

        def old(pairs: Sequence[tuple[int, int]]) -> set[frozenset[str]]:
            return {frozenset(rename.get(n, n) for n in p) for p in named(pairs, b)}

        for what, before_pairs, after_pairs in (("edge", b.edges, a.edges),
                                                ("flip pair", b.flip_pairs, a.flip_pairs)):
            n = len(old(before_pairs) ^ named(after_pairs, a))
            if n:
                parts.append(f"{n} {what}{'s' if n != 1 else ''}")
        if any(s != NEW and (b.colors[s] != a.colors[j]) for j, s in enumerate(self.source)):
            parts.append("colours")
        if a.name != b.name:
            parts.append(f"name {a.name}")
        return "skeleton: " + ("; ".join(parts) if parts else "no change")


@dataclass(frozen=True)
class Columns:
    """Keypoint columns of ``n`` instances: ``xy (n, K, 2)``, ``vis``, ``prov`` ``(n, K)`` uint8,
    ``kps (n, K)`` float32 (rows without scores hold anything; ``has_kps`` says which have)."""

    xy: np.ndarray
    vis: np.ndarray
    prov: np.ndarray
    kps: np.ndarray

    @property
    def n(self) -> int:
        return int(self.xy.shape[0])

    def take(self, cols: Sequence[int]) -> Columns:
        """Only keypoints ``cols`` (in that order)."""
        idx = np.asarray(cols, dtype=np.int64)
        return Columns(self.xy[:, idx], self.vis[:, idx], self.prov[:, idx], self.kps[:, idx])


def _gather(cols: Columns, index: Sequence[int], k_out: int) -> Columns:
    """New columns where column ``j`` is ``cols[:, index[j]]`` (or unlabeled for NEW)."""
    n = cols.n
    xy = np.zeros((n, k_out, 2), np.float64)
    vis = np.zeros((n, k_out), np.uint8)
    prov = np.zeros((n, k_out), np.uint8)
    kps = np.zeros((n, k_out), np.float32)
    idx = np.asarray(index, dtype=np.int64)
    have = np.flatnonzero(idx != NEW)
    if have.size:
        xy[:, have] = cols.xy[:, idx[have]]
        vis[:, have] = cols.vis[:, idx[have]]
        prov[:, have] = cols.prov[:, idx[have]]
        kps[:, have] = cols.kps[:, idx[have]]
    return Columns(xy, vis, prov, kps)


def remap(change: SkeletonChange, cols: Columns) -> tuple[Columns, Columns]:
    """The columns in the new skeleton's layout, and the removed columns (for :func:`restore`).

    A new keypoint is unlabeled: position (0, 0), visibility 0, provenance 0 (user), score 0.
    """
    if cols.xy.shape[1:] != (change.before.num_keypoints, 2):
        raise SkeletonError(f"instances have {cols.xy.shape[1]} keypoints, the skeleton "
                            f"{change.before.num_keypoints}")
    return _gather(cols, change.source, change.after.num_keypoints), cols.take(change.removed)


def restore(change: SkeletonChange, cols: Columns, removed: Columns | None) -> Columns:
    """The old layout back from the new one; ``removed`` holds the removed columns of the same
    rows (None: those keypoints come back unlabeled)."""
    if cols.xy.shape[1:] != (change.after.num_keypoints, 2):
        raise SkeletonError(f"instances have {cols.xy.shape[1]} keypoints, the skeleton "
                            f"{change.after.num_keypoints}")
    out = _gather(cols, change.inverse_source(), change.before.num_keypoints)
    gone = list(change.removed)
    if removed is not None and gone:
        if removed.xy.shape[:2] != (cols.n, len(gone)):
            raise SkeletonError("the removed keypoints do not match the instances")
        out.xy[:, gone] = removed.xy
        out.vis[:, gone] = removed.vis
        out.prov[:, gone] = removed.prov
        out.kps[:, gone] = removed.kps
    return out
