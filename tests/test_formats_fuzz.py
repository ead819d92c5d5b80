"""Fuzzing every reader: whatever the file holds, the reader returns a valid dataset or raises
one :class:`PoseStudioError` line; never another exception, never a hang.

HDF5 files are fuzzed through their tables and JSON (random values in every column), not by
flipping bytes: the HDF5 C library is the layer under h5py, not ours to fuzz.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pose_studio.core.errors import PoseStudioError
from pose_studio.formats.dataset import Dataset
from pose_studio.formats.registry import ReadOptions, WriteOptions, all_formats, get_format
from tests.support.datasets import frame_pixels, make_dataset, write_png

#: ~100 examples in the normal suite; POSE_STUDIO_FUZZ_EXAMPLES=5000 for a long hunt.
FUZZ = settings(max_examples=int(os.environ.get("POSE_STUDIO_FUZZ_EXAMPLES", "100")),
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

numbers = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 2, -1, 0.5, 1e308, -1e308, 2**31, 2**32 + 1]),
)
text_cells = st.one_of(
    st.text(max_size=12),
    numbers.map(str),
    st.sampled_from(["", "nan", "inf", "-inf", "1e999", "scorer", "bodyparts", "coords",
                     "individuals", "x", "y", "likelihood", "labeled-data", "img.png"]),
)


def _outcome(fmt: str, path: Path, **kw: Any) -> None:
    reader = get_format(fmt).read
    assert reader is not None
    try:
        ds = reader(path, ReadOptions(**kw))
    except PoseStudioError as exc:
        assert "\n" not in str(exc), str(exc)
        return
    assert isinstance(ds, Dataset)
    ds.validate()
    for f in ds.frames:
        for a in f.annotations:
            lab = a.points[a.points[:, 2] > 0]
            assert np.isfinite(lab[:, :2]).all()  # no labeled point without a real position


# --- SLEAP ------------------------------------------------------------------------------------
_SLP_TABLES = {
    "frames": ("video", "frame_idx", "instance_id_start", "instance_id_end"),
    "instances": ("instance_type", "skeleton", "track", "from_predicted", "score",
                  "point_id_start", "point_id_end", "tracking_score", "instance_id"),
    "points": ("x", "y", "visible", "complete"),
    "pred_points": ("x", "y", "visible", "complete", "score"),
}
_TEMPLATE: dict[str, bytes] = {}


def _slp_template() -> bytes:
    if not _TEMPLATE:
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "t.slp"
            fmt = get_format("slp")
            assert fmt.write is not None
            fmt.write(make_dataset(), p, WriteOptions())
            _TEMPLATE["slp"] = p.read_bytes()
    return _TEMPLATE["slp"]


def _cast(v: Any, dtype: np.dtype) -> Any:
    try:
        with np.errstate(all="ignore"):
            return np.array(v).astype(dtype)
    except (OverflowError, ValueError, TypeError):
        return np.zeros((), dtype)


@FUZZ
@given(
    edits=st.lists(st.tuples(st.sampled_from(sorted(_SLP_TABLES)), st.integers(0, 40),
                             st.integers(0, 9), numbers), max_size=8),
    meta=st.one_of(st.none(), st.text(max_size=40),
                   st.recursive(st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8)),
                                lambda c: st.lists(c, max_size=4) | st.dictionaries(
                                    st.sampled_from(["skeletons", "nodes", "links", "id",
                                                     "name", "graph", "type", "py/id",
                                                     "source", "target"]), c, max_size=4),
                                max_leaves=20)),
    video_json=st.one_of(st.none(), st.text(max_size=30)),
)
def test_fuzz_slp_tables(edits: list[Any], meta: Any, video_json: str | None) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.slp"
        p.write_bytes(_slp_template())
        with h5py.File(p, "a") as f:
            tables = {t: f[t][()] for t in {e[0] for e in edits}}
            for table, row, col, value in edits:
                a = tables[table]
                cols = [c for c in _SLP_TABLES[table] if c in (a.dtype.names or ())]
                if not len(a) or not cols:
                    continue
                name = cols[col % len(cols)]
                a[name][row % len(a)] = _cast(value, a.dtype[name])
            for table, a in tables.items():
                del f[table]
                f[table] = a
            if meta is not None:
                blob = meta if isinstance(meta, str) else json.dumps(meta)
                f["metadata"].attrs["json"] = np.bytes_(blob.encode("utf-8", "replace"))
            if video_json is not None:
                del f["videos_json"]
                f.create_dataset("videos_json",
                                 data=np.array([video_json.encode("utf-8", "replace")]))
        _outcome("slp", p)


# --- DeepLabCut -------------------------------------------------------------------------------
@FUZZ
@given(
    header=st.lists(st.lists(text_cells, min_size=1, max_size=7), min_size=0, max_size=5),
    rows=st.lists(st.lists(text_cells, min_size=1, max_size=7), max_size=6),
    keep_header=st.booleans(),
    config=st.one_of(st.text(max_size=60), st.sampled_from([
        "scorer: me\nbodyparts: [a, b]\n", "scorer: me\nmultianimalproject: true\n",
        "bodyparts: [a, a]\nscorer: x\n", "bodyparts: {a: 1}\nscorer: 1\n",
        "scorer: me\nbodyparts: [a, b]\nskeleton: [[a, b], 3, [z]]\n"])),
)
def test_fuzz_dlc_csv_and_config(header: list[list[str]], rows: list[list[str]],
                                 keep_header: bool, config: str) -> None:
    base = [["scorer", "", "", "me", "me"], ["bodyparts", "", "", "a", "a"],
            ["coords", "", "", "x", "y"]]
    lines = (base if keep_header else []) + header + rows
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "labeled-data" / "v"
        folder.mkdir(parents=True)
        (Path(d) / "config.yaml").write_text(config)
        (folder / "CollectedData_me.csv").write_text(
            "\n".join(",".join(c.replace(",", ";").replace("\n", " ") for c in r)
                      for r in lines))
        _outcome("dlc", Path(d))
        _outcome("dlc", folder / "CollectedData_me.csv")


# --- YOLO -------------------------------------------------------------------------------------
@FUZZ
@given(
    lines=st.lists(st.lists(numbers.map(lambda v: repr(v) if isinstance(v, float) else str(v)) |
                            st.text(max_size=4), max_size=12), max_size=5),
    k=st.integers(-1, 4), dim=st.integers(1, 4),
    extra=st.dictionaries(st.sampled_from(["flip_idx", "names", "kpt_names", "kpt_edges", "nc",
                                           "path", "test"]),
                          st.one_of(st.lists(st.integers(-3, 5), max_size=5), st.text(max_size=6),
                                    st.integers(-3, 5), st.none()), max_size=3),
)
def test_fuzz_yolo(lines: list[list[str]], k: int, dim: int, extra: dict[str, Any]) -> None:
    import yaml

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        cfg: dict[str, Any] = {"train": "images", "val": "images", "kpt_shape": [k, dim],
                               "names": ["p"]}
        cfg.update(extra)
        (root / "data.yaml").write_text(yaml.safe_dump(cfg))
        write_png(root / "images" / "a.png", frame_pixels("a", 0, (16, 12)))
        (root / "labels").mkdir()
        (root / "labels" / "a.txt").write_text("\n".join(" ".join(c.replace("\n", "")
                                                                   for c in ln) for ln in lines))
        _outcome("yolo", root)


# --- Label Studio -----------------------------------------------------------------------------
_leaf = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8),
                  st.sampled_from(["keypointlabels", "rectanglelabels", "relation", "nose",
                                   "/data/upload/1/abcdef12-x.png"]))
_value = st.fixed_dictionaries({}, optional={
    "x": _leaf, "y": _leaf, "width": _leaf, "height": _leaf, "rotation": _leaf,
    "keypointlabels": st.lists(_leaf, max_size=2), "rectanglelabels": st.lists(_leaf, max_size=2)})
_result = st.fixed_dictionaries({}, optional={
    "id": _leaf, "type": st.sampled_from(["keypointlabels", "rectanglelabels", "relation", "x"]),
    "value": _value | _leaf, "original_width": _leaf, "original_height": _leaf,
    "parentID": _leaf, "from_id": _leaf, "to_id": _leaf, "score": _leaf})
_task = st.fixed_dictionaries({}, optional={
    "id": _leaf, "data": st.dictionaries(st.text(max_size=5), _leaf, max_size=2) | _leaf,
    "annotations": st.lists(st.fixed_dictionaries({}, optional={
        "result": st.lists(_result, max_size=5) | _leaf, "was_cancelled": _leaf}), max_size=2)
    | _leaf,
    "predictions": st.lists(st.fixed_dictionaries({}, optional={
        "result": st.lists(_result, max_size=4) | _leaf, "score": _leaf,
        "model_version": _leaf}), max_size=2) | _leaf})


@FUZZ
@given(tasks=st.lists(_task, max_size=4) | _task)
def test_fuzz_labelstudio(tasks: Any) -> None:
    def default(o: Any) -> Any:
        return str(o)

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "export.json"
        text = json.dumps(tasks, default=default, allow_nan=True)
        p.write_text(text.replace('"keypointlabels"', '"keypointlabels"', 1))
        _outcome("labelstudio", p)


# --- sniffers ---------------------------------------------------------------------------------
@FUZZ
@given(data=st.binary(max_size=600), suffix=st.sampled_from([".slp", ".h5", ".csv", ".yaml",
                                                             ".json", ""]))
def test_sniffers_never_raise(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"f{suffix}"
        p.write_bytes(data)
        for fmt in all_formats():
            assert fmt.sniff(p) in (True, False)
            assert fmt.sniff(Path(d)) in (True, False)
        assert math.isfinite(len(data))


_H5: dict[str, bytes] = {}


def _dlc_h5_template() -> bytes:
    if not _H5:
        from pose_studio.formats import dlc_table

        t = dlc_table.Table([("me", None, "a", "x"), ("me", None, "a", "y")],
                            ["labeled-data/v/i0.png", "labeled-data/v/i1.png"],
                            np.array([[1.0, 2.0], [np.nan, np.nan]]))
        with tempfile.TemporaryDirectory() as d:
            dlc_table.write_h5(t, Path(d) / "t.h5")
            _H5["h5"] = (Path(d) / "t.h5").read_bytes()
    return _H5["h5"]


@FUZZ
@given(
    edits=st.lists(st.tuples(st.integers(0, 30), st.one_of(
        st.lists(numbers, max_size=6), st.binary(max_size=20), st.integers(-5, 10**12))),
        max_size=4),
)
def test_fuzz_dlc_h5_fixed_layout(edits: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "labeled-data" / "v"
        folder.mkdir(parents=True)
        (Path(d) / "config.yaml").write_text("scorer: me\nbodyparts: [a]\n")
        p = folder / "CollectedData_me.h5"
        p.write_bytes(_dlc_h5_template())
        with h5py.File(p, "a") as f:
            g = f["df_with_missing"]
            names = sorted(g.keys()) + [f"@{a}" for a in sorted(g.attrs.keys())]
            for which, value in edits:
                name = names[which % len(names)]
                if isinstance(value, bytes):
                    value = np.bytes_(value)
                elif isinstance(value, list):
                    value = _cast(value, np.dtype(np.float64))
                if name.startswith("@"):
                    g.attrs[name[1:]] = value
                else:
                    del g[name]
                    g[name] = value
        _outcome("dlc", Path(d))
