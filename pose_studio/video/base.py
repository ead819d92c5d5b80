"""The reader interface shared by video files and image folders."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from types import TracebackType

import numpy as np

from pose_studio.video.errors import FrameIndexError, VideoError
from pose_studio.video.meta import VideoMeta

DEFAULT_CACHE_MB = 256


class VideoReader(abc.ABC):
    """Frame-exact access to a video: ``reader.get(i)`` is exactly frame ``i``.

    Frames are (H, W, 3) uint8 BGR arrays, upright, **read-only** and never modified or reused
    afterwards (the GUI may wrap them in a QImage without copying).

    A reader is **not thread-safe**: use one reader per thread (open another one with the same
    ``index`` bytes for a worker thread; that is instant).
    """

    meta: VideoMeta
    #: "built" (indexed now), "loaded" (the given index bytes were used), "stale" (the given
    #: index was for another version of the file, or from an older indexer that numbered this
    #: kind of file wrongly: rebuilt), "invalid" (damaged, rebuilt) or
    #: "upgraded" (used, with facts an older version did not record added: store it again).
    index_status: str = "built"

    # -- to implement -------------------------------------------------------------------------
    @abc.abstractmethod
    def _get(self, i: int) -> np.ndarray: ...

    @abc.abstractmethod
    def index_bytes(self) -> bytes:
        """The index as bytes: pass to ``open_video(path, index=...)`` to skip indexing."""

    @abc.abstractmethod
    def pts(self, i: int) -> int:
        """Presentation timestamp of frame ``i`` in ``meta.time_base`` units (its robust identity)."""

    @abc.abstractmethod
    def timestamp(self, i: int) -> float:
        """Seconds from the first frame to frame ``i`` (for display beside the frame number)."""

    def timestamps(self) -> np.ndarray:
        """Seconds from the first frame for every frame (float64, length ``frame_count``)."""
        return np.arange(self.meta.frame_count, dtype=np.float64) / self.meta.fps

    @abc.abstractmethod
    def close(self) -> None:
        """Release the file; further reads raise :class:`VideoError`."""

    @abc.abstractmethod
    def clear_cache(self) -> None:
        """Drop every cached frame (memory pressure, or to measure cold access)."""

    # -- shared -------------------------------------------------------------------------------
    @property
    def warnings(self) -> list[str]:
        """Problems found when opening (truncation, long GOP...), worded for the user."""
        return list(self.meta.warnings)

    def __len__(self) -> int:
        return self.meta.frame_count

    def check_index(self, i: int) -> int:
        n = self.meta.frame_count
        try:
            k = int(i)
        except (TypeError, ValueError):
            raise FrameIndexError(self.meta.path, f"frame index {i!r} is not an integer") from None
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise FrameIndexError(
                self.meta.path, f"frame {i} is out of range: the video has {n} frames (0..{n - 1})"
            )
        return k

    def get(self, i: int) -> np.ndarray:
        """Frame ``i`` (negative counts from the end) as a read-only BGR array."""
        k = self.check_index(i)
        self._enter()
        try:
            return self._get(k)
        finally:
            self._busy = False

    _busy = False

    def _enter(self) -> None:
        # Decoders are not thread-safe; two threads in one reader would corrupt its state (or
        # crash in FFmpeg). Catch the usual mistake instead of returning a wrong frame.
        if self._busy:
            raise VideoError(
                self.meta.path,
                "this reader is already reading in another thread: open one reader per thread",
            )
        self._busy = True

    def frame_at_pts(self, pts: int) -> int | None:
        """The frame with presentation timestamp ``pts`` (see :meth:`pts`), or None."""
        n = self.meta.frame_count
        lo, hi = 0, n
        while lo < hi:  # timestamps increase with the frame index
            mid = (lo + hi) // 2
            if self.pts(mid) < pts:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < n and self.pts(lo) == pts else None

    def __getitem__(self, i: int) -> np.ndarray:
        return self.get(i)

    def iter_frames(
        self, start: int = 0, stop: int | None = None, *, cache: bool = False
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` for ``start <= index < stop`` in order, decoding sequentially.

        Args:
            start, stop: half-open frame range (``stop=None``: to the end; clipped to the video).
            cache: also keep the yielded frames in the cache (playback that may step back);
                off for batch work, where it would only churn memory.
        """
        n = self.meta.frame_count
        stop = n if stop is None else min(int(stop), n)
        for i in range(max(0, int(start)), stop):
            self._enter()
            try:
                frame = self._get_for_iteration(i, cache)
            finally:
                self._busy = False
            yield i, frame

    def _get_for_iteration(self, i: int, cache: bool) -> np.ndarray:
        return self._get(i)

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _closed_error(self) -> VideoError:
        return VideoError(self.meta.path, "the reader is closed")
