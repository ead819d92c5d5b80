"""A video file's identity: cheap to check on every open, strong enough to notice a replacement.

Size and modification time are compared first (one ``stat``); only when the time differs is a
digest of the size and the first and last MiB computed (a touched or copied file with the same
bytes is still "the same"). A folder of images is identified by its listing (names, sizes, times).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["FileIdentity", "VideoFileStatus", "compare", "file_digest", "file_identity"]

EDGE_BYTES = 1 << 20
FileState = Literal["same", "changed", "missing", "unrecorded"]


@dataclass(frozen=True)
class FileIdentity:
    size: int
    mtime_ns: int
    digest: str


@dataclass(frozen=True)
class VideoFileStatus:
    """What :meth:`Project.video_file_status` found.

    Attributes:
        state: ``"same"`` (the file added, possibly touched or copied), ``"changed"`` (other
            bytes: replaced or re-encoded; check the labeled frames' fingerprints),
            ``"missing"`` (no file at the path; relink it) or ``"unrecorded"`` (added by an older
            version: nothing to compare with; check fingerprints to be sure).
        detail: A short human sentence (what changed), empty when ``same``.
    """

    video_id: int
    path: Path
    state: FileState
    detail: str = ""

    @property
    def changed(self) -> bool:
        return self.state == "changed"


def _folder_listing(folder: Path) -> list[tuple[str, int, int]]:
    out = []
    with os.scandir(folder) as it:
        for e in it:
            if e.name.startswith(".") or not e.is_file():
                continue
            st = e.stat()
            out.append((e.name, st.st_size, st.st_mtime_ns))
    out.sort()
    return out


def file_digest(path: Path) -> str:
    """SHA-256 over the size and the first and last :data:`EDGE_BYTES` (or the folder listing)."""
    h = hashlib.sha256()
    if path.is_dir():
        for name, size, mtime in _folder_listing(path):
            h.update(f"{name}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
        return h.hexdigest()
    size = path.stat().st_size
    h.update(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(EDGE_BYTES))
        if size > EDGE_BYTES:
            f.seek(max(EDGE_BYTES, size - EDGE_BYTES))
            h.update(f.read(EDGE_BYTES))
    return h.hexdigest()


def file_identity(path: Path) -> FileIdentity | None:
    """The identity of the file or image folder at ``path``; None when it cannot be read."""
    try:
        if path.is_dir():
            listing = _folder_listing(path)
            return FileIdentity(
                size=sum(s for _, s, _ in listing),
                mtime_ns=max((m for _, _, m in listing), default=0),
                digest=file_digest(path),
            )
        st = path.stat()
        return FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, digest=file_digest(path))
    except OSError:
        return None


def compare(
    video_id: int, path: Path, stored: FileIdentity | None
) -> tuple[VideoFileStatus, FileIdentity | None]:
    """The status of ``path`` against ``stored``, and the current identity when computed."""
    if not path.exists():
        return VideoFileStatus(video_id, path, "missing", f"{path} does not exist"), None
    if stored is None:
        return VideoFileStatus(video_id, path, "unrecorded",
                               "no file identity recorded (added by an older version)"), None
    try:
        if path.is_dir():
            size, mtime = None, None
        else:
            st = path.stat()
            size, mtime = st.st_size, st.st_mtime_ns
            if size != stored.size:
                return VideoFileStatus(
                    video_id, path, "changed",
                    f"the file is {size} bytes, it was {stored.size} bytes when added",
                ), None
            if mtime == stored.mtime_ns:
                return VideoFileStatus(video_id, path, "same"), None
        current = file_identity(path)
    except OSError as e:
        return VideoFileStatus(video_id, path, "missing", f"cannot read {path}: {e}"), None
    if current is None:
        return VideoFileStatus(video_id, path, "missing", f"cannot read {path}"), None
    if current.digest == stored.digest:
        return VideoFileStatus(video_id, path, "same"), current
    what = "the folder's images differ" if size is None else "the file's bytes differ"
    return VideoFileStatus(video_id, path, "changed",
                           f"{what} from when it was added (replaced or re-encoded)"), current
