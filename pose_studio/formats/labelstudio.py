"""Label Studio JSON exports (a list of tasks) with ``keypointlabels`` results, read only.

A result's ``value.x``/``value.y`` are percents of ``original_width``/``original_height``
(whole-image coordinates, as Label Studio's own converters use them). Label Studio has no
instances, so keypoints are grouped, in this order, by: ``relation`` results linking them to a
rectangle; a ``parentID`` naming a rectangle; the one rectangle that contains them; and, for
the rest, in result order (a label seen again starts a new instance: annotators label one
animal after the other). Rectangles become the instances' boxes and ``rectanglelabels`` their
category; a rectangle with no keypoints is an annotation with a box and no labeled point.

Each task's first annotation that was not cancelled is read (others are counted in
``not_kept``); ``predictions`` become predicted instances (``score``, per-keypoint ``score``)
in a model run per ``model_version``. The keypoint label names, in first-seen order, make the
skeleton (a set equal to a built-in layout takes its order).

Image URLs are resolved against ``ReadOptions.images_dir`` (default: the JSON's folder):
``/data/upload/<project>/<8 hex>-name.jpg`` (with or without the prefix Label Studio adds),
``/data/local-files/?d=relative/path``, ``s3://bucket/key``, ``gs://``, ``azure-blob://`` and
``http(s)://`` (by key or file name). Unresolved images are named in ``not_kept``; their
labels are kept.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.skeleton_presets import BUILTIN_SKELETONS
from pose_studio.formats.dataset import Annotation, Dataset, Frame, ImageEntry, Source
from pose_studio.formats.fileio import FormatError, read_head, read_text
from pose_studio.formats.registry import Format, ReadOptions
from pose_studio.formats.remap import COORD_LIMIT, map_to_skeleton, skeleton_from_names

__all__ = ["FORMAT", "sniff"]

_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")


def sniff(path: Path) -> bool:
    """A JSON list (or one task) whose results include ``keypointlabels``; never raises."""
    try:
        if not path.is_file():
            return False
        head = read_head(path, 1 << 20).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head[:1] not in (b"[", b"{"):
            return False
        return b'"keypointlabels"' in head and (b'"annotations"' in head or
                                                b'"predictions"' in head or
                                                b'"completions"' in head)
    except Exception:  # a sniffer never raises
        return False


# --- images ---------------------------------------------------------------------------------------
def _candidates(url: str) -> list[str]:
    """Relative paths to try under the images folder, most specific first."""
    u = urllib.parse.urlparse(url)
    out: list[str] = []
    if u.path.startswith("/data/local-files") or "d" in urllib.parse.parse_qs(u.query):
        d = urllib.parse.parse_qs(u.query).get("d", [""])[0]
        if d:
            out += [d, d.split("/", 1)[-1]]
    path = urllib.parse.unquote(u.path)
    if u.scheme in ("s3", "gs", "azure-blob", "http", "https"):
        out.append(path.lstrip("/"))
    elif path.startswith("/data/upload/"):
        parts = path.split("/")[3:]  # project id, file
        out.append("/".join(parts[1:]) if len(parts) > 1 else "/".join(parts))
    else:
        out.append(path)
    name = path.rsplit("/", 1)[-1]
    out += [name, _UPLOAD_PREFIX.sub("", name)]
    return [c for c in dict.fromkeys(out) if c and ".." not in Path(c).parts]


def _resolve(url: str, root: Path) -> str | None:
    for c in _candidates(url):
        p = Path(c)
        if p.is_absolute():
            if p.is_file():
                return str(p)
            continue
        if (root / p).is_file():
            return p.as_posix()
    return None


def _task_image(task: Mapping[str, Any]) -> str | None:
    data = task.get("data")
    if not isinstance(data, Mapping):
        return None
    for key in ("image", "img", "url", "image_url"):
        if isinstance(data.get(key), str):
            return str(data[key])
    for v in data.values():  # the config may name the image field anything
        if isinstance(v, str) and (v.startswith(("/data/", "s3://", "gs://", "http")) or
                                   Path(v).suffix.lower() in (".jpg", ".jpeg", ".png")):
            return v
    return None


# --- grouping -------------------------------------------------------------------------------------
def _num(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError("not a number")
    f = float(v)
    if not math.isfinite(f) or abs(f) > COORD_LIMIT:
        raise ValueError("not a finite coordinate")
    return f


class _Group:
    def __init__(self, rect: Mapping[str, Any] | None) -> None:
        self.rect = rect
        self.points: dict[str, tuple[float, float, float | None]] = {}
        self.size: tuple[int, int] | None = None


def _rect_box(r: Mapping[str, Any]) -> tuple[float, float, float, float]:
    v, w, h = r["value"], _num(r["original_width"]), _num(r["original_height"])
    return (_num(v["x"]) * w / 100, _num(v["y"]) * h / 100, _num(v["width"]) * w / 100,
            _num(v["height"]) * h / 100)


def _group(results: list[Any], counts: dict[str, int]) -> list[_Group]:
    rects: dict[str, _Group] = {}
    kps: list[Mapping[str, Any]] = []
    rel: dict[str, str] = {}
    for r in results:
        if not isinstance(r, Mapping):
            continue
        t = r.get("type")
        if t == "rectanglelabels":
            rects[str(r.get("id", len(rects)))] = _Group(r)
        elif t == "keypointlabels":
            kps.append(r)
        elif t == "relation":
            rel[str(r.get("from_id"))] = str(r.get("to_id"))
            rel.setdefault(str(r.get("to_id")), str(r.get("from_id")))
        else:
            counts[f"results of type {t!r}"] = counts.get(f"results of type {t!r}", 0) + 1
    loose: list[_Group] = []
    for r in kps:
        try:
            value = r["value"]
            label = str(value["keypointlabels"][0])
            w, h = _num(r["original_width"]), _num(r["original_height"])
            x, y = _num(value["x"]) * w / 100, _num(value["y"]) * h / 100
            score = _num(r["score"]) if "score" in r else None
        except (KeyError, IndexError, TypeError, ValueError):
            counts["keypoints without a usable position or label"] = \
                counts.get("keypoints without a usable position or label", 0) + 1
            continue
        rid = str(r.get("id"))
        owner = rects.get(rel.get(rid, "")) or rects.get(str(r.get("parentID", "")))
        if owner is None:
            inside = [g for g in rects.values() if _inside(g.rect, x, y)]
            owner = inside[0] if len(inside) == 1 else None
        if owner is None:
            owner = loose[-1] if loose and label not in loose[-1].points else None
            if owner is None:
                owner = _Group(None)
                loose.append(owner)
        if label in owner.points:
            counts["keypoints labeled twice in one instance"] = \
                counts.get("keypoints labeled twice in one instance", 0) + 1
            continue
        owner.points[label] = (x, y, score)
        if owner.size is None and w == int(w) and h == int(h) and 0 < w < 1 << 20 and 0 < h < 1 << 20:
            owner.size = (int(w), int(h))
    return list(rects.values()) + loose


def _inside(rect: Mapping[str, Any] | None, x: float, y: float) -> bool:
    if rect is None:
        return False
    try:
        bx, by, bw, bh = _rect_box(rect)
    except (KeyError, TypeError, ValueError):
        return False
    return bx <= x <= bx + bw and by <= y <= by + bh


# --- reading --------------------------------------------------------------------------------------
def _load(path: Path) -> list[Mapping[str, Any]]:
    text = read_text(path, "a Label Studio export")
    try:
        data = json.loads(text)
    except RecursionError:
        raise FormatError(f"{path}: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, integers over 4,300 digits
        raise FormatError(f"{path}: not valid JSON ({str(exc)[:120]})") from None
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(t, Mapping) for t in data):
        raise FormatError(f"{path}: not a Label Studio export (a list of tasks)")
    return data


def read_labelstudio(path: Path, opts: ReadOptions) -> Dataset:
    path = Path(path)
    tasks = _load(path)
    root = Path(opts.images_dir) if opts.images_dir else path.parent
    counts: dict[str, int] = {}
    order: list[str] = []  # keypoint names, first seen first
    per_task: list[tuple[Mapping[str, Any], list[tuple[_Group, bool, dict[str, Any]]]]] = []
    for task in tasks:
        groups: list[tuple[_Group, bool, dict[str, Any]]] = []
        anns = task.get("annotations", task.get("completions")) or []
        if not isinstance(anns, list):
            raise FormatError(f"{path}: task {task.get('id')!r}: annotations is not a list")
        live = [a for a in anns if isinstance(a, Mapping) and not a.get("was_cancelled")]
        if len(live) > 1:
            counts["further annotations of tasks labeled more than once (the first was read)"] \
                = counts.get("further annotations of tasks labeled more than once "
                             "(the first was read)", 0) + len(live) - 1
        for a in live[:1]:
            res = a.get("result") or []
            groups += [(g, False, {}) for g in _group(res if isinstance(res, list) else [],
                                                     counts)]
        preds = task.get("predictions") or []
        for p in preds if isinstance(preds, list) else []:
            if not isinstance(p, Mapping):
                continue
            res = p.get("result") or []
            meta = {"score": p.get("score"), "model": str(p.get("model_version") or "label studio")}
            groups += [(g, True, meta) for g in _group(res if isinstance(res, list) else [],
                                                      counts)]
        for g, _, _ in groups:
            order += [n for n in g.points if n not in order]
        per_task.append((task, groups))
    if not order:
        raise FormatError(f"{path}: no keypointlabels results in the export")
    for known in BUILTIN_SKELETONS.values():
        if set(known.keypoints) == set(order):
            order = list(known.keypoints)
            break
    not_kept: list[str] = []
    skeleton = skeleton_from_names(order, name="labelstudio", not_kept=not_kept)
    return map_to_skeleton(_dataset(path, per_task, skeleton, root, counts, not_kept),
                           opts.skeleton)


def _dataset(path: Path, per_task: list[Any], skeleton: Any, root: Path,
             counts: dict[str, int], not_kept: list[str]) -> Dataset:
    index = {n: i for i, n in enumerate(skeleton.keypoints)}
    k = skeleton.num_keypoints
    images: list[ImageEntry] = []
    frames: list[Frame] = []
    unresolved: list[str] = []
    runs: dict[str, dict[str, Any]] = {}
    cats: list[str] = []
    for n, (task, groups) in enumerate(per_task):
        url = _task_image(task) or f"task-{task.get('id', n)}"
        rel = _resolve(url, root)
        if rel is None:
            unresolved.append(url)
        size = _task_size(groups)
        extra: dict[str, Any] = {"url": url}
        if isinstance(task.get("id"), (int, str)):
            extra["task_id"] = task["id"]
        w, h = size or (None, None)
        images.append(ImageEntry(rel or url, w, h, extra))
        anns = []
        for g, predicted, meta in groups:
            pts = np.full((k, 3), np.nan)
            pts[:, 2] = 0
            scores = np.full(k, np.nan, dtype=np.float32)
            for label, (x, y, s) in g.points.items():
                pts[index[label]] = (x, y, 2.0)
                if s is not None:
                    scores[index[label]] = s
            bbox = cat = None
            if g.rect is not None:
                try:
                    bbox = _rect_box(g.rect)
                    labels = g.rect["value"].get("rectanglelabels") or []
                    cat = str(labels[0]) if labels else None
                    if g.rect["value"].get("rotation"):
                        counts["rectangle rotations"] = counts.get("rectangle rotations", 0) + 1
                except (KeyError, TypeError, ValueError, AttributeError):
                    counts["rectangles without a usable box"] = \
                        counts.get("rectangles without a usable box", 0) + 1
            if cat and cat not in cats:
                cats.append(cat)
            run = None
            score = None
            if predicted:
                run = meta["model"]
                runs.setdefault(run, {"format": "labelstudio", "file": str(path)})
                sc = meta.get("score")
                score = float(sc) if isinstance(sc, (int, float)) and math.isfinite(sc) else None
            anns.append(Annotation(
                pts, kind=InstanceKind.PREDICTED if predicted else InstanceKind.USER,
                kp_scores=scores if predicted and np.isfinite(scores).any() else None,
                score=score, bbox=bbox, category=cat, run=run))
        frames.append(Frame("labelstudio", n, tuple(anns)))
    for what, c in counts.items():
        not_kept.append(f"{c} {what}")
    if unresolved:
        not_kept.append(f"{len(unresolved)} image(s) not found under {root} (labels kept): "
                        + ", ".join(unresolved[:5]) + (" ..." if len(unresolved) > 5 else ""))
    src = Source("labelstudio", "images", str(root.resolve()), tuple(images))
    return Dataset(skeleton=skeleton, sources=[src], frames=frames, categories=cats, runs=runs,
                   not_kept=not_kept, info={"format": "labelstudio", "path": str(path)})


def _task_size(groups: list[Any]) -> tuple[int, int] | None:
    for g, _, _ in groups:
        if g.size is not None:
            return tuple(g.size)
        r = g.rect
        if r is not None:
            w, h = r.get("original_width"), r.get("original_height")
            if isinstance(w, int) and isinstance(h, int) and 0 < w < 1 << 20 and 0 < h < 1 << 20:
                return w, h
    return None


FORMAT = Format(
    name="labelstudio",
    label="Label Studio JSON export",
    suffixes=(".json",),
    sniff=sniff,
    read=read_labelstudio,
    priority=10,
)
