"""The project's videos: records, add, relink, remove, the file's identity, packet indexes and
frame fingerprints (a mixin of :class:`~pose_studio.store.project.Project`)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pose_studio.store import server, validate
from pose_studio.store.errors import ProjectError
from pose_studio.store.identity import FileIdentity, VideoFileStatus, compare, file_identity
from pose_studio.store.project_base import ProjectBase
from pose_studio.store.records import VideoRecord
from pose_studio.store.schema import VideoRow
from pose_studio.store.validate import MAX_SIGNATURE_BYTES

__all__ = ["UPSERT_FINGERPRINT", "VideoOps", "fingerprint_rows"]

_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1


def _to_i64(v: int) -> int:
    v = int(v) % _U64
    return v - _U64 if v > _I64_MAX else v


UPSERT_FINGERPRINT = (
    "INSERT INTO frames (video_id, frame_idx, fingerprint, signature) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (video_id, frame_idx) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "signature = excluded.signature"
)


def fingerprint_rows(
    video_id: int, fingerprints: Mapping[int, int | bytes]
) -> list[tuple[int, int, int | None, bytes | None]]:
    rows: list[tuple[int, int, int | None, bytes | None]] = []
    for f, v in fingerprints.items():
        if isinstance(v, bytes | bytearray | memoryview):
            b = bytes(v)
            if not 0 < len(b) <= MAX_SIGNATURE_BYTES:
                raise ValueError(f"fingerprint of frame {f} has {len(b)} bytes "
                                 f"(1..{MAX_SIGNATURE_BYTES})")
            rows.append((video_id, int(f), None, b))
        else:
            rows.append((video_id, int(f), _to_i64(int(v)), None))
    return rows


class VideoOps(ProjectBase):
    """Videos, their files and fingerprints."""

    def _rel(self, abs_path: Path, base: Path | None = None) -> str | None:
        if self._url is not None:  # a server project has no folder: absolute paths only
            return None
        try:
            return Path(os.path.relpath(abs_path, base or self._path.parent)).as_posix()
        except ValueError:  # another drive (Windows)
            return None

    def _record(self, row: VideoRow) -> VideoRecord:
        why = validate.video_problem(row)
        if why is not None:
            raise validate.damaged_error(self._note_damage("videos", row.id, why))
        abs_p = Path(row.abs_path)
        path = abs_p
        if row.rel_path is not None:
            rel_p = Path(os.path.normpath(self._path.parent / row.rel_path))
            path = rel_p if (rel_p.exists() or not abs_p.exists()) else abs_p
        fr = (row.fps_num, row.fps_den) if row.fps_num and row.fps_den else None
        return VideoRecord(
            id=row.id, path=path, stored_path=row.rel_path or row.abs_path, width=row.width,
            height=row.height, frame_count=row.frame_count, fps=row.fps, vfr=bool(row.vfr),
            codec=row.codec, duration_s=row.duration_s, fps_rational=fr, rotation=row.rotation,
            kind=row.kind, missing=not path.exists(),
        )

    def add_video(
        self,
        path: str | os.PathLike[str],
        *,
        width: int,
        height: int,
        frame_count: int,
        fps: float,
        vfr: bool = False,
        codec: str = "",
        duration_s: float = 0.0,
        index: bytes | None = None,
        fps_rational: tuple[int, int] | None = None,
        rotation: int = 0,
        kind: str = "file",
    ) -> int:
        """Add a video (its metadata as the video layer read it) and return its id.

        Raises:
            ProjectError: the same file is already in the project, or bad metadata.
        """
        with self._write() as s:
            server.note_change(s.connection(), "videos")
            return self._add_video(s, path, width=width, height=height,
                                   frame_count=frame_count, fps=fps, vfr=vfr, codec=codec,
                                   duration_s=duration_s, index=index, fps_rational=fps_rational,
                                   rotation=rotation, kind=kind)

    def _add_video(self, s: Session, path: str | os.PathLike[str], **m: Any) -> int:
        abs_p = Path(path).expanduser().absolute()
        if int(m["frame_count"]) < 0 or int(m["width"]) < 0 or int(m["height"]) < 0:
            raise ProjectError(f"cannot add video {abs_p}: negative size or frame count")
        existing = s.execute(select(VideoRow.id).where(VideoRow.abs_path == str(abs_p))).scalar()
        if existing is not None:
            raise ProjectError(
                f"video {abs_p} is already in project {self._path} (video id {existing})"
            )
        fr = m.pop("fps_rational")
        row = VideoRow(
            rel_path=self._rel(abs_p), abs_path=str(abs_p), width=int(m["width"]),
            height=int(m["height"]), frame_count=int(m["frame_count"]), fps=float(m["fps"]),
            fps_num=int(fr[0]) if fr else None, fps_den=int(fr[1]) if fr else None,
            vfr=int(bool(m["vfr"])), codec=str(m["codec"]), duration_s=float(m["duration_s"]),
            rotation=int(m["rotation"]), kind=str(m["kind"]), index_blob=m["index"],
            added_at=time.time(),
        )
        ident = file_identity(abs_p)
        if ident is not None:
            row.file_size, row.file_mtime_ns, row.file_digest = (
                ident.size, ident.mtime_ns, ident.digest)
        s.add(row)
        s.flush()
        return int(row.id)


    def videos(self) -> list[VideoRecord]:
        """The project's videos; damaged rows are left out (and noted in :attr:`damage`)."""
        with self._read_session() as s:
            rows = s.scalars(select(VideoRow).order_by(VideoRow.id))
            return [self._record(r) for r in validate.valid(
                rows, "videos", validate.video_problem, self._note_damage)]

    def video(self, video_id: int) -> VideoRecord:
        with self._read_session() as s:
            row = s.get(VideoRow, video_id)
            if row is None:
                raise ProjectError(f"project {self._path} has no video with id {video_id}")
            return self._record(row)

    # --- video file identity ---------------------------------------------------------------------
    def _stored_identity(self, video_id: int) -> tuple[Path, FileIdentity | None]:
        with self._read_session() as s:
            row = s.get(VideoRow, video_id)
            if row is None:
                raise ProjectError(f"project {self._path} has no video with id {video_id}")
            path = self._record(row).path
            if row.file_size is None or row.file_mtime_ns is None or row.file_digest is None:
                return path, None
            return path, FileIdentity(row.file_size, row.file_mtime_ns, row.file_digest)

    def video_file_status(self, video_id: int) -> VideoFileStatus:
        """Whether the video file is still the one that was added (cheap: a ``stat``, plus a
        2 MiB digest only when its time changed). Call on open; when ``.changed`` (or
        ``"unrecorded"``), check the labeled frames' fingerprints
        (``pose_studio.formats.frame_check.check_video_frames``) and tell the user which labels
        no longer sit on their frames. A touched file with the same bytes is ``"same"`` (and its
        new time is remembered when the project is writable, so the next check is a ``stat``).
        """
        path, stored = self._stored_identity(video_id)
        status, current = compare(video_id, path, stored)
        if status.state == "same" and current is not None and not self.read_only:
            with contextlib.suppress(ProjectError):
                self._store_identity(video_id, current)
        return status

    def accept_video_file(self, video_id: int) -> VideoFileStatus:
        """Record the video file as it is now as the project's reference (after its frames were
        checked, or the user accepted the change). Returns the new status (``"same"``).

        Raises:
            ProjectError: no such video, or the file cannot be read.
        """
        path, _ = self._stored_identity(video_id)
        ident = file_identity(path)
        if ident is None:
            raise ProjectError(f"cannot read video {path} of project {self._path}")
        self._store_identity(video_id, ident)
        return VideoFileStatus(video_id, path, "same")

    def _store_identity(self, video_id: int, ident: FileIdentity) -> None:
        with self._write(bulk=True) as s:
            s.connection().exec_driver_sql(
                "UPDATE videos SET file_size = ?, file_mtime_ns = ?, file_digest = ? WHERE id = ?",
                (ident.size, ident.mtime_ns, ident.digest, video_id),
            )

    def frames_missing_fingerprints(self, video_id: int) -> list[int]:
        """Labeled frames (with a user instance) that have no stored fingerprint, ascending.

        The GUI fills them when a video is opened and its file is unchanged
        (``pose_studio.formats.frame_check.fill_missing_fingerprints``).
        """
        labeled = np.flatnonzero(self.frame_arrays(video_id).labeled)
        have = np.fromiter(self.fingerprints(video_id), dtype=np.int64)
        return [int(f) for f in np.setdiff1d(labeled, have, assume_unique=True)]

    def find_video(self, path: str | os.PathLike[str]) -> int | None:
        """The id of the video stored for ``path`` (absolute or as resolved now), if any."""
        target = Path(path).expanduser().absolute()
        for v in self.videos():
            if v.path == target or Path(v.stored_path) == target:
                return v.id
        return None

    def relink_video(self, video_id: int, new_path: str | os.PathLike[str]) -> VideoRecord:
        """Point a (moved) video at its new location; its labels and index are kept."""
        abs_p = Path(new_path).expanduser().absolute()
        with self._write() as s:
            server.note_change(s.connection(), "videos")
            row = s.get(VideoRow, video_id)
            if row is None:
                raise ProjectError(f"project {self._path} has no video with id {video_id}")
            row.abs_path = str(abs_p)
            row.rel_path = self._rel(abs_p)
            s.flush()
            return self._record(row)

    def remove_video(self, video_id: int) -> None:
        """Remove a video with all its instances and frame data."""
        with self._write(exclusive=True) as s:
            server.note_change(s.connection(), "videos")
            n = s.execute(delete(VideoRow).where(VideoRow.id == video_id)).rowcount  # type: ignore[attr-defined]
            if not n:
                raise ProjectError(f"project {self._path} has no video with id {video_id}")
        self._frame_counts.pop(video_id, None)

    def video_index(self, video_id: int) -> bytes | None:
        with self._read() as conn:
            return conn.exec_driver_sql(  # type: ignore[no-any-return]
                "SELECT index_blob FROM videos WHERE id = ?", (video_id,)
            ).scalar()

    def set_video_index(self, video_id: int, blob: bytes | None) -> None:
        with self._write() as s:
            n = s.connection().exec_driver_sql(
                "UPDATE videos SET index_blob = ? WHERE id = ?", (blob, video_id)
            ).rowcount
            if not n:
                raise ProjectError(f"project {self._path} has no video with id {video_id}")


    # --- fingerprints ----------------------------------------------------------------------------
    def set_fingerprints(self, video_id: int, fingerprints: Mapping[int, int | bytes]) -> None:
        """Store frame fingerprints (to check later that the video still shows the labeled
        pictures): ``{frame_idx: fingerprint}``.

        A fingerprint is ``bytes`` (a signature, ``pose_studio.video.frame_signature``: what new
        code stores) or ``int`` (the old 64-bit hash, ``pose_studio.video.fingerprint``; kept for
        projects and callers from before format 4). Storing one replaces whatever the frame had.
        The store does not look inside the bytes (at most :data:`MAX_SIGNATURE_BYTES`).
        """
        frames = np.fromiter(fingerprints.keys(), dtype=np.int64, count=len(fingerprints))
        rows = fingerprint_rows(video_id, fingerprints)
        with self._write(bulk=True) as s:
            conn = s.connection()
            self._check_frames(conn, video_id, frames)
            conn.exec_driver_sql(UPSERT_FINGERPRINT, rows)

    def fingerprints(self, video_id: int) -> dict[int, int | bytes]:
        """``{frame_idx: fingerprint}`` of the video's frames that have one, ascending:
        ``bytes`` signatures, or ``int`` (unsigned 64-bit) hashes stored by older versions."""
        with self._read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT frame_idx, fingerprint, signature FROM frames WHERE video_id = ? "
                "AND (fingerprint IS NOT NULL OR signature IS NOT NULL) ORDER BY frame_idx",
                (video_id,),
            ).fetchall()
        out: dict[int, int | bytes] = {}
        for f, v, sig in rows:
            why = validate.fingerprint_problem(f, v, sig, MAX_SIGNATURE_BYTES)
            if why is not None:
                self._note_damage("frames", f"video {video_id} frame {f}", why)
                continue
            out[int(f)] = bytes(sig) if sig is not None else int(v) % _U64
        return out
