"""Writing a :class:`Dataset` as a DeepLabCut project DeepLabCut reads back.

Layout: ``config.yaml``, ``labeled-data/<video>/CollectedData_<scorer>.csv`` (+ ``.h5`` when
pandas and PyTables are installed: DeepLabCut's training step reads the ``.h5``;
``deeplabcut.convertcsv2h5`` rebuilds it from the CSV otherwise) and the labeled images
(``img00042.png`` for video frames, the original names for image sets). ``video_sets`` names one
video per labeled-data folder (its stem is the folder), as DeepLabCut requires.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.output import atomic_dir
from pose_studio.formats import dlc_table
from pose_studio.formats.dataset import Annotation, Dataset, Frame, Source
from pose_studio.formats.fileio import (
    IMAGE_SUFFIXES,
    FormatError,
    MissingExtraError,
    encode_image,
    write_bytes,
)
from pose_studio.formats.registry import WriteOptions, WriteSummary

__all__ = ["write_dlc"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _dlc_info(ds: Dataset) -> dict[str, Any]:
    info = ds.info.get("dlc")
    return info if isinstance(info, dict) else {}


def _folder_name(src: Source, used: set[str]) -> str:
    base = Path(src.path).stem if src.kind == "video" and src.path else src.key
    base = _SAFE.sub("_", base).strip("._") or "images"
    name, n = base, 2
    while name in used:
        name, n = f"{base}_{n}", n + 1
    used.add(name)
    return name


def _image_names(src: Source, frames: list[Frame], ext: str) -> dict[int, str]:
    if src.kind == "video":
        width = max(4, len(str(max((f.index for f in frames), default=0))))
        return {f.index: f"img{f.index:0{width}d}.{ext}" for f in frames}
    names: dict[int, str] = {}
    used: set[str] = set()
    for f in frames:
        rel = src.images[f.index].path if f.index < len(src.images) else f"{f.index}.{ext}"
        p = Path(rel)
        suffix = p.suffix.lower() if p.suffix.lower() in IMAGE_SUFFIXES else f".{ext}"
        stem = _SAFE.sub("_", "_".join(p.with_suffix("").parts)) or f"img{f.index}"
        name, n = f"{stem}{suffix}", 2
        while name in used:
            name, n = f"{stem}_{n}{suffix}", n + 1
        used.add(name)
        names[f.index] = name
    return names


class _Plan:
    """Which annotation goes to which individual, and what cannot be carried."""

    def __init__(self, ds: Dataset) -> None:
        self.lost: Counter[str] = Counter()
        info = _dlc_info(ds)
        names = ds.skeleton.keypoints
        self.unique = [u for u in info.get("uniquebodyparts", []) if u in names]
        self.body = [n for n in names if n not in self.unique]
        per_frame = [sum(1 for a in f.annotations if a.kind is InstanceKind.USER)
                     for f in ds.frames]
        self.multi = bool(info.get("multianimal")) or bool(ds.tracks) or \
            any(n > 1 for n in per_frame)
        untracked = max((sum(1 for a in f.annotations if a.kind is InstanceKind.USER
                             and a.track is None and a.extra.get("dlc_individual") != "single")
                         for f in ds.frames), default=0)
        self.individuals = list(ds.tracks)
        extra = [f"individual{i + 1}" for i in range(len(self.individuals) + untracked)]
        self.individuals += [n for n in extra if n not in self.individuals][:untracked]
        self._where: tuple[list[Any], dict[Any, int]] | None = None

    def columns(self, scorer: str) -> list[tuple[str, str | None, str, str]]:
        if not self.multi:
            return [(scorer, None, bp, c) for bp in self.body for c in ("x", "y")]
        cols: list[tuple[str, str | None, str, str]] = [
            (scorer, ind, bp, c) for ind in self.individuals for bp in self.body
            for c in ("x", "y")]
        cols += [(scorer, "single", bp, c) for bp in self.unique for c in ("x", "y")]
        return cols

    def row(self, fr: Frame, cols: list[tuple[str, str | None, str, str]],
            kp: dict[str, int]) -> np.ndarray:
        values = np.full(len(cols), np.nan)
        if self._where is None or self._where[0] is not cols:
            self._where = (cols, {(c[1], c[2], c[3]): j for j, c in enumerate(cols)})
        where = self._where[1]
        free = [i for i in self.individuals if i not in {a.track for a in fr.annotations}]
        for a in fr.annotations:
            if a.kind is not InstanceKind.USER:
                self.lost["predictions (DeepLabCut's labeled data holds labels)"] += 1
                continue
            ind: str | None = None
            if self.multi:
                if a.extra.get("dlc_individual") == "single":
                    ind = "single"
                elif a.track is not None:
                    ind = a.track
                elif free:
                    ind = free.pop(0)
                else:
                    self.lost["instances beyond the project's individuals"] += 1
                    continue
            elif any(not np.isnan(values[j]) for j in range(len(values))):
                self.lost["extra instances on a frame"] += 1
                continue
            self._points(a, ind, where, kp, values)
        return values

    def _points(self, a: Annotation, ind: str | None, where: dict[Any, int],
                kp: dict[str, int], values: np.ndarray) -> None:
        p = a.points
        if (p[:, 2] == 1).any():
            self.lost["occluded (v=1) points written as labeled: DeepLabCut has no visibility"] \
                += 1
        if ((p[:, 2] == 0) & np.isfinite(p[:, :2]).all(axis=1)).any():
            self.lost["coordinates of unlabeled (v=0) points"] += 1
        if a.category:
            self.lost["categories"] += 1
        if a.bbox is not None:
            self.lost["bounding boxes"] += 1
        for bp, i in kp.items():
            if p[i, 2] <= 0:
                continue
            jx, jy = where.get((ind, bp, "x")), where.get((ind, bp, "y"))
            if jx is None or jy is None:
                self.lost["points of body parts the individual does not have"] += 1
                continue
            values[jx], values[jy] = p[i, 0], p[i, 1]


def _config(ds: Dataset, out: Path, scorer: str, plan: _Plan,
            videos: dict[str, tuple[int, int] | None]) -> dict[str, Any]:
    names = ds.skeleton.keypoints
    info = _dlc_info(ds)
    cfg: dict[str, Any] = {
        "Task": str(info.get("task") or ds.skeleton.name or "posestudio"),
        "scorer": scorer,
        "date": datetime.date.today().strftime("%b%d"),
        "multianimalproject": plan.multi,
        "identity": False if plan.multi else None,
        "project_path": str(out),
        "engine": "pytorch",
        "video_sets": {v: {"crop": f"0, {s[0]}, 0, {s[1]}" if s else "0, 640, 0, 480"}
                       for v, s in videos.items()},
    }
    if plan.multi:
        cfg.update({"individuals": plan.individuals, "uniquebodyparts": plan.unique,
                    "multianimalbodyparts": plan.body, "bodyparts": "MULTI!"})
    else:
        cfg["bodyparts"] = list(names)
    cfg.update({
        "start": 0, "stop": 1, "numframes2pick": 20,
        "skeleton": [[names[a], names[b]] for a, b in ds.skeleton.edges],
        "skeleton_color": "black", "pcutoff": 0.6, "dotsize": 12, "alphavalue": 0.7,
        "colormap": "rainbow", "TrainingFraction": [0.95], "iteration": 0,
        "default_net_type": "resnet_50", "default_augmenter": "default", "snapshotindex": -1,
        "detector_snapshotindex": -1, "batch_size": 8, "detector_batch_size": 1,
        "cropping": False, "x1": 0, "x2": 640, "y1": 277, "y2": 624,
        "corner2move2": [50, 50], "move2corner": True,
    })
    return cfg


def write_dlc(ds: Dataset, path: Path, opts: WriteOptions) -> WriteSummary:
    """Write ``ds`` as a DeepLabCut project folder at ``path``."""
    import yaml

    ds.validate()
    path = Path(path)
    info = _dlc_info(ds)
    scorer = _SAFE.sub("_", str(info.get("scorer") or "posestudio")) or "posestudio"
    plan = _Plan(ds)
    cols = plan.columns(scorer)
    kp = {n: i for i, n in enumerate(ds.skeleton.keypoints)}
    ext = "jpg" if opts.image_format.lower() in ("jpg", "jpeg") else "png"
    lost_extra: list[str] = []
    if opts.frames is None:
        lost_extra.append("images (no frames given: copy them into labeled-data yourself)")
    protected = [Path(s.path) for s in ds.sources if s.path]
    files = 0
    used: set[str] = set()
    videos: dict[str, tuple[int, int] | None] = {}
    total = len(ds.frames)
    done = 0
    with atomic_dir(path, force=opts.force, markers=("config.yaml",),
                    protected=protected) as tmp:
        out = path.resolve()
        for src in ds.sources:
            frames = sorted((f for f in ds.frames if f.source == src.key), key=lambda f: f.index)
            if not frames:
                continue
            folder = _folder_name(src, used)
            names = _image_names(src, frames, ext)
            size: tuple[int, int] | None = None
            rows, values = [], []
            for fr in frames:
                name = names[fr.index]
                if opts.frames is not None:
                    img = np.asarray(opts.frames(src.key, fr.index))
                    size = size or (int(img.shape[1]), int(img.shape[0]))
                    write_bytes(tmp / "labeled-data" / folder / name,
                                encode_image(img, Path(name).suffix.lower()))
                    files += 1
                rows.append(f"labeled-data/{folder}/{name}")
                values.append(plan.row(fr, cols, kp))
                done += 1
                if opts.progress is not None:
                    opts.progress(done, total)
            table = dlc_table.Table(cols, rows, np.array(values).reshape(len(rows), len(cols)))
            tdir = tmp / "labeled-data" / folder
            write_bytes(tdir / f"CollectedData_{scorer}.csv", dlc_table.table_csv(table).encode())
            files += 1
            try:
                dlc_table.write_h5(table, tdir / f"CollectedData_{scorer}.h5")
                files += 1
            except MissingExtraError:
                if not any("h5" in line for line in lost_extra):
                    lost_extra.append(
                        f"CollectedData_{scorer}.h5 (needs pandas and tables: pip install "
                        "'pose-studio[dlc]', or run deeplabcut.convertcsv2h5 on the config)")
            except (OSError, ValueError) as exc:
                raise FormatError(f"cannot write the DeepLabCut .h5 table: {exc}") from None
            vpath = src.path if src.kind == "video" and src.path else \
                str(out / "videos" / f"{folder}.mp4")
            videos[vpath] = size
        cfg = _config(ds, out, scorer, plan, videos)
        write_bytes(tmp / "config.yaml",
                    yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True).encode("utf-8"))
        files += 1
    lines = [f"{what} ({n})" for what, n in plan.lost.items()] + lost_extra
    if any(a.kp_scores is not None and a.kind is InstanceKind.USER
           for f in ds.frames for a in f.annotations):
        lines.append("keypoint scores of labels")
    regions = sum(len(f.regions) for f in ds.frames)
    if regions:
        lines.append(f"{regions} region(s) without keypoints")
    return WriteSummary(path=path, annotations=ds.num_annotations, files_written=files,
                        not_written=lines)
