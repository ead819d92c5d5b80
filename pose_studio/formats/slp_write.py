"""Writing a :class:`Dataset` as a SLEAP ``.slp`` (or ``.pkg.slp`` with embedded frames).

The tables follow what sleap-io writes (format_id 1.4: ``tracking_score`` column, embedded
images tagged with their channel order), so SLEAP and sleap-io read the file back.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.output import atomic_file, check_target
from pose_studio.core.skeleton import Skeleton
from pose_studio.formats.dataset import Annotation, Dataset, Source
from pose_studio.formats.fileio import FormatError, encode_image, require
from pose_studio.formats.registry import WriteOptions, WriteSummary

__all__ = ["write_slp"]

FORMAT_ID = 1.4
_FRAME = np.dtype([("frame_id", "u8"), ("video", "u4"), ("frame_idx", "u8"),
                   ("instance_id_start", "u8"), ("instance_id_end", "u8")])
_INSTANCE = np.dtype([("instance_id", "i8"), ("instance_type", "u1"), ("frame_id", "u8"),
                      ("skeleton", "u4"), ("track", "i4"), ("from_predicted", "i8"),
                      ("score", "f4"), ("point_id_start", "u8"), ("point_id_end", "u8"),
                      ("tracking_score", "f4")])
_POINT = np.dtype([("x", "f8"), ("y", "f8"), ("visible", "?"), ("complete", "?")])
_PRED_POINT = np.dtype([("x", "f8"), ("y", "f8"), ("visible", "?"), ("complete", "?"),
                        ("score", "f8")])
_EDGE_TYPE = {1: {"py/reduce": [{"py/type": "sleap.skeleton.EdgeType"}, {"py/tuple": [1]}]},
              2: {"py/reduce": [{"py/type": "sleap.skeleton.EdgeType"}, {"py/tuple": [2]}]}}


def _metadata(sk: Skeleton, provenance: dict[str, Any]) -> dict[str, Any]:
    links: list[dict[str, Any]] = []
    for i, (a, b) in enumerate(sk.edges):
        links.append({"edge_insert_idx": i, "key": 0, "source": a, "target": b,
                      "type": _EDGE_TYPE[1] if i == 0 else {"py/id": 1}})
    sym_id = 2 if sk.edges else 1  # jsonpickle numbers each new py/reduce in order
    for j, (a, b) in enumerate(sk.flip_pairs):
        links.append({"key": 0, "source": a, "target": b,
                      "type": _EDGE_TYPE[2] if j == 0 else {"py/id": sym_id}})
    skeleton = {"directed": True, "graph": {"name": sk.name, "num_edges_inserted": len(sk.edges)},
                "links": links, "multigraph": True,
                "nodes": [{"id": i} for i in range(sk.num_keypoints)]}
    return {"version": "2.0.0", "skeletons": [skeleton],
            "nodes": [{"name": n, "weight": 1.0} for n in sk.keypoints],
            "videos": [], "tracks": [], "suggestions": [], "negative_anchors": {},
            "provenance": provenance}


def _video_entry(src: Source, size: tuple[int, int] | None) -> dict[str, Any]:
    h, w = (size[1], size[0]) if size else (src.height, src.width)
    if src.kind == "images":
        root = src.path or ""
        names = [f"{root.rstrip('/')}/{im.path}" if root else im.path for im in src.images]
        first = src.images[0] if src.images else None
        return {"backend": {"type": "ImageVideo", "filename": names[0] if names else "",
                            "filenames": names, "height_": first.height if first else h,
                            "width_": first.width if first else w, "channels_": 3,
                            "grayscale": False}}
    be: dict[str, Any] = {"type": "MediaVideo", "filename": src.path or src.key,
                          "grayscale": False, "bgr": True, "dataset": "", "input_format": ""}
    if h and w:
        be["shape"] = [0, int(h), int(w), 3]
    return {"backend": be}


class _Tables:
    def __init__(self, k: int) -> None:
        self.k = k
        self.frames: list[tuple[Any, ...]] = []
        self.instances: list[tuple[Any, ...]] = []
        self.points: list[np.ndarray] = []
        self.pred: list[np.ndarray] = []
        self.n_points = self.n_pred = 0
        self.links: list[tuple[int, int]] = []  # (row, file-local id of the prediction)
        self.ids: dict[int, int] = {}

    def add(self, a: Annotation, frame_id: int, track: int, lost: Counter[str]) -> None:
        k = self.k
        predicted = a.kind is InstanceKind.PREDICTED
        p = a.points
        v = p[:, 2]
        labeled = v > 0
        if ((v == 0) & np.isfinite(p[:, :2]).all(axis=1)).any():
            lost["coordinates of unlabeled (v=0) points"] += 1
        rows = np.zeros(k, dtype=_PRED_POINT if predicted else _POINT)
        rows["x"] = np.where(labeled, p[:, 0], np.nan)
        rows["y"] = np.where(labeled, p[:, 1], np.nan)
        rows["visible"] = v == 2
        complete = a.extra.get("slp_complete")
        if isinstance(complete, list) and len(complete) == k:
            rows["complete"] = [bool(c) for c in complete]
        # else False: SLEAP's "confirmed by a person" flag, unknown here
        if predicted:
            rows["score"] = a.kp_scores if a.kp_scores is not None else np.nan
            start = self.n_pred
            self.pred.append(rows)
            self.n_pred += k
        else:
            if a.kp_scores is not None or a.score is not None:
                lost["scores of user labels"] += 1
            start = self.n_points
            self.points.append(rows)
            self.n_points += k
        row = len(self.instances)
        sid = a.extra.get("slp_id")
        if isinstance(sid, int):
            self.ids.setdefault(sid, row)
        fp = a.extra.get("slp_from_predicted")
        if isinstance(fp, int) and not predicted:
            self.links.append((row, fp))
        ts = a.extra.get("slp_tracking_score", 0.0)
        score = a.score if a.score is not None and predicted else math.nan
        self.instances.append((row, 1 if predicted else 0, frame_id, 0, track, -1, score,
                               start, start + k, ts if isinstance(ts, (int, float)) else 0.0))

    def arrays(self) -> tuple[np.ndarray, ...]:
        inst = np.array(self.instances, dtype=_INSTANCE)
        for row, fp in self.links:
            target = self.ids.get(fp)
            if target is not None and inst[target]["instance_type"] == 1:
                inst[row]["from_predicted"] = target
        pts = np.concatenate(self.points) if self.points else np.zeros(0, _POINT)
        pred = np.concatenate(self.pred) if self.pred else np.zeros(0, _PRED_POINT)
        return np.array(self.frames, dtype=_FRAME), inst, pts, pred


def _lost_lines(ds: Dataset, lost: Counter[str]) -> list[str]:
    lines = [f"{what} ({n} annotation(s))" for what, n in lost.items()]
    anns = [a for f in ds.frames for a in f.annotations]
    if any(a.category for a in anns):
        lines.append("categories: SLEAP instances have no class")
    if any(a.bbox is not None for a in anns):
        lines.append("bounding boxes: SLEAP derives them from the points")
    keys = sorted({k for a in anns for k in a.extra if not k.startswith("slp_")}
                  | {k for f in ds.frames for k in f.extra})
    if keys:
        lines.append("format-specific fields: " + ", ".join(keys[:10]))
    runs = {a.run for a in anns if a.run}
    if runs:
        lines.append(f"model run records ({', '.join(sorted(runs))}): SLEAP keeps none; the "
                     "predictions are kept")
    regions = sum(len(f.regions) for f in ds.frames)
    if regions:
        lines.append(f"{regions} region(s) without keypoints (crowd/ignore areas)")
    return lines


def write_slp(ds: Dataset, path: Path, opts: WriteOptions) -> WriteSummary:
    """Write ``ds`` to ``path``; ``NAME.pkg.slp`` embeds the labeled frames as PNG."""
    h5py = require("h5py", "slp", "writing SLEAP .slp files")
    ds.validate()
    path = Path(path)
    embed = path.name.lower().endswith(".pkg.slp")
    if embed and opts.frames is None:
        raise FormatError(f"{path.name}: a .pkg.slp holds the labeled frames' images, and no "
                          "frames were given (write a plain .slp, or export with images)")
    tables = _Tables(ds.skeleton.num_keypoints)
    lost: Counter[str] = Counter()
    track_ix = {t: i for i, t in enumerate(ds.tracks)}
    src_ix = {s.key: i for i, s in enumerate(ds.sources)}
    frames = sorted(ds.frames, key=lambda f: (src_ix[f.source], f.index))
    for frame_id, fr in enumerate(frames):
        start = len(tables.instances)
        for a in fr.annotations:
            tables.add(a, frame_id, track_ix.get(a.track, -1) if a.track else -1, lost)
        tables.frames.append((frame_id, src_ix[fr.source], fr.index, start,
                              len(tables.instances)))
    frame_arr, inst, pts, pred = tables.arrays()
    provenance = {"exported_by": "pose-studio", "source": str(ds.info.get("path", ""))}
    meta = json.dumps(_metadata(ds.skeleton, provenance), separators=(",", ":"))
    protected = [Path(s.path) for s in ds.sources if s.path]
    check_target(path, force=opts.force, protected=protected)
    with atomic_file(path, overwrite=opts.force, fsync=False) as tmp, \
            h5py.File(tmp, "w") as f:
        grp = f.create_group("metadata")
        grp.attrs["format_id"] = FORMAT_ID
        grp.attrs["json"] = np.bytes_(meta.encode("utf-8"))
        sizes: dict[str, tuple[int, int]] = {}
        if embed:
            assert opts.frames is not None
            _embed(f, ds, frames, opts, sizes)
        entries = []
        for i, src in enumerate(ds.sources):
            e = _video_entry(src, sizes.get(src.key))
            if embed:
                size = sizes.get(src.key)
                n = sum(1 for fr in frames if fr.source == src.key)
                e = {"backend": {"type": "HDF5Video", "filename": ".",
                                 "dataset": f"video{i}/video", "input_format": "channels_last",
                                 "convert_range": False, "has_embedded_images": True,
                                 "grayscale": False,
                                 "shape": [n, size[1], size[0], 3] if size else None},
                     "source_video": e}
            entries.append(json.dumps(e, separators=(",", ":")))
        string = h5py.string_dtype()
        f.create_dataset("videos_json", data=np.array(entries, dtype=object), dtype=string,
                         maxshape=(None,))
        tracks = [json.dumps([0, t], separators=(",", ":")) for t in ds.tracks]
        f.create_dataset("tracks_json", data=np.array(tracks, dtype=object), dtype=string,
                         maxshape=(None,))
        f.create_dataset("suggestions_json", data=np.array([], dtype=object), dtype=string,
                         maxshape=(None,))
        f.create_dataset("frames", data=frame_arr, maxshape=(None,))
        f.create_dataset("instances", data=inst, maxshape=(None,))
        f.create_dataset("points", data=pts, maxshape=(None,))
        f.create_dataset("pred_points", data=pred, maxshape=(None,))
    return WriteSummary(path=path, annotations=ds.num_annotations, files_written=1,
                        not_written=_lost_lines(ds, lost))


def _embed(f: Any, ds: Dataset, frames: list[Any], opts: WriteOptions,
           sizes: dict[str, tuple[int, int]]) -> int:
    """One ``videoN/video`` table of PNG bytes per source (rows padded with zeros, as sleap-io
    writes them), grown as larger images come so frames are encoded once and not all held."""
    assert opts.frames is not None
    total = len(frames)
    done = 0
    for i, src in enumerate(ds.sources):
        mine = [fr for fr in frames if fr.source == src.key]
        if not mine:
            continue
        table = f.create_dataset(f"video{i}/video", shape=(0, 0), maxshape=(None, None),
                                 dtype="int8", chunks=(1, 16384), fillvalue=0)
        for row, fr in enumerate(mine):
            img = np.asarray(opts.frames(src.key, fr.index))
            if img.ndim != 3 or img.shape[2] != 3:
                raise FormatError(f"frame {fr.index} of {src.key!r} is not a colour image")
            sizes.setdefault(src.key, (int(img.shape[1]), int(img.shape[0])))
            data = np.frombuffer(encode_image(img, ".png"), dtype=np.int8)
            table.resize((row + 1, max(table.shape[1], data.size)))
            table[row, :data.size] = data
            done += 1
            if opts.progress is not None:
                opts.progress(done, total)
        w, h = sizes[src.key]
        # A correctly coloured PNG: SLEAP's "RGB" (not OpenCV-encoded RGB arrays).
        table.attrs.update({"format": "png", "channel_order": "RGB", "frames": len(mine),
                            "height": h, "width": w, "channels": 3})
        f.create_dataset(f"video{i}/frame_numbers", data=np.array([fr.index for fr in mine],
                                                                  dtype=np.int64))
        src_json = json.dumps(_video_entry(src, sizes.get(src.key)), separators=(",", ":"))
        f.create_group(f"video{i}/source_video").attrs["json"] = src_json
    return done
