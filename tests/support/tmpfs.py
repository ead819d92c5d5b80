"""A small tmpfs to fill up, for full-disk tests (Linux, root; skipped with the reason
elsewhere)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def mounted_tmpfs(mnt: Path, size: str, *, mode: str = "") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (``"4m"``) on the existing folder ``mnt`` for the block, with
    ``mode`` (``"0777"``) when given; what is left on it is removed before it is unmounted."""
    if not sys.platform.startswith("linux") or not shutil.which("mount"):
        pytest.skip("full-disk cases need a Linux tmpfs and the mount command")
    if os.geteuid() != 0:
        pytest.skip("full-disk cases mount a small tmpfs, which needs root")
    opts = f"size={size}" + (f",mode={mode}" if mode else "")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode})")
    try:
        yield mnt
    finally:
        for child in mnt.iterdir():
            with contextlib.suppress(OSError):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
