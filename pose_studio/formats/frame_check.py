"""Do a project's labels still sit on their frames? Fingerprints read from the video.

The store keeps a fingerprint (``pose_studio.video.fingerprint``: a 32x32 thumbnail signature,
``bytes``; or, in projects from before format 4, a 64-bit hash, ``int``) for labeled frames and
the video file's identity (``Project.video_file_status``). This module reads frames to fill and
to verify fingerprints; it is the one implementation behind ``pose-studio info --check``, COCO
import and the GUI's background check (:func:`compare_with_video` on a reader the caller's thread
owns), and of :func:`verify_sources`, which ``export``, ``render`` and ``infer`` call before they
write anything derived from a video that changed (size, frame count, labeled pictures).

A label counts as moved when its frame now shows a different picture (distance over the
threshold) or, for signatures, when a neighbouring frame (up to :data:`NEIGHBOURS` away) matches
the stored signature clearly better than the frame itself (:data:`NEIGHBOUR_RATIO`): that is
how a shift by one or two frames (a frame dropped or duplicated at the start or mid-video, a VFR
re-encode) is caught per label even in a static-camera video where neighbouring frames differ
only by a small moving person.

Typical GUI use on opening video ``vid`` (in a worker thread)::

    status = project.video_file_status(vid)
    if status.state in ("changed", "unrecorded"):
        result = check_video_frames(project, vid)      # result.moved: labels off their frames
    elif status.state == "same":
        fill_missing_fingerprints(project, vid)         # frames labeled before fingerprints
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pose_studio.core.errors import PoseStudioError
from pose_studio.video.fingerprint import (
    NEIGHBOUR_RATIO,
    NEIGHBOURS,
    Fingerprint,
    fingerprint,
    fingerprint_problem,
    frame_signature,
    mismatch,
    where_is_label,
)

if TYPE_CHECKING:  # pragma: no cover
    from pose_studio.store.identity import VideoFileStatus
    from pose_studio.store.project import Project

__all__ = [
    "NEIGHBOURS",
    "NEIGHBOUR_RATIO",
    "FrameCheck",
    "FrameComparison",
    "SourceChange",
    "SourceChangedError",
    "check_video_frames",
    "compare_with_video",
    "fill_missing_fingerprints",
    "read_fingerprints",
    "source_changes",
    "verify_sources",
]

Progress = Callable[[int, int], None]
Cancel = threading.Event | Callable[[], bool] | None

MAX_SHIFT = 5
SHIFT_SAMPLES = 64


@dataclass(frozen=True)
class FrameCheck:
    """The result of :func:`check_video_frames` for one video.

    Attributes:
        moved: Labeled frames whose stored fingerprint no longer matches the picture (or that
            are past the end of the video now): their labels no longer sit on their frames.
        checked: Labeled frames with a fingerprint that were compared.
        unverified: Labeled frames without a stored fingerprint (cannot be checked).
        frame_count: Frames in the video file now (None when it could not be opened).
        reasons: ``{frame: why}`` for moved frames (for the GUI's list).
        shift: When the labeled pictures are found as a whole ``shift`` frames away (frames
            dropped or added at the start: the picture labeled on frame ``f`` is now frame
            ``f + shift``), else None. Then every checked label is in ``moved``.
        error: Why the video could not be read (then nothing was checked).
        damaged: Labeled frames whose stored fingerprint is damaged (a tampered or broken
            row): they cannot be checked; ``reasons`` says what is wrong with each.
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
    reasons: dict[int, str] = field(default_factory=dict)
    size_now: tuple[int, int] | None = None  # frame size now, when it differs from the record
    damaged: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return (self.error is None and not self.moved and self.size_now is None
                and not self.damaged)


def _cancelled(cancel: Cancel) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def _iter_frames(reader: Any, frames: list[int]) -> Iterable[tuple[int, Any]]:
    """Frames in ascending order: sequential decoding when dense, else random access."""
    if not frames:
        return
    lo, hi = frames[0], frames[-1]
    if len(frames) * 4 >= hi - lo + 1 and hasattr(reader, "iter_frames"):
        wanted = set(frames)
        for i, img in reader.iter_frames(lo, hi + 1):
            if i in wanted:
                yield i, img
    else:
        for i in frames:
            yield i, reader.get(i)


@dataclass
class _Both:
    sig: bytes
    hash: int

    def like(self, stored: Fingerprint) -> Fingerprint:
        return self.sig if isinstance(stored, bytes | bytearray) else self.hash


def _read_both(reader: Any, frames: Iterable[int], progress: Progress | None,
               cancel: Cancel) -> dict[int, _Both]:
    n = len(reader)
    wanted = sorted({int(f) for f in frames if 0 <= int(f) < n})
    out: dict[int, _Both] = {}
    for done, (i, img) in enumerate(_iter_frames(reader, wanted), start=1):
        if _cancelled(cancel):
            break
        out[i] = _Both(frame_signature(img), fingerprint(img))
        if progress is not None:
            progress(done, len(wanted))
    return out


def read_fingerprints(
    path: str | Path,
    frames: Iterable[int],
    *,
    index: bytes | None = None,
    reader: Any = None,
    progress: Progress | None = None,
    cancel: Cancel = None,
) -> dict[int, bytes]:
    """Signatures (what the store keeps now) of ``frames`` of the video at ``path`` (frames past
    its end are left out). ``reader``: use this open reader instead of opening ``path``.

    Raises:
        VideoError: the video cannot be opened or decoded.
    """
    from pose_studio.video import open_video

    own = reader is None
    if own:
        reader = open_video(path, index=index)
    try:
        n = len(reader)
        wanted = sorted({int(f) for f in frames if 0 <= int(f) < n})
        out: dict[int, bytes] = {}
        for done, (i, img) in enumerate(_iter_frames(reader, wanted), start=1):
            if _cancelled(cancel):
                break
            out[i] = frame_signature(img)
            if progress is not None:
                progress(done, len(wanted))
        return out
    finally:
        if own:
            reader.close()


def fill_missing_fingerprints(
    project: Project, video_id: int, *, reader: Any = None, progress: Progress | None = None,
    cancel: Cancel = None,
) -> int:
    """Store signatures for labeled frames that have none (the project must be writable and
    the video unchanged: otherwise the new fingerprints would vouch for the wrong pictures).

    Returns:
        How many were stored.
    """
    missing = project.frames_missing_fingerprints(video_id)
    if not missing:
        return 0
    rec = project.video(video_id)
    fps = read_fingerprints(rec.path, missing, index=project.video_index(video_id),
                            reader=reader, progress=progress, cancel=cancel)
    if fps and not _cancelled(cancel):
        project.set_fingerprints(video_id, fps)
        return len(fps)
    return 0


@dataclass(frozen=True)
class FrameComparison:
    """What :func:`compare_with_video` found (frames ascending).

    Attributes:
        moved: Frames whose labels no longer sit on their picture (including ``missing``).
        missing: Stored frames past the end of the video now.
        checked: Frames compared.
        frame_count: Frames in the video now.
        shift: Whole-video offset of the labeled pictures (see :class:`FrameCheck`), else None.
        reasons: ``{frame: why}`` for every moved or damaged frame.
        cancelled: Stopped early (the rest of the result is incomplete).
        damaged: Frames whose stored fingerprint is not one (not compared, not in ``moved``).
    """

    moved: tuple[int, ...]
    missing: tuple[int, ...]
    checked: int
    frame_count: int
    shift: int | None = None
    reasons: dict[int, str] = field(default_factory=dict)
    cancelled: bool = False
    damaged: tuple[int, ...] = ()


def compare_with_video(
    reader: Any,
    stored: Mapping[int, Fingerprint],
    *,
    progress: Progress | None = None,
    cancel: Cancel = None,
    find_shift: bool = True,
) -> FrameComparison:
    """Compare stored fingerprints with the frames of an open ``reader`` (owned by the caller's
    thread). Signatures are also compared with the frames up to :data:`NEIGHBOURS` away.

    Raises:
        VideoError: a frame cannot be decoded.
    """
    n = len(reader)
    broken = {int(f): why for f, v in stored.items() if (why := fingerprint_problem(v))}
    keys = sorted(int(f) for f in stored if int(f) not in broken)
    missing = [f for f in keys if not 0 <= f < n]
    inside = [f for f in keys if 0 <= f < n]
    need = set(inside)
    for f in inside:
        if isinstance(stored[f], bytes | bytearray):
            need.update(range(f - NEIGHBOURS, f + NEIGHBOURS + 1))
    now = _read_both(reader, need, progress, cancel)
    if _cancelled(cancel):
        return FrameComparison((), (), 0, n, cancelled=True)
    reasons: dict[int, str] = {f: f"the video has only {n} frames now" for f in missing}
    damaged = tuple(sorted(broken))
    for f in inside:
        ref = stored[f]
        near = {d: now[f + d].like(ref) for d in range(-NEIGHBOURS, NEIGHBOURS + 1)
                if d and f + d in now}
        d = where_is_label(ref, now[f].like(ref), near)
        if d == 0:
            reasons[f] = "the picture differs from when it was labeled"
        elif d is not None:
            reasons[f] = (f"the labeled picture is now frame {f + d} "
                          f"({abs(d)} frame{'s' if abs(d) > 1 else ''} "
                          f"{'later' if d > 0 else 'earlier'})")
    shift = None
    if find_shift and reasons and len(inside) >= 3:
        shift = _find_shift(reader, {f: stored[f] for f in inside}, now, n, cancel)
        if shift is not None:
            for f in keys:
                reasons.setdefault(f, f"the labeled pictures are now {abs(shift)} frame(s) "
                                      f"{'later' if shift > 0 else 'earlier'}")
    moved = tuple(sorted(reasons))
    reasons.update(broken)
    return FrameComparison(moved, tuple(missing), len(inside), n, shift, reasons,
                           cancelled=_cancelled(cancel), damaged=damaged)


def check_video_frames(
    project: Project,
    video_id: int,
    *,
    max_distance: int | None = None,
    reader: Any = None,
    progress: Progress | None = None,
    cancel: Cancel = None,
    only_labeled: bool = True,
) -> FrameCheck:
    """Compare every labeled frame's stored fingerprint with the video as it is now.

    ``reader``: an open reader of the video to use (the GUI passes one its worker thread owns);
    ``max_distance`` is ignored (kept for callers; thresholds live in
    ``pose_studio.video.fingerprint``). ``only_labeled=False`` also checks frames that have a
    fingerprint but no user label now (the GUI's view). Never raises for an unreadable video: the result's
    ``error`` says why.
    """
    del max_distance
    rec = project.video(video_id)
    status = project.video_file_status(video_id)
    labeled = set(project.labeled_frames(video_id))
    stored = {f: v for f, v in project.fingerprints(video_id).items()
              if f in labeled or not only_labeled}
    unverified = tuple(sorted(labeled - set(stored)))
    base = FrameCheck(video_id=video_id, path=rec.path, status=status, unverified=unverified,
                      stored_frame_count=rec.frame_count)
    if status.state == "missing" and reader is None:
        return replace(base, error=status.detail or f"{rec.path} is missing")
    try:
        from pose_studio.video import open_video

        own = reader is None
        rd = open_video(rec.path, index=project.video_index(video_id)) if own else reader
        try:
            meta = getattr(rd, "meta", None)
            size_now = (int(meta.width), int(meta.height)) if meta is not None else None
            cmp = compare_with_video(rd, stored, progress=progress, cancel=cancel)
        finally:
            if own:
                rd.close()
    except PoseStudioError as e:
        return replace(base, error=str(e))
    if cmp.cancelled:
        return replace(base, error="cancelled")
    n = cmp.frame_count
    notes = []
    resized: tuple[int, int] | None = None
    if (size_now is not None and getattr(meta, "kind", "file") == "file" and rec.width
            and rec.height and size_now != (rec.width, rec.height)):
        resized = size_now
        notes.append(f"its frames are {size_now[0]}x{size_now[1]} now, {rec.width}x{rec.height} "
                     "when it was added (labels and exports assume the old size)")
    if n != rec.frame_count:
        notes.append(f"the video has {n} frames now, {rec.frame_count} when it was added")
    if cmp.shift is not None:
        s = cmp.shift
        notes.append(f"the labeled pictures are now {abs(s)} frame(s) "
                     f"{'later' if s > 0 else 'earlier'} in the video (frames were "
                     f"{'added' if s > 0 else 'dropped'} at the start)")
    return replace(base, moved=cmp.moved, checked=len(stored) - len(cmp.damaged), frame_count=n,
                   shift=cmp.shift, notes=tuple(notes), reasons=dict(cmp.reasons),
                   size_now=resized, damaged=cmp.damaged)


def _find_shift(
    reader: Any, stored: dict[int, Fingerprint], now: dict[int, _Both], n: int, cancel: Cancel
) -> int | None:
    """The offset ``d`` (|d| <= MAX_SHIFT) for which frames ``f + d`` of the video match the
    stored fingerprints of frames ``f`` clearly better than ``d = 0``, else None."""
    keys = sorted(stored)
    step = max(1, len(keys) // SHIFT_SAMPLES)
    sample = {f: stored[f] for f in keys[::step][:SHIFT_SAMPLES]}  # bounds the decoding work
    need = {f + d for f in sample for d in range(-MAX_SHIFT, MAX_SHIFT + 1)} - set(now)
    fps = dict(now)
    fps.update(_read_both(reader, need, None, cancel))

    def mean_ratio(d: int) -> float | None:
        ds = [mismatch(fps[f + d].like(v), v) for f, v in sample.items() if f + d in fps]
        return sum(ds) / len(ds) if len(ds) >= max(3, len(sample) // 2) else None

    scores = {d: mean_ratio(d) for d in range(-MAX_SHIFT, MAX_SHIFT + 1)}
    valid = {d: s for d, s in scores.items() if s is not None}
    if not valid:
        return None
    best = min(valid, key=lambda d: (valid[d], abs(d)))
    zero = valid.get(0, 10.0)
    if best != 0 and valid[best] <= 0.5 and zero >= 2.0 * valid[best] + 0.2:
        return best
    return None


# --- before writing anything derived from a source --------------------------------------------------
@dataclass(frozen=True)
class SourceChange:
    """What differs between a project's video and the file at its path now.

    Attributes:
        changes: One short phrase per difference ("160x120 now, was 320x240 when added").
    """

    video_id: int
    path: Path
    changes: tuple[str, ...]

    def describe(self) -> str:
        return f"video {self.video_id} ({self.path.name}): {'; '.join(self.changes)}"


class SourceChangedError(PoseStudioError):
    """A source video changed since it was added; nothing derived from it was written."""

    def __init__(self, changed: Sequence[SourceChange], action: str) -> None:
        self.changed = tuple(changed)
        what = " | ".join(c.describe() for c in self.changed)
        super().__init__(
            f"{action} stopped before writing anything: a source changed since it was added: "
            f"{what}. Put the original file back, or re-add the new one as a new video "
            "(`pose-studio info --check` lists the labels that no longer fit)"
        )


def source_changes(
    project: Project, video_ids: Iterable[int] | None = None, *, cancel: Cancel = None
) -> list[SourceChange]:
    """Videos whose file differs from what was added, in what is seen: the frame size, the
    frame count, the pictures at labeled frames (stored fingerprints). A file with the same
    bytes (size and time, or digest) is trusted without reading it; a re-encoded file with the
    same size, frames and pictures passes. Missing files are left to the caller (they cannot
    be read, so nothing is derived from them)."""
    from pose_studio.video import open_video

    ids = [v.id for v in project.videos()] if video_ids is None else list(video_ids)
    out: list[SourceChange] = []
    for vid in ids:
        status = project.video_file_status(vid)
        if status.state in ("same", "missing"):
            continue
        rec = project.video(vid)
        changes: list[str] = []
        if status.state == "changed" and status.detail:
            changes.append(status.detail)
        try:
            with open_video(rec.path, index=project.video_index(vid)) as reader:
                meta = reader.meta
                if meta.kind == "file" and rec.width and rec.height and (
                    (meta.width, meta.height) != (int(rec.width), int(rec.height))
                ):
                    changes.append(f"frames are {meta.width}x{meta.height} now, "
                                   f"{rec.width}x{rec.height} when it was added")
                if len(reader) != int(rec.frame_count):
                    changes.append(f"{len(reader)} frames now, {rec.frame_count} when it was "
                                   "added")
                labeled = set(project.labeled_frames(vid))
                stored = {f: v for f, v in project.fingerprints(vid).items() if f in labeled}
                if stored:
                    cmp = compare_with_video(reader, stored, cancel=cancel, find_shift=False)
                    if cmp.moved:
                        shown = ", ".join(str(f) for f in cmp.moved[:8])
                        more = f" ... ({len(cmp.moved)} in all)" if len(cmp.moved) > 8 else ""
                        changes.append(f"labeled frames {shown}{more} show other pictures now")
        except PoseStudioError as exc:
            changes.append(f"it cannot be read now ({exc})")
        if changes and not (len(changes) == 1 and changes[0] == status.detail):
            out.append(SourceChange(vid, Path(rec.path), tuple(changes)))
    return out


def verify_sources(
    project: Project, video_ids: Iterable[int] | None = None, *, action: str = "export"
) -> None:
    """Raise :class:`SourceChangedError` naming what changed, before ``action`` (export,
    render, infer) writes anything derived from the project's videos.

    Raises:
        SourceChangedError: a video's frame size, frame count or labeled pictures changed.
    """
    changed = source_changes(project, video_ids)
    if changed:
        raise SourceChangedError(changed, action)
