"""Writing a :class:`Dataset` as an ultralytics YOLO-pose dataset ``yolo pose train`` accepts.

Every labeled frame becomes ``images/<split>/<name>`` + ``labels/<split>/<name>.txt`` (a frame
without annotations: an empty label file, a background image). The split is a source's
``extra["yolo_split"]`` (datasets read from YOLO keep theirs), else ``train``; with no ``val``
split, ``val`` names the training images, since ultralytics requires one. ``data.yaml`` leaves
out ``path`` so ultralytics uses the YAML's own folder and the dataset can be moved.

What the format cannot carry is counted in ``not_written``: predictions, tracks, scores, the
v=1/v=2 distinction under ``kpt_shape [K, 2]``, coordinates of unlabeled points, points
outside the image (ultralytics refuses an image whose labels leave 0..1, so they are written as
unlabeled) and boxes reaching outside it (clipped).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.geometry import keypoints_box
from pose_studio.core.output import atomic_dir
from pose_studio.core.skeleton_presets import BUILTIN_SKELETONS
from pose_studio.formats.dataset import Annotation, Dataset, Frame, Source
from pose_studio.formats.fileio import (
    IMAGE_SUFFIXES,
    FormatError,
    encode_image,
    write_bytes,
)
from pose_studio.formats.registry import WriteOptions, WriteSummary

__all__ = ["write_yolo"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
BOX_PAD = 0.1  # a box made from keypoints grows by this fraction of its size on each side


def _class_names(ds: Dataset) -> list[str]:
    used = [a.category for f in ds.frames for a in f.annotations if a.category]
    names = list(ds.categories)
    names += [c for c in dict.fromkeys(used) if c not in names]
    if names:
        return names
    return ["person"] if ds.skeleton.name in BUILTIN_SKELETONS else ["object"]


def _rel_name(src: Source, fr: Frame, ext: str) -> str:
    if src.kind == "images" and fr.index < len(src.images):
        p = PurePosixPath(src.images[fr.index].path.replace("\\", "/"))
        parts = [_SAFE.sub("_", x) for x in p.parts if x not in ("", ".", "..", "/")]
        # ultralytics finds a label by replacing the LAST "/images/" of the path
        parts = [f"{x}_" if x.lower() in ("images", "labels") else x for x in parts[:-1]] + \
            parts[-1:]
        if parts:
            name = "/".join(parts)
            return name if PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES else f"{name}.{ext}"
    stem = _SAFE.sub("_", Path(src.path).stem if src.path else src.key) or "frame"
    return f"{stem}_{fr.index:06d}.{ext}"


def _size(src: Source, fr: Frame) -> tuple[int, int] | None:
    if src.kind == "images" and fr.index < len(src.images):
        im = src.images[fr.index]
        if im.width and im.height:
            return im.width, im.height
    return (src.width, src.height) if src.width and src.height else None


def _box(a: Annotation, w: int, h: int, lost: Counter[str]) -> tuple[float, ...] | None:
    if a.bbox is not None:
        x, y, bw, bh = a.bbox
    else:
        b = keypoints_box(a.points[:, :2], a.points[:, 2] > 0)
        if b is None:
            return None
        pw, ph = (b[2] - b[0]) * BOX_PAD + 1, (b[3] - b[1]) * BOX_PAD + 1
        x, y, bw, bh = b[0] - pw, b[1] - ph, b[2] - b[0] + 2 * pw, b[3] - b[1] + 2 * ph
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(w), x + bw), min(float(h), y + bh)
    if a.bbox is not None and (x0, y0, x1, y1) != (x, y, x + bw, y + bh):
        lost["boxes reaching outside the image (clipped)"] += 1
    if x1 <= x0 or y1 <= y0:
        return None
    return ((x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h)


def _row(a: Annotation, cls: int, w: int, h: int, dim: int, lost: Counter[str]) -> str | None:
    box = _box(a, w, h, lost)
    if box is None:
        lost["annotations without a box or labeled point"] += 1
        return None
    p = a.points
    cells = [str(cls), *(f"{v:.6f}" for v in box)]
    for x, y, v in p:
        nx, ny = x / w, y / h
        if v > 0 and not (0 <= nx <= 1 and 0 <= ny <= 1):
            lost["points outside the image (written as unlabeled)"] += 1
            v = 0
        if v == 0:
            if np.isfinite(x) and np.isfinite(y):
                lost["coordinates of unlabeled (v=0) points"] += 1
            cells += ["0.000000", "0.000000"] + (["0"] if dim == 3 else [])
        else:
            if dim == 2 and v == 1:
                lost["occluded (v=1) points written as visible (kpt_shape [K, 2])"] += 1
            cells += [f"{nx:.6f}", f"{ny:.6f}"] + ([str(int(v))] if dim == 3 else [])
    return " ".join(cells)


def _data_yaml(ds: Dataset, names: list[str], dim: int, splits: set[str]) -> str:
    import yaml

    sk = ds.skeleton
    cfg: dict[str, Any] = {
        "train": "images/train" if "train" in splits else f"images/{sorted(splits)[0]}",
        "val": "images/val" if "val" in splits else "images/train" if "train" in splits
        else f"images/{sorted(splits)[0]}",
    }
    if "test" in splits:
        cfg["test"] = "images/test"
    cfg["kpt_shape"] = [sk.num_keypoints, dim]
    cfg["flip_idx"] = [int(i) for i in sk.flip_permutation()]
    cfg["names"] = dict(enumerate(names))
    cfg["kpt_names"] = {i: list(sk.keypoints) for i in range(len(names))}
    cfg["kpt_edges"] = [list(e) for e in sk.edges]
    cfg["skeleton_name"] = sk.name
    head = ("# YOLO-pose dataset written by Pose Studio.\n"
            "# No 'path': ultralytics then resolves train/val against this file's folder.\n"
            "# kpt_edges and skeleton_name are Pose Studio's (0-based limbs); ultralytics\n"
            "# ignores them.\n")
    return head + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True,
                                 default_flow_style=None)


def write_yolo(ds: Dataset, path: Path, opts: WriteOptions) -> WriteSummary:
    """Write ``ds`` as a YOLO-pose dataset folder at ``path``."""
    ds.validate()
    path = Path(path)
    info = ds.info.get("yolo")
    dim = int(info.get("kpt_dim", 3)) if isinstance(info, dict) else 3
    dim = dim if dim in (2, 3) else 3
    names = _class_names(ds)
    cls_of = {n: i for i, n in enumerate(names)}
    ext = "jpg" if opts.image_format.lower() in ("jpg", "jpeg") else "png"
    lost: Counter[str] = Counter()
    notes: list[str] = []
    by_key = {s.key: s for s in ds.sources}
    protected = [Path(s.path) for s in ds.sources if s.path]
    splits: set[str] = set()
    files = 0
    total = len(ds.frames)
    with atomic_dir(path, force=opts.force, markers=("data.yaml",), protected=protected) as tmp:
        used: set[str] = set()
        for done, fr in enumerate(sorted(ds.frames, key=lambda f: (f.source, f.index)), 1):
            src = by_key[fr.source]
            split = str(src.extra.get("yolo_split") or "train")
            split = split if split in ("train", "val", "test") else "train"
            splits.add(split)
            rel = _rel_name(src, fr, ext)
            n = 2
            base = rel
            while f"{split}/{rel}" in used:
                p = PurePosixPath(base)
                rel, n = str(p.with_name(f"{p.stem}_{n}{p.suffix}")), n + 1
            used.add(f"{split}/{rel}")
            size = _size(src, fr)
            if opts.frames is not None:
                img = np.asarray(opts.frames(src.key, fr.index))
                size = (int(img.shape[1]), int(img.shape[0]))
                write_bytes(tmp / "images" / split / rel,
                            encode_image(img, PurePosixPath(rel).suffix.lower()))
                files += 1
            if size is None:
                raise FormatError(f"frame {fr.index} of {src.key!r}: its image size is unknown "
                                  "and no frames were given")
            rows = []
            for a in fr.annotations:
                if a.kind is InstanceKind.PREDICTED:
                    lost["predictions (YOLO labels are training labels)"] += 1
                    continue
                if a.track:
                    lost["tracks"] += 1
                if a.kp_scores is not None or a.score is not None:
                    lost["scores"] += 1
                if a.category is None and len(names) > 1:
                    lost[f"annotations without a category (written as {names[0]!r})"] += 1
                row = _row(a, cls_of[a.category] if a.category else 0, *size, dim, lost)
                if row is not None:
                    rows.append(row)
            if fr.regions:
                lost["regions without keypoints (crowd/ignore areas)"] += len(fr.regions)
            label = PurePosixPath(rel).with_suffix(".txt")
            write_bytes(tmp / "labels" / split / label,
                        ("\n".join(rows) + ("\n" if rows else "")).encode())
            files += 1
            if opts.progress is not None:
                opts.progress(done, total)
        if opts.frames is None:
            notes.append("images (no frames given: put them under images/<split>/ yourself)")
        if splits and "val" not in splits:
            notes.append("no validation split: data.yaml's val names the training images")
        write_bytes(tmp / "data.yaml",
                    _data_yaml(ds, names, dim, splits or {"train"}).encode("utf-8"))
        files += 1
    lines = [f"{what} ({n})" for what, n in lost.items()] + notes
    return WriteSummary(path=path, annotations=ds.num_annotations, files_written=files,
                        not_written=lines)
