"""Reading SLEAP ``.slp`` files into a :class:`Dataset` (see :mod:`pose_studio.formats.slp`)."""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.output import OutputError, write_bytes_atomic
from pose_studio.core.skeleton import Skeleton
from pose_studio.formats.dataset import Annotation, Dataset, Frame, ImageEntry, Source
from pose_studio.formats.fileio import FormatError, encode_image, require
from pose_studio.formats.registry import ReadOptions
from pose_studio.formats.remap import clean_points, map_to_skeleton, skeleton_from_names

__all__ = ["read_slp", "unpack_embedded"]

#: A table is read only when it is no larger than this, and no more than this many times
#: larger than the bytes it occupies in the file (a compressed table can claim any size).
MAX_TABLE_BYTES = 4 << 30
MAX_INFLATION = 200
MAX_JSON_CHARS = 64 << 20
#: Tables and groups SLEAP writes that this reader understands or that carry nothing to keep.
_KNOWN = {"metadata", "videos_json", "tracks_json", "frames", "instances", "points",
          "pred_points", "suggestions_json", "provenance_json", "negative_anchors"}


class _Bad(Exception):
    """Internal: a structural problem, turned into one FormatError line with the path."""


def _check_declared(ds: Any, name: str, rows: int | None = None) -> None:
    """Refuse a table (or ``rows`` of it) whose declared size the file cannot hold."""
    per_row = int(np.prod(ds.shape[1:], dtype=np.int64)) * int(ds.dtype.itemsize)
    n = int(ds.shape[0]) if rows is None else rows
    nominal = n * per_row
    stored = int(ds.id.get_storage_size())
    if nominal > MAX_TABLE_BYTES or (nominal > (1 << 20) and nominal > MAX_INFLATION * stored):
        raise _Bad(f"table {name!r} declares {ds.shape[0]} rows, far more than the file holds")


def _table(f: Any, name: str, fields: tuple[str, ...] = ()) -> np.ndarray:
    """A 1-D table read whole after its declared size was checked against the file."""
    import h5py

    ds = f.get(name)
    if ds is None:
        raise _Bad(f"it has no {name!r} table")
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
        raise _Bad(f"{name!r} is not a 1-D table")
    _check_declared(ds, name)
    names = ds.dtype.names or ()
    missing = [n for n in fields if n not in names]
    if missing:
        raise _Bad(f"table {name!r} lacks column(s) {', '.join(missing)}")
    return np.asarray(ds[()])


def _text(v: Any) -> str:
    if isinstance(v, np.ndarray):
        v = v.tobytes() if v.dtype.kind in "uiS" else v.item()
    if isinstance(v, (bytes, np.bytes_)):
        v = bytes(v).decode("utf-8")
    if not isinstance(v, str):
        raise _Bad(f"expected text, found {type(v).__name__}")
    if len(v) > MAX_JSON_CHARS:
        raise _Bad("a JSON block is too large")
    # Some SLEAP versions stored str(bytes): "b'{...}'". literal_eval reads only literals.
    if v.startswith(("b'", 'b"')) and v.endswith(v[1]):
        lit = ast.literal_eval(v)
        v = lit.decode("utf-8") if isinstance(lit, bytes) else str(lit)
    return v


def _json(v: Any) -> Any:
    return json.loads(_text(v))


def _rows_json(f: Any, name: str) -> list[Any]:
    if name not in f:
        return []
    ds = f[name]
    if ds.ndim != 1 or ds.shape[0] > 10_000_000:
        raise _Bad(f"{name!r} is not a list of JSON rows")
    if ds.dtype.kind == "f":  # SLEAP writes an empty float table when there are none
        return []
    return [_json(r) for r in _table(f, name)]


# --- skeleton -------------------------------------------------------------------------------------
def _node_name(node: Any) -> str:
    if isinstance(node, Mapping):
        if "name" in node:
            return str(node["name"])
        state = node.get("py/state")
        if isinstance(state, Mapping) and isinstance(state.get("py/tuple"), list):
            return str(state["py/tuple"][0])
    raise _Bad("a skeleton node has no name")


def _skeleton(meta: Mapping[str, Any], index: int, not_kept: list[str]) -> tuple[Skeleton, str]:
    names = [_node_name(n) for n in meta.get("nodes", [])]
    sk = meta["skeletons"][index]
    if isinstance(sk, Mapping) and "nx_graph" in sk:  # SLEAP >= 1.3.2
        sk = sk["nx_graph"]
    ids = [int(n["id"]) if isinstance(n, Mapping) else int(n) for n in sk["nodes"]]
    if any(not 0 <= i < len(names) for i in ids):
        raise _Bad("a skeleton names a node the file does not list")
    local = {g: i for i, g in enumerate(ids)}
    edges: list[tuple[int, int]] = []
    sym: list[tuple[int, int]] = []
    types: dict[int, int] = {}  # jsonpickle: each py/reduce gets the next py/id
    for link in sk.get("links", []):
        t = link.get("type", {})
        if "py/reduce" in t:
            kind = int(t["py/reduce"][1]["py/tuple"][0])
            types[len(types) + 1] = kind
        elif "py/id" in t:
            kind = types.get(int(t["py/id"]), int(t["py/id"]))
        else:
            kind = int(t) if isinstance(t, int) else 1
        s, d = local.get(int(link["source"])), local.get(int(link["target"]))
        if s is None or d is None:
            continue
        (edges if kind == 1 else sym if kind == 2 else []).append((s, d))
    seen: set[tuple[int, int]] = set()
    flips = []
    for a, b in sym:  # old files list each symmetry in both directions
        key = (min(a, b), max(a, b))
        if key not in seen:
            seen.add(key)
            flips.append((a, b))
    graph = sk.get("graph", {})
    name = str(graph.get("name") or "sleap") if isinstance(graph, Mapping) else "sleap"
    skel = skeleton_from_names([names[i] for i in ids], name=name, edges=edges,
                               flip_pairs=flips, not_kept=not_kept)
    return skel, name


# --- videos ---------------------------------------------------------------------------------------
def _resolve(written: str, labels: Path, images_dir: Path | None) -> Path | None:
    p = Path(written.replace("\\", "/")) if written else None
    if p is None:
        return None
    tries = [p] if p.is_absolute() else [labels.parent / p, p]
    tries += [labels.parent / p.name]
    if images_dir is not None:
        tries += [images_dir / p, images_dir / p.name]
    for t in tries:
        try:
            if t.exists():
                return t.resolve()
        except OSError:
            continue
    return None


class _Video:
    def __init__(self, source: Source, frame_map: dict[int, int] | None) -> None:
        self.source = source
        self.frame_map = frame_map  # SLEAP frame_idx -> position (embedded frames, image lists)


def _videos(f: Any, path: Path, opts: ReadOptions, not_kept: list[str]) -> list[_Video]:
    out: list[_Video] = []
    keys: set[str] = set()
    for i, entry in enumerate(_rows_json(f, "videos_json")):
        if not isinstance(entry, Mapping):
            raise _Bad(f"video {i} is not described by a JSON object")
        be = entry.get("backend", {})
        if not isinstance(be, Mapping):
            raise _Bad(f"video {i} has no backend description")
        written = str(be.get("filename", entry.get("filename", "")))
        shape = be.get("shape")
        h = w = None
        if isinstance(shape, list) and len(shape) == 4 and all(isinstance(v, int) for v in shape):
            h, w = int(shape[1]), int(shape[2])
        dataset = str(be.get("dataset") or "")
        embedded = written == "." or (be.get("has_embedded_images") and dataset
                                      and Path(_resolve(written, path, None) or "") == path.resolve())
        src_info = entry.get("source_video")
        orig, shown = "", _shown_name(be)
        if embedded and isinstance(src_info, Mapping):
            sbe = src_info.get("backend") or {}
            if isinstance(sbe, Mapping):
                orig = str(sbe.get("filename", src_info.get("filename", "")))
                shown = _shown_name(sbe)
        stem = posixpath.basename(shown.rstrip("/")) or f"video{i}"
        key = stem
        n = 2
        while key in keys:
            key, n = f"{stem} ({n})", n + 1
        keys.add(key)
        if embedded:
            out.append(_embedded(f, key, dataset, i, orig, w, h))
        elif isinstance(be.get("filenames"), list):
            out.append(_image_list(key, be["filenames"], path, opts, w, h, not_kept))
        else:
            # Not found here is not a loss: the importer matches the project's videos (by path,
            # then file name) and refuses the import, naming the video, if none fits.
            found = _resolve(written, path, opts.images_dir)
            src = Source(key, "video", str(found) if found else written, width=w, height=h,
                         extra={"slp_filename": written})
            out.append(_Video(src, None))
    return out


def _embedded(f: Any, key: str, dataset: str, i: int, orig: str, w: int | None,
              h: int | None) -> _Video:
    group = dataset[:-len("/video")] if dataset.endswith("/video") else (dataset or f"video{i}")
    if f"{group}/video" not in f:
        raise _Bad(f"embedded video {group!r} is missing from the file")
    ds = f[f"{group}/video"]
    fmt = ds.attrs.get("format", "png")
    fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
    w = int(ds.attrs.get("width", w or 0)) or w
    h = int(ds.attrs.get("height", h or 0)) or h
    if ds.ndim not in (1, 2, 4):
        raise _Bad(f"embedded video {group!r} is not a table of images")
    _check_declared(ds, f"{group}/video", rows=1)  # read one row at a time when unpacking
    if f"{group}/frame_numbers" in f:
        nums_ds = f[f"{group}/frame_numbers"]
        _check_declared(nums_ds, f"{group}/frame_numbers")
        nums = np.asarray(nums_ds[()]).astype(np.int64).reshape(-1)
    else:
        nums = np.arange(int(ds.shape[0]), dtype=np.int64)
    if nums.shape[0] > int(ds.shape[0]):
        raise _Bad(f"embedded video {group!r} lists more frames than it holds")
    images = tuple(ImageEntry(f"{int(n):06d}.png", w, h, {"frame": int(n)}) for n in nums)
    src = Source(key, "images", None, images,
                 extra={"slp_embedded": f"{group}/video", "slp_image_format": fmt,
                        "slp_source_video": orig})
    return _Video(src, {int(n): j for j, n in enumerate(nums)})


def _shown_name(be: Mapping[str, Any]) -> str:
    """What a video or image list is called: its file name, or its folder's path."""
    names = be.get("filenames")
    if isinstance(names, list) and names:
        return _common_dir([str(n) for n in names])
    return str(be.get("filename", "")).replace("\\", "/")


def _common_dir(files: list[str]) -> str:
    dirs = [posixpath.dirname(x.replace("\\", "/")) for x in files]
    try:
        return posixpath.commonpath(dirs) if len(dirs) > 1 else dirs[0]
    except ValueError:  # absolute and relative paths mixed
        return ""


def _image_list(key: str, names: list[Any], path: Path, opts: ReadOptions, w: int | None,
                h: int | None, not_kept: list[str]) -> _Video:
    files = [str(n).replace("\\", "/") for n in names]
    if not files:
        raise _Bad(f"image list {key!r} is empty")
    root = _common_dir(files)
    rel = [posixpath.relpath(x, root) if root else x for x in files]
    found = _resolve(root or ".", path, opts.images_dir) if root else path.parent.resolve()
    if found is None or not (found / rel[0]).exists():
        # moved: the images next to the labels file, or under --images, by file name
        for folder in (path.parent, opts.images_dir):
            names = [posixpath.basename(x) for x in files]
            if folder is not None and len(set(names)) == len(names) and \
                    all((folder / n).is_file() for n in names):
                found, rel = folder.resolve(), names
                break
    if found is None:
        not_kept.append(f"image folder {root!r} was not found; its labels are kept")
    images = tuple(ImageEntry(r, w, h) for r in rel)
    src = Source(key, "images", str(found) if found else root, images,
                 extra={"slp_filename": files[0]})
    return _Video(src, {j: j for j in range(len(files))})


# --- instances ------------------------------------------------------------------------------------
def _points(rows: np.ndarray, scores: bool, legacy: bool) -> tuple[np.ndarray, np.ndarray | None]:
    x = rows["x"].astype(np.float64)
    y = rows["y"].astype(np.float64)
    vis = rows["visible"].astype(bool)
    if legacy:  # format < 1.1: the top-left corner of a pixel was (0, 0)
        x, y = x - 0.5, y - 0.5
    pts = np.empty((len(rows), 3))
    pts[:, 0], pts[:, 1] = x, y
    has = np.isfinite(x) & np.isfinite(y)
    pts[:, 2] = np.where(has, np.where(vis, 2.0, 1.0), 0.0)
    pts[~has, :2] = np.nan
    kp = None
    if scores:
        with np.errstate(over="ignore", invalid="ignore"):
            kp = rows["score"].astype(np.float32)
        kp[~np.isfinite(kp)] = np.nan
    return pts, kp


def read_slp(path: Path, opts: ReadOptions) -> Dataset:
    """Read a ``.slp`` or ``.pkg.slp`` file; raises :class:`FormatError` naming what is wrong."""
    h5py = require("h5py", "slp", "reading SLEAP .slp files")
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise FormatError(f"{path}: not a readable HDF5 file ({exc})") from None
    try:
        with f:
            ds = _read(f, path, opts)
    except _Bad as exc:
        raise FormatError(f"{path}: not a usable SLEAP file: {exc}") from None
    except (KeyError, IndexError, TypeError, ValueError, OverflowError, AttributeError,
            RecursionError, UnicodeDecodeError, SyntaxError, OSError, RuntimeError) as exc:
        # h5py and json raise these for damaged or hostile files
        raise FormatError(f"{path}: not a usable SLEAP file ({type(exc).__name__}: "
                          f"{str(exc)[:200]})") from None
    ds.validate()
    return map_to_skeleton(ds, opts.skeleton)


def _read(f: Any, path: Path, opts: ReadOptions) -> Dataset:
    not_kept: list[str] = []
    if "metadata" not in f:
        raise _Bad("it has no 'metadata' group")
    attrs = f["metadata"].attrs
    fmt_id = float(attrs["format_id"]) if "format_id" in attrs else 1.0
    if not math.isfinite(fmt_id) or fmt_id >= 3.0:
        raise _Bad(f"format {fmt_id:g} is newer than this reader (up to 2.x)")
    if "json" not in attrs:
        raise _Bad("its metadata has no JSON block")
    meta = _json(attrs["json"])
    if not isinstance(meta, Mapping) or not isinstance(meta.get("skeletons"), list) \
            or not meta["skeletons"]:
        raise _Bad("its metadata names no skeleton")
    n_sk = len(meta["skeletons"])
    chosen = 0
    if n_sk > 1 and opts.category is not None:
        names = [str((s.get("nx_graph", s).get("graph") or {}).get("name", "")) for s in
                 meta["skeletons"]]
        if opts.category not in names:
            raise _Bad(f"no skeleton named {opts.category!r} (it has {', '.join(names)})")
        chosen = names.index(opts.category)
    skeleton, _ = _skeleton(meta, chosen, not_kept)
    k = skeleton.num_keypoints
    videos = _videos(f, path, opts, not_kept)
    tracks = [str(tr[1]) if isinstance(tr, list) and len(tr) > 1 else str(tr)
              for tr in _rows_json(f, "tracks_json")]
    unique: list[str] = []
    for tname in tracks:
        name, n = tname, 2
        while name in unique:
            name, n = f"{tname} ({n})", n + 1
        unique.append(name)
    if len(set(tracks)) != len(tracks):
        not_kept.append("tracks with the same name were renamed with a number")

    frames = _table(f, "frames", ("video", "frame_idx", "instance_id_start", "instance_id_end"))
    inst = _table(f, "instances", ("instance_type", "skeleton", "track", "score",
                                   "point_id_start", "point_id_end"))
    pts = _table(f, "points", ("x", "y", "visible"))
    pred = _table(f, "pred_points", ("x", "y", "visible", "score")) if "pred_points" in f \
        else np.zeros(0, dtype=[("x", "f8"), ("y", "f8"), ("visible", "?"), ("score", "f8")])
    legacy = fmt_id < 1.1
    inst_cols = inst.dtype.names or ()
    has_id = "instance_id" in inst_cols and "from_predicted" in inst_cols
    # Whole tables are converted and cleaned at once; the loop below only slices them.
    user_xyv, _ = _points(pts, False, legacy)
    pred_xyv, pred_kp = _points(pred, True, legacy)
    user_xyv, bad_user = clean_points(user_xyv)
    pred_xyv, bad_pred = clean_points(pred_xyv)
    bad_pts = bad_user + bad_pred
    complete = {False: pts["complete"] if "complete" in (pts.dtype.names or ()) else None,
                True: pred["complete"] if "complete" in (pred.dtype.names or ()) else None}
    col = {c: inst[c].tolist() for c in ("instance_type", "skeleton", "track", "score",
                                         "point_id_start", "point_id_end")}
    ids = inst["instance_id"].tolist() if has_id else []
    from_pred = inst["from_predicted"].tolist() if has_id else []
    track_scores = inst["tracking_score"].tolist() if "tracking_score" in inst_cols else []
    fcol = {c: frames[c].tolist() for c in ("video", "frame_idx", "instance_id_start",
                                            "instance_id_end")}
    run = path.name
    runs: dict[str, dict[str, Any]] = {}
    by_frame: dict[tuple[int, int], list[Annotation]] = {}
    other_skel = 0
    n_frames = len(frames)
    for fi in range(n_frames):
        if opts.progress is not None and fi % 1000 == 999:
            opts.progress(fi + 1, n_frames)
        v, idx = int(fcol["video"][fi]), int(fcol["frame_idx"][fi])
        a0, a1 = int(fcol["instance_id_start"][fi]), int(fcol["instance_id_end"][fi])
        if not 0 <= v < len(videos):
            raise _Bad(f"a frame names video {v}, which the file does not list")
        vid = videos[v]
        if vid.frame_map is not None:
            if idx not in vid.frame_map:
                raise _Bad(f"frame {idx} of {vid.source.key!r} is not in the file")
            idx = vid.frame_map[idx]
        if idx < 0 or not 0 <= a0 <= a1 <= len(inst):
            raise _Bad(f"frame {idx} of {vid.source.key!r} points outside the instances table")
        anns = by_frame.setdefault((v, idx), [])
        for r in range(a0, a1):
            sk_i = int(col["skeleton"][r])
            if not 0 <= sk_i < n_sk:
                raise _Bad(f"an instance names skeleton {sk_i}, which the file does not list")
            if sk_i != chosen:
                other_skel += 1
                continue
            predicted = int(col["instance_type"][r]) == 1
            table = pred_xyv if predicted else user_xyv
            p0, p1 = int(col["point_id_start"][r]), int(col["point_id_end"][r])
            if not 0 <= p0 <= p1 <= len(table) or p1 - p0 != k:
                raise _Bad(f"an instance on frame {idx} has {p1 - p0} points or points outside "
                           f"the table; the skeleton has {k}")
            t = int(col["track"][r])
            if not -1 <= t < len(unique):
                raise _Bad(f"an instance names track {t}, which the file does not list")
            extra: dict[str, Any] = {}
            if has_id:
                extra["slp_id"] = int(ids[r])
                if not predicted and int(from_pred[r]) >= 0:
                    extra["slp_from_predicted"] = int(from_pred[r])
            flags = complete[predicted]
            if flags is not None and flags[p0:p1].any():
                extra["slp_complete"] = [bool(c) for c in flags[p0:p1]]
            if track_scores:
                ts = float(track_scores[r])
                if math.isfinite(ts) and ts != 0:
                    extra["slp_tracking_score"] = ts
            score = float(col["score"][r])
            kp = None
            if predicted:
                runs.setdefault(run, {"format": "slp", "file": str(path)})
                assert pred_kp is not None
                kp = pred_kp[p0:p1]
                if not np.isfinite(kp).any():
                    kp = None
            anns.append(Annotation(
                table[p0:p1],
                kind=InstanceKind.PREDICTED if predicted else InstanceKind.USER,
                kp_scores=kp,
                score=score if predicted and math.isfinite(score) else None,
                track=unique[t] if t >= 0 else None,
                run=run if predicted else None,
                extra=extra,
            ))
    if other_skel:
        not_kept.append(f"{other_skel} instance(s) of the file's other skeleton(s) "
                        f"({n_sk - 1} more; choose one with --category NAME)")
    if bad_pts:
        not_kept.append(f"{bad_pts} point(s) with non-finite or absurd coordinates "
                        "read as unlabeled")
    for name in sorted(set(f.keys()) - _KNOWN):
        obj = f[name]
        empty = len(obj) == 0 if not hasattr(obj, "shape") else (obj.size or 0) == 0
        if not name.startswith("video") and not empty:
            not_kept.append(f"SLEAP table {name!r} (not a Pose Studio concept)")
    suggestions = _rows_json(f, "suggestions_json") if "suggestions_json" in f else []
    if suggestions:
        not_kept.append(f"{len(suggestions)} SLEAP labeling suggestion(s)")
    out_frames = [
        Frame(videos[v].source.key, idx, tuple(anns))
        for (v, idx), anns in sorted(by_frame.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    ]
    if "provenance" in meta and isinstance(meta["provenance"], Mapping):
        prov = dict(meta["provenance"])
        if len(json.dumps(prov, default=str)) < 65536 and run in runs:
            runs[run]["provenance"] = json.loads(json.dumps(prov, default=str))
    return Dataset(
        skeleton=skeleton,
        sources=[vd.source for vd in videos],
        frames=out_frames,
        tracks=unique,
        runs=runs,
        not_kept=not_kept,
        info={"format": "slp", "path": str(path), "slp_format_id": fmt_id},
    )


# --- embedded frames ------------------------------------------------------------------------------
def _decode_row(ds: Any, row: int, fmt: str, channel_order: str) -> np.ndarray:
    import cv2

    if fmt == "hdf5" or ds.ndim == 4:
        img = np.asarray(ds[row])
        if img.ndim == 2:
            img = img[:, :, None]
        if img.shape[-1] == 1:
            img = np.repeat(img, 3, axis=2)
        return np.ascontiguousarray(img[..., ::-1] if channel_order != "BGR" else img)
    raw = np.asarray(ds[row]).view(np.uint8).reshape(-1)
    decoded = cv2.imdecode(raw, cv2.IMREAD_COLOR)
    if decoded is None:
        raise FormatError(f"embedded frame {row} of {ds.name} cannot be decoded")
    # "BGR": OpenCV encoded SLEAP's RGB array, so the file's colours are swapped.
    return np.ascontiguousarray(decoded[..., ::-1]) if channel_order == "BGR" else decoded


def unpack_embedded(path: Path, ds: Dataset, folder: Path) -> Dataset:
    """Write every embedded frame of the package as a PNG under ``folder/<source key>/``.

    Returns the dataset with those image-set sources pointing at their new folders. Existing
    files of the same name are replaced (the folder belongs to the importer).
    """
    h5py = require("h5py", "slp", "reading SLEAP .slp files")
    todo = [s for s in ds.sources if s.extra.get("slp_embedded") and s.path is None]
    if not todo:
        return ds
    new_sources = {}
    try:
        with h5py.File(path, "r") as f:
            for src in todo:
                data = f[str(src.extra["slp_embedded"])]
                fmt = str(src.extra.get("slp_image_format", "png"))
                order = data.attrs.get("channel_order", b"")
                order = order.decode() if isinstance(order, bytes) else str(order)
                if not order:  # files before format 1.4 were encoded by OpenCV
                    fid = float(f["metadata"].attrs.get("format_id", 1.0))
                    order = "BGR" if fid < 1.4 else "RGB"
                out = Path(folder) / src.key
                out.mkdir(parents=True, exist_ok=True)
                for row, entry in enumerate(src.images):
                    img = _decode_row(data, row, fmt, order)
                    write_bytes_atomic(out / entry.path, encode_image(img, ".png"))
                new_sources[src.key] = dataclasses.replace(src, path=str(out.resolve()))
    except (OSError, OutputError) as exc:
        raise FormatError(f"cannot unpack the frames of {path}: {exc}") from None
    return dataclasses.replace(ds, sources=[new_sources.get(s.key, s) for s in ds.sources])
