"""The installed app must find its resources and bundled models, not only a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_carries_resources_and_models(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    wheel = next(tmp_path.glob("pose_studio-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for src in (ROOT / "models").rglob("*"):
        if src.is_file():
            rel = src.relative_to(ROOT / "models").as_posix()
            assert f"pose_studio/_data/models/{rel}" in names
    for src in (ROOT / "resources").rglob("*"):
        if src.is_file():
            rel = src.relative_to(ROOT / "resources").as_posix()
            assert f"pose_studio/_data/resources/{rel}" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "pose-studio = pose_studio.cli.main:main" in text
    assert "[gui_scripts]" in text


def test_paths_prefer_installed_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pose_studio.core import paths

    fake_pkg = tmp_path / "pose_studio"
    (fake_pkg / "_data" / "models").mkdir(parents=True)
    monkeypatch.setattr(paths, "_PKG", fake_pkg)
    assert paths.models_dir() == fake_pkg / "_data" / "models"
    monkeypatch.setattr(paths, "_PKG", ROOT / "pose_studio")
    assert paths.models_dir() == ROOT / "models"
