"""Session fixtures of the hostile-input suite: the shared inputs and a small tmpfs."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.harness import Assets, build_assets


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Assets:
    return build_assets(tmp_path_factory.mktemp("hostile-assets"))


@pytest.fixture(scope="session")
def tmpfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A 4 MiB tmpfs to fill up (Linux, root); skipped with the reason elsewhere."""
    if not sys.platform.startswith("linux"):
        pytest.skip("full-disk cases need a Linux tmpfs")
    if os.geteuid() != 0:
        pytest.skip("full-disk cases mount a small tmpfs, which needs root")
    mnt = tmp_path_factory.mktemp("full")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0777", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"full-disk cases: cannot mount a tmpfs here ({r.stderr.strip()})")
    try:
        yield mnt
    finally:
        for child in mnt.iterdir():
            with contextlib.suppress(OSError):
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
