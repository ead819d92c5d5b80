"""DeepLabCut projects: ``config.yaml`` + ``labeled-data/<video>/CollectedData_<scorer>.csv``
(and ``.h5``) + the labeled images.

Accepted input: the project folder, its ``config.yaml``, or one ``CollectedData_*.csv``/``.h5``
(its project is found by walking up to a ``config.yaml``), or an ``analyze_videos`` output
(rows numbered by frame: predictions on the video found beside it). Each ``labeled-data/<video>``
folder becomes an image-set source holding every image of the folder (labeled or not);
labeled rows become frames. Single-animal rows are one instance; multi-animal projects give
one instance per individual (track = individual) and one for the unique body parts
(``extra["dlc_individual"] == "single"``, no track). DeepLabCut has no visibility: a labeled
point is ``v = 2``, an empty cell ``v = 0``. ``likelihood`` columns (analysis outputs) make
predictions with per-keypoint scores.

The skeleton comes from ``config.yaml`` (``bodyparts``, or ``multianimalbodyparts`` +
``uniquebodyparts``; ``skeleton`` pairs as limbs); ``left*``/``right*`` names pair as flip
pairs. YAML is read with ``yaml.safe_load`` only (no Python tags).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.annotation import InstanceKind
from pose_studio.formats import dlc_table
from pose_studio.formats.dataset import Annotation, Dataset, Frame, ImageEntry, Source
from pose_studio.formats.fileio import IMAGE_SUFFIXES, FormatError, read_head, read_text
from pose_studio.formats.registry import Format, ReadOptions, WriteOptions, WriteSummary
from pose_studio.formats.remap import clean_points, map_to_skeleton, skeleton_from_names

__all__ = ["FORMAT", "load_yaml", "sniff"]

_SINGLE = "single"


def load_yaml(path: Path, what: str) -> Any:
    """``yaml.safe_load`` of a small file, with one FormatError line for any problem."""
    import yaml

    text = read_text(path, what, limit=16 << 20)
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(f"{path}: not valid YAML ({first})") from None


def _names(v: Any, what: str, path: Path) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or len(v) > 10_000 or not all(isinstance(n, (str, int)) for n in v):
        raise FormatError(f"{path}: {what} must be a list of names")
    return [str(n) for n in v]


# --- sniffing -------------------------------------------------------------------------------------
def _is_config(path: Path) -> bool:
    head = read_head(path, 65536)
    return b"bodyparts" in head and (b"scorer" in head or b"multianimalproject" in head) \
        and b"kpt_shape" not in head


def sniff(path: Path) -> bool:
    """A DeepLabCut project folder, config.yaml, or CollectedData table; never raises."""
    try:
        if path.is_dir():
            return (path / "config.yaml").is_file() and _is_config(path / "config.yaml")
        suffix = path.suffix.lower()
        if suffix in (".yaml", ".yml"):
            return _is_config(path)
        if suffix == ".csv":
            lines = read_head(path, 65536).decode("utf-8", "replace").lstrip("\ufeff").splitlines()
            first = [ln.split(",", 1)[0].strip().lower() for ln in lines[:3]]
            return len(first) >= 3 and first[0] == "scorer" and first[1] in ("bodyparts",
                                                                              "individuals")
        if suffix in (".h5", ".hdf5"):
            from pose_studio.formats.slp import _names_in, hdf5_offset

            return hdf5_offset(path) is not None and _names_in(path, (b"df_with_missing",))
    except Exception:  # a sniffer never raises
        return False
    return False


# --- reading --------------------------------------------------------------------------------------
def _find_project(start: Path) -> Path | None:
    for p in [start, *list(start.parents)[:3]]:
        if (p / "config.yaml").is_file():
            return p
    return None


def _tables(root: Path, scorer: str | None, not_kept: list[str]) -> list[Path]:
    out: list[Path] = []
    ld = root / "labeled-data"
    if not ld.is_dir():
        return out
    for folder in sorted(p for p in ld.iterdir() if p.is_dir()):
        csvs = sorted(folder.glob("CollectedData_*.csv"))
        machine = sorted(p.name for p in folder.glob("machinelabels*"))
        if machine:
            not_kept.append(f"{folder.name}: DeepLabCut's machine labels ({', '.join(machine)}; "
                            "refine them in DeepLabCut, or import the analysis .h5)")
        h5s = sorted(folder.glob("CollectedData_*.h5"))
        found = {p.stem: p for p in h5s} | {p.stem: p for p in csvs}  # the CSV wins
        if scorer and f"CollectedData_{scorer}" in found:
            chosen = [found[f"CollectedData_{scorer}"]]
            others = sorted(set(found) - {f"CollectedData_{scorer}"})
            if others:
                not_kept.append(f"{folder.name}: tables of other scorers ({', '.join(others)})")
        else:
            chosen = list(found.values())
        out.extend(chosen)
    return out


def _natural(name: str) -> tuple[tuple[int, Any], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name.lower())
                 if p)


def _config_skeleton(cfg: Mapping[str, Any], path: Path, not_kept: list[str]
                     ) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    multi = bool(cfg.get("multianimalproject"))
    if multi:
        body = _names(cfg.get("multianimalbodyparts"), "multianimalbodyparts", path)
        unique = _names(cfg.get("uniquebodyparts"), "uniquebodyparts", path)
    else:
        body = _names(cfg.get("bodyparts"), "bodyparts", path)
        unique = []
    pairs: list[tuple[str, str]] = []
    sk = cfg.get("skeleton") or []
    if not isinstance(sk, list):
        raise FormatError(f"{path}: skeleton must be a list of [bodypart, bodypart] pairs")
    for e in sk:
        if isinstance(e, list) and len(e) == 2:
            pairs.append((str(e[0]), str(e[1])))
        else:
            not_kept.append(f"skeleton entry {str(e)[:40]!r} (not a pair of body parts)")
    return body, unique, pairs


def read_dlc(path: Path, opts: ReadOptions) -> Dataset:
    path = Path(path)
    not_kept: list[str] = []
    if path.is_dir():
        root: Path | None = path
    elif path.suffix.lower() in (".yaml", ".yml"):
        root = path.parent
    else:
        root = _find_project(path.parent)
    cfg: Mapping[str, Any] = {}
    if root is not None and (root / "config.yaml").is_file():
        loaded = load_yaml(root / "config.yaml", "a DeepLabCut config.yaml")
        if not isinstance(loaded, Mapping):
            raise FormatError(f"{root / 'config.yaml'}: not a DeepLabCut config (not a mapping)")
        cfg = loaded
    elif path.is_dir() or path.suffix.lower() in (".yaml", ".yml"):
        raise FormatError(f"{path}: no config.yaml")
    scorer = str(cfg["scorer"]) if cfg.get("scorer") is not None else None
    if path.is_file() and path.suffix.lower() in (".csv", ".h5", ".hdf5"):
        table_paths = [path]
    else:
        assert root is not None
        table_paths = _tables(root, scorer, not_kept)
    tables = [(p, dlc_table.read_csv(p) if p.suffix.lower() == ".csv" else dlc_table.read_h5(p))
              for p in table_paths]
    body, unique, pairs = _config_skeleton(cfg, root / "config.yaml" if root else path, not_kept)
    if not body and not unique:  # no config: the tables' own column order
        for _, t in tables:
            for c in t.columns:
                target = unique if c[1] == _SINGLE else body
                if c[2] not in target:
                    target.append(c[2])
        if root is None:
            not_kept.append("no config.yaml found: skeleton from the table's columns, no limbs")
    names = body + [u for u in unique if u not in body]
    index = {n: i for i, n in enumerate(names)}
    edges = []
    for a, b in pairs:
        if a in index and b in index:
            edges.append((index[a], index[b]))
        else:
            not_kept.append(f"skeleton limb {a}-{b} names a body part the project lacks")
    skeleton = skeleton_from_names(names, name=str(cfg.get("Task") or "deeplabcut"),
                                   edges=edges, not_kept=not_kept)
    base = root if root is not None else path.parent
    return map_to_skeleton(_build(tables, skeleton, index, base, path, opts, not_kept, cfg),
                           opts.skeleton)


def _source_images(folder: Path, listed: set[str]) -> list[str]:
    files: list[str] = []
    if folder.is_dir():
        files = [p.name for p in folder.iterdir()
                 if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(set(files) | set(listed), key=_natural)


_VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv")


def _analysis_video(tp: Path, base: Path, opts: ReadOptions, not_kept: list[str]) -> Source:
    """The video an ``analyze_videos`` table belongs to: ``<video>DLC_<net>...h5`` beside it or
    under the project's ``videos/`` (or ``--images``)."""
    stem = tp.stem.split("DLC_")[0] if "DLC_" in tp.stem else tp.stem
    for folder in (tp.parent, base / "videos", opts.images_dir):
        if folder is None:
            continue
        for suffix in _VIDEO_SUFFIXES:
            if (folder / f"{stem}{suffix}").is_file():
                return Source(stem, "video", str((folder / f"{stem}{suffix}").resolve()))
    not_kept.append(f"the video of {tp.name} ({stem}.*) was not found; its predictions are kept")
    return Source(stem, "video", None)


def _build(tables: list[tuple[Path, dlc_table.Table]], skeleton: Any, index: dict[str, int],
           base: Path, path: Path, opts: ReadOptions, not_kept: list[str],
           cfg: Mapping[str, Any]) -> Dataset:
    from pose_studio.video.image_header import image_size  # cv2: only when read

    k = skeleton.num_keypoints
    rows_by_folder: dict[str, list[tuple[str, int, dlc_table.Table, Path]]] = {}
    sources: list[Source] = []
    frames: list[Frame] = []
    tracks: list[str] = []
    runs: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    bad_total = 0
    unknown: set[str] = set()
    readers: dict[int, _TableReader] = {}
    for tp, t in tables:
        if t.rows and all(r.isdigit() for r in t.rows):  # analyze_videos output: frame numbers
            src = _analysis_video(tp, base, opts, not_kept)
            sources.append(src)
            reader = _TableReader(t, index, k, tp, runs, unknown)
            bad_total += reader.bad
            for r, name in enumerate(t.rows):
                anns = reader.row(r)
                tracks += [a.track for a in anns if a.track and a.track not in tracks]
                if anns:
                    frames.append(Frame(src.key, int(name), tuple(anns)))
            continue
        for r, name in enumerate(t.rows):
            parts = [x for x in name.split("/") if x not in ("", ".", "..")] or [f"row{r}"]
            folder = "/".join(parts[:-1]) if len(parts) > 1 else \
                tp.parent.relative_to(base).as_posix() if tp.parent.is_relative_to(base) else "."
            rows_by_folder.setdefault(folder, []).append((parts[-1], r, t, tp))
    for folder, rows in rows_by_folder.items():
        fdir = (base / folder) if folder != "." else base
        if opts.images_dir is not None and not fdir.is_dir():
            fdir = opts.images_dir / Path(folder).name
        listed = {r[0] for r in rows}
        images = _source_images(fdir, listed)
        pos = {n: i for i, n in enumerate(images)}
        entries = []
        for n in images:
            size = image_size(fdir / n) if (fdir / n).is_file() else None
            if size is None and n in listed:
                missing.append(f"{folder}/{n}")
            entries.append(ImageEntry(n, *(size or (None, None))))
        key = Path(folder).name if folder != "." else base.name
        while any(s.key == key for s in sources):
            key = f"{key}+"
        sources.append(Source(key, "images", str(fdir.resolve()) if fdir.is_dir() else str(fdir),
                              tuple(entries), extra={"dlc_folder": folder}))
        by_image: dict[int, list[Annotation]] = {}
        for name, r, t, tp in rows:
            if id(t) not in readers:
                readers[id(t)] = _TableReader(t, index, k, tp, runs, unknown)
                bad_total += readers[id(t)].bad
            anns = readers[id(t)].row(r)
            for a in anns:
                if a.track and a.track not in tracks:
                    tracks.append(a.track)
            by_image.setdefault(pos[name], []).extend(anns)
        frames.extend(Frame(key, i, tuple(a)) for i, a in sorted(by_image.items()))
    if missing:
        not_kept.append(f"{len(missing)} labeled image(s) not found (labels kept): "
                        + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))
    if bad_total:
        not_kept.append(f"{bad_total} point(s) with non-finite or absurd coordinates read as "
                        "unlabeled")
    if unknown:
        not_kept.append(f"columns of body parts the config does not list: {', '.join(sorted(unknown))}")
    info = {"format": "dlc", "path": str(path), "dlc": {
        "scorer": cfg.get("scorer"), "task": cfg.get("Task"),
        "multianimal": bool(cfg.get("multianimalproject")) or any(t.multi for _, t in tables),
        "individuals": [str(i) for i in cfg.get("individuals") or []
                        if isinstance(i, (str, int))][:10_000],
        "uniquebodyparts": _names(cfg.get("uniquebodyparts"), "uniquebodyparts", path)
        if cfg.get("multianimalproject") else []}}
    return Dataset(skeleton=skeleton, sources=sources, frames=frames, tracks=tracks, runs=runs,
                   not_kept=not_kept, info=info)


class _TableReader:
    """Turns a table's rows into annotations; columns are planned once, rows cleaned at once."""

    def __init__(self, t: dlc_table.Table, index: dict[str, int], k: int, tp: Path,
                 runs: dict[str, dict[str, Any]], unknown: set[str]) -> None:
        cols: dict[str | None, dict[str, np.ndarray]] = {}
        for j, (_scorer, ind, bp, coord) in enumerate(t.columns):
            i = index.get(bp)
            if i is None:
                unknown.add(bp)
                continue
            if coord not in ("x", "y", "likelihood"):
                continue
            plan = cols.setdefault(ind, {c: np.full(k, -1) for c in ("x", "y", "likelihood")})
            plan[coord][i] = j
        n = len(t.rows)
        self.groups = []
        self.bad = 0
        padded = np.concatenate([t.values, np.full((n, 1), np.nan)], axis=1)  # column -1: NaN
        for ind, plan in cols.items():
            x, y = padded[:, plan["x"]], padded[:, plan["y"]]
            pts = np.stack([x, y, np.where(np.isnan(x) | np.isnan(y), 0.0, 2.0)], axis=2)
            pts[pts[..., 2] == 0, :2] = np.nan
            flat, bad = clean_points(pts.reshape(-1, 3))
            self.bad += bad
            scores = None
            if (plan["likelihood"] >= 0).any():
                scores = padded[:, plan["likelihood"]].astype(np.float32)
                run = tp.name
                runs.setdefault(run, {"format": "dlc", "file": str(tp)})
            self.groups.append((ind, flat.reshape(n, k, 3), scores))
        self.run = tp.name

    def row(self, r: int) -> list[Annotation]:
        out = []
        for ind, pts, scores in self.groups:
            if not (pts[r, :, 2] > 0).any():
                continue
            predicted = scores is not None
            out.append(Annotation(
                pts[r], kind=InstanceKind.PREDICTED if predicted else InstanceKind.USER,
                kp_scores=scores[r] if scores is not None else None,
                track=ind if ind not in (None, _SINGLE) else None,
                run=self.run if predicted else None,
                extra={"dlc_individual": ind} if ind is not None else {}))
        return out


def _write(ds: Dataset, path: Path, options: WriteOptions) -> WriteSummary:
    from pose_studio.formats import dlc_write

    return dlc_write.write_dlc(ds, path, options)


FORMAT = Format(
    name="dlc",
    label="DeepLabCut project",
    suffixes=(".yaml", ".csv", ".h5"),
    sniff=sniff,
    read=read_dlc,
    write=_write,
    priority=15,
)
