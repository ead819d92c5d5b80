"""What datasets bring beyond keypoints: image-set files, categories, kept fields, regions.

Tables of format 5 (see ``schema.py``). :class:`DatasetReads` is mixed into ``Project`` (reads,
each one snapshot); :class:`DatasetWrites` into ``ImportWriter`` (writes inside the import
transaction, so a dataset lands all or nothing). Values are plain frozen records; ``extra``
mappings are the JSON the importer stored (never ORM objects, never mutable shared state).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

__all__ = [
    "CategoryRecord",
    "DatasetReads",
    "DatasetWrites",
    "FrameFile",
    "FrameMeta",
    "InstanceMeta",
    "RegionRecord",
    "image_id_key",
]

def _loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _dumps(extra: Mapping[str, Any] | None) -> str | None:
    return json.dumps(dict(extra), separators=(",", ":"), allow_nan=False) if extra else None


def image_id_key(image_id: Any) -> str:
    """How an image id is stored and looked up: its JSON text (``3`` and ``"3"`` differ)."""
    return json.dumps(image_id, separators=(",", ":"))


@dataclass(frozen=True)
class FrameFile:
    """One image of an image-set source.

    Attributes:
        frame_idx: The frame it is.
        path: Relative to the set's folder, ``/``-separated (sub-folders kept).
        width, height: Its own pixel size (None when it could not be read when added).
    """

    frame_idx: int
    path: str
    width: int | None
    height: int | None

    @property
    def name(self) -> str:
        """The file name alone (``000000.jpg``)."""
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class CategoryRecord:
    id: int
    name: str
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InstanceMeta:
    instance_id: int
    category_id: int | None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RegionRecord:
    """An area without keypoints (a crowd region, a box-only annotation)."""

    id: int
    video_id: int
    frame_idx: int
    category_id: int | None
    bbox: tuple[float, float, float, float] | None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FrameMeta:
    video_id: int
    frame_idx: int
    image_id: Any  # as the dataset gave it (int or str), None when it gave none
    extra: Mapping[str, Any] = field(default_factory=dict)


# --- reads (mixed into Project) ---------------------------------------------------------------------
class DatasetReads:
    """Read methods for the dataset tables; the host provides ``_read()`` (one snapshot)."""

    if TYPE_CHECKING:  # pragma: no cover
        def _read(self) -> contextlib.AbstractContextManager[Connection]: ...
        def video(self, video_id: int) -> Any: ...

    def frame_files(self, video_id: int) -> list[FrameFile]:
        """Every image of an image-set source in frame order (empty for videos, and for image
        folders added before format 5: their reader lists them)."""
        with self._read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT frame_idx, path, width, height FROM source_images WHERE video_id = ? "
                "ORDER BY frame_idx", (video_id,)).fetchall()
        return [FrameFile(int(f), str(p), w, h) for f, p, w, h in rows]

    def frame_file(self, video_id: int, frame_idx: int) -> FrameFile | None:
        """The image behind one frame of an image set (None for a video frame)."""
        with self._read() as conn:
            row = conn.exec_driver_sql(
                "SELECT frame_idx, path, width, height FROM source_images WHERE video_id = ? "
                "AND frame_idx = ?", (video_id, frame_idx)).first()
        return None if row is None else FrameFile(int(row[0]), str(row[1]), row[2], row[3])

    def frame_size(self, video_id: int, frame_idx: int) -> tuple[int, int]:
        """``(width, height)`` of one frame: an image's own size, else the video's."""
        f = self.frame_file(video_id, frame_idx)
        if f is not None and f.width is not None and f.height is not None:
            return int(f.width), int(f.height)
        rec = self.video(video_id)
        return int(rec.width), int(rec.height)

    def image_sizes(self, video_id: int) -> dict[tuple[int, int], int]:
        """``{(width, height): images}`` of an image set's recorded images (empty for videos
        and for image folders added before format 5); unknown sizes are left out."""
        with self._read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT width, height, COUNT(*) FROM source_images WHERE video_id = ? "
                "AND width IS NOT NULL AND height IS NOT NULL GROUP BY width, height",
                (video_id,)).fetchall()
        return {(int(w), int(h)): int(n) for w, h, n in rows}

    def categories(self) -> list[CategoryRecord]:
        with self._read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT id, name, extra_json FROM categories ORDER BY id").fetchall()
        return [CategoryRecord(int(i), str(n), _loads(e)) for i, n, e in rows]

    def instance_meta(self, video_id: int | None = None) -> dict[int, InstanceMeta]:
        """``{instance id: meta}`` for the project's instances that have a category or kept
        fields (of one video, or all)."""
        sql = ("SELECT m.instance_id, m.category_id, m.extra_json FROM instance_meta m "
               "JOIN instances i ON i.id = m.instance_id")
        params: tuple[Any, ...] = ()
        if video_id is not None:
            sql += " WHERE i.video_id = ?"
            params = (video_id,)
        with self._read() as conn:
            rows = conn.exec_driver_sql(sql, params).fetchall()
        return {int(i): InstanceMeta(int(i), c, _loads(e)) for i, c, e in rows}

    def regions(self, video_id: int | None = None) -> list[RegionRecord]:
        sql = ("SELECT id, video_id, frame_idx, category_id, bbox_x, bbox_y, bbox_w, bbox_h, "
               "extra_json FROM regions")
        params: tuple[Any, ...] = ()
        if video_id is not None:
            sql += " WHERE video_id = ?"
            params = (video_id,)
        with self._read() as conn:
            rows = conn.exec_driver_sql(sql + " ORDER BY video_id, frame_idx, id",
                                        params).fetchall()
        out = []
        for i, v, f, c, x, y, w, h, e in rows:
            box = None if x is None else (float(x), float(y), float(w), float(h))
            out.append(RegionRecord(int(i), int(v), int(f), c, box, _loads(e)))
        return out

    def frame_meta(self, video_id: int | None = None) -> dict[tuple[int, int], FrameMeta]:
        """``{(video id, frame): meta}`` of frames a dataset gave ids or fields for."""
        sql = "SELECT video_id, frame_idx, image_id, extra_json FROM frame_meta"
        params: tuple[Any, ...] = ()
        if video_id is not None:
            sql += " WHERE video_id = ?"
            params = (video_id,)
        with self._read() as conn:
            rows = conn.exec_driver_sql(sql, params).fetchall()
        out = {}
        for v, f, iid, e in rows:
            out[(int(v), int(f))] = FrameMeta(int(v), int(f), _image_id(iid), _loads(e))
        return out

    def dataset_info(self, key: str) -> dict[str, Any]:
        """What :meth:`DatasetWrites.set_dataset_info` kept under ``key`` (empty if nothing)."""
        with self._read() as conn:
            text = conn.exec_driver_sql("SELECT value FROM project_meta WHERE key = ?",
                                        (f"dataset:{key}",)).scalar()
        return _loads(text)

    def frames_by_image_id(self) -> dict[Any, list[tuple[int, int]]]:
        """Image id (as the dataset gave it) -> the frames that carry it."""
        with self._read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT image_id, video_id, frame_idx FROM frame_meta "
                "WHERE image_id IS NOT NULL ORDER BY video_id, frame_idx").fetchall()
        out: dict[Any, list[tuple[int, int]]] = {}
        for iid, v, f in rows:
            key = _image_id(iid)
            if isinstance(key, (int, str)):
                out.setdefault(key, []).append((int(v), int(f)))
        return out


def _image_id(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


# --- writes (mixed into ImportWriter) ---------------------------------------------------------------
class DatasetWrites:
    """Write methods used inside :meth:`Project.import_transaction`; the host provides ``_s``."""

    if TYPE_CHECKING:  # pragma: no cover
        _s: Session
        _p: Any

    def _conn(self) -> Connection:
        return self._s.connection()

    def extend_image_set(
        self,
        video_id: int,
        files: Iterable[tuple[int, str, int | None, int | None]],
        *,
        index: bytes,
        frame_count: int,
    ) -> None:
        """Append images to an image set (frames after its last): their rows, the set's new
        reader index and frame count."""
        conn = self._conn()
        n = conn.exec_driver_sql(
            "UPDATE videos SET frame_count = ?, index_blob = ? WHERE id = ? AND kind = 'images'",
            (int(frame_count), index, video_id)).rowcount
        if not n:
            from pose_studio.store.errors import ProjectError

            raise ProjectError(f"project has no image set with id {video_id}")
        self._p._frame_counts.pop(video_id, None)  # the frame range checks must see the new count
        self.set_frame_files(video_id, files)

    def set_dataset_info(self, key: str, value: Mapping[str, Any]) -> None:
        """Keep a dataset's file-level facts (a COCO file's ``info`` and ``licenses``) under
        ``dataset:<key>`` in the project's meta table; a later import of the same format
        replaces what it sets."""
        conn = self._conn()
        old = conn.exec_driver_sql("SELECT value FROM project_meta WHERE key = ?",
                                   (f"dataset:{key}",)).scalar()
        merged = {**_loads(old), **dict(value)}
        conn.exec_driver_sql(
            "INSERT INTO project_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (f"dataset:{key}", json.dumps(merged, separators=(",", ":"), allow_nan=False)))

    def set_frame_files(
        self, video_id: int, files: Iterable[tuple[int, str, int | None, int | None]]
    ) -> None:
        """Record the images of an image set: ``(frame, relative path, width, height)``."""
        rows = [(video_id, int(f), str(p), w, h) for f, p, w, h in files]
        if rows:
            self._conn().exec_driver_sql(
                "INSERT INTO source_images (video_id, frame_idx, path, width, height) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (video_id, frame_idx) DO UPDATE SET "
                "path = excluded.path, width = excluded.width, height = excluded.height", rows)

    def ensure_categories(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, int]:
        """Category ids by name, adding the missing ones (an existing one keeps its facts, and
        gets the new ones when it had none)."""
        conn = self._conn()
        have = {str(n): (int(i), e) for i, n, e in conn.exec_driver_sql(
            "SELECT id, name, extra_json FROM categories").fetchall()}
        out: dict[str, int] = {}
        for name, extra in items:
            found = have.get(name)
            if found is None:
                out[name] = int(conn.exec_driver_sql(
                    "INSERT INTO categories (name, extra_json) VALUES (?, ?) RETURNING id",
                    (name, _dumps(extra))).scalar_one())
                have[name] = (out[name], _dumps(extra))
            else:
                out[name] = found[0]
                if found[1] is None and extra:
                    conn.exec_driver_sql("UPDATE categories SET extra_json = ? WHERE id = ?",
                                         (_dumps(extra), found[0]))
        return out

    def next_instance_id(self) -> int:
        """The id the next new instance gets (ids are never reused: AUTOINCREMENT), so an
        import can give its instances ids and attach their meta rows in the same transaction."""
        conn = self._conn()
        from pose_studio.store import ids

        seq = ids.handed_out(conn, "instances")
        top = conn.exec_driver_sql("SELECT max(id) FROM instances").scalar()
        return max(seq, int(top or 0)) + 1

    def set_instance_meta(self, rows: Iterable[tuple[int, int | None, str | None]]) -> None:
        """``(instance id, category id, extra JSON text)`` rows (JSON from :func:`dump_extra`)."""
        batch = [r for r in rows if r[1] is not None or r[2] is not None]
        if batch:
            self._conn().exec_driver_sql(
                "INSERT INTO instance_meta (instance_id, category_id, extra_json) "
                "VALUES (?, ?, ?) ON CONFLICT (instance_id) DO UPDATE SET "
                "category_id = excluded.category_id, extra_json = excluded.extra_json", batch)

    def add_regions(
        self,
        rows: Iterable[tuple[int, int, int | None, tuple[float, float, float, float] | None,
                             str | None]],
    ) -> int:
        """``(video id, frame, category id, bbox, extra JSON)`` rows; returns how many."""
        batch = [(v, int(f), c, *(b if b is not None else (None,) * 4), e)
                 for v, f, c, b, e in rows]
        if batch:
            self._conn().exec_driver_sql(
                "INSERT INTO regions (video_id, frame_idx, category_id, bbox_x, bbox_y, bbox_w, "
                "bbox_h, extra_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
        return len(batch)

    def set_frame_meta(self, rows: Iterable[tuple[int, int, Any, str | None]]) -> None:
        """``(video id, frame, image id or None, extra JSON)``; replaces what a frame had."""
        batch = [(v, int(f), None if i is None else image_id_key(i), e) for v, f, i, e in rows
                 if i is not None or e is not None]
        if batch:
            self._conn().exec_driver_sql(
                "INSERT INTO frame_meta (video_id, frame_idx, image_id, extra_json) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (video_id, frame_idx) DO UPDATE SET "
                "image_id = excluded.image_id, extra_json = excluded.extra_json", batch)


def dump_extra(extra: Mapping[str, Any] | None) -> str | None:
    """JSON text for an ``extra`` mapping (None when empty). Raises ValueError for values JSON
    cannot hold (NaN, infinities) and RecursionError for absurdly deep ones."""
    return _dumps(extra)
