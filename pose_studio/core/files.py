"""Checks on the paths a user hands in, made before anything opens them.

A FIFO named ``p.posestudio`` would block the first ``open`` forever, a character device such as
``/dev/zero`` never ends, a folder where a file is expected fails somewhere deep inside a library,
and a name over the file system's limit makes ``Path.exists()`` itself raise. These functions
refuse such paths at once, with the operating system's reason in plain words (one line, a
:class:`PathError`).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from pose_studio.core.errors import PoseStudioError

__all__ = ["PathError", "check_input_path", "check_output_path", "os_reason", "path_kind"]


class PathError(PoseStudioError):
    """A path that cannot be used as asked (missing, not a regular file, no permission...)."""


_PLAIN = {
    errno.ENOENT: "no such file or folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "it is a folder",
    errno.ELOOP: "too many levels of symbolic links (a link loop?)",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EMFILE: "too many open files",
    errno.ENXIO: "no such device (a FIFO without a writer, or a device that is gone)",
    errno.ETXTBSY: "the file is busy",
}


def os_reason(exc: BaseException, path: str | os.PathLike[str] | None = None) -> str:
    """The OS's reason for ``exc`` in plain words (no errno numbers, no Python class names)."""
    if isinstance(exc, ValueError):  # e.g. "embedded null byte" from os.stat
        return f"not a usable path ({exc})"
    if not isinstance(exc, OSError):
        return str(exc)
    code = exc.errno
    if code == errno.ENAMETOOLONG:
        p = path if path is not None else exc.filename
        longest = _longest_component(p) if p is not None else 0
        limit = _name_max(p)
        detail = f"a name of {longest} bytes; the limit is {limit}" if longest > limit else \
            "the whole path is longer than the system allows"
        return f"the file name is too long for the file system ({detail})"
    if code in _PLAIN:
        return _PLAIN[code]
    return exc.strerror or str(exc)


def _longest_component(p: str | os.PathLike[str] | bytes) -> int:
    raw = os.fsencode(p)
    return max((len(c) for c in raw.split(os.fsencode(os.sep))), default=0)


def _name_max(p: str | os.PathLike[str] | bytes | None) -> int:
    if p is not None:
        folder = Path(os.fsdecode(p)).parent
        for candidate in (folder, *folder.parents):
            try:
                return int(os.pathconf(candidate, "PC_NAME_MAX"))
            except (OSError, ValueError, AttributeError):
                continue
    return 255


def path_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words (``"a folder"``, ``"a named pipe (FIFO)"``...)."""
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_input_path(
    path: str | os.PathLike[str],
    what: str = "file",
    *,
    folder_ok: bool = False,
    file_ok: bool = True,
) -> Path:
    """The path, when it is an existing regular file (or folder, with ``folder_ok``) that this
    process may read. Never blocks: a FIFO or device is refused from its ``stat``.

    Raises:
        PathError: naming ``what`` and the path and the reason.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except (OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise PathError(f"{what} {p} does not exist") from None
        raise PathError(f"{what} {_show(p)}: {os_reason(exc, p)}") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        if not folder_ok:
            raise PathError(f"{what} {p} is a folder, not a file")
        try:
            with os.scandir(p):
                pass
        except OSError as exc:
            raise PathError(f"{what} {p}: cannot read the folder: {os_reason(exc, p)}") from None
        return p
    if not stat.S_ISREG(mode) or not file_ok:
        expected = "a file" if file_ok else "a folder"
        raise PathError(f"{what} {p} is {path_kind(mode)}, not {expected}")
    try:  # O_NONBLOCK: even if the path was swapped for a FIFO since the stat, never wait
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise PathError(f"{what} {p}: cannot read it: {os_reason(exc, p)}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PathError(f"{what} {p} is not a regular file")
    finally:
        os.close(fd)
    return p


def check_output_path(path: str | os.PathLike[str], what: str = "output file") -> Path:
    """Check that a new file can be created at ``path``: the folder exists, the name fits the
    file system, and nothing but a regular file is there already (the caller decides whether an
    existing file may be replaced). Does not create anything.

    Raises:
        PathError: with the OS's reason in plain words.
    """
    p = Path(path)
    try:
        os.fsencode(p)
        if "\x00" in str(p):
            raise ValueError("embedded null byte")
    except (UnicodeError, ValueError) as exc:
        raise PathError(f"{what} {_show(p)}: {os_reason(ValueError(str(exc)))}") from None
    limit = _name_max(p)
    if len(os.fsencode(p.name)) > limit:
        raise PathError(f"{what} {_show(p)}: the file name is too long for the file system "
                        f"(a name of {len(os.fsencode(p.name))} bytes; the limit is {limit})")
    parent = p.parent
    try:
        pst = os.stat(parent)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise PathError(f"{what} {_show(p)}: the folder {parent} does not exist") from None
        raise PathError(f"{what} {_show(p)}: {os_reason(exc, parent)}") from None
    if not stat.S_ISDIR(pst.st_mode):
        raise PathError(f"{what} {_show(p)}: {parent} is {path_kind(pst.st_mode)}, not a folder")
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return p
    except OSError as exc:
        raise PathError(f"{what} {_show(p)}: {os_reason(exc, p)}") from None
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(p)
        except OSError:
            return p  # a dangling link: the caller's "exists" checks decide
    if not stat.S_ISREG(st.st_mode):
        raise PathError(f"{what} {p} is {path_kind(st.st_mode)}, not a file")
    return p


def _show(p: Path, limit: int = 120) -> str:
    """A path short enough for one line (very long names are elided in the middle)."""
    s = str(p)
    return s if len(s) <= limit else f"{s[: limit // 2]}...{s[-limit // 2:]}"
