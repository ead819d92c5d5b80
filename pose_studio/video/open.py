"""``open_video``: one entry point for video files and image folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pose_studio.core.files import os_reason, path_kind
from pose_studio.core.limits import ResourceLimitError, check_image_size
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
    # A FIFO or a device would block or never end inside the demuxer: refused from its stat.
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise VideoError(p, "file not found") from None
    except (OSError, ValueError) as exc:
        raise VideoError(p, os_reason(exc, p)) from None
    if stat.S_ISDIR(mode):
        from pose_studio.video.image_reader import ImageFolderReader

        return ImageFolderReader(p, index=index, cache_mb=cache_mb)
    if not stat.S_ISREG(mode):
        raise VideoError(p, f"this is {path_kind(mode)}, not a video file")
    from pose_studio.video.file_reader import FileVideoReader

    reader = FileVideoReader(p, index=index, cache_mb=cache_mb)
    try:  # a frame of the size the file claims must fit in memory before one is decoded
        check_image_size(reader.meta.width, reader.meta.height, "its frames", copies=3)
    except ResourceLimitError as exc:
        reader.close()
        raise VideoError(p, str(exc)) from None
    return reader
