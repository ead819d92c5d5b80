"""Background check that labeled frames still show the pictures they were labeled on.

When a label is first made on a frame the window stores the frame's signature
(:func:`pose_studio.video.frame_signature`). On opening a video, :func:`verify_fingerprints` runs
on a background job of the window with its own reader (never the GUI
thread, never the decode lane's reader). It is the same check as ``pose-studio info --check``
(:func:`pose_studio.formats.frame_check.check_video_frames`): it lists the frames whose labels no
longer sit on their pictures (the video was replaced, re-cut or re-encoded with frames added or
dropped). With a writable project it also stores signatures for labeled frames that have none
while the video file is unchanged, and records the file as the reference once a changed file's
frames all check out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pose_studio.core.errors import PoseStudioError


@dataclass(frozen=True)
class FingerprintReport:
    """Outcome of one check.

    Attributes:
        video_id: The video checked.
        checked: Frames compared.
        mismatched: ``(frame_idx, why)`` of frames whose labels no longer sit on their picture.
        missing: Stored frames the video no longer has (it got shorter).
        cancelled: The check stopped early.
        shift: The labeled pictures as a whole are this many frames away, else None.
        filled: Fingerprints stored for labeled frames that had none.
        accepted: The changed video file was recorded as the project's reference (all matched).
        error: Why the check could not run (the video is unreadable...), else None.
    """

    video_id: int
    checked: int
    mismatched: tuple[tuple[int, str], ...] = ()
    missing: tuple[int, ...] = ()
    cancelled: bool = False
    shift: int | None = None
    filled: int = 0
    accepted: bool = False
    error: str | None = None

    @property
    def bad_frames(self) -> tuple[int, ...]:
        """Every frame whose labels are suspect, in order."""
        return tuple(sorted({f for f, _ in self.mismatched} | set(self.missing)))


def verify_fingerprints(
    open_reader: Callable[[], Any],
    video_id: int,
    stored: Mapping[int, int | bytes] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    max_distance: int | None = None,
    *,
    project: Any = None,
) -> FingerprintReport:
    """Check a video's frames against their stored fingerprints, on the calling thread.

    With ``project``: when the video file is unchanged since it was recorded, only fills missing
    fingerprints (writable project); otherwise
    :func:`~pose_studio.formats.frame_check.check_video_frames` on every frame with a fingerprint
    (a clean check of a changed file accepts it). Without: ``stored``
    ``{frame: fingerprint}`` is compared (same comparison, no project). ``open_reader()`` returns
    a reader this thread owns (closed here). ``max_distance`` is ignored (kept for callers).
    """
    from pose_studio.formats.frame_check import (
        check_video_frames,
        compare_with_video,
        fill_missing_fingerprints,
    )

    del max_distance
    if project is None and not stored:
        return FingerprintReport(video_id, 0)
    reader = open_reader()
    try:
        if project is None:
            cmp = compare_with_video(reader, stored or {}, cancel=cancelled)
            if cmp.cancelled:
                return FingerprintReport(video_id, cmp.checked, cancelled=True)
            return FingerprintReport(
                video_id, cmp.checked,
                tuple((f, cmp.reasons[f]) for f in cmp.moved if f not in cmp.missing),
                cmp.missing, shift=cmp.shift)
        status = project.video_file_status(video_id)
        writable = not project.read_only
        filled = 0
        if status.state == "same":
            # Byte-identical file (size, mtime and digest as recorded): no label can have moved,
            # so decoding every labeled frame again would only burn CPU. Fill the gaps instead.
            if writable:
                try:
                    filled = fill_missing_fingerprints(project, video_id, reader=reader,
                                                       cancel=cancelled)
                except PoseStudioError:
                    filled = 0
            return FingerprintReport(video_id, 0, filled=filled, cancelled=cancelled())
        r = check_video_frames(project, video_id, reader=reader, cancel=cancelled,
                               only_labeled=False)
        if cancelled() or r.error == "cancelled":
            return FingerprintReport(video_id, r.checked, cancelled=True)
        if r.error is not None:
            return FingerprintReport(video_id, 0, filled=filled, error=r.error)
        n = r.frame_count if r.frame_count is not None else 0
        missing = tuple(f for f in r.moved if f >= n)
        accepted = False
        if r.ok and r.checked and writable and status.state in ("changed", "unrecorded"):
            try:
                project.accept_video_file(video_id)
                accepted = True
            except PoseStudioError:
                accepted = False
        return FingerprintReport(
            video_id, r.checked,
            tuple((f, r.reasons.get(f, "the picture differs")) for f in r.moved
                  if f not in missing),
            missing, shift=r.shift, filled=filled, accepted=accepted)
    finally:
        close = getattr(reader, "close", None)
        if close is not None:
            close()


__all__ = ["FingerprintReport", "verify_fingerprints"]
