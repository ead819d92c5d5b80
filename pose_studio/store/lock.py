"""One writer per project: an OS-level lock on a sidecar file ``<project>.lock``.

The operating system drops the lock when the holding process dies (even by SIGKILL), so a stale
lock file never blocks: only a live holder does. ``flock`` (POSIX) locks per open file, so a second
``Project.open`` for writing in the same process is refused too. The holder writes its pid and
host into the file for the message the next opener sees.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from pathlib import Path

from pose_studio.core.files import os_reason
from pose_studio.store.errors import ProjectError, ProjectLockedError

__all__ = ["ProjectLock", "lock_path"]


def lock_path(project_path: Path) -> Path:
    return project_path.with_name(project_path.name + ".lock")


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class ProjectLock:
    """The write lock of one project file (see the module docstring)."""

    def __init__(self, project_path: Path) -> None:
        self.project_path = project_path
        self.path = lock_path(project_path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`ProjectLockedError` naming the file and the holder."""
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except (OSError, ValueError) as exc:
                raise ProjectError(
                    f"cannot create the lock file {self.path}: {os_reason(exc, self.path)}"
                ) from exc
            if not _try_lock(fd):
                holder = ""
                with contextlib.suppress(OSError):
                    holder = os.read(fd, 200).decode("utf-8", "replace").strip()
                os.close(fd)
                who = f" (held by {holder})" if holder else ""
                raise ProjectLockedError(
                    f"project {self.project_path} is already open for writing in another Pose "
                    f"Studio window or process{who}; close it there, or open it read-only"
                )
            # The previous holder may have unlinked the file between our open and our lock:
            # then we hold a lock on a file nobody else sees, so try again on the new one.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except OSError:
                same = False
            if same or sys.platform == "win32":
                # Who holds it is only for the next opener's message: on a full disk (or a
                # quota) the lock is held all the same, without the text.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                    os.lseek(fd, 0, os.SEEK_SET)
                    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
                self._fd = fd
                return
            os.close(fd)
        raise ProjectLockedError(f"could not take the lock {self.path}: it keeps changing")

    def release(self) -> None:
        """Drop the lock and remove the sidecar file (POSIX; unlink first, then unlock)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if sys.platform != "win32":
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        os.close(fd)
