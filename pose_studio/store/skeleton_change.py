"""Changing a project's skeleton, with every stored instance following, as one history step.

:func:`apply_change` rewrites the skeleton row and the keypoint columns of EVERY instance (labels
and the predictions of every model run, remapped by the change: kept keypoints keep their
values, new ones start unlabeled, removed ones go) and records one ``skeleton`` step of the edit
journal, all in one transaction. The step's payload is the change (both skeletons and the
source of each new keypoint) plus the removed columns of every instance that had them, packed
like the edit journal's payloads (column-wise, zlib, a JSON header; no pickle), so undo puts
them back exactly. Redo applies the change again.

Instances are rewritten in place: ids, kinds, scores, boxes, tracks, model runs and the
``created_at``/``updated_at`` times stay (an import's step checks those times, and a skeleton
change is not a change of the instances' content). Each instance's ``summary_score`` is
recomputed (it is a mean over the labeled keypoints) and the frame summaries of videos where it
changed are rebuilt.

The journal (``journal.py``) calls :func:`step` for undo and redo, and :func:`adopt` once the
transaction has committed so the open project works with the new skeleton.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

import numpy as np
from sqlalchemy import Connection

from pose_studio.core.edits import StaleEditError
from pose_studio.core.skeleton import Skeleton, SkeletonError
from pose_studio.core.skeleton_edit import Columns, SkeletonChange, remap, restore
from pose_studio.store import server, summary
from pose_studio.store.errors import ProjectError
from pose_studio.store.journal_base import Applied, JournalHost, insert_entry, read_entry
from pose_studio.store.sqlport import is_postgres, raw_rows, translate

__all__ = ["KIND", "adopt", "apply_change", "decode", "encode", "labeled_counts", "step"]

#: The journal kind of a skeleton step.
KIND = "skeleton"
MAGIC = b"PSK1"
_BATCH = 20_000  # instances read and rewritten at a time (bounded memory on big projects)
_MAX_DECODED = 1 << 30
_DTYPES = {"<i8", "<f8", "<f4", "|u1"}


# --- payload ---------------------------------------------------------------------------------
def encode(change: SkeletonChange, ids: np.ndarray, removed: Columns) -> bytes:
    """The change and the removed columns of instances ``ids``."""
    arrays = {"ids": np.asarray(ids, "<i8"), "xy": removed.xy.astype("<f8"),
              "vis": removed.vis.astype("|u1"), "prov": removed.prov.astype("|u1"),
              "kps": removed.kps.astype("<f4")}
    header = {"v": 1, "before": change.before.to_dict(), "after": change.after.to_dict(),
              "source": list(change.source),
              "arrays": [[n, a.dtype.str, list(a.shape)] for n, a in arrays.items()]}
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    body = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays.values())
    return MAGIC + zlib.compress(struct.pack("<I", len(head)) + head + body, 6)


def decode(blob: bytes, where: str = "the edit journal"
           ) -> tuple[SkeletonChange, np.ndarray, Columns]:
    """``(change, ids, removed columns)`` packed by :func:`encode`.

    Raises:
        ProjectError: the bytes are not a skeleton step (a damaged file).
    """
    try:
        if not bytes(blob[:4]) == MAGIC:
            raise ValueError("unknown format")
        d = zlib.decompressobj()
        raw = d.decompress(bytes(blob[4:]), _MAX_DECODED)
        if d.unconsumed_tail:
            raise ValueError(f"more than {_MAX_DECODED} bytes")
        (n_head,) = struct.unpack_from("<I", raw, 0)
        header = json.loads(raw[4:4 + n_head].decode("utf-8"))
        pos = 4 + n_head
        a: dict[str, np.ndarray] = {}
        for name, dtype, shape in header["arrays"]:
            if dtype not in _DTYPES or not all(isinstance(v, int) and v >= 0 for v in shape):
                raise ValueError(f"bad array {name!r}")
            dt = np.dtype(dtype)
            count = int(np.prod(shape, dtype=np.int64))
            if pos + count * dt.itemsize > len(raw):
                raise ValueError("truncated")
            a[str(name)] = np.frombuffer(raw, dt, count=count, offset=pos).reshape(shape)
            pos += count * dt.itemsize
        change = SkeletonChange(Skeleton.from_dict(header["before"]),
                                Skeleton.from_dict(header["after"]),
                                tuple(int(s) for s in header["source"]))
        cols = Columns(a["xy"], a["vis"], a["prov"], a["kps"])
        if cols.xy.shape[:2] != (len(a["ids"]), len(change.removed)):
            raise ValueError("inconsistent sizes")
        return change, a["ids"], cols
    except (ValueError, KeyError, TypeError, IndexError, struct.error, zlib.error,
            UnicodeDecodeError, SkeletonError) as e:
        raise ProjectError(f"{where} is damaged ({e}); the entry cannot be used") from e


# --- rewriting ---------------------------------------------------------------------------------
def _stored_skeleton(conn: Connection) -> tuple[int, Skeleton]:
    row = conn.exec_driver_sql("SELECT id, json FROM skeletons ORDER BY id LIMIT 1").first()
    if row is None:
        raise ProjectError("the project has no skeleton")
    return int(row[0]), Skeleton.from_json(row[1])


def _same(a: Skeleton, b: Skeleton) -> bool:
    return a.to_dict() == b.to_dict()


def _summary_scores(score: list[float | None], vis: np.ndarray, kps: np.ndarray,
                    has_kps: np.ndarray) -> list[float | None]:
    """``Instance.mean_score`` for each row: the score, else the labeled keypoints' mean."""
    lab = vis > 0
    cnt = lab.sum(1)
    with np.errstate(invalid="ignore"):
        mean = np.where(lab, kps.astype(np.float64), 0.0).sum(1) / np.maximum(cnt, 1)
    return [s if s is not None else (float(mean[i]) if has_kps[i] and cnt[i] else None)
            for i, s in enumerate(score)]


def _rewrite(conn: Connection, k_from: int, k_to: int, convert: Any) -> set[int]:
    """Rewrite every instance's keypoint columns with ``convert(ids, cols) -> cols`` (``k_from``
    keypoints in, ``k_to`` out), batch by batch; returns the videos whose summaries changed."""
    videos: set[int] = set()
    last = -1
    while True:
        rows = raw_rows(  # plain tuples, the same transaction
            conn, "SELECT id, video_id, num_keypoints, xy, visibility, provenance, kp_scores, "
            "score, summary_score FROM instances WHERE id > ? ORDER BY id LIMIT ?",
            (last, _BATCH))
        if not rows:
            return videos
        last = int(rows[-1][0])
        n = len(rows)
        if any(int(r[2]) != k_from for r in rows):
            bad = next(r for r in rows if int(r[2]) != k_from)
            raise ProjectError(f"instance {bad[0]} has {bad[2]} keypoints, the skeleton "
                               f"{k_from}: the project is damaged; nothing was changed")
        ids = np.fromiter((r[0] for r in rows), np.int64, n)
        has_kps = np.fromiter((r[6] is not None for r in rows), bool, n)
        zeros = b"\0" * (4 * k_from)
        cols = Columns(
            np.frombuffer(b"".join(r[3] for r in rows), "<f8").reshape(n, k_from, 2),
            np.frombuffer(b"".join(r[4] for r in rows), np.uint8).reshape(n, k_from),
            np.frombuffer(b"".join(r[5] for r in rows), np.uint8).reshape(n, k_from),
            np.frombuffer(b"".join(r[6] or zeros for r in rows), "<f4").reshape(n, k_from))
        new = convert(ids, cols)
        sums = _summary_scores([r[7] for r in rows], new.vis, new.kps, has_kps)
        conn.exec_driver_sql(
            "UPDATE instances SET num_keypoints = ?, xy = ?, visibility = ?, provenance = ?, "
            "kp_scores = ?, summary_score = ? WHERE id = ?",
            [(k_to, new.xy[i].astype("<f8").tobytes(), new.vis[i].tobytes(),
              new.prov[i].tobytes(),
              new.kps[i].astype("<f4").tobytes() if has_kps[i] else None, sums[i], int(ids[i]))
             for i in range(n)])
        for r, s in zip(rows, sums):
            if r[8] != s:
                videos.add(int(r[1]))


def _write_skeleton(conn: Connection, row_id: int, sk: Skeleton) -> None:
    conn.exec_driver_sql("UPDATE skeletons SET name = ?, num_keypoints = ?, json = ? WHERE id = ?",
                         (sk.name, sk.num_keypoints, sk.to_json(), row_id))


def _forward(conn: Connection, change: SkeletonChange) -> bytes:
    """Apply ``change`` to the stored skeleton and instances; returns the step's payload."""
    row_id, stored = _stored_skeleton(conn)
    if not _same(stored, change.before):
        raise StaleEditError("cannot change the skeleton: it was changed since (by another "
                             "window or command); nothing was changed")
    kept_ids: list[np.ndarray] = []
    kept: list[Columns] = []
    n_removed = len(change.removed)

    def convert(ids: np.ndarray, cols: Columns) -> Columns:
        new, gone = remap(change, cols)
        if n_removed:
            # Only rows that hold something in a removed keypoint need it back on undo.
            some = (gone.vis > 0).any(1) | (gone.xy != 0).any((1, 2)) | (gone.kps != 0).any(1) \
                | (gone.prov != 0).any(1)
            if some.any():
                kept_ids.append(ids[some])
                kept.append(Columns(gone.xy[some], gone.vis[some], gone.prov[some],
                                    gone.kps[some]))
        return new

    videos: set[int] = set()
    if change.moves_keypoints():
        videos = _rewrite(conn, change.before.num_keypoints, change.after.num_keypoints, convert)
    _write_skeleton(conn, row_id, change.after)
    for v in sorted(videos):
        summary.rebuild_video(conn, v)
    k = n_removed
    ids = np.concatenate(kept_ids) if kept_ids else np.zeros(0, np.int64)
    removed = Columns(*(np.concatenate(parts) if parts else empty for parts, empty in (
        ([c.xy for c in kept], np.zeros((0, k, 2))), ([c.vis for c in kept], np.zeros((0, k))),
        ([c.prov for c in kept], np.zeros((0, k))), ([c.kps for c in kept], np.zeros((0, k))))))
    return encode(change, ids, removed)


def _backward(conn: Connection, change: SkeletonChange, ids: np.ndarray,
              removed: Columns) -> None:
    """Undo ``change``: the old skeleton, and every instance's old columns (the removed ones
    from the payload; instances made since the change get them unlabeled)."""
    row_id, stored = _stored_skeleton(conn)
    if not _same(stored, change.after):
        raise StaleEditError("cannot undo the skeleton change: the skeleton was changed since; "
                             "nothing was changed")
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]

    def convert(batch_ids: np.ndarray, cols: Columns) -> Columns:
        back = restore(change, cols, None)
        if sorted_ids.size and change.removed:
            pos = np.clip(np.searchsorted(sorted_ids, batch_ids), 0, sorted_ids.size - 1)
            hit = sorted_ids[pos] == batch_ids
            if hit.any():
                src = order[pos[hit]]
                rows = np.flatnonzero(hit)
                for j, col in enumerate(change.removed):
                    back.xy[rows, col] = removed.xy[src, j]
                    back.vis[rows, col] = removed.vis[src, j]
                    back.prov[rows, col] = removed.prov[src, j]
                    back.kps[rows, col] = removed.kps[src, j]
        return back

    videos: set[int] = set()
    if change.moves_keypoints():
        videos = _rewrite(conn, change.after.num_keypoints, change.before.num_keypoints, convert)
    _write_skeleton(conn, row_id, change.before)
    for v in sorted(videos):
        summary.rebuild_video(conn, v)


def apply_change(host: JournalHost, change: SkeletonChange, *,
                 user: str | None = None) -> Applied:
    """Change the project's skeleton, every instance following, as one history step (one
    transaction); the open ``host`` works with the new skeleton afterwards.

    Raises:
        StaleEditError: the stored skeleton is not ``change.before`` (nothing is written).
        ProjectError: a read-only or damaged project (nothing is written).
    """
    from pose_studio.store.journal_base import default_user

    if change.empty:
        raise ProjectError("the skeleton is unchanged: nothing to do")
    # on a server it touches every video: the whole project's lock (as an import)
    with host._write_conn(exclusive=bool(getattr(host, "is_server", False))) as conn:
        server.note_change(conn, "skeleton")
        payload = _forward(conn, change)
        n = int(conn.exec_driver_sql("SELECT count(*) FROM instances").scalar_one())
        seq = insert_entry(conn, KIND, change.describe(), user or default_user(), [], n, payload,
                           span=(None, None, None, 0))
        entry = read_entry(conn, seq)
    adopt(host, change.after)
    return Applied(entry, ())


def step(conn: Connection, seq: int, payload: bytes, *, undoing: bool, where: str) -> Skeleton:
    """Undo or redo skeleton step ``seq`` in the caller's transaction; returns the skeleton the
    project has afterwards (give it to :func:`adopt` once the transaction has committed)."""
    change, ids, removed = decode(payload, where)
    if undoing:
        _backward(conn, change, ids, removed)
        return change.before
    new_payload = _forward(conn, change)  # the removed columns as they are now
    conn.exec_driver_sql("UPDATE edit_journal SET payload = ? WHERE seq = ?",
                         (new_payload, seq))
    return change.after


def adopt(host: JournalHost, skeleton: Skeleton) -> None:
    """Give the open project its new skeleton (it reads the skeleton once, when opened, and
    checks every write against it)."""
    host._skeleton = skeleton  # type: ignore[attr-defined]


def labeled_counts(host: JournalHost) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, predictions)``: per keypoint, how many instances of each kind have it labeled
    (what removing a keypoint would take away, for the window to ask)."""
    k = host.skeleton.num_keypoints
    user = np.zeros(k, np.int64)
    pred = np.zeros(k, np.int64)
    with host._read() as conn:
        raw: Any = conn.connection.driver_connection
        sql = "SELECT kind, visibility FROM instances WHERE num_keypoints = ?"
        if is_postgres(conn):
            cur = raw.cursor()
            cur.execute(translate(sql), (k,))
        else:
            cur = raw.execute(sql, (k,))
        while True:
            rows = cur.fetchmany(_BATCH)
            if not rows:
                break
            kinds = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            vis = np.frombuffer(b"".join(r[1] for r in rows), np.uint8).reshape(len(rows), k) > 0
            user += vis[kinds == 0].sum(0)
            pred += vis[kinds != 0].sum(0)
    return user, pred
