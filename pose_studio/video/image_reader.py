"""An image set read as frames: a folder (recursive, natural order) or an explicit list of files.

Each image keeps its own file name, path relative to the set's root and pixel size: sets of
photos of different sizes are normal (COCO, CrowdPose, AP-10K...), and frame ``i`` is returned at
its own size. Sizes come from the file headers (:mod:`pose_studio.video.image_header`), so
indexing 100k photos reads a few hundred bytes of each, not the pixels. An image that cannot be
read (damaged, empty, or claiming more pixels than this machine can hold) is named with the
reason in ``meta.warnings`` when the set is opened and raises :class:`VideoError` naming the
file when its frame is asked for; the other frames still work. A set none of whose images can
be read is refused, naming the first and why.

Frame order: paths relative to the root, compared folder by folder with digit runs as numbers
(``img2`` before ``img10``; ``images/val/<sequence>/000000.jpg`` sequence by sequence). Hidden
files and folders (``.name``) and entries that are not regular files (a FIFO named ``x.png``
would block the first read) are skipped.

The index (``index_bytes``) records, per frame, the relative path, byte size and pixel size, and
how the set was made (``folder`` listing or explicit ``list``), so an explicit list reopens as
the same frames and unchanged files are not read again. Indexes written before image sets had
sub-folders (version 1) keep their flat listing, so old projects keep their frame numbers.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.imagesize import IMAGE_SUFFIXES
from pose_studio.core.limits import MAX_IMAGE_SIDE
from pose_studio.video.base import DEFAULT_CACHE_MB, VideoReader
from pose_studio.video.cache import FrameCache
from pose_studio.video.errors import VideoError
from pose_studio.video.image_header import decode_image, image_problem, probe_image
from pose_studio.video.meta import VideoMeta
from pose_studio.video.notices import VideoNotice

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageFolderReader",
    "ImageSetReader",
    "list_images",
    "listing_from_index",
    "natural_key",
    "open_image_list",
]

_INDEX_FORMAT = "pose-studio-image-index"
_INDEX_VERSION = 2
_DEFAULT_FPS = 30
_NAMED_IN_WARNING = 5


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key where digit runs compare as numbers: ``img2 < img10``."""
    parts = re.split(r"(\d+)", name.casefold())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p != "")


def _path_key(rel: str) -> tuple[tuple[tuple[int, int | str], ...], ...]:
    return tuple(natural_key(part) for part in rel.split("/"))


def _is_image_entry(e: os.DirEntry[str]) -> bool:
    try:  # is_file follows a link to a regular file; FIFOs, devices and sockets are not files
        return (not e.name.startswith(".") and Path(e.name).suffix.lower() in IMAGE_SUFFIXES
                and e.is_file())
    except OSError:
        return False


def list_images(folder: Path, *, recursive: bool = True) -> list[str]:
    """Image files under ``folder`` as ``/``-separated relative paths, in frame order (links
    to folders are not followed, as ``os.walk`` does not)."""
    out: list[str] = []
    pending = [("", Path(folder))]
    while pending:
        prefix, d = pending.pop()
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError:
            continue  # an unreadable sub-folder (the root was checked by the caller)
        for e in entries:
            if _is_image_entry(e):
                out.append(prefix + e.name)
            elif recursive and not e.name.startswith("."):
                try:
                    if e.is_dir(follow_symlinks=False):
                        pending.append((f"{prefix}{e.name}/", Path(e.path)))
                except OSError:
                    continue
    out.sort(key=_path_key)
    return out


def _byte_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


class ImageSetReader(VideoReader):
    """Images as frames, each at its own size (see the module docstring).

    Args:
        root: The set's folder; relative paths are relative to it.
        files: An explicit list of images (relative to ``root``, or absolute paths inside it), in
            frame order. None: every image under ``root`` (sub-folders included), or the list a
            given ``index`` records.
        index: Bytes from :meth:`index_bytes`: reuses the recorded list and sizes.
    """

    def __init__(
        self,
        root: str | Path,
        files: Sequence[str | Path] | None = None,
        *,
        index: bytes | None = None,
        cache_mb: float = DEFAULT_CACHE_MB,
        fps: float = _DEFAULT_FPS,
    ) -> None:
        self._root = Path(root)
        if not self._root.is_dir():
            raise VideoError(self._root, "folder not found")
        recorded = _parse_index(index) if index is not None else None
        self.index_status = "built"
        if index is not None and recorded is None:
            self.index_status = "invalid"
        if files is not None:
            self._mode = "list"
            rels = [self._relative(f) for f in files]
        elif recorded is not None and recorded["mode"] == "list":
            self._mode = "list"
            rels = [str(e[0]) for e in recorded["files"]]
        else:
            self._mode = "flat" if recorded is not None and recorded["mode"] == "flat" else "folder"
            rels = list_images(self._root, recursive=self._mode == "folder")
        if not rels:
            raise VideoError(
                self._root, "the folder contains no images (png, jpg, bmp, tif, webp)"
            )
        self._rels = rels
        self._bytes = [_byte_size(self._root / r) for r in rels]
        problems: dict[int, str] = {}
        self._sizes, self.index_status = self._sizes_from(recorded, self.index_status, problems)
        self.unreadable: list[tuple[int, str]] = [
            (i, r) for i, (r, s) in enumerate(zip(rels, self._sizes)) if s is None]
        readable = [s for s in self._sizes if s is not None]
        first = ""
        if self.unreadable:
            i0, r0 = self.unreadable[0]
            first = f"{r0}: {problems.get(i0, 'cannot be read')}"
        if not readable:
            raise VideoError(self._root, f"its one image cannot be read ({first})"
                             if len(rels) == 1 else
                             f"none of its {len(rels)} images can be read (first: {first})")
        distinct = Counter(readable)
        if len(distinct) == 1:
            w, h = readable[0]
        else:  # the size that holds every image (a canvas for whole-set views)
            w, h = max(s[0] for s in readable), max(s[1] for s in readable)
        warnings = []
        notices: list[VideoNotice] = []
        if self.unreadable:
            named = ", ".join(r for _, r in self.unreadable[:_NAMED_IN_WARNING])
            more = len(self.unreadable) - _NAMED_IN_WARNING
            warnings.append(
                f"{len(self.unreadable)} image(s) cannot be read: {named}"
                + (f" and {more} more" if more > 0 else "")
                + f" (first: {first}); their frames show an error, the other images work")
            notices.append(VideoNotice("unreadable_images", warnings[-1]))
        if len(distinct) > 1:
            common = ", ".join(f"{a}x{b}" for (a, b), _ in distinct.most_common(3))
            warnings.append(f"the images have {len(distinct)} different sizes ({common}"
                            f"{', ...' if len(distinct) > 3 else ''}); each frame keeps its own")
        suffixes = Counter(Path(r).suffix.lower().lstrip(".") for r in rels)
        self._cache: FrameCache[np.ndarray] = FrameCache(
            int(cache_mb * 2**20), lambda a: int(a.nbytes)
        )
        self._closed = False
        fps = float(fps)
        self.meta = VideoMeta(
            path=str(self._root),
            width=int(w),
            height=int(h),
            frame_count=len(rels),
            fps=fps,
            fps_rational=(int(fps), 1) if fps.is_integer() else (int(fps * 1000), 1000),
            vfr=False,
            duration_s=len(rels) / fps,
            codec=suffixes.most_common(1)[0][0],
            rotation=0,
            kind="images",
            time_base=(1, int(fps)) if fps.is_integer() else (1000, int(fps * 1000)),
            keyframes=len(rels),
            max_gop=1,
            container="image set" if self._mode == "list" else "image folder",
            warnings=tuple(warnings),
            notices=tuple(notices),
        )

    # --- building ------------------------------------------------------------------------------
    def _relative(self, f: str | Path) -> str:
        p = Path(f)
        if p.is_absolute():
            try:
                p = p.relative_to(self._root)
            except ValueError:
                raise VideoError(p, f"not inside the image set's folder {self._root}") from None
        rel = p.as_posix()
        if rel.startswith("../") or rel in ("", ".", ".."):
            raise VideoError(self._root / p, "not inside the image set's folder")
        return rel

    def _sizes_from(
        self, recorded: dict[str, Any] | None, status: str, problems: dict[int, str]
    ) -> tuple[list[tuple[int, int] | None], str]:
        """Pixel sizes: from the index where the file is the one it recorded, else the header
        (``problems`` receives why each image that cannot be used cannot)."""
        known: dict[tuple[str, int], tuple[int, int] | None] = {}
        matches = False
        if recorded is not None:
            entries = recorded["files"]
            listing = [(str(e[0]), int(e[1])) for e in entries]
            matches = listing == list(zip(self._rels, self._bytes))
            for e in entries:
                if len(e) >= 4 and _plausible_side(e[2]) and _plausible_side(e[3]):
                    known[(str(e[0]), int(e[1]))] = (int(e[2]), int(e[3]))
        sizes: list[tuple[int, int] | None] = []
        for i, (rel, nbytes) in enumerate(zip(self._rels, self._bytes)):
            s = known.get((rel, nbytes)) if nbytes >= 0 else None
            if s is None:
                s, why = probe_image(self._root / rel)
                if why is not None:
                    problems[i] = why
            sizes.append(s)
        if recorded is not None and status != "invalid":
            if not matches:
                status = "stale"
            elif recorded["version"] < _INDEX_VERSION:
                status = "upgraded"  # used; sizes added: store the new index
            else:
                status = "loaded"
        return sizes, status

    # --- per-frame facts -----------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self._root

    @property
    def mode(self) -> str:
        """``"folder"`` (every image under the root), ``"list"`` (explicit) or ``"flat"``."""
        return self._mode

    @property
    def files(self) -> list[Path]:
        """The image files in frame order (absolute when the root is)."""
        return [self._root / r for r in self._rels]

    @property
    def rel_paths(self) -> list[str]:
        """Each frame's path relative to the root, ``/``-separated."""
        return list(self._rels)

    @property
    def sizes(self) -> list[tuple[int, int] | None]:
        """Each frame's ``(width, height)``; None for an image that cannot be read."""
        return list(self._sizes)

    def rel_path(self, i: int) -> str:
        return self._rels[self.check_index(i)]

    def file_path(self, i: int) -> Path:
        return self._root / self._rels[self.check_index(i)]

    def frame_size(self, i: int) -> tuple[int, int] | None:
        return self._sizes[self.check_index(i)]

    # --- index ---------------------------------------------------------------------------------
    def index_bytes(self) -> bytes:
        files = [[r, b, *(s if s is not None else (None, None))]
                 for r, b, s in zip(self._rels, self._bytes, self._sizes)]
        return json.dumps({"format": _INDEX_FORMAT, "version": _INDEX_VERSION,
                           "mode": self._mode, "files": files},
                          separators=(",", ":")).encode()

    def pts(self, i: int) -> int:
        return self.check_index(i)

    def timestamp(self, i: int) -> float:
        return self.check_index(i) / self.meta.fps

    # --- frames --------------------------------------------------------------------------------
    @property
    def cache(self) -> FrameCache[np.ndarray]:
        return self._cache

    def clear_cache(self) -> None:
        self._cache.clear()

    def close(self) -> None:
        self._closed = True
        self._cache.clear()

    def _get_for_iteration(self, i: int, cache: bool) -> np.ndarray:
        return self._read(i, cache)

    def _get(self, i: int) -> np.ndarray:
        return self._read(i, True)

    def _read(self, i: int, cache: bool) -> np.ndarray:
        if self._closed:
            raise self._closed_error()
        cached = self._cache.get(i)
        if cached is not None:
            return cached
        path = self._root / self._rels[i]
        # stat and header first: a small file can claim billions of pixels, a FIFO would block
        why = image_problem(path)
        img = decode_image(path) if why is None else None
        if img is None:
            raise VideoError(path, f"cannot read frame {i} (image {self._rels[i]}: "
                             f"{why or 'damaged, or not an image format Pose Studio reads'})")
        img = np.ascontiguousarray(img)
        img.flags.writeable = False
        self._sizes[i] = (int(img.shape[1]), int(img.shape[0]))
        if cache:
            self._cache.put(i, img)
        return img


#: The name image folders were opened with before image sets (``open_video`` uses it).
ImageFolderReader = ImageSetReader


def open_image_list(
    root: str | Path,
    files: Iterable[str | Path],
    *,
    index: bytes | None = None,
    cache_mb: float = DEFAULT_CACHE_MB,
) -> ImageSetReader:
    """An image set of exactly ``files`` (relative to ``root`` or absolute inside it), in order."""
    return ImageSetReader(root, list(files), index=index, cache_mb=cache_mb)


def listing_from_index(blob: bytes | None) -> list[tuple[str, int | None, int | None]] | None:
    """``(relative path, width, height)`` of each frame as an image set's stored index records
    them (sizes None where it has none); None when ``blob`` is not an image-set index."""
    recorded = _parse_index(blob) if blob else None
    if recorded is None:
        return None
    out: list[tuple[str, int | None, int | None]] = []
    for e in recorded["files"]:
        w = e[2] if len(e) >= 4 and isinstance(e[2], int) else None
        h = e[3] if len(e) >= 4 and isinstance(e[3], int) else None
        out.append((str(e[0]), w, h))
    return out


def _plausible_side(v: object) -> bool:
    """A recorded side worth trusting (an index from a damaged or crafted project is not)."""
    return isinstance(v, int) and 0 < v <= MAX_IMAGE_SIDE


def _parse_index(blob: bytes) -> dict[str, Any] | None:
    """The recorded listing as ``{"version", "mode", "files": [[rel, bytes, w?, h?], ...]}``."""
    try:
        header = json.loads(blob.decode())
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(header, dict) or header.get("format") != _INDEX_FORMAT:
        return None
    version = header.get("version")
    files = header.get("files")
    if version not in (1, _INDEX_VERSION) or not isinstance(files, list):
        return None
    ok = all(isinstance(e, list) and len(e) >= 2 and isinstance(e[0], str)
             and isinstance(e[1], int) for e in files)
    if not ok:
        return None
    mode = "flat" if version == 1 else header.get("mode")
    if mode not in ("folder", "list", "flat"):
        return None
    return {"version": version, "mode": mode, "files": files}
