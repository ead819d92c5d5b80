"""The four formats of this module set are registered, found by content, and import light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pose_studio.formats.registry import FORMAT_MODULES, all_formats, detect, get_format
from tests.support.datasets import frames_for, make_dataset


def test_formats_are_registered_once_with_readers() -> None:
    names = [f.name for f in all_formats()]
    assert len(names) == len(set(names)) == len(FORMAT_MODULES)
    for name in ("slp", "dlc", "yolo", "labelstudio"):
        fmt = get_format(name)
        assert fmt.read is not None
        assert (fmt.write is None) == (name == "labelstudio")


def test_each_written_dataset_is_detected_as_its_format(tmp_path: Path) -> None:
    ds = make_dataset()
    for name, target in (("slp", "x.slp"), ("dlc", "dlc"), ("yolo", "yolo")):
        fmt = get_format(name)
        assert fmt.write is not None
        fmt.write(ds, tmp_path / target, _options(ds))
        assert detect(tmp_path / target).name == name
    assert detect(tmp_path / "dlc" / "config.yaml").name == "dlc"
    assert detect(tmp_path / "yolo" / "data.yaml").name == "yolo"
    csv = next((tmp_path / "dlc" / "labeled-data").rglob("*.csv"))
    assert detect(csv).name == "dlc"


def _options(ds: object) -> object:
    from pose_studio.formats.registry import WriteOptions

    return WriteOptions(frames=frames_for(ds))  # type: ignore[arg-type]


def test_registry_import_pulls_in_no_heavy_package() -> None:
    code = ("import sys\nfrom pose_studio.formats.registry import all_formats\nall_formats()\n"
            "print(','.join(m for m in ('h5py', 'pandas', 'tables', 'cv2', 'yaml')"
            " if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
