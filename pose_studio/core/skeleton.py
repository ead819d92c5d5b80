"""Skeletons: keypoint names, limbs, left/right flip pairs, OKS sigmas and colours.

Indices are 0-based everywhere in Pose Studio. COCO files use a 1-based ``skeleton`` list;
:meth:`Skeleton.coco_skeleton` and :meth:`Skeleton.from_coco_category` convert at the border.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from pose_studio.core.errors import PoseStudioError

Side = Literal["left", "right", "center"]

#: Default colours (RGB) by side, used when a skeleton file gives none.
SIDE_COLORS: dict[str, tuple[int, int, int]] = {
    "left": (255, 140, 0),
    "right": (30, 144, 255),
    "center": (60, 200, 90),
}

#: OKS sigma used for keypoints of custom skeletons that state none (COCO's mean sigma).
DEFAULT_SIGMA = 0.072


class SkeletonError(PoseStudioError):
    """A skeleton definition that cannot be used."""


@dataclass(frozen=True)
class Skeleton:
    """An immutable keypoint layout.

    Attributes:
        name: Short identifier (``coco17`` for the built-in COCO layout).
        keypoints: Keypoint names in model/output order.
        edges: Limbs as 0-based ``(a, b)`` index pairs.
        flip_pairs: 0-based ``(left, right)`` pairs swapped by a horizontal flip.
        sigmas: Per-keypoint OKS sigmas (COCO convention: already divided by 10).
        colors: Per-keypoint RGB colours.
    """

    name: str
    keypoints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...] = ()
    flip_pairs: tuple[tuple[int, int], ...] = ()
    sigmas: tuple[float, ...] = ()
    colors: tuple[tuple[int, int, int], ...] = ()
    _sides: tuple[Side, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        k = len(self.keypoints)
        if k == 0:
            raise SkeletonError(f"skeleton {self.name!r} has no keypoints")
        if len(set(self.keypoints)) != k:
            raise SkeletonError(f"skeleton {self.name!r} has duplicate keypoint names")
        object.__setattr__(self, "edges", tuple((int(a), int(b)) for a, b in self.edges))
        object.__setattr__(self, "flip_pairs", tuple((int(a), int(b)) for a, b in self.flip_pairs))
        for a, b in (*self.edges, *self.flip_pairs):
            if not (0 <= a < k and 0 <= b < k) or a == b:
                raise SkeletonError(
                    f"skeleton {self.name!r}: pair ({a}, {b}) is out of range for {k} keypoints"
                )
        seen: set[int] = set()
        for a, b in self.flip_pairs:
            if a in seen or b in seen:
                raise SkeletonError(f"skeleton {self.name!r}: keypoint in two flip pairs")
            seen.update((a, b))
        sigmas = tuple(float(s) for s in self.sigmas) or (DEFAULT_SIGMA,) * k
        if len(sigmas) != k or any(not s > 0 for s in sigmas):
            raise SkeletonError(f"skeleton {self.name!r}: need {k} positive OKS sigmas")
        object.__setattr__(self, "sigmas", sigmas)
        sides = tuple(self._infer_side(i) for i in range(k))
        object.__setattr__(self, "_sides", sides)
        colors = tuple(tuple(int(c) for c in rgb) for rgb in self.colors) or tuple(
            SIDE_COLORS[s] for s in sides
        )
        if len(colors) != k or any(len(c) != 3 for c in colors):
            raise SkeletonError(f"skeleton {self.name!r}: need {k} RGB colours")
        object.__setattr__(self, "colors", colors)

    def _infer_side(self, i: int) -> Side:
        for a, b in self.flip_pairs:
            if i == a:
                return "left"
            if i == b:
                return "right"
        name = self.keypoints[i].lower()
        if name.startswith(("left", "l_")):
            return "left"
        if name.startswith(("right", "r_")):
            return "right"
        return "center"

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def side(self, i: int) -> Side:
        """Side of keypoint ``i``: from the flip pairs, else from a left/right name prefix."""
        return self._sides[i]

    def edge_side(self, edge: tuple[int, int]) -> Side:
        """A limb is left or right when both ends are; otherwise centre."""
        a, b = (self.side(edge[0]), self.side(edge[1]))
        return a if a == b else "center"

    def index(self, name: str) -> int:
        try:
            return self.keypoints.index(name)
        except ValueError:
            raise SkeletonError(f"skeleton {self.name!r} has no keypoint {name!r}") from None

    def flip_permutation(self) -> np.ndarray:
        """Index array ``p`` such that ``flipped[p]`` puts every keypoint back on its own side."""
        perm = np.arange(self.num_keypoints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def sigma_array(self) -> np.ndarray:
        return np.asarray(self.sigmas, dtype=np.float64)

    # --- COCO ------------------------------------------------------------------------------------
    def coco_skeleton(self) -> list[list[int]]:
        """COCO's 1-based limb list."""
        return [[a + 1, b + 1] for a, b in self.edges]

    def coco_category(self, category_id: int = 1) -> dict[str, Any]:
        return {
            "supercategory": "person",
            "id": category_id,
            "name": "person",
            "keypoints": list(self.keypoints),
            "skeleton": self.coco_skeleton(),
        }

    @classmethod
    def from_coco_category(
        cls, category: Mapping[str, Any], known: Iterable[Skeleton] | None = None
    ) -> Skeleton:
        """A skeleton from a COCO ``categories`` entry; a known layout keeps its sigmas.

        The ``skeleton`` limbs are 1-based as COCO defines them (see :func:`coco_limbs`).
        ``known``: the layouts to recognise (default: the built-in skeletons of
        :mod:`pose_studio.core.skeleton_presets`, which registers them here when imported;
        COCO-17 always).
        """
        names = tuple(str(n) for n in category["keypoints"])
        for sk in (*(known if known is not None else _KNOWN_LAYOUTS), COCO17):
            if sk.keypoints == names:
                return sk
        edges = coco_limbs(category.get("skeleton") or [], names)
        return cls(name=str(category.get("name", "custom")), keypoints=names, edges=edges,
                   flip_pairs=_flip_pairs_from_names(names))

    # --- serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "keypoints": list(self.keypoints),
            "edges": [list(e) for e in self.edges],
            "flip_pairs": [list(p) for p in self.flip_pairs],
            "sigmas": list(self.sigmas),
            "colors": [list(c) for c in self.colors],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Skeleton:
        """Build from :meth:`to_dict` output or a user's skeleton JSON.

        ``edges`` and ``flip_pairs`` may name keypoints instead of giving indices. When
        ``flip_pairs`` is absent, ``left_*``/``right_*`` names are paired automatically.
        """
        if "keypoints" not in data and isinstance(data.get("categories"), list):
            data = _only_keypoint_category(data["categories"])
        try:
            names = tuple(str(n) for n in data["keypoints"])

            def idx(v: Any) -> int:
                return names.index(v) if isinstance(v, str) else int(v)

            if "edges" not in data and "skeleton" in data and "sigmas" not in data:
                for known in (*_KNOWN_LAYOUTS, COCO17):  # a COCO category of a known layout
                    if known.keypoints == names:
                        return known
            if "edges" in data:  # Pose Studio's own files: 0-based indices or names
                edges = tuple((idx(a), idx(b)) for a, b in data["edges"])
            else:  # a COCO category's ``skeleton``: 1-based
                edges = coco_limbs(data.get("skeleton") or [], names)
            if "flip_pairs" in data:
                flips = tuple((idx(a), idx(b)) for a, b in data["flip_pairs"])
            else:
                flips = _flip_pairs_from_names(names)
            return cls(
                name=str(data.get("name", "custom")),
                keypoints=names,
                edges=edges,
                flip_pairs=flips,
                sigmas=tuple(float(s) for s in data.get("sigmas", ())),
                colors=tuple(tuple(int(c) for c in rgb) for rgb in data.get("colors", ())),  # type: ignore[misc]
            )
        except SkeletonError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise SkeletonError(f"not a valid skeleton definition: {exc!r}") from exc

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Skeleton:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SkeletonError(f"skeleton JSON is malformed: {exc}") from exc
        if not isinstance(data, dict):
            raise SkeletonError("skeleton JSON must be an object with a 'keypoints' list")
        return cls.from_dict(data)


def coco_limbs(pairs: Any, names: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """0-based limbs from a COCO category's ``skeleton`` list (1-based by COCO's definition).

    A list that uses index 0 and never ``K`` cannot be 1-based: it is read as 0-based (Datumaro
    and some scripts write that). Otherwise it is 1-based, also when its highest index is below
    ``K`` (so limbs are never shifted by one silently). Keypoint names are accepted too.

    Raises:
        SkeletonError: a pair that is not two indices/names, or an index out of range.
    """
    k = len(names)
    if not isinstance(pairs, (list, tuple)):
        raise SkeletonError("a COCO 'skeleton' must be a list of [a, b] pairs")
    raw: list[tuple[Any, Any]] = []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise SkeletonError(f"a COCO 'skeleton' pair must be [a, b], not {pair!r}")
        raw.append((pair[0], pair[1]))
    ints = [v for pair in raw for v in pair if isinstance(v, int) and not isinstance(v, bool)]
    zero_based = bool(ints) and min(ints) == 0 and max(ints) < k
    out = []
    for a, b in raw:
        ends = []
        for v in (a, b):
            if isinstance(v, str) and v in names:
                ends.append(list(names).index(v))
            elif isinstance(v, int) and not isinstance(v, bool):
                ends.append(v if zero_based else v - 1)
            else:
                raise SkeletonError(f"COCO 'skeleton' pair {[a, b]!r}: {v!r} is not a keypoint "
                                    "index or name")
        if not all(0 <= e < k for e in ends):
            raise SkeletonError(
                f"COCO 'skeleton' pair {[a, b]!r} is out of range for {k} keypoints (COCO "
                f"numbers keypoints from 1 to {k})")
        out.append((ends[0], ends[1]))
    return tuple(out)


def _only_keypoint_category(categories: list[Any]) -> Mapping[str, Any]:
    """The one category of a COCO file that names keypoints."""
    with_kp = [c for c in categories if isinstance(c, dict) and c.get("keypoints")]
    if len(with_kp) == 1:
        return with_kp[0]  # type: ignore[no-any-return]
    if not with_kp:
        raise SkeletonError("the COCO file has no category that names its keypoints")
    names = ", ".join(repr(c.get("name")) for c in with_kp)
    raise SkeletonError(f"the COCO file has {len(with_kp)} categories with keypoints ({names}): "
                        "choose one with --skeleton-from FILE --category NAME")


def _flip_pairs_from_names(names: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """Pair ``left_x``/``right_x`` (also ``l_x``/``r_x``) names."""
    pairs = []
    lookup = {n.lower(): i for i, n in enumerate(names)}
    for i, n in enumerate(names):
        low = n.lower()
        for lp, rp in (("left_", "right_"), ("left", "right"), ("l_", "r_")):
            if low.startswith(lp):
                j = lookup.get(rp + low[len(lp):])
                if j is not None:
                    pairs.append((i, j))
                break
    return tuple(pairs)


COCO17_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
#: COCO's own 1-based skeleton, as in ``person_keypoints_*.json``.
COCO17_SKELETON_1BASED = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)  # fmt: skip
COCO17_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip

COCO17 = Skeleton(
    name="coco17",
    keypoints=COCO17_KEYPOINTS,
    edges=tuple((a - 1, b - 1) for a, b in COCO17_SKELETON_1BASED),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    sigmas=COCO17_SIGMAS,
)

#: Layouts :meth:`Skeleton.from_coco_category` recognises by their names; the presets module
#: adds Halpe-26 and WholeBody-133 when it is imported (this module never imports it).
_KNOWN_LAYOUTS: list[Skeleton] = [COCO17]
