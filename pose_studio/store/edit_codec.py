"""Compact, safe bytes for edits in the project's journal.

An edit's changes are stored column-wise as packed little-endian arrays (the instance row format:
``xy`` float64, visibility/provenance uint8, keypoint scores float32), described by a small JSON
header and compressed with zlib. No pickle: a damaged or hostile journal decodes to
:class:`~pose_studio.store.errors.ProjectError`, never to code, and never to more memory than
:data:`MAX_DECODED_BYTES`.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.edits import Change, Edit, TrackChange
from pose_studio.store.errors import ProjectError

__all__ = ["MAX_DECODED_BYTES", "decode_edit", "encode_edit"]

MAGIC = b"PSE1"
#: A journal entry never decodes to more than this (a 100k-instance import stash is ~40 MB).
MAX_DECODED_BYTES = 1 << 30
_DTYPES = {"<i8", "<f8", "<f4", "|u1"}
_KIND = {InstanceKind.USER: 0, InstanceKind.PREDICTED: 1}


def _states(changes: Sequence[Change]) -> list[Instance]:
    out: list[Instance] = []
    for c in changes:
        if c.before is not None:
            out.append(c.before)
        if c.after is not None:
            out.append(c.after)
    return out


def _opt(values: list[Any], fill: Any, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    have = np.array([v is not None for v in values], dtype=np.uint8)
    arr = np.array([fill if v is None else v for v in values], dtype=dtype)
    return arr, have


def encode_edit(edit: Edit) -> bytes:
    """Pack ``edit`` (label, merge key and every before/after state)."""
    states = _states(edit.changes)
    k = states[0].num_keypoints if states else 0
    if any(s.num_keypoints != k for s in states):
        raise ProjectError("an edit mixes instances with different keypoint counts")
    m = len(states)
    arrays: dict[str, np.ndarray] = {
        "video": np.array([c.video_id for c in edit.changes], "<i8"),
        "frame": np.array([c.frame_idx for c in edit.changes], "<i8"),
        "has": np.array([(c.before is not None, c.after is not None) for c in edit.changes],
                        "|u1").reshape(-1, 2),
        "kind": np.array([_KIND[s.kind] for s in states], "|u1"),
        "xy": np.array([s.xy for s in states], "<f8").reshape(m, k, 2),
        "vis": np.array([s.visibility for s in states], "|u1").reshape(m, k),
        "prov": np.array([s.provenance for s in states], "|u1").reshape(m, k),
    }
    arrays["score"], arrays["score_set"] = _opt([s.score for s in states], np.nan, "<f8")
    bbox, arrays["bbox_set"] = _opt([s.bbox for s in states], (np.nan,) * 4, "<f8")
    arrays["bbox"] = bbox.reshape(m, 4)
    refs = [[s.id, s.track_id, s.source_id, s.model_run_id] for s in states]
    arrays["refs"] = np.array([[-1 if r is None else r for r in row] for row in refs],
                              "<i8").reshape(m, 4)
    arrays["refs_set"] = np.array([[r is not None for r in row] for row in refs],
                                  "|u1").reshape(m, 4)
    kps, arrays["kps_set"] = _opt(
        [None if s.kp_scores is None else s.kp_scores for s in states], np.zeros(k), "<f4")
    arrays["kps"] = kps.reshape(m, k)
    # format 10: the stored version of each state (-1: none); older entries have no such array
    arrays["version"] = np.array([-1 if s.version is None else s.version for s in states], "<i8")
    header: dict[str, Any] = {
        "label": edit.label, "merge_key": edit.merge_key, "k": k,
        "arrays": [[n, a.dtype.str, list(a.shape)] for n, a in arrays.items()]}
    if edit.tracks:  # track rows created, renamed or deleted: [id, name before, name after]
        header["tracks"] = [[t.track_id, t.before, t.after] for t in edit.tracks]
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    body = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays.values())
    return MAGIC + zlib.compress(struct.pack("<I", len(head)) + head + body, 6)


def _inflate(blob: bytes) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(blob, MAX_DECODED_BYTES)
    if d.unconsumed_tail:
        raise ValueError(f"more than {MAX_DECODED_BYTES} bytes")
    return out


def decode_edit(blob: bytes, where: str = "the edit journal") -> Edit:
    """The :class:`Edit` packed by :func:`encode_edit`.

    Raises:
        ProjectError: the bytes are not a journal entry (damaged file).
    """
    try:
        if not blob.startswith(MAGIC):
            raise ValueError("unknown format")
        raw = _inflate(bytes(blob[len(MAGIC):]))
        (n_head,) = struct.unpack_from("<I", raw, 0)
        header = json.loads(raw[4:4 + n_head].decode("utf-8"))
        pos = 4 + n_head
        arrays: dict[str, np.ndarray] = {}
        for name, dtype, shape in header["arrays"]:
            if dtype not in _DTYPES or not all(isinstance(d, int) and d >= 0 for d in shape):
                raise ValueError(f"bad array {name!r}")
            dt = np.dtype(dtype)
            size = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
            if pos + size > len(raw):
                raise ValueError("truncated")
            arrays[str(name)] = np.frombuffer(raw, dt, count=size // dt.itemsize,
                                              offset=pos).reshape(shape)
            pos += size
        return _rebuild(header, arrays)
    except ProjectError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, struct.error, zlib.error,
            UnicodeDecodeError) as e:
        raise ProjectError(f"{where} is damaged ({e}); the entry cannot be used") from e


def _rebuild(header: dict[str, Any], a: dict[str, np.ndarray]) -> Edit:
    has = a["has"].astype(bool)
    n = len(a["video"])
    m = int(has.sum())
    if has.shape != (n, 2) or len(a["frame"]) != n or a["kind"].shape != (m,):
        raise ValueError("inconsistent sizes")
    if "version" in a and a["version"].shape != (m,):
        raise ValueError("inconsistent sizes")
    states = [_state(a, i) for i in range(m)]
    changes = []
    j = 0
    for i in range(n):
        before = after = None
        if has[i, 0]:
            before, j = states[j], j + 1
        if has[i, 1]:
            after, j = states[j], j + 1
        changes.append(Change(int(a["video"][i]), int(a["frame"][i]), before, after))
    key = header.get("merge_key")
    return Edit(str(header["label"]), tuple(changes), None if key is None else str(key),
                _tracks(header.get("tracks", [])))


def _tracks(rows: Any) -> tuple[TrackChange, ...]:
    if not isinstance(rows, list):
        raise ValueError("bad track changes")
    out = []
    for row in rows:
        if (not isinstance(row, list) or len(row) != 3 or type(row[0]) is not int
                or not all(v is None or isinstance(v, str) for v in row[1:])):
            raise ValueError("bad track change")
        out.append(TrackChange(row[0], row[1], row[2]))
    return tuple(out)


def _state(a: dict[str, np.ndarray], i: int) -> Instance:
    refs = [int(r) if s else None for r, s in zip(a["refs"][i], a["refs_set"][i])]
    bbox = tuple(float(v) for v in a["bbox"][i]) if a["bbox_set"][i] else None
    version = int(a["version"][i]) if "version" in a else -1
    return Instance(
        xy=a["xy"][i], visibility=a["vis"][i],
        kind=InstanceKind.PREDICTED if a["kind"][i] else InstanceKind.USER,
        kp_scores=a["kps"][i] if a["kps_set"][i] else None, provenance=a["prov"][i],
        score=float(a["score"][i]) if a["score_set"][i] else None,
        bbox=bbox,  # type: ignore[arg-type]
        track_id=refs[1], id=refs[0], source_id=refs[2], model_run_id=refs[3],
        version=version if version >= 0 else None,
    )
