"""Imports as one step of the edit journal (see ``journal.py``).

Every importer writes through :meth:`Project.import_transaction`; when its block ends, the ids
of the instances (and videos) it added are recorded as one ``import`` step in the same
transaction. The step stays small however big the import: id ranges (one range for a typical
import) plus a digest of the rows. Undo checks the digest (the rows are still as imported),
moves the rows into the step's ``stash`` (packed columns, zlib) and deletes them, with the videos
the import created; redo puts them back with the same ids.

Records the import made that are not instances stay on undo: tracks and model runs (names and
provenance, harmless without instances) and fingerprints of frames of videos that were already
in the project (they describe the pictures, which did not change).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection

from pose_studio.core.edits import StaleEditError
from pose_studio.store import ids, runs
from pose_studio.store.codec import INSERT_COLUMNS
from pose_studio.store.errors import ProjectError
from pose_studio.store.journal_base import ConnStore, JournalHost, insert_entry

__all__ = ["id_ranges", "mark", "pack_table", "record", "step", "unpack_table"]

_MAX_STASH = 1 << 30
_BLOB_COLUMNS = frozenset({"xy", "visibility", "provenance", "kp_scores"})


def mark(conn: Connection) -> int:
    """The highest instance id ever handed out (AUTOINCREMENT), before an import writes."""
    return ids.handed_out(conn, "instances")


def id_ranges(ids: Iterable[int]) -> list[list[int]]:
    """Sorted ids as half-open ``[start, stop)`` runs."""
    a = np.unique(np.fromiter(ids, dtype=np.int64))
    if a.size == 0:
        return []
    cut = np.flatnonzero(np.diff(a) != 1) + 1
    return [[int(r[0]), int(r[-1]) + 1] for r in np.split(a, cut)]


def _select_rows(conn: Connection, ranges: Sequence[Sequence[int]]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for a, b in ranges:
        rows.extend(tuple(r) for r in conn.exec_driver_sql(
            f"SELECT {', '.join(INSERT_COLUMNS)} FROM instances WHERE id >= ? AND id < ? "
            "ORDER BY id", (int(a), int(b))))
    return rows


def _ranges_since(conn: Connection, since: int) -> list[list[int]]:
    """Runs of ids above ``since``, computed in SQL (one run when they are contiguous, the
    usual case; else gaps and islands)."""
    n, lo, hi = conn.exec_driver_sql(
        "SELECT count(*), min(id), max(id) FROM instances WHERE id > ?", (since,)).one()
    if not n:
        return []
    if hi - lo + 1 == n:
        return [[int(lo), int(hi) + 1]]
    return [[int(a), int(b)] for a, b in conn.exec_driver_sql(
        "SELECT min(id), max(id) + 1 FROM (SELECT id, id - row_number() OVER (ORDER BY id) AS g "
        "FROM instances WHERE id > ?) AS runs GROUP BY g ORDER BY 1", (since,))]


def _stamp(conn: Connection, ranges: Sequence[Sequence[int]]) -> list[float]:
    """``[count, max, sum of updated_at, sum of created_at]`` of the rows in ``ranges``.

    Every write of an instance through the store sets its ``updated_at`` (a restore sets both
    times), so the stamp changes when any of them was changed, deleted or re-created since; it
    is one aggregate query, whatever the size of the import.
    """
    out = [0.0, 0.0, 0.0, 0.0]
    for a, b in ranges:
        n, mx, tu, tc = conn.exec_driver_sql(
            "SELECT count(*), max(updated_at), coalesce(sum(updated_at), 0.0), "
            "coalesce(sum(created_at), 0.0) "
            "FROM instances WHERE id >= ? AND id < ?", (int(a), int(b))).one()
        out = [out[0] + n, max(out[1], mx or 0.0), out[2] + tu, out[3] + tc]
    return out


def record(host: JournalHost, conn: Connection, since: int, explicit_ids: Iterable[int],
           videos_added: Sequence[int], label: str, user: str) -> int | None:
    """Record what an import transaction added as one step (None: it added no instances)."""
    ranges = _ranges_since(conn, since)
    old = sorted(i for i in explicit_ids if i <= since)  # ids the importer chose itself
    if old:
        ranges = id_ranges([i for a, b in ranges for i in range(a, b)] + old)
    if not ranges:
        return None
    stamp = _stamp(conn, ranges)
    spans: dict[int, list[int]] = {}  # video -> [first, last, n_frames]
    for a, b in ranges:
        for v, lo, hi, nf in conn.exec_driver_sql(
                "SELECT video_id, min(frame_idx), max(frame_idx), count(DISTINCT frame_idx) "
                "FROM instances WHERE id >= ? AND id < ? GROUP BY video_id", (a, b)):
            o = spans.get(int(v))
            spans[int(v)] = [lo, hi, nf] if o is None else [
                min(o[0], lo), max(o[1], hi), o[2] + nf]
    payload = {"v": 2, "ranges": ranges, "videos": [int(v) for v in videos_added],
               "n": int(stamp[0]), "stamp": stamp}
    blob = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 6)
    span: tuple[int | None, int | None, int | None, int]
    if len(spans) == 1:
        ((vid, (first, last, nf)),) = spans.items()
        span = (vid, int(first), int(last), int(nf))
    else:
        span = (None, None, None, sum(int(x[2]) for x in spans.values()))
    return insert_entry(conn, "import", label, user, [], int(stamp[0]), blob, span=span)


def _payload(blob: bytes, where: str) -> dict[str, Any]:
    try:
        d = zlib.decompressobj()
        data = json.loads(d.decompress(blob, 1 << 26))
        if not isinstance(data, dict) or data.get("v") != 2:
            raise ValueError("unknown format")
        ranges = [[int(a), int(b)] for a, b in data["ranges"]]
        return {"ranges": ranges, "videos": [int(v) for v in data["videos"]],
                "n": int(data["n"]), "stamp": [float(v) for v in data["stamp"]]}
    except (ValueError, KeyError, TypeError, zlib.error) as e:
        raise ProjectError(f"{where} is damaged ({e}); the import step cannot be used") from e


def step(host: JournalHost, conn: Connection, store: ConnStore, seq: int, label: str, *,
         undoing: bool) -> None:
    """Undo or redo import step ``seq`` inside the caller's transaction."""
    row = conn.exec_driver_sql(
        "SELECT payload, stash FROM edit_journal WHERE seq = ?", (seq,)).first()
    assert row is not None
    where = f"step {seq} of the history of {host.path}"
    info = _payload(row[0], where)
    if undoing:
        _undo(conn, store, seq, label, info)
    else:
        if row[1] is None:
            raise ProjectError(f"{where} is damaged (its undone rows are missing)")
        _redo(conn, store, seq, label, info, row[1], where)


def _undo(conn: Connection, store: ConnStore, seq: int, label: str,
          info: dict[str, Any]) -> None:
    if _stamp(conn, info["ranges"]) != info["stamp"]:
        raise StaleEditError(
            f"cannot undo {label!r}: some of the instances it added were changed or deleted "
            "since; nothing was changed")
    rows = _select_rows(conn, info["ranges"])
    for a, b in info["ranges"]:
        conn.exec_driver_sql("DELETE FROM instances WHERE id >= ? AND id < ?", (a, b))
    for r in rows:
        store.touched.setdefault(int(r[1]), set()).add(int(r[2]))
    tables: dict[str, bytes] = {"instances": pack_table(list(INSERT_COLUMNS), rows)}
    videos = info["videos"]
    if videos:
        marks = ",".join("?" * len(videos))
        left = conn.exec_driver_sql(
            f"SELECT count(*) FROM instances WHERE video_id IN ({marks})", tuple(videos)).scalar_one()
        if left:
            raise StaleEditError(
                f"cannot undo {label!r}: a video it added has other labels or predictions "
                "since; nothing was changed")
        for table in ("videos", "frames"):
            col = "id" if table == "videos" else "video_id"
            res = conn.exec_driver_sql(f"SELECT * FROM {table} WHERE {col} IN ({marks})",
                                       tuple(videos))
            tables[table] = pack_table(list(res.keys()), [tuple(r) for r in res])
        conn.exec_driver_sql(f"DELETE FROM videos WHERE id IN ({marks})", tuple(videos))
        for v in videos:
            store.touched.pop(v, None)  # its summary went with it
    _follow_runs(conn, list(INSERT_COLUMNS), rows, set(videos))
    conn.exec_driver_sql("UPDATE edit_journal SET stash = ? WHERE seq = ?",
                         (_pack_tables(tables), seq))


def _follow_runs(conn: Connection, cols: list[str], rows: Sequence[Sequence[Any]],
                 gone: set[int]) -> None:
    """Videos whose predictions the step took away or brought back show their newest run
    again (unless the user chose one): undoing the import of a model run (or of a smoothed
    copy) must not leave the video showing a run with nothing in it."""
    kind, vid = cols.index("kind"), cols.index("video_id")
    for v in sorted({int(r[vid]) for r in rows if r[kind] == 1} - gone):
        runs.follow_newest(conn, v)


def _redo(conn: Connection, store: ConnStore, seq: int, label: str, info: dict[str, Any],
          stash: bytes, where: str) -> None:
    tables = _unpack_tables(stash, where)
    for a, b in info["ranges"]:
        if conn.exec_driver_sql("SELECT 1 FROM instances WHERE id >= ? AND id < ? LIMIT 1",
                                (a, b)).first():
            raise StaleEditError(f"cannot redo {label!r}: its instance ids are in use again; "
                                 "nothing was changed")
    for table in ("videos", "frames", "instances"):
        if table not in tables:
            continue
        cols, rows = tables[table]
        if rows:
            conn.exec_driver_sql(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                rows)
    cols, rows = tables["instances"]
    vi, fi = cols.index("video_id"), cols.index("frame_idx")
    for r in rows:
        store.touched.setdefault(int(r[vi]), set()).add(int(r[fi]))
    _follow_runs(conn, list(cols), rows, set())
    conn.exec_driver_sql("UPDATE edit_journal SET stash = NULL WHERE seq = ?", (seq,))


# --- packed tables (the stash of an undone import) ---------------------------------------------
def pack_table(columns: list[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows of SQLite values (int, float, str, bytes, None) as typed columns."""
    n = len(rows)
    meta: list[dict[str, Any]] = []
    parts: list[bytes] = []
    for j, _name in enumerate(columns):
        vals = [r[j] for r in rows]
        present = [v for v in vals if v is not None]
        mask = np.array([v is not None for v in vals], np.uint8)
        if all(isinstance(v, int) for v in present):
            arr = np.array([0 if v is None else v for v in vals], "<i8")
            meta.append({"t": "i8"})
            parts += [mask.tobytes(), arr.tobytes()]
        elif all(isinstance(v, (int, float)) for v in present):
            arr = np.array([0.0 if v is None else v for v in vals], "<f8")
            meta.append({"t": "f8"})
            parts += [mask.tobytes(), arr.tobytes()]
        elif all(isinstance(v, (bytes, memoryview)) for v in present):
            blobs = [b"" if v is None else bytes(v) for v in vals]
            lens = np.array([len(b) for b in blobs], "<i8")
            meta.append({"t": "blob"})
            parts += [mask.tobytes(), lens.tobytes(), b"".join(blobs)]
        elif all(isinstance(v, str) for v in present):
            meta.append({"t": "text", "v": vals})
        else:
            raise ProjectError(f"cannot keep column {columns[j]!r} in the history (mixed types)")
    head = json.dumps({"columns": columns, "n": n, "meta": meta}).encode()
    return struct.pack("<I", len(head)) + head + b"".join(parts)


def unpack_table(raw: bytes) -> tuple[list[str], list[tuple[Any, ...]]]:
    (nh,) = struct.unpack_from("<I", raw, 0)
    head = json.loads(raw[4:4 + nh])
    cols, n = [str(c) for c in head["columns"]], int(head["n"])
    pos = 4 + nh
    out_cols: list[list[Any]] = []

    def take(size: int) -> bytes:
        nonlocal pos
        if size < 0 or pos + size > len(raw):
            raise ValueError("truncated table")
        b = raw[pos:pos + size]
        pos += size
        return b

    for m in head["meta"]:
        t = m["t"]
        if t == "text":
            vals = list(m["v"])
            if len(vals) != n:
                raise ValueError("bad text column")
            out_cols.append(vals)
            continue
        mask = np.frombuffer(take(n), np.uint8).astype(bool)
        if t in ("i8", "f8"):
            arr = np.frombuffer(take(8 * n), "<" + t)
            conv = int if t == "i8" else float
            out_cols.append([conv(v) if k else None for v, k in zip(arr, mask)])
        elif t == "blob":
            lens = np.frombuffer(take(8 * n), "<i8")
            data = take(int(lens.sum()))
            offs = np.concatenate(([0], np.cumsum(lens)))
            out_cols.append([data[int(offs[i]):int(offs[i + 1])] if mask[i] else None
                             for i in range(n)])
        else:
            raise ValueError(f"unknown column type {t!r}")
    if len(out_cols) != len(cols):
        raise ValueError("column count")
    return cols, list(zip(*out_cols)) if n else []


def _pack_tables(tables: dict[str, bytes]) -> bytes:
    parts = [json.dumps({k: len(v) for k, v in tables.items()}).encode()]
    body = struct.pack("<I", len(parts[0])) + parts[0] + b"".join(tables.values())
    return b"PST1" + zlib.compress(body, 6)


def _unpack_tables(blob: bytes, where: str) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    try:
        if not blob.startswith(b"PST1"):
            raise ValueError("unknown format")
        d = zlib.decompressobj()
        raw = d.decompress(bytes(blob[4:]), _MAX_STASH)
        if d.unconsumed_tail:
            raise ValueError("too large")
        (nh,) = struct.unpack_from("<I", raw, 0)
        sizes = json.loads(raw[4:4 + nh])
        pos = 4 + nh
        out = {}
        for name, size in sizes.items():
            if name not in ("instances", "videos", "frames") or not isinstance(size, int):
                raise ValueError(f"unknown table {name!r}")
            out[name] = unpack_table(raw[pos:pos + size])
            pos += size
        if "instances" not in out:
            raise ValueError("no instances")
        return out
    except (ValueError, KeyError, TypeError, struct.error, zlib.error) as e:
        raise ProjectError(f"{where} is damaged ({e}); the import step cannot be redone") from e
