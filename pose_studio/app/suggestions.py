"""Frame suggestions: compute them (the sources of ``core.suggest``), keep them in the project
with done marks (``store.suggestions``), and step through them across videos.

One frame is one suggestion: its kinds and reasons merged, its best score. Next/previous walk
the project in video order, then frame order, skipping the ones marked done, and wrap around.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from pose_studio.core import suggest as sg
from pose_studio.core.errors import PoseStudioError
from pose_studio.store import suggestions as store
from pose_studio.store.suggestions import SuggestionRecord

from .proposal_edits import video_items

__all__ = ["DEFAULT_KINDS", "KINDS", "SuggestionRecord", "compute", "generate", "keep",
           "mark_done", "merge", "step", "stored"]

#: kind -> what it finds (the panel's check boxes and ``pose-studio suggest --kinds``).
KINDS: dict[str, str] = {
    "uniform": "evenly spaced frames",
    "diverse": "diverse frames (k-means on the image)",
    "confidence": "lowest keypoint confidence",
    "jumps": "temporal jumps of a tracked keypoint",
    "swaps": "likely left/right swaps",
    "identities": "likely identity switches",
}
DEFAULT_KINDS = ("confidence", "jumps", "swaps", "identities")


def merge(found: Iterable[tuple[str, sg.Suggestion]]) -> list[SuggestionRecord]:
    """One record per (video, frame): kinds and reasons by score, the best score."""
    groups: dict[tuple[int, int], list[tuple[str, sg.Suggestion]]] = {}
    for kind, s in found:
        groups.setdefault((s.video_id, s.frame), []).append((kind, s))
    out = []
    for (v, f), group in sorted(groups.items()):
        group.sort(key=lambda t: -t[1].score)
        kinds = tuple(dict.fromkeys(k for k, _ in group))
        reasons = "; ".join(dict.fromkeys(s.reason for _, s in group))
        out.append(SuggestionRecord(v, f, kinds, reasons, float(group[0][1].score)))
    return out


def compute(project: Any, kinds: Sequence[str], count: int, *,
            video_ids: Sequence[int] | None = None, sample: int = 400,
            cancel: Callable[[], bool] | None = None,
            progress: Callable[[int, int], None] | None = None,
            open_reader: Callable[[str, bytes | None], Any] | None = None
            ) -> list[SuggestionRecord]:
    """Suggestions of ``kinds`` on the videos (all, or ``video_ids``): ``count`` per source
    and video where a source ranks (uniform, diverse, confidence), every hit for the others.

    Raises:
        PoseStudioError: an unknown kind.
    """
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise PoseStudioError(f"unknown suggestion kind {bad[0]!r}: use {', '.join(KINDS)}")
    sk = project.skeleton
    videos = [v for v in project.videos() if video_ids is None or int(v.id) in video_ids]
    found: list[tuple[str, sg.Suggestion]] = []
    for n, v in enumerate(videos):
        if cancel is not None and cancel():
            break
        vid = int(v.id)
        items = video_items(project, vid)
        preds = [(f, i) for f, i in items if i.is_prediction]
        if "uniform" in kinds:
            found += [("uniform", s) for s in sg.uniform(vid, v.frame_count, count)]
        if "diverse" in kinds and not v.missing:
            found += [("diverse", s) for s in _diverse(project, v, count, sample, open_reader)]
        if "confidence" in kinds:
            found += [("confidence", s) for s in sg.low_confidence(vid, preds, count)]
        if "jumps" in kinds:
            found += [("jumps", s) for s in sg.temporal_jumps(vid, preds)]
        if "swaps" in kinds:
            found += [("swaps", s) for s in sg.swaps(vid, items, sk)]
        if "identities" in kinds:
            found += [("identities", s) for s in sg.identity_switches(vid, items,
                                                                       sk.sigma_array())]
        if progress is not None:
            progress(n + 1, len(videos))
    return merge(found)


def _diverse(project: Any, v: Any, count: int, sample: int,
             open_reader: Callable[[str, bytes | None], Any] | None) -> list[sg.Suggestion]:
    from pose_studio.labeling.features import frame_features

    if open_reader is None:
        from pose_studio.video import open_video

        def open_reader(path: str, index: bytes | None) -> Any:
            return open_video(path, index=index)

    frames = [int(f) for f in np.unique(np.linspace(0, v.frame_count - 1,
                                                    min(sample, v.frame_count)).astype(int))]
    reader = open_reader(str(v.path), project.video_index(int(v.id)))
    try:
        feats = frame_features(reader.get, frames)
    finally:
        reader.close()
    return sg.diverse(int(v.id), frames, feats, count)


def generate(project: Any, kinds: Sequence[str], count: int, *,
             video_ids: Sequence[int] | None = None, **kw: Any) -> list[SuggestionRecord]:
    """Compute and store (replacing the not-done ones of those videos); returns the project's
    suggestions after it."""
    got = compute(project, kinds, count, video_ids=video_ids, **kw)
    vids = [int(v.id) for v in project.videos() if video_ids is None or int(v.id) in video_ids]
    store.replace(project, vids, got)
    return store.list_suggestions(project)


def step(records: Sequence[SuggestionRecord], video_order: Sequence[int], video_id: int | None,
         frame: int, direction: int, *, include_done: bool = False) -> SuggestionRecord | None:
    """The next (``direction`` > 0) or previous suggestion after ``(video_id, frame)`` in
    project order (videos as listed, then frames), not done unless ``include_done``; wraps.
    None when there is none."""
    pos = {int(v): i for i, v in enumerate(video_order)}
    todo = [r for r in records if (include_done or not r.done) and r.video_id in pos]
    if not todo:
        return None
    todo.sort(key=lambda r: (pos[r.video_id], r.frame))
    here = (pos.get(video_id, -1) if video_id is not None else -1, frame)
    if direction > 0:
        after = [r for r in todo if (pos[r.video_id], r.frame) > here]
        return after[0] if after else todo[0]
    before = [r for r in todo if (pos[r.video_id], r.frame) < here]
    return before[-1] if before else todo[-1]


# --- the window's doors (GUI thread; the session's project and user) ----------------------------
def stored(s: Any) -> list[SuggestionRecord]:
    """The session's project's suggestions (empty without a project)."""
    return [] if s.project is None else store.list_suggestions(s.project)


def keep(s: Any, video_ids: Sequence[int], found: Sequence[SuggestionRecord]) -> int:
    """Store what a search found (replacing the not-done ones of those videos)."""
    return store.replace(s.require(), video_ids, found)


def mark_done(s: Any, video_id: int, frame: int, done: bool) -> bool:
    """Mark a suggestion done (by the session's user), or not; False: no such suggestion."""
    return store.set_done(s.require(), video_id, frame, done, s.user)
