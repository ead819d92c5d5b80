"""Do a project's labels still sit on their frames? Fingerprints read from the video.

The store keeps a 64-bit fingerprint (``pose_studio.video.fingerprint``) for labeled frames and
the video file's identity (``Project.video_file_status``). This module reads frames to fill and
to verify fingerprints; it is what ``pose-studio info --check``, COCO import and the GUI (on
opening a video whose file changed) use.

Typical GUI use on opening video ``vid`` (in a worker thread)::

    status = project.video_file_status(vid)
    if status.state in ("changed", "unrecorded"):
        result = check_video_frames(project, vid)      # result.moved: labels off their frames
    elif status.state == "same":
        fill_missing_fingerprints(project, vid)         # frames labeled before fingerprints
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pose_studio.core.errors import PoseStudioError

if TYPE_CHECKING:  # pragma: no cover
    from pose_studio.store.identity import VideoFileStatus
    from pose_studio.store.project import Project

__all__ = [
    "FrameCheck",
    "check_video_frames",
    "fill_missing_fingerprints",
    "read_fingerprints",
]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FrameCheck:
    """The result of :func:`check_video_frames` for one video.

    Attributes:
        moved: Labeled frames whose stored fingerprint no longer matches the picture (or that
            are past the end of the video now): their labels no longer sit on their frames.
        checked: Labeled frames with a fingerprint that were compared.
        unverified: Labeled frames without a stored fingerprint (cannot be checked).
        frame_count: Frames in the video file now (None when it could not be opened).
        shift: When the labeled pictures are found as a whole ``shift`` frames away (frames
            dropped or added at the start: the picture labeled on frame ``f`` is now frame
            ``f + shift``), else None. Then every checked label is in ``moved``.
        error: Why the video could not be read (then nothing was checked).
    """

    video_id: int
    path: Path
    status: VideoFileStatus
    moved: tuple[int, ...] = ()
    checked: int = 0
    unverified: tuple[int, ...] = ()
    frame_count: int | None = None
    stored_frame_count: int = 0
    shift: int | None = None
    error: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.error is None and not self.moved


def _iter_frames(reader: Any, frames: list[int]) -> Iterable[tuple[int, Any]]:
    """Frames in ascending order: sequential decoding when dense, else random access."""
    if not frames:
        return
    lo, hi = frames[0], frames[-1]
    if len(frames) * 4 >= hi - lo + 1:
        wanted = set(frames)
        for i, img in reader.iter_frames(lo, hi + 1):
            if i in wanted:
                yield i, img
    else:
        for i in frames:
            yield i, reader.get(i)


def read_fingerprints(
    path: str | Path,
    frames: Iterable[int],
    *,
    index: bytes | None = None,
    reader: Any = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> dict[int, int]:
    """Fingerprints of ``frames`` of the video at ``path`` (frames past its end are left out).

    Raises:
        VideoError: the video cannot be opened or decoded.
    """
    from pose_studio.video import fingerprint, open_video

    own = reader is None
    if own:
        reader = open_video(path, index=index)
    try:
        n = len(reader)
        wanted = sorted({int(f) for f in frames if 0 <= int(f) < n})
        out: dict[int, int] = {}
        for done, (i, img) in enumerate(_iter_frames(reader, wanted), start=1):
            if cancel is not None and cancel.is_set():
                break
            out[i] = int(fingerprint(img))
            if progress is not None:
                progress(done, len(wanted))
        return out
    finally:
        if own:
            reader.close()


def fill_missing_fingerprints(
    project: Project, video_id: int, *, reader: Any = None, progress: Progress | None = None
) -> int:
    """Store fingerprints for labeled frames that have none (the project must be writable and
    the video unchanged: otherwise the new fingerprints would vouch for the wrong pictures).

    Returns:
        How many were stored.
    """
    missing = project.frames_missing_fingerprints(video_id)
    if not missing:
        return 0
    rec = project.video(video_id)
    fps = read_fingerprints(rec.path, missing, index=project.video_index(video_id),
                            reader=reader, progress=progress)
    if fps:
        project.set_fingerprints(video_id, fps)
    return len(fps)


def check_video_frames(
    project: Project,
    video_id: int,
    *,
    max_distance: int | None = None,
    reader: Any = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> FrameCheck:
    """Compare every labeled frame's stored fingerprint with the video as it is now.

    Never raises for an unreadable video: the result's ``error`` says why.
    """
    from pose_studio.video import DEFAULT_MAX_DISTANCE, fingerprint_distance

    limit = DEFAULT_MAX_DISTANCE if max_distance is None else int(max_distance)
    rec = project.video(video_id)
    status = project.video_file_status(video_id)
    labeled = set(project.labeled_frames(video_id))
    stored = {f: v for f, v in project.fingerprints(video_id).items() if f in labeled}
    unverified = tuple(sorted(labeled - set(stored)))
    base = FrameCheck(video_id=video_id, path=rec.path, status=status, unverified=unverified,
                      stored_frame_count=rec.frame_count)
    if status.state == "missing":
        return replace(base, error=status.detail or f"{rec.path} is missing")
    try:
        from pose_studio.video import open_video

        own = reader is None
        rd = open_video(rec.path, index=project.video_index(video_id)) if own else reader
        try:
            n = len(rd)
            now = read_fingerprints(rec.path, stored, reader=rd, progress=progress,
                                    cancel=cancel)
        finally:
            if own:
                rd.close()
    except PoseStudioError as e:
        return replace(base, error=str(e))
    if cancel is not None and cancel.is_set():
        return replace(base, error="cancelled")
    moved = sorted(
        f for f, v in stored.items()
        if f not in now or fingerprint_distance(now[f], v) > limit
    )
    notes = []
    if n != rec.frame_count:
        notes.append(f"the video has {n} frames now, {rec.frame_count} when it was added")
    shift = None
    if moved or n != rec.frame_count:
        # A 64-bit hash cannot tell every pair of neighbouring frames apart, so a global shift
        # (the usual way a re-cut or re-encoded file goes wrong) is found over all labels.
        try:
            shift = _find_shift(rec.path, project.video_index(video_id), stored, now, n)
        except PoseStudioError:
            shift = None
        if shift is not None:
            moved = sorted(stored)
            notes.append(f"the labeled pictures are now {abs(shift)} frame(s) "
                         f"{'later' if shift > 0 else 'earlier'} in the video (frames were "
                         f"{'added' if shift > 0 else 'dropped'} at the start)")
    return replace(base, moved=tuple(moved), checked=len(stored), frame_count=n, shift=shift,
                   notes=tuple(notes))


MAX_SHIFT = 5
SHIFT_SAMPLES = 64


def _find_shift(
    path: Path, index: bytes | None, stored: dict[int, int], now: dict[int, int], n: int
) -> int | None:
    """The offset ``d`` (|d| <= MAX_SHIFT) for which frames ``f + d`` of the video match the
    stored fingerprints of frames ``f`` clearly better than ``d = 0``, else None."""
    from pose_studio.video import fingerprint_distance

    if len(stored) < 3:
        return None
    keys = sorted(stored)
    step = max(1, len(keys) // SHIFT_SAMPLES)
    stored = {f: stored[f] for f in keys[::step][:SHIFT_SAMPLES]}  # bounds the decoding work
    need = {f + d for f in stored for d in range(-MAX_SHIFT, MAX_SHIFT + 1)} - set(now)
    fps = dict(now)
    fps.update(read_fingerprints(path, need, index=index))

    def mean_distance(d: int) -> float | None:
        ds = [fingerprint_distance(fps[f + d], v) for f, v in stored.items() if f + d in fps]
        return sum(ds) / len(ds) if len(ds) >= max(3, len(stored) // 2) else None

    scores = {d: mean_distance(d) for d in range(-MAX_SHIFT, MAX_SHIFT + 1)}
    valid = {d: s for d, s in scores.items() if s is not None}
    if not valid:
        return None
    best = min(valid, key=lambda d: (valid[d], abs(d)))
    zero = valid.get(0, 64.0)
    if best != 0 and valid[best] <= 4.0 and zero >= 2.0 * valid[best] + 2.0:
        return best
    return None
