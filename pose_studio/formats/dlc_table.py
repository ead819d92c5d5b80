"""DeepLabCut's ``CollectedData_<scorer>`` tables: the CSV and the pandas HDF5 file, read without
pandas, and written as DeepLabCut writes them.

The CSV has 3 header rows (``scorer``, ``bodyparts``, ``coords``) or 4 for multi-animal
projects (``individuals`` after ``scorer``), then one row per image: the image path (one cell
``labeled-data/video/img001.png``, or three cells since DeepLabCut 2.2) and ``x, y`` per
column pair (empty: not labeled; analysis outputs add ``likelihood``).

The ``.h5`` is read with h5py from the pandas layouts DeepLabCut has written ("fixed" since
2.2, "table" before). The table layout keeps its column names as a pickle; it is read with an
unpickler that refuses every class, so a hostile file can only fail, never run code (pandas
itself would unpickle it). Writing the ``.h5`` needs pandas + PyTables (extra ``dlc``).
"""

from __future__ import annotations

import csv
import io
import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.formats.fileio import FormatError, read_text, require

__all__ = ["Table", "read_csv", "read_h5", "table_csv", "write_h5"]

MAX_COLUMNS = 100_000


@dataclass
class Table:
    """One labeled-data table.

    Attributes:
        columns: ``(scorer, individual, bodypart, coord)``; ``individual`` is None in
            single-animal tables.
        rows: Image paths, ``/``-joined (``labeled-data/video/img001.png``).
        values: ``(rows, columns)`` floats, NaN where empty.
    """

    columns: list[tuple[str, str | None, str, str]]
    rows: list[str]
    values: np.ndarray

    @property
    def multi(self) -> bool:
        return any(c[1] is not None for c in self.columns)


def _header_kind(cells: list[str]) -> str:
    return cells[0].strip().lower() if cells else ""


def read_csv(path: Path) -> Table:
    """Parse a ``CollectedData_*.csv``; one :class:`FormatError` line for anything malformed."""
    text = read_text(path, "a DeepLabCut CSV")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise FormatError(f"{path}: not a readable CSV ({exc})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    kinds = [_header_kind(r) for r in rows[:4]]
    if kinds[:1] != ["scorer"]:
        raise FormatError(f"{path}: not a DeepLabCut table (the first row must be 'scorer')")
    levels = ["scorer", "individuals", "bodyparts", "coords"] if kinds[1:2] == ["individuals"] \
        else ["scorer", "bodyparts", "coords"]
    if kinds[:len(levels)] != levels:
        raise FormatError(f"{path}: header rows must be {', '.join(levels)} "
                          f"(found {', '.join(kinds[:len(levels)])})")
    head = rows[:len(levels)]
    width = len(head[0])
    if width > MAX_COLUMNS:
        raise FormatError(f"{path}: {width} columns is too many for a DeepLabCut table")
    for r, name in zip(head, levels):
        if len(r) != width:
            raise FormatError(f"{path}: header row {name!r} has {len(r)} cells, "
                              f"'scorer' has {width}")
    # Index cells: the leading cells whose header is empty after the level name.
    n_index = 1
    while n_index < width and all(not h[n_index].strip() for h in head):
        n_index += 1
    if n_index >= width:
        raise FormatError(f"{path}: the table has no keypoint columns")
    columns: list[tuple[str, str | None, str, str]] = []
    for j in range(n_index, width):
        cells = [h[j].strip() for h in head]
        if len(levels) == 4:
            columns.append((cells[0], cells[1], cells[2], cells[3].lower()))
        else:
            columns.append((cells[0], None, cells[1], cells[2].lower()))
    body = rows[len(levels):]
    names: list[str] = []
    for i, r in enumerate(body):
        if len(r) != width:
            raise FormatError(f"{path}: row {i + len(levels) + 1} has {len(r)} cells; the header "
                              f"has {width}")
        names.append("/".join(c.strip().replace("\\", "/") for c in r[:n_index] if c.strip()))
    grid = np.array([[c.strip() or "nan" for c in r[n_index:]] for r in body],
                    dtype=str).reshape(len(body), width - n_index)
    try:
        values = grid.astype(np.float64)  # parsed in C; a bad cell is then looked for
    except ValueError:
        for (i, j), s in np.ndenumerate(grid):
            try:
                float(s)
            except ValueError:
                raise FormatError(f"{path}: row {i + len(levels) + 1}, column {j + n_index + 1}"
                                  f": {s[:40]!r} is not a number") from None
        raise
    return Table(columns, names, values)


# --- HDF5 (pandas layouts) ------------------------------------------------------------------------
class _NoClasses(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


def _safe_unpickle(blob: Any) -> Any:
    data = bytes(blob)
    if len(data) > (16 << 20):
        raise FormatError("a pandas attribute is too large")
    try:
        return _NoClasses(io.BytesIO(data)).load()
    except Exception as exc:  # any failure of a hostile pickle is "not readable"
        raise FormatError(f"a pandas attribute cannot be read safely ({exc})") from None


def _s(v: Any) -> str:
    return v.decode("utf-8") if isinstance(v, (bytes, np.bytes_)) else str(v)


def _level_values(g: Any, prefix: str, n: int) -> list[tuple[str, ...]]:
    cols = []
    if not 0 < n <= 8:
        raise FormatError("the table's index has an unusual number of levels")
    for i in range(n):
        _check_size(g[f"{prefix}_level{i}"])
        _check_size(g[f"{prefix}_label{i}"])
        level = [_s(v) for v in g[f"{prefix}_level{i}"][()]]
        raw = np.asarray(g[f"{prefix}_label{i}"][()])
        if raw.dtype.kind not in "iu":
            raise FormatError("a pandas index is not made of integer codes")
        labels = raw.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= len(level)):
            raise FormatError("a pandas index points outside its levels")
        cols.append([level[j] for j in labels])
    return list(zip(*cols))


def _to_columns(tuples: list[tuple[str, ...]]) -> list[tuple[str, str | None, str, str]]:
    out: list[tuple[str, str | None, str, str]] = []
    for t in tuples:
        if len(t) == 4:
            out.append((t[0], t[1], t[2], t[3].lower()))
        elif len(t) == 3:
            out.append((t[0], None, t[1], t[2].lower()))
        else:
            raise FormatError(f"column {t!r} is not (scorer, [individual,] bodypart, coord)")
    return out


def read_h5(path: Path) -> Table:
    """Parse a pandas-written ``CollectedData_*.h5`` with h5py (no pandas, no unpickling of
    classes)."""
    h5py = require("h5py", "slp", "reading DeepLabCut .h5 tables")
    try:
        with h5py.File(path, "r") as f:
            keys = list(f.keys())
            if not keys:
                raise FormatError(f"{path}: the HDF5 file is empty")
            g = f["df_with_missing"] if "df_with_missing" in f else f[keys[0]]
            kind = _s(g.attrs.get("pandas_type", b""))
            if kind == "frame":
                return _read_fixed(g)
            if kind == "frame_table":
                return _read_table(g)
            raise FormatError(f"{path}: not a pandas table DeepLabCut writes ({kind or 'none'})")
    except FormatError as exc:
        msg = str(exc)
        raise FormatError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
    except (OSError, KeyError, ValueError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: not a readable DeepLabCut .h5 ({exc})") from None


def _check_size(ds: Any) -> None:
    nominal = int(np.prod(ds.shape)) * ds.dtype.itemsize
    if nominal > (1 << 32) or (nominal > (1 << 20) and nominal > 200 * ds.id.get_storage_size()):
        raise FormatError("a table declares far more values than the file holds")


def _read_fixed(g: Any) -> Table:
    if int(g.attrs.get("nblocks", 1)) != 1:
        raise FormatError("the table has several value blocks (not written by DeepLabCut)")
    for name in ("axis0", "axis1"):
        if name in g:
            _check_size(g[name])
    cols: list[tuple[str, ...]] = _level_values(g, "axis0", int(g.attrs["axis0_nlevels"])) \
        if "axis0_nlevels" in g.attrs else [(_s(v),) for v in g["axis0"][()]]
    rows_t: list[tuple[str, ...]] = _level_values(g, "axis1", int(g.attrs["axis1_nlevels"])) \
        if "axis1_nlevels" in g.attrs else [(_s(v),) for v in g["axis1"][()]]
    block = g["block0_values"]
    _check_size(block)
    values = np.asarray(block[()], dtype=np.float64)
    if values.shape != (len(rows_t), len(cols)):
        raise FormatError("the value block does not match the table's index")
    return Table(_to_columns(cols), ["/".join(r) for r in rows_t], values)


def _read_table(g: Any) -> Table:
    axes = _safe_unpickle(g.attrs["non_index_axes"])
    try:
        ((_axis, tuples),) = axes
        cols = [tuple(str(c) for c in t) for t in tuples]
    except (TypeError, ValueError):
        raise FormatError("the table's column names are not in the layout DeepLabCut writes") \
            from None
    t = g["table"]
    _check_size(t)
    data = t[()]
    names = data.dtype.names or ()
    blocks = [n for n in names if n.startswith("values_block_")]
    if len(blocks) != 1 or "index" not in names:
        raise FormatError("the table is not in the layout DeepLabCut writes")
    values = np.asarray(data[blocks[0]], dtype=np.float64).reshape(len(data), -1)
    if values.shape[1] != len(cols):
        raise FormatError("the value block does not match the column names")
    return Table(_to_columns(cols), [_s(v) for v in data["index"]], values)


# --- writing --------------------------------------------------------------------------------------
def _fmt(v: float) -> str:
    return "" if math.isnan(v) else repr(float(v))


def table_csv(t: Table) -> str:
    """The CSV as DeepLabCut >= 2.2 writes it (three index cells per row)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    pad = ["", ""]
    w.writerow(["scorer", *pad, *(c[0] for c in t.columns)])
    if t.multi:
        w.writerow(["individuals", *pad, *(c[1] or "" for c in t.columns)])
    w.writerow(["bodyparts", *pad, *(c[2] for c in t.columns)])
    w.writerow(["coords", *pad, *(c[3] for c in t.columns)])
    for name, row in zip(t.rows, t.values):
        parts = name.split("/")
        idx = ["/".join(parts[:-2]), parts[-2], parts[-1]] if len(parts) >= 3 else \
            ["", "", name]
        w.writerow([*idx, *(_fmt(v) for v in row)])
    return buf.getvalue()


def write_h5(t: Table, path: Path) -> None:
    """The ``.h5`` DeepLabCut's training step reads (pandas "fixed" layout, as DeepLabCut
    writes it); needs pandas and PyTables."""
    pd = require("pandas", "dlc", "writing DeepLabCut .h5 tables")
    require("tables", "dlc", "writing DeepLabCut .h5 tables")
    if t.multi:
        cols = pd.MultiIndex.from_tuples([(c[0], c[1] or "", c[2], c[3]) for c in t.columns],
                                         names=["scorer", "individuals", "bodyparts", "coords"])
    else:
        cols = pd.MultiIndex.from_tuples([(c[0], c[2], c[3]) for c in t.columns],
                                         names=["scorer", "bodyparts", "coords"])
    rows = []
    for name in t.rows:
        parts = name.split("/")
        rows.append(("/".join(parts[:-2]), parts[-2], parts[-1]) if len(parts) >= 3
                    else ("", "", name))
    index = pd.MultiIndex.from_tuples(rows)
    pd.DataFrame(t.values, columns=cols, index=index).to_hdf(
        path, key="df_with_missing", mode="w")
