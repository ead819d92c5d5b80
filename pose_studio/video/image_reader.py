"""A folder of images read as a video (frames in natural order: img2 before img10)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np

from pose_studio.core.imagesize import check_image_file
from pose_studio.core.limits import ResourceLimitError
from pose_studio.video.base import DEFAULT_CACHE_MB, VideoReader
from pose_studio.video.cache import FrameCache
from pose_studio.video.errors import VideoError
from pose_studio.video.meta import VideoMeta

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm"}
)
_INDEX_FORMAT = "pose-studio-image-index"
_INDEX_VERSION = 1
_DEFAULT_FPS = 30


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key where digit runs compare as numbers: ``img2 < img10``."""
    parts = re.split(r"(\d+)", name.casefold())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p != "")


def list_images(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    files.sort(key=lambda p: natural_key(p.name))
    return files


def _read_image(path: Path) -> np.ndarray | None:
    try:  # the header's size first: a small file can claim billions of pixels
        check_image_file(path)
    except ResourceLimitError as exc:
        raise VideoError(path, f"not decoded: {exc}") from None
    except OSError:
        return None
    try:
        data = np.fromfile(str(path), dtype=np.uint8)  # works for non-ASCII paths everywhere
    except OSError:
        return None
    if data.size == 0:
        return None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)  # applies EXIF orientation; grey -> BGR
    return img


class ImageFolderReader(VideoReader):
    """Images in a folder as frames; every image must have the first image's size."""

    def __init__(
        self,
        folder: str | Path,
        *,
        index: bytes | None = None,
        cache_mb: float = DEFAULT_CACHE_MB,
        fps: float = _DEFAULT_FPS,
    ) -> None:
        self._folder = Path(folder)
        if not self._folder.is_dir():
            raise VideoError(self._folder, "folder not found")
        files = list_images(self._folder)
        if not files:
            raise VideoError(
                self._folder, "the folder contains no images (png, jpg, bmp, tif, webp)"
            )
        self._files = files
        self.index_status = "built"
        if index is not None:
            self.index_status = "loaded" if self._index_matches(index) else "stale"
        first = _read_image(files[0])
        if first is None:
            raise VideoError(files[0], "cannot read this image (damaged or unsupported format)")
        h, w = first.shape[:2]
        self._cache: FrameCache[np.ndarray] = FrameCache(
            int(cache_mb * 2**20), lambda a: int(a.nbytes)
        )
        self._closed = False
        self.meta = VideoMeta(
            path=str(self._folder),
            width=w,
            height=h,
            frame_count=len(files),
            fps=float(fps),
            fps_rational=(int(fps), 1) if float(fps).is_integer() else (int(fps * 1000), 1000),
            vfr=False,
            duration_s=len(files) / float(fps),
            codec=files[0].suffix.lower().lstrip("."),
            rotation=0,
            kind="images",
            time_base=(1, int(fps)) if float(fps).is_integer() else (1000, int(fps * 1000)),
            keyframes=len(files),
            max_gop=1,
            container="image folder",
        )
        first.flags.writeable = False
        self._cache.put(0, first)

    @property
    def cache(self) -> FrameCache[np.ndarray]:
        return self._cache

    @property
    def files(self) -> list[Path]:
        return list(self._files)

    def _listing(self) -> list[list[str | int]]:
        out: list[list[str | int]] = []
        for p in self._files:
            try:
                size = p.stat().st_size
            except OSError:
                size = -1
            out.append([p.name, size])
        return out

    def _index_matches(self, blob: bytes) -> bool:
        """Same image names in the same order with the same sizes."""
        try:
            header = json.loads(blob.decode())
        except (UnicodeDecodeError, ValueError):
            return False
        return bool(
            isinstance(header, dict)
            and header.get("format") == _INDEX_FORMAT
            and header.get("version") == _INDEX_VERSION
            and header.get("files") == self._listing()
        )

    def index_bytes(self) -> bytes:
        return json.dumps(
            {"format": _INDEX_FORMAT, "version": _INDEX_VERSION, "files": self._listing()}
        ).encode()

    def pts(self, i: int) -> int:
        return self.check_index(i)

    def timestamp(self, i: int) -> float:
        return self.check_index(i) / self.meta.fps

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
        path = self._files[i]
        img = _read_image(path)
        if img is None:
            raise VideoError(path, f"cannot read frame {i} (missing, damaged or unsupported image)")
        if img.shape[:2] != (self.meta.height, self.meta.width):
            raise VideoError(
                path,
                f"frame {i} is {img.shape[1]}x{img.shape[0]}, the folder's first image is "
                f"{self.meta.width}x{self.meta.height}: all images must have the same size",
            )
        img = np.ascontiguousarray(img)
        img.flags.writeable = False
        if cache:
            self._cache.put(i, img)
        return img
