"""Files the app writes: never over an existing file without ``force``, never over a source,
with the user's normal permissions, and all or nothing.

* :func:`check_target` / :func:`check_folder_targets`: before anything is written, refuse an
  output that exists (unless ``force``) or that is one of the ``protected`` paths (the
  project's own file and its sources: refused even with ``force``).
* :func:`temp_path_for`, :func:`atomic_file`, :func:`write_bytes_atomic`: write beside the target
  under a hidden temporary name and rename it into place at the end, so a failure (a full
  disk, a crash, Ctrl-C) leaves the old file or nothing, never half a file. Temporary files are
  created with mode 0666 filtered by the process umask, like any ordinary file (Python's
  ``tempfile.mkstemp`` makes them 0600, which then sticks to the output).
* :func:`atomic_dir`: the same for a whole folder (a dataset in a layout of several files);
  with ``force`` it replaces only a folder that is empty or an earlier output of the same
  format, never an unrelated folder such as the user's home, nor one holding a source.
* :func:`check_free_space`: refuse a long write that cannot fit before it starts.

Only the standard library: every layer may use it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from pose_studio.core.errors import PoseStudioError

__all__ = [
    "OutputError",
    "atomic_dir",
    "atomic_file",
    "check_folder_target",
    "check_folder_targets",
    "check_free_space",
    "check_target",
    "commit_temp",
    "describe_os_error",
    "is_protected",
    "remove_quietly",
    "temp_path_for",
    "write_bytes_atomic",
]

_FILE_MODE = 0o666  # filtered by the umask, as open() and every other program does


class OutputError(PoseStudioError):
    """An output that must not or cannot be written (exists, is a source, disk full...)."""


def describe_os_error(exc: BaseException) -> str:
    """A short reason for a write error, with advice for the usual ones."""
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the device (free some space or write elsewhere)"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if code == errno.EROFS:
        return "the file system is read-only"
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _resolved(p: Path) -> Path:
    try:
        return p.expanduser().resolve()
    except OSError:
        return p.expanduser().absolute()


def is_protected(path: Path, protected: Iterable[Path]) -> Path | None:
    """The protected path that ``path`` is (the same file, or the same path once resolved)."""
    target = _resolved(Path(path))
    for q in protected:
        q = Path(q)
        if _resolved(q) == target or _same(Path(path), q):
            return q
    return None


def check_target(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    protected: Iterable[Path] = (),
    what: str = "output",
    missing_folder_ok: bool = False,
) -> Path:
    """Refuse to write ``path`` when it is a protected file (always), a folder, or an existing
    file (unless ``force``); also when its folder does not exist (unless
    ``missing_folder_ok``: the caller creates it).

    Raises:
        OutputError: with the reason and what to do.
    """
    p = Path(path)
    hit = is_protected(p, protected)
    if hit is not None:
        raise OutputError(
            f"{what} {p} is {hit.name}, a file of the project itself (a source or the project "
            "file): it is never overwritten, not even with --force; write somewhere else"
        )
    if p.is_dir():
        raise OutputError(f"{what} {p} is a folder; give a file name")
    if p.exists() or p.is_symlink():
        if not force:
            raise OutputError(f"{what} {p} already exists; use --force to replace it")
        if not p.is_file():
            raise OutputError(f"{what} {p} exists and is not a regular file; not replacing it")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir() and not (missing_folder_ok and not parent.exists()):
        raise OutputError(f"cannot write {p}: folder {parent} does not exist")
    return p


def check_folder_targets(
    folder: str | os.PathLike[str],
    names: Iterable[str],
    *,
    force: bool = False,
    protected: Iterable[Path] = (),
    what: str = "output",
) -> None:
    """Refuse writing files ``names`` into ``folder`` when one exists (unless ``force``) or is
    protected (always). The folder itself may or may not exist yet."""
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise OutputError(f"{what} {root} exists and is not a folder")
    protected = list(protected)
    existing = []
    if root.is_dir():
        for name in names:
            t = root / name
            if protected and is_protected(t, protected) is not None:
                raise OutputError(
                    f"{what} {t} is a file of the project itself (a source); it is never "
                    "overwritten, not even with --force; write somewhere else"
                )
            if not force and (t.exists() or t.is_symlink()):
                existing.append(t)
    if existing:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise OutputError(
            f"{what} {existing[0]}{more} already exist(s) in {root}; use --force to replace them"
        )


def check_free_space(folder: str | os.PathLike[str], need_bytes: int, what: str) -> None:
    """Refuse when ``folder``'s file system has less than ``need_bytes`` free (a low estimate
    of the output; the write itself still handles a disk that fills up)."""
    root = Path(folder)
    while not root.exists() and root != root.parent:
        root = root.parent
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        return  # cannot tell: the write will say
    if need_bytes > free:
        raise OutputError(
            f"not enough space for {what}: it needs about {_mb(need_bytes)}, {root} has "
            f"{_mb(free)} free"
        )


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n < 2**30 else f"{n / 2**30:.2f} GB"


def temp_path_for(target: str | os.PathLike[str]) -> Path:
    """A new, hidden file beside ``target``, created empty with the user's normal permissions;
    its name keeps the target's suffix (writers pick the format from it)."""
    t = Path(target)
    folder = t.parent if str(t.parent) else Path(".")
    for _ in range(100):
        tmp = folder / f".{t.stem}.{secrets.token_hex(4)}.partial{t.suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise OutputError(f"cannot create a temporary file beside {t}")  # pragma: no cover


def remove_quietly(paths: Iterable[str | os.PathLike[str]]) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            os.unlink(p)


def commit_temp(tmp: Path, target: Path, overwrite: bool = True) -> None:
    """Move a finished temporary file onto ``target`` (only where none exists unless
    ``overwrite``); the temporary file is gone afterwards either way."""
    try:
        _commit(tmp, target, overwrite)
    except BaseException:
        remove_quietly([tmp])
        raise


def _commit(tmp: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, target)
        return
    # No replacing: link succeeds only when the target does not exist (atomically).
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise OutputError(f"{target} already exists; use --force to replace it") from None
    except OSError:
        if target.exists():
            raise OutputError(f"{target} already exists; use --force to replace it") from None
        os.replace(tmp, target)  # a file system without hard links
        return
    os.unlink(tmp)


@contextlib.contextmanager
def atomic_file(
    target: str | os.PathLike[str], *, overwrite: bool = True, fsync: bool = True
) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` to write; on success it becomes ``target``
    (replacing it only when ``overwrite``); on any failure it is removed.

    Raises:
        OutputError: the temporary file cannot be created, the target exists and
            ``overwrite`` is False, or a write error (disk full...) while the block wrote the
            temporary file or it was moved into place, worded for the user.
    """
    t = Path(target)
    try:
        tmp = temp_path_for(t)
    except OSError as exc:
        raise OutputError(f"cannot write {t}: {describe_os_error(exc)}") from exc
    try:
        yield tmp
        if fsync:
            with contextlib.suppress(OSError), open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        _commit(tmp, t, overwrite)
    except OSError as exc:
        remove_quietly([tmp])
        raise OutputError(f"cannot write {t}: {describe_os_error(exc)}") from exc
    except BaseException:
        remove_quietly([tmp])
        raise


def write_bytes_atomic(
    target: str | os.PathLike[str], data: bytes, *, overwrite: bool = True, fsync: bool = False
) -> int:
    """Write ``data`` to ``target`` all or nothing (see :func:`atomic_file`); returns the size.

    Raises:
        OutputError: a write error (disk full...), worded for the user.
    """
    with atomic_file(target, overwrite=overwrite, fsync=fsync) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return len(data)


# --- whole folders -------------------------------------------------------------------------------
def _holds(folder: Path, protected: Iterable[Path]) -> Path | None:
    """The protected path that ``folder`` is or holds (once resolved)."""
    real = _resolved(folder)
    for q in protected:
        rq = _resolved(Path(q))
        if rq == real or real in rq.parents:
            return Path(q)
    return None


def _looks_replaceable(folder: Path, markers: Iterable[str]) -> bool:
    """A folder ``force`` may replace: empty, or an earlier output of the same format."""
    try:
        return not any(folder.iterdir()) or any((folder / m).exists() for m in markers)
    except OSError:
        return False


def check_folder_target(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    markers: tuple[str, ...] = (),
    protected: Iterable[Path] = (),
    what: str = "output",
) -> Path:
    """Refuse to make folder ``path`` when it is or holds a protected path (always), exists
    (unless ``force``, and then only when it is empty or holds one of ``markers``: an earlier
    output), is not a folder, or its parent folder does not exist.

    Raises:
        OutputError: with the reason and what to do.
    """
    p = Path(path)
    hit = _holds(p, protected)
    if hit is not None:
        raise OutputError(
            f"{what} {p} is or holds {hit.name}, a source of the project: it is never "
            "overwritten, not even with --force; write somewhere else")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {p}: folder {parent} does not exist")
    if p.exists() or p.is_symlink():
        if not force:
            raise OutputError(f"{what} {p} already exists; use --force to replace it")
        if not p.is_dir() or p.is_symlink():
            raise OutputError(f"{what} {p} exists and is not a folder; not replacing it")
        if not _looks_replaceable(p, markers):
            raise OutputError(
                f"{what} {p} is a folder that does not look like an earlier export (no "
                f"{' or '.join(markers) or 'known files'}); not replacing it")
    return p


def _temp_dir_for(target: Path, tag: str) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial.{tag}")


def _remove_tree(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        remove_quietly([p])


@contextlib.contextmanager
def atomic_dir(
    target: str | os.PathLike[str],
    *,
    force: bool = False,
    markers: tuple[str, ...] = (),
    protected: Iterable[Path] = (),
    what: str = "output",
) -> Iterator[Path]:
    """Yield a temporary folder beside ``target`` to fill; on success it becomes ``target``
    (an earlier one is replaced only as :func:`check_folder_target` allows, checked before and
    again at the end); on any failure it is removed and an earlier ``target`` stays.

    Raises:
        OutputError: see :func:`check_folder_target`; a write error, worded for the user.
    """
    protected = list(protected)
    t = check_folder_target(target, force=force, markers=markers, protected=protected,
                            what=what)
    tmp = _temp_dir_for(t, "tmp")
    old: Path | None = None
    try:
        os.mkdir(tmp, 0o777)  # filtered by the umask
        yield tmp
        check_folder_target(t, force=force, markers=markers, protected=protected, what=what)
        if t.exists() or t.is_symlink():
            old = _temp_dir_for(t, "old")
            os.replace(t, old)
        try:
            os.replace(tmp, t)
        except OSError:
            if old is not None:  # put the earlier output back
                os.replace(old, t)
                old = None
            raise
    except OSError as exc:
        raise OutputError(f"cannot write {t}: {describe_os_error(exc)}") from exc
    finally:
        _remove_tree(tmp)
        if old is not None:
            _remove_tree(old)
