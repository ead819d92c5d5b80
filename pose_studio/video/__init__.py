"""Frame-exact video access: ``open_video(path).get(i)`` is exactly frame ``i``.

* ``open_video(path, index=None, cache_mb=256) -> VideoReader`` for a video file (anything
  FFmpeg decodes: H.264/HEVC/MPEG-4/MJPEG/VP9... in mp4/mov/mkv/avi/ts/webm, variable frame
  rate, rotation metadata applied) or a folder of images (natural order: img2 before img10).
* ``reader.meta`` (:class:`VideoMeta`), ``len(reader)``, ``reader.get(i)`` (read-only BGR,
  upright), ``reader.iter_frames(start, stop)``, ``reader.pts(i)`` / ``frame_at_pts(pts)``
  (timestamps are the robust identity of a frame), ``reader.timestamp(i)`` / ``timestamps()``,
  ``reader.warnings``, ``reader.index_bytes()`` (store it; pass it back as ``index=`` to skip
  indexing; ``reader.index_status`` says whether it was used or had to be rebuilt).
* ``frame_signature(frame) -> bytes`` (the fingerprint stored for labeled frames),
  ``signature_distance(a, b)``, ``mismatch(now, stored)`` (<= 1: same picture, either kind),
  ``check_fingerprints(reader, stored)``; the old 64-bit ``fingerprint(frame)`` /
  ``fingerprint_distance(a, b)`` still check projects from before format 4.
* ``reader.meta.notices`` / ``notices_from_index(project.video_index(vid))``: problems found when
  indexing (truncated, repeated timestamps, decode-order numbering, hidden frames left out...)
  as :class:`VideoNotice` (``kind``, ``text``, ``severity``): what a window banner shows.
* Every problem with the input is a :class:`VideoError` (path + reason).
* ``tune_malloc()``: optional, process-wide (call once at start-up): avoids page-fault costs of
  fresh frame buffers on Linux.

Readers are not thread-safe: one reader per thread (opening another with the same ``index``
bytes is instant). A second thread entering a busy reader gets a :class:`VideoError`.
"""

from __future__ import annotations

from pose_studio.video.base import DEFAULT_CACHE_MB, VideoReader
from pose_studio.video.errors import FrameIndexError, VideoError
from pose_studio.video.fingerprint import (
    DEFAULT_MAX_DISTANCE,
    NEIGHBOUR_RATIO,
    NEIGHBOURS,
    SIGNATURE_MAX_DISTANCE,
    Fingerprint,
    check_fingerprints,
    describe_mismatch,
    fingerprint,
    fingerprint_distance,
    fingerprint_like,
    frame_signature,
    mismatch,
    signature_distance,
    where_is_label,
)
from pose_studio.video.memory import tune_malloc
from pose_studio.video.meta import VideoMeta
from pose_studio.video.notices import VideoNotice, notices_from_index
from pose_studio.video.open import open_video

__all__ = [
    "DEFAULT_CACHE_MB",
    "DEFAULT_MAX_DISTANCE",
    "NEIGHBOURS",
    "NEIGHBOUR_RATIO",
    "SIGNATURE_MAX_DISTANCE",
    "Fingerprint",
    "FrameIndexError",
    "VideoError",
    "VideoMeta",
    "VideoNotice",
    "VideoReader",
    "check_fingerprints",
    "describe_mismatch",
    "fingerprint",
    "fingerprint_distance",
    "fingerprint_like",
    "frame_signature",
    "mismatch",
    "notices_from_index",
    "open_video",
    "signature_distance",
    "tune_malloc",
    "where_is_label",
]
