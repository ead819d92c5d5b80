"""Which categories of a COCO file are read, with which keypoint layout, onto which skeleton."""

from __future__ import annotations

from typing import Any

from pose_studio.core.skeleton import Skeleton
from pose_studio.formats.coco_fields import IdKey, Problems, RawAnnotation, id_key
from pose_studio.formats.coco_layouts import (
    KeypointMap,
    Layout,
    category_layout,
    map_layout,
    skeleton_for_layout,
)

__all__ = ["Category", "Plan", "read_categories"]


class Category:
    def __init__(self, cid: IdKey, raw: dict[str, Any], name: str) -> None:
        self.id = cid
        self.name = name
        names = raw.get("keypoints") or []
        self.keypoints: tuple[str, ...] = tuple(str(n) for n in names)
        self.raw = raw
        self.extra = {k: v for k, v in raw.items() if k != "name"}


def read_categories(items: list[Any], probs: Problems) -> dict[IdKey, Category]:
    out: dict[IdKey, Category] = {}
    names: set[str] = set()
    for pos, c in enumerate(items):
        if not isinstance(c, dict):
            probs.add(f"category #{pos}: not an object")
            continue
        raw = c.get("id")
        cid = id_key(raw)
        if cid is None:
            probs.add(f"category #{pos}: 'id' must be an integer or a string, got {raw!r}")
            continue
        if cid in out:
            probs.add(f"category {raw!r}: duplicate category id")
            continue
        kp = c.get("keypoints", [])
        if kp is not None and (not isinstance(kp, list) or not all(isinstance(n, str)
                                                                   for n in kp)):
            probs.add(f"category {raw!r}: 'keypoints' must be a list of names")
            continue
        name = str(c.get("name", cid)).strip() or str(cid)
        if name in names:  # two categories with one name: keep them apart
            name = f"{name} (id {cid})"
        names.add(name)
        out[cid] = Category(cid, c, name)
    return out


class Plan:
    """Which categories are read, with which layout, onto which skeleton."""

    def __init__(self, categories: dict[IdKey, Category], anns: list[RawAnnotation | None],
                 skeleton: Skeleton | None, wanted: str | None, probs: Problems) -> None:
        self.categories = categories
        self.notes: list[str] = []
        self.dropped_names: dict[str, list[str]] = {}
        self.layouts: dict[IdKey, Layout] = {}
        self.maps: dict[IdKey, KeypointMap] = {}
        n_seen: dict[IdKey, int] = {}
        wholebody: set[IdKey] = set()
        for a in anns:
            if a is None:
                continue
            if a.parts:
                wholebody.add(a.category_id)
            if a.keypoints is not None and a.keypoints.size and a.category_id not in n_seen:
                n = a.keypoints.size
                n_seen[a.category_id] = n // 3 if n % 3 == 0 else n // 2
        self.box_only = {c for c, cat in categories.items()
                         if not cat.keypoints and c not in n_seen and c not in wholebody}
        problems: dict[IdKey, str] = {}
        for cid, cat in categories.items():
            if cid in self.box_only:
                continue
            lay = category_layout(cat.name, cat.keypoints, n_seen.get(cid), cid in wholebody)
            if isinstance(lay, str):
                problems[cid] = lay
            else:
                self.layouts[cid] = lay
        chosen = self._choose(wanted, probs)
        if chosen is None:
            for why in problems.values():
                probs.add(why)
            return
        if skeleton is None:  # the file's own skeleton, from the first chosen category
            first = chosen[0]
            skeleton, notes = skeleton_for_layout(self.layouts[first],
                                                  categories[first].raw,
                                                  categories[first].name)
            self.notes.extend(notes)
            others = [c for c in chosen[1:] if self.layouts[c].names != self.layouts[first].names]
            if others:
                listed = ", ".join(f"{categories[c].name!r}" for c in chosen)
                probs.add(f"the categories {listed} have different keypoint layouts: choose "
                          "one with --category NAME")
                return
        self.skeleton = skeleton
        unfit: dict[IdKey, str] = {}
        for cid in chosen:
            m = map_layout(self.layouts[cid], skeleton, categories[cid].name)
            if isinstance(m, str):
                unfit[cid] = m
                continue
            self.maps[cid] = m
            if self.layouts[cid].note:
                self.notes.append(self.layouts[cid].note)  # type: ignore[arg-type]
            if m.dropped:
                self.dropped_names[categories[cid].name] = list(m.dropped)
        if not self.maps:
            for why in (unfit or problems).values():
                probs.add(why)
            if wanted is None and len(self.layouts) > 1:
                probs.add(f"categories in the file: {self._listing()}; choose one with "
                          "--category NAME (and a project skeleton it fits)")

    def _listing(self) -> str:
        return ", ".join(f"{self.categories[c].name!r} ({lay.num_points} keypoints)"
                         for c, lay in self.layouts.items())

    def _choose(self, wanted: str | None, probs: Problems) -> list[IdKey] | None:
        if not self.layouts:
            names = ", ".join(repr(c.name) for c in self.categories.values()) or "none"
            probs.add(f"no category of the file has keypoints (categories: {names})")
            return None
        if wanted is None:
            return list(self.layouts)
        want = wanted.strip()
        for match in (lambda c: c.name == want, lambda c: c.name.lower() == want.lower(),
                      lambda c: str(c.id) == want):
            found = [cid for cid, c in self.categories.items() if match(c)]
            if found:
                cid = found[0]
                if cid not in self.layouts:
                    probs.add(f"category {want!r} has no keypoints (categories with keypoints: "
                              f"{self._listing() or 'none'})")
                    return None
                return [cid]
        probs.add(f"no category {want!r} in the file (categories: "
                  f"{', '.join(repr(c.name) for c in self.categories.values())})")
        return None

    def how(self) -> str:
        hows = {m.how for m in self.maps.values()}
        return "identical" if hows <= {"identical"} else next(
            h for h in ("by name", "by position") if h in hows)
