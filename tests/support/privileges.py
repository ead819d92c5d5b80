"""Running a check as an ordinary user when the tests run as root (CI does): root ignores file
permissions, so a read-only folder would prove nothing. A forked child drops the Linux
capabilities that bypass them and checks with a mode-0 probe file that they really apply."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

# Linux capabilities that let root ignore file permissions.
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER = 1, 2, 3
#: The child's exit status when it could not drop them (the caller skips, saying so).
NO_DROP = 97


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_file_capabilities() -> None:
    """Drop, in this process, the capabilities that let root bypass file permissions."""
    libc = ctypes.CDLL(None, use_errno=True)
    hdr = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(hdr), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    mask = ~((1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH) | (1 << _CAP_FOWNER))
    for field_ in ("effective", "permitted", "inheritable"):
        setattr(data[0], field_, getattr(data[0], field_) & mask & 0xFFFFFFFF)
    if libc.capset(ctypes.byref(hdr), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def drop_and_probe(probe: Path) -> bool:
    """In a forked child: drop the capabilities; True when ``probe`` (mode 0) is then
    unreadable, i.e. permissions apply."""
    try:
        drop_file_capabilities()
    except OSError:
        return False
    return not os.access(probe, os.R_OK)


#: The child's exit status when it raised (its error is written to its stderr).
CRASHED = 99


def in_unprivileged_child(child: Callable[[], int], scratch: Path, *,
                          timeout: float | None = None, what: str = "the check") -> int:
    """Run ``child`` in a forked process that has dropped the capabilities that bypass file
    permissions (as root; checked with a mode-0 probe file in ``scratch`` before ``child``
    runs) and return its exit status: ``child()``'s return value, :data:`CRASHED` when it
    raised. Skips, saying why, where they cannot be dropped; fails the test on a hang."""
    if not sys.platform.startswith("linux"):
        pytest.skip("running as root and cannot drop privileges on this platform")
    probe = scratch / f".probe-{os.getpid()}-{time.monotonic_ns()}"
    probe.write_bytes(b"x")
    probe.chmod(0)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        rc = CRASHED
        try:
            rc = child() if drop_and_probe(probe) else NO_DROP
        except BaseException as exc:
            with contextlib.suppress(Exception):
                os.write(2, f"child died: {exc!r}\n".encode())
        finally:
            os._exit(rc)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if deadline is not None and time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            probe.unlink()
            pytest.fail(f"hang: {what} gave no answer within {timeout} s")
        time.sleep(0.01)
    probe.unlink()
    rc = os.waitstatus_to_exitcode(status)
    if rc == NO_DROP:
        pytest.skip("running as root and the file-permission capabilities could not be "
                    "dropped, so a permission case would pass without testing anything")
    return rc


def run_as_ordinary_user(check: Callable[[], None], scratch: Path) -> None:
    """Run ``check`` with file permissions in force: directly when not root; as root, in
    :func:`in_unprivileged_child`. An assertion in the child fails the test."""
    if os.geteuid() != 0:
        check()
        return

    def child() -> int:
        check()
        return 0

    rc = in_unprivileged_child(child, scratch)
    assert rc == 0, f"the check failed as an ordinary user (exit {rc}; its error is above)"
