"""Session fixtures of the hostile-input suite: the shared inputs and a small tmpfs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.harness import Assets, build_assets
from tests.support.tmpfs import mounted_tmpfs


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Assets:
    return build_assets(tmp_path_factory.mktemp("hostile-assets"))


@pytest.fixture(scope="session")
def tmpfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A 4 MiB tmpfs to fill up (Linux, root); skipped with the reason elsewhere."""
    with mounted_tmpfs(tmp_path_factory.mktemp("full"), "4m", mode="0777") as mnt:
        yield mnt
