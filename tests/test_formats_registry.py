"""The four formats of this module set are registered, found by content, and import light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from pose_studio.core.annotation import InstanceKind
from pose_studio.formats.registry import (
    FORMAT_MODULES,
    ReadOptions,
    all_formats,
    detect,
    get_format,
)
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


def _user_points(ds: object) -> list[np.ndarray]:
    out = []
    for f in ds.frames:  # type: ignore[attr-defined]
        for a in f.annotations:
            if a.kind is InstanceKind.USER:
                p = a.points.copy()
                p[p[:, 2] == 0, :2] = np.nan
                p[:, 2] = p[:, 2] > 0
                out.append(p)
    return sorted(out, key=lambda p: tuple(np.nan_to_num(p[:, :2], nan=-1).ravel()))


def test_a_dataset_survives_slp_then_dlc_then_yolo(tmp_path: Path) -> None:
    ds = make_dataset(predictions=False)
    want = _user_points(ds)
    for name, target in (("slp", "a.pkg.slp"), ("dlc", "b"), ("yolo", "c")):
        fmt = get_format(name)
        assert fmt.write is not None and fmt.read is not None
        fmt.write(ds, tmp_path / target, _options(ds))
        ds = fmt.read(tmp_path / target, ReadOptions())
        if fmt.unpack is not None:
            ds = fmt.unpack(tmp_path / target, ds, tmp_path / "unpacked")
        ds.validate()
        got = _user_points(ds)
        assert len(got) == len(want), name
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-3, equal_nan=True, err_msg=name)
