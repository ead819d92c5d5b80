"""Hostile and broken inputs through the command line (see harness.py for the contract)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.hostile import cases_files, cases_media, cases_paths, cases_project
from tests.hostile.harness import Assets, Case, Ctx, check_case

CASES: list[Case] = (cases_project.all_cases() + cases_media.all_cases()
                     + cases_files.all_cases() + cases_paths.all_cases())


def test_enough_distinct_cases() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(ids) >= 150


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=pytest.mark.xfail(
    reason=c.xfail, strict=True) if c.xfail else ()) for c in CASES])
def test_hostile_input(case: Case, assets: Assets, tmp_path: Path, request: pytest.FixtureRequest,
                       capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    if case.mode == "fullfs":
        root = request.getfixturevalue("tmpfs")
        folder = root / case.id
        folder.mkdir()
        request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    else:
        folder = tmp_path / "case"
        folder.mkdir()
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "QT_QPA_PLATFORM": "offscreen"}
    check_case(case, Ctx(folder, assets), capfd, env)
