"""Ultralytics YOLO-pose datasets: ``data.yaml`` + ``images/<split>/`` + ``labels/<split>/*.txt``.

A label row is ``class cx cy w h`` then K x ``(x y [v])``, all normalised by the image size
(coordinates over the whole image, no half-pixel shift, as ultralytics converts COCO). Paths
follow ultralytics: ``path`` (default: the YAML's folder), ``train``/``val``/``test`` as folders,
``.txt`` lists or lists of either; a label file replaces the last ``/images/`` of the image path
by ``/labels/``. Each split becomes an image-set source (key = the split name); an image with a
label file is a labeled frame (an empty file: labeled, nobody there), one without is not.

``kpt_shape [K, 2]`` has no visibility: points at (0, 0) are read as not labeled, others as
visible. Rows with one more value (``yolo predict save_txt save_conf``) are predictions whose
third keypoint value is a confidence. Keypoint names come from ``kpt_names`` (per class, newer
ultralytics) or default to ``kpt_0``...; 17 unnamed keypoints with COCO's ``flip_idx`` are read
as COCO-17. ``kpt_edges`` (0-based limb pairs) is Pose Studio's own key; ultralytics ignores it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.skeleton import COCO17
from pose_studio.formats.dataset import Annotation, Dataset, Frame, ImageEntry, Source
from pose_studio.formats.fileio import (
    IMAGE_SUFFIXES,
    FormatError,
    read_head,
    read_text,
)
from pose_studio.formats.registry import Format, ReadOptions, WriteOptions, WriteSummary
from pose_studio.formats.remap import clean_points, map_to_skeleton, skeleton_from_names

__all__ = ["FORMAT", "find_yaml", "sniff"]

SPLITS = ("train", "val", "test")
MAX_KEYPOINTS = 10_000


def _is_yolo_yaml(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml") and b"kpt_shape" in read_head(path, 65536)


def find_yaml(folder: Path) -> Path | None:
    """The dataset YAML of a folder: ``data.yaml`` first, else the only YAML with kpt_shape."""
    for name in ("data.yaml", "data.yml", "dataset.yaml"):
        if _is_yolo_yaml(folder / name):
            return folder / name
    found = sorted(p for p in folder.glob("*.y*ml") if _is_yolo_yaml(p))
    return found[0] if len(found) == 1 else None


def sniff(path: Path) -> bool:
    """A YAML with ``kpt_shape``, or a folder holding one; never raises."""
    try:
        if path.is_dir():
            return find_yaml(path) is not None
        return _is_yolo_yaml(path)
    except Exception:  # a sniffer never raises
        return False


# --- data.yaml ------------------------------------------------------------------------------------
def _int_list(v: Any, what: str, path: Path) -> list[int]:
    if not isinstance(v, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                          for i in v):
        raise FormatError(f"{path}: {what} must be a list of integers")
    return [int(i) for i in v]


def _names(v: Any, path: Path) -> list[str]:
    if v is None:
        return []
    if isinstance(v, Mapping):
        keys = sorted(v)
        if not all(isinstance(k, int) for k in keys) or keys != list(range(len(keys))):
            raise FormatError(f"{path}: names must be numbered 0, 1, 2...")
        return [str(v[k]) for k in keys]
    if isinstance(v, list) and len(v) <= 100_000:
        return [str(n) for n in v]
    raise FormatError(f"{path}: names must be a list or a mapping of class numbers to names")


def _kpt_names(v: Any, k: int) -> list[str] | None:
    first = v
    if isinstance(v, Mapping):
        first = v.get(0, next(iter(v.values()), None)) if v else None
    elif isinstance(v, list) and v and isinstance(v[0], list):
        first = v[0]
    if isinstance(first, list) and len(first) == k and all(isinstance(n, (str, int))
                                                          for n in first):
        names = [str(n) for n in first]
        return names if len(set(names)) == k else None
    return None


def _skeleton(cfg: Mapping[str, Any], k: int, path: Path, not_kept: list[str]) -> Any:
    flip = cfg.get("flip_idx")
    pairs: list[tuple[int, int]] = []
    if flip is not None:
        idx = _int_list(flip, "flip_idx", path)
        if len(idx) != k or sorted(idx) != list(range(k)) or any(idx[idx[i]] != i for i in range(k)):
            not_kept.append("flip_idx (not a left/right swap of the keypoints)")
        else:
            pairs = [(i, j) for i, j in enumerate(idx) if i < j]
    names = _kpt_names(cfg.get("kpt_names"), k)
    if names is None and cfg.get("kpt_names") is not None:
        not_kept.append("kpt_names (not one distinct name per keypoint)")
    edges: list[tuple[int, int]] = []
    raw_edges = cfg.get("kpt_edges")
    if isinstance(raw_edges, list):
        edges = [(int(e[0]), int(e[1])) for e in raw_edges
                 if isinstance(e, list) and len(e) == 2 and all(isinstance(i, int) for i in e)]
    if names is None:
        if k == COCO17.num_keypoints and (not pairs or set(pairs) == set(COCO17.flip_pairs)):
            names = list(COCO17.keypoints)
        else:
            names = [f"kpt_{i}" for i in range(k)]
    return skeleton_from_names(names, name=str(cfg.get("skeleton_name") or "yolo"),
                               edges=edges, flip_pairs=pairs, not_kept=not_kept)


def _root(cfg: Mapping[str, Any], yaml_path: Path) -> Path:
    raw = cfg.get("path")
    if raw in (None, ""):
        return yaml_path.parent
    p = Path(str(raw))
    for cand in ([p] if p.is_absolute() else [yaml_path.parent / p, p]):
        if cand.is_dir():
            return cand.resolve()
    # ultralytics would look under its datasets folder; the YAML's own folder is the best guess
    if (yaml_path.parent / "images").is_dir():
        return yaml_path.parent
    raise FormatError(f"{yaml_path}: dataset folder {raw!r} not found")


def _natural(name: str) -> tuple[tuple[int, Any], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name.lower())
                 if p)


def _split_images(root: Path, entry: Any, yaml_path: Path) -> tuple[Path, list[str]]:
    """(folder the paths are relative to, image paths) of one split entry."""
    entries = entry if isinstance(entry, list) else [entry]
    base: Path | None = None
    files: list[Path] = []
    for e in entries:
        if not isinstance(e, str):
            raise FormatError(f"{yaml_path}: split entries must be paths, not {e!r}")
        p = root / e
        if not p.exists() and e.startswith("../"):
            p = root / e[3:]
        if p.is_dir():
            base = base or p
            files += [q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES and q.is_file()]
        elif p.is_file() and p.suffix.lower() == ".txt":
            base = base or root
            for line in read_text(p, "an image list", limit=256 << 20).splitlines():
                line = line.strip()
                if not line:
                    continue
                q = Path(line)
                if line.startswith("./"):
                    q = p.parent / line[2:]
                elif not q.is_absolute():
                    q = root / line if (root / line).exists() else p.parent / line
                files.append(q)
        else:
            raise FormatError(f"{yaml_path}: split {e!r} not found under {root}")
    assert base is not None
    base = base.resolve()
    rel = []
    for q in files:
        q = q.resolve() if q.exists() else q
        try:
            rel.append(q.relative_to(base).as_posix())
        except ValueError:
            rel.append(q.as_posix())
    return base, sorted(dict.fromkeys(rel), key=_natural)


def _label_path(image: Path) -> Path:
    s = image.as_posix()
    if "/images/" in s:
        head, tail = s.rsplit("/images/", 1)
        return Path(f"{head}/labels/{tail}").with_suffix(".txt")
    return image.with_suffix(".txt")


def read_yolo(path: Path, opts: ReadOptions) -> Dataset:
    from pose_studio.formats.dlc import load_yaml
    from pose_studio.video.image_header import image_size  # cv2: only when read

    path = Path(path)
    yaml_path = find_yaml(path) if path.is_dir() else path
    if yaml_path is None:
        raise FormatError(f"{path}: no data.yaml with kpt_shape in this folder")
    cfg = load_yaml(yaml_path, "a YOLO data.yaml")
    if not isinstance(cfg, Mapping):
        raise FormatError(f"{yaml_path}: not a YOLO dataset description (not a mapping)")
    shape = _int_list(cfg.get("kpt_shape"), "kpt_shape", yaml_path)
    if len(shape) != 2 or not 1 <= shape[0] <= MAX_KEYPOINTS or shape[1] not in (2, 3):
        raise FormatError(f"{yaml_path}: kpt_shape must be [K, 2] or [K, 3], not {shape}")
    k, dim = shape
    not_kept: list[str] = []
    skeleton = _skeleton(cfg, k, yaml_path, not_kept)
    names = _names(cfg.get("names"), yaml_path)
    if not names and isinstance(cfg.get("nc"), int) and 0 < cfg["nc"] <= 100_000:
        names = [f"class_{i}" for i in range(cfg["nc"])]
    root = _root(cfg, yaml_path)
    splits = dict(cfg)
    if "val" not in splits and "validation" in splits:
        splits["val"] = splits["validation"]
    sources: list[Source] = []
    frames: list[Frame] = []
    seen: dict[tuple[Path, tuple[str, ...]], str] = {}
    stats = {"missing_image": 0, "bad_v": 0, "predictions": 0}
    runs: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        if not splits.get(split):
            continue
        base, rel = _split_images(root, splits[split], yaml_path)
        key = (base, tuple(rel))
        if key in seen:
            not_kept.append(f"split {split!r} repeats split {seen[key]!r} (read once)")
            continue
        seen[key] = split
        entries: list[ImageEntry] = []
        for i, r in enumerate(rel):
            if opts.progress is not None and i % 500 == 0:
                opts.progress(i, len(rel))
            img = base / r
            size = image_size(img) if img.is_file() else None
            entries.append(ImageEntry(r, *(size or (None, None))))
            lab = _label_path(img)
            if not lab.is_file():
                continue
            if size is None:
                stats["missing_image"] += 1
                continue
            anns = _parse_labels(lab, k, dim, size, names, stats, runs, yaml_path)
            frames.append(Frame(split, i, tuple(anns)))
        sources.append(Source(split, "images", str(base), tuple(entries),
                              extra={"yolo_split": split}))
    if not sources:
        raise FormatError(f"{yaml_path}: names no train/val/test images")
    if stats["missing_image"]:
        not_kept.append(f"{stats['missing_image']} label file(s) whose image is missing or "
                        "unreadable (their coordinates need its size)")
    if stats["bad_v"]:
        not_kept.append(f"{stats['bad_v']} point(s) with a visibility other than 0/1/2 or "
                        "coordinates far outside the image, read as unlabeled")
    if dim == 2:
        not_kept.append("kpt_shape [K, 2] has no visibility: points at (0, 0) read as "
                        "unlabeled, the others as visible")
    used = sorted({a.category for f in frames for a in f.annotations if a.category})
    cats = names or used
    info = {"format": "yolo", "path": str(yaml_path), "yolo": {"kpt_dim": dim}}
    ds = Dataset(skeleton=skeleton, sources=sources, frames=frames, categories=list(cats),
                 runs=runs, not_kept=not_kept, info=info)
    return map_to_skeleton(ds, opts.skeleton)


def _parse_labels(lab: Path, k: int, dim: int, size: tuple[int, int], names: list[str],
                  stats: dict[str, int], runs: dict[str, dict[str, Any]],
                  yaml_path: Path) -> list[Annotation]:
    w, h = size
    n = 5 + k * dim
    out: list[Annotation] = []
    text = read_text(lab, "a YOLO label file", limit=64 << 20)
    for ln, line in enumerate(text.splitlines(), 1):
        cells = line.split()
        if not cells:
            continue
        if len(cells) not in (n, n + 1):
            raise FormatError(f"{lab}:{ln}: {len(cells)} values; kpt_shape [{k}, {dim}] "
                              f"needs {n}")
        try:
            vals = np.array([float(c) for c in cells], dtype=np.float64)
        except ValueError:
            raise FormatError(f"{lab}:{ln}: not all values are numbers") from None
        cls = vals[0]
        if not (np.isfinite(cls) and cls == int(cls) and 0 <= cls < max(len(names), 1)):
            raise FormatError(f"{lab}:{ln}: class {cells[0]} is not one of the "
                              f"{len(names) or 1} classes of {yaml_path.name}")
        predicted = len(cells) == n + 1
        kp = vals[5:n].reshape(k, dim)
        pts = np.zeros((k, 3))
        pts[:, 0], pts[:, 1] = kp[:, 0] * w, kp[:, 1] * h
        zero = (kp[:, 0] == 0) & (kp[:, 1] == 0)
        scores = None
        if dim == 3 and not predicted:
            pts[:, 2] = kp[:, 2]
            pts[zero & (kp[:, 2] == 0), :2] = np.nan
        else:
            pts[:, 2] = np.where(zero, 0.0, 2.0)
            pts[zero, :2] = np.nan
            if predicted and dim == 3:
                scores = kp[:, 2].astype(np.float32)
        far = (np.abs(kp[:, :2]) > 10).any(axis=1)  # normalised: 10 image widths away
        pts[far, :2] = np.nan
        pts[far, 2] = -1
        pts, bad = clean_points(pts)
        stats["bad_v"] += bad
        cx, cy, bw, bh = vals[1:5]
        box = (float((cx - bw / 2) * w), float((cy - bh / 2) * h), float(bw * w), float(bh * h))
        if not all(np.isfinite(box)) or bw < 0 or bh < 0 or max(abs(v) for v in box) > 1e7:
            raise FormatError(f"{lab}:{ln}: the box is not a box")
        run = None
        if predicted:
            run = "yolo predictions"
            runs.setdefault(run, {"format": "yolo", "file": str(yaml_path)})
        out.append(Annotation(
            pts, kind=InstanceKind.PREDICTED if predicted else InstanceKind.USER,
            kp_scores=scores, score=float(vals[n]) if predicted else None, bbox=box,
            category=names[int(cls)] if names else None, run=run))
    return out


def _write(ds: Dataset, path: Path, options: WriteOptions) -> WriteSummary:
    from pose_studio.formats import yolo_write

    return yolo_write.write_yolo(ds, path, options)


FORMAT = Format(
    name="yolo",
    label="YOLO-pose dataset (ultralytics)",
    suffixes=(".yaml",),
    sniff=sniff,
    read=read_yolo,
    write=_write,
    priority=15,
)
