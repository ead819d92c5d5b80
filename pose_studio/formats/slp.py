"""SLEAP labels (``.slp``, ``.pkg.slp``): HDF5 files written by SLEAP and sleap-io.

Read and written with ``h5py`` (the optional extra ``slp``), not with sleap-io: sleap-io pulls
in some 38 packages (~500 MB: pynwb, skia, aiohttp...), its reader module takes ~1.9 s to
import against h5py's ~0.15 s, and it reads every dataset whole, so a 16 KB file declaring a
compressed 400M-row ``points`` table made it allocate 7 GB; this reader checks every table's
shape against the file before reading it. The layout (format_id 1.0-2.x) is small and stable:
``metadata`` (skeletons and nodes as JSON), ``videos_json``, ``tracks_json``, ``frames``,
``instances``, ``points``, ``pred_points`` and, in packages, ``videoN/video`` (encoded images)
with ``videoN/frame_numbers``.

Conventions (both directions):

* Coordinates: SLEAP >= 1.1 puts pixel centres at integers, as Pose Studio does; older files
  are shifted by -0.5.
* Visibility: NaN coordinates are ``v = 0``; a visible point ``v = 2``; a point SLEAP marks
  "not visible" keeps its coordinates as ``v = 1`` (sleap-io's COCO conversion does the same).
  Writing, ``v = 1`` becomes "not visible" with its coordinates and ``v = 0`` NaN.
* Predictions: instance and per-keypoint scores; each file's predictions form one model run
  named after the file. Symmetries are the skeleton's flip pairs.
* ``.pkg.slp`` embedded frames become image-set sources with no folder yet: the importer calls
  :data:`FORMAT` ``.unpack`` (:func:`~pose_studio.formats.slp_read.unpack_embedded`) with the
  folder it keeps images in (next to the project), which writes one PNG per embedded frame and
  returns the dataset pointing there. Writing ``NAME.pkg.slp`` embeds the labeled frames (PNG)
  from ``WriteOptions.frames``.
"""

from __future__ import annotations

from pathlib import Path

from pose_studio.formats.dataset import Dataset
from pose_studio.formats.fileio import read_head
from pose_studio.formats.registry import Format, ReadOptions, WriteOptions, WriteSummary

__all__ = ["FORMAT", "HDF5_MAGIC", "hdf5_offset", "sniff"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: Link names every SLEAP labels file has (HDF5 keeps them as plain bytes in the file).
_SLP_NAMES = (b"metadata", b"frames", b"instances", b"videos_json")


def hdf5_offset(path: Path) -> int | None:
    """Where the HDF5 superblock starts (0, 512, 1024... with a user block), or None."""
    head = read_head(path, 8192)
    for off in (0, 512, 1024, 2048, 4096):
        if head[off:off + 8] == HDF5_MAGIC:
            return off
    return None


def _names_in(path: Path, names: tuple[bytes, ...], window: int = 1 << 16) -> bool:
    """The names appear in the file's first or last ``window`` bytes (where HDF5 puts links)."""
    try:
        with path.open("rb") as f:
            head = f.read(window)
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - window))
            tail = f.read(window)
    except OSError:
        return False
    return all(n in head or n in tail for n in names)


def _h5_keys(path: Path) -> set[str] | None:
    try:
        import h5py
    except ImportError:
        return None
    try:
        with h5py.File(path, "r") as f:
            return set(f.keys())
    except Exception:  # any h5py failure means "not an HDF5 file we can look into"
        return set()


def sniff(path: Path) -> bool:
    """An HDF5 file with SLEAP's tables; needs no optional package.

    The magic bytes and the link names (found as bytes near the start or the end of the file)
    decide; when the names are not found there (a large package whose root links moved),
    h5py looks if installed, else a ``.slp`` suffix on an HDF5 file is enough (the reader then
    says how to install h5py).
    """
    try:
        if hdf5_offset(path) is None:
            return False
        if _names_in(path, _SLP_NAMES):
            return True
        keys = _h5_keys(path)
        if keys is None:
            return path.name.lower().endswith(".slp")
        return {"metadata", "frames", "instances", "videos_json"} <= keys
    except Exception:  # a sniffer never raises
        return False


def _read(path: Path, options: ReadOptions) -> Dataset:
    from pose_studio.formats import slp_read

    return slp_read.read_slp(path, options)


def _write(ds: Dataset, path: Path, options: WriteOptions) -> WriteSummary:
    from pose_studio.formats import slp_write

    return slp_write.write_slp(ds, path, options)


def _unpack(path: Path, ds: Dataset, folder: Path) -> Dataset:
    from pose_studio.formats import slp_read

    return slp_read.unpack_embedded(path, ds, folder)


FORMAT = Format(
    name="slp",
    label="SLEAP labels",
    suffixes=(".slp", ".pkg.slp"),
    sniff=sniff,
    read=_read,
    write=_write,
    priority=20,
    unpack=_unpack,
)
