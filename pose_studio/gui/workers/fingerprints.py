"""Background check that labeled frames still show the pictures they were labeled on.

When a label is first made on a frame the window stores a 64-bit fingerprint of the frame
(:func:`pose_studio.video.fingerprint`). On opening a video, :func:`verify_fingerprints` runs
on a :class:`~pose_studio.gui.workers.jobs.BackgroundJob` with its own reader (never the GUI
thread, never the decode lane's reader) and lists the frames whose pixels changed: the video was
replaced, re-cut or re-encoded with different frames, so the labels there no longer sit on
their people.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FingerprintReport:
    """Outcome of one check.

    Attributes:
        video_id: The video checked.
        checked: Frames compared.
        mismatched: ``(frame_idx, differing_bits)`` of frames that look different.
        missing: Stored frames the video no longer has (it got shorter).
        cancelled: The check stopped early.
    """

    video_id: int
    checked: int
    mismatched: tuple[tuple[int, int], ...] = ()
    missing: tuple[int, ...] = ()
    cancelled: bool = False

    @property
    def bad_frames(self) -> tuple[int, ...]:
        """Every frame whose labels are suspect, in order."""
        return tuple(sorted({f for f, _ in self.mismatched} | set(self.missing)))


def verify_fingerprints(
    open_reader: Callable[[], Any],
    video_id: int,
    stored: Mapping[int, int],
    cancelled: Callable[[], bool] = lambda: False,
    max_distance: int | None = None,
) -> FingerprintReport:
    """Compare ``stored`` ``{frame: fingerprint}`` with the video's frames, in frame order.

    ``open_reader()`` returns a reader the caller's thread owns (closed here).
    """
    from pose_studio.video import DEFAULT_MAX_DISTANCE, fingerprint, fingerprint_distance

    limit = DEFAULT_MAX_DISTANCE if max_distance is None else int(max_distance)
    mismatched: list[tuple[int, int]] = []
    missing: list[int] = []
    checked = 0
    if not stored:
        return FingerprintReport(video_id, 0)
    reader = open_reader()
    try:
        n = len(reader)
        for f in sorted(stored):
            if cancelled():
                return FingerprintReport(video_id, checked, tuple(mismatched), tuple(missing),
                                         cancelled=True)
            if not 0 <= f < n:
                missing.append(f)
                continue
            d = fingerprint_distance(fingerprint(reader.get(f)), stored[f])
            checked += 1
            if d > limit:
                mismatched.append((f, int(d)))
    finally:
        close = getattr(reader, "close", None)
        if close is not None:
            close()
    return FingerprintReport(video_id, checked, tuple(mismatched), tuple(missing))


__all__ = ["FingerprintReport", "verify_fingerprints"]
