"""Did the retrained model get better, and where: model runs scored against the user's labels.

Qt-free functions the window (and ``pose-studio compare``) call::

    ev = evaluate_run(project, run_id, video_ids=[vid])   # per-frame / per-keypoint OKS, AP
    cmp = compare_runs(project, run_a, run_b, video_ids=[vid])
    cmp.a.scores.frame_oks, cmp.b.scores.frame_oks        # aligned on cmp.a.scores.frames
    cmp.changed                                           # frames that changed most

Frames of several videos are pooled (AP over all their labeled frames); frame keys carry the
video (``FrameKey``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pose_studio.core.run_eval import Points, RunScores, agreement, score_run
from pose_studio.inference.errors import InferenceError

#: frame keys pool several videos: ``video_position << 32 | frame``
_SHIFT = 32


@dataclass(frozen=True)
class FrameKey:
    video_id: int
    frame_idx: int


@dataclass(frozen=True, eq=False)
class RunEvaluation:
    """One run against the labels of ``video_ids``.

    ``scores.frames`` are pooled keys: use :meth:`frame_keys` for (video, frame).
    """

    run_id: int | None
    name: str
    video_ids: tuple[int, ...]
    scores: RunScores
    predicted_frames: int
    predictions: int

    def frame_keys(self) -> list[FrameKey]:
        return [_key(self.video_ids, int(k)) for k in self.scores.frames]


@dataclass(frozen=True)
class FrameChange:
    """A frame where the runs differ: OKS of each against the labels (NaN: unlabeled frame)
    and how alike the two runs' predictions are (1: the same)."""

    key: FrameKey
    oks_a: float
    oks_b: float
    agreement: float

    @property
    def delta(self) -> float:
        return self.oks_b - self.oks_a


@dataclass(frozen=True, eq=False)
class RunComparison:
    a: RunEvaluation
    b: RunEvaluation
    keypoint_names: tuple[str, ...]
    labels: int
    labeled_frames: int
    changed: tuple[FrameChange, ...]


def _key(video_ids: Sequence[int], k: int) -> FrameKey:
    return FrameKey(int(video_ids[k >> _SHIFT]), int(k & ((1 << _SHIFT) - 1)))


def _points(project: Any, video_ids: Sequence[int], run: Any, kind: str) -> Points:
    parts = []
    for pos, vid in enumerate(video_ids):
        rk = project.run_keypoints(vid, run, kind=kind)
        parts.append(Points((np.int64(pos) << _SHIFT) + rk.frames, rk.xy, rk.vis, rk.score,
                            rk.boxes))
    if len(parts) == 1:
        return parts[0]
    return Points(*(np.concatenate([getattr(p, f) for p in parts])
                    for f in ("frames", "xy", "vis", "score", "boxes")))


def _videos(project: Any, video_ids: Sequence[int] | None) -> tuple[int, ...]:
    ids = tuple(v.id for v in project.videos()) if video_ids is None else tuple(video_ids)
    if not ids:
        raise InferenceError(f"project {project.path} has no videos")
    return ids


def _run_name(project: Any, run: int | None) -> str:
    if run is None:
        return "predictions without a run"
    from pose_studio.store.runs import model_label

    for r in project.model_runs():
        if r.id == run:
            return model_label(r.model_path, r.params) or f"run {run}"
    return f"run {run}"


def _no_run(project: Any, run: int | None, video_ids: Sequence[int]) -> InferenceError:
    have = {i.run_id for i in project.run_infos() if i.video_id in video_ids}
    listed = ", ".join("none" if r is None else str(r)
                       for r in sorted(have, key=lambda r: -1 if r is None else r))
    what = "predictions without a run" if run is None else f"model run {run}"
    where = f"video {video_ids[0]}" if len(video_ids) == 1 else "these videos"
    return InferenceError(f"{where} of {project.path} has no {what} (runs with predictions: "
                          f"{listed or 'none'})")


def _predictions(project: Any, vids: Sequence[int], run: int | None) -> Points:
    dt = _points(project, vids, run, "predicted")
    if len(dt) == 0:
        raise _no_run(project, run, vids)
    return dt


def evaluate_run(project: Any, run: int | None, *, video_ids: Sequence[int] | None = None,
                 labels: Points | None = None, predictions: Points | None = None
                 ) -> RunEvaluation:
    """Score a run's predictions against the user's labels: per label, frame and keypoint
    OKS, and COCO AP over the labeled frames (``labels``/``predictions``: already read)."""
    vids = _videos(project, video_ids)
    gt = labels if labels is not None else _points(project, vids, None, "user")
    dt = predictions if predictions is not None else _predictions(project, vids, run)
    scores = score_run(gt, dt, project.skeleton.sigma_array())
    return RunEvaluation(run, _run_name(project, run), vids, scores,
                         int(np.unique(dt.frames).size), len(dt))


def compare_runs(project: Any, run_a: int | None, run_b: int | None, *,
                 video_ids: Sequence[int] | None = None, top: int = 10,
                 progress: Callable[[int, int], None] | None = None,
                 cancelled: Callable[[], bool] | None = None) -> RunComparison:
    """Two runs against the same labels, and the frames that changed most: labeled frames by
    how much their OKS changed, then frames where the two runs disagree most.

    ``progress(done, total)`` is called after each of its steps; when ``cancelled()`` turns
    true it stops between steps (:class:`InferenceError`). Safe on a worker thread.
    """
    steps = 6

    def step(done: int) -> None:
        if cancelled is not None and cancelled():
            raise InferenceError("the comparison was cancelled")
        if progress is not None:
            progress(done, steps)

    vids = _videos(project, video_ids)
    step(0)
    pa = _predictions(project, vids, run_a)
    step(1)
    pb = _predictions(project, vids, run_b)
    step(2)
    gt = _points(project, vids, None, "user")
    step(3)
    ea = evaluate_run(project, run_a, video_ids=vids, labels=gt, predictions=pa)
    step(4)
    eb = evaluate_run(project, run_b, video_ids=vids, labels=gt, predictions=pb)
    step(5)
    keys = np.union1d(np.union1d(pa.frames, pb.frames), ea.scores.frames)
    agree = agreement(pa, pb, project.skeleton.sigma_array(), keys)
    oks_a = np.full(len(keys), np.nan)
    oks_b = np.full(len(keys), np.nan)
    pos = np.searchsorted(keys, ea.scores.frames)
    oks_a[pos] = ea.scores.frame_oks
    oks_b[pos] = eb.scores.frame_oks
    labeled = np.isfinite(oks_a)
    delta = np.abs(oks_b - oks_a)
    # labeled frames first (by |change of OKS|), then unlabeled ones by disagreement
    rank = np.where(labeled, 2.0 + np.nan_to_num(delta), 1.0 - agree)
    ranked = np.argsort(-rank, kind="stable")
    order = [int(i) for i in ranked if (labeled[i] and delta[i] > 1e-9) or
             (not labeled[i] and agree[i] < 1.0 - 1e-9)][:max(0, top)]
    changed = tuple(FrameChange(_key(vids, int(keys[i])), float(oks_a[i]), float(oks_b[i]),
                                float(agree[i])) for i in order)
    if progress is not None:
        progress(steps, steps)
    return RunComparison(ea, eb, tuple(project.skeleton.keypoints),
                         int((gt.vis > 0).any(axis=1).sum()),
                         int(np.unique(gt.frames).size), changed)
