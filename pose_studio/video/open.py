"""``open_video``: one entry point for video files and image folders."""

from __future__ import annotations

from pathlib import Path

from pose_studio.video.base import DEFAULT_CACHE_MB, VideoReader
from pose_studio.video.errors import VideoError


def open_video(
    path: str | Path, *, index: bytes | None = None, cache_mb: float = DEFAULT_CACHE_MB
) -> VideoReader:
    """Open a video file or a folder of images for frame-exact reading.

    Args:
        path: a video file (anything FFmpeg demuxes and decodes) or a folder of images.
        index: bytes from a previous ``reader.index_bytes()``; skips indexing when it still
            matches the file (else it is rebuilt: see ``reader.index_status``).
        cache_mb: budget of the decoded-frame cache in MiB.

    Raises:
        VideoError: missing file, not a video, no frames, unsupported codec... (with the reason).
    """
    p = Path(path)
    if p.is_dir():
        from pose_studio.video.image_reader import ImageFolderReader

        return ImageFolderReader(p, index=index, cache_mb=cache_mb)
    if not p.exists():
        raise VideoError(p, "file not found")
    from pose_studio.video.file_reader import FileVideoReader

    return FileVideoReader(p, index=index, cache_mb=cache_mb)
