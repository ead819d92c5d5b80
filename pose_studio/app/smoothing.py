"""Smoothing a model run's tracks into a NEW model run (issue 15: never in place).

The verb the window's *Tracks ▸ Smooth Predictions Into a New Run* and ``pose-studio smooth``
share. Predictions are grouped by track; a run without tracks is one track when it has at most
one prediction a frame (a single animal), and otherwise the untracked predictions are left out
and counted (smoothing across people would blend them). The new run is shown, the source run
is kept untouched, and choosing the old run in the Runs panel brings it back. Writing it is one
step of the history: undo removes the new run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pose_studio.core.annotation import Instance
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.smoothing import Method, SmoothingError, smooth_track
from pose_studio.labeling.project_io import video_items, write_new_run

__all__ = ["SmoothRequest", "SmoothResult", "smooth_run"]


@dataclass(frozen=True)
class SmoothRequest:
    video_id: int
    run: int | str | None = "shown"  # a run id, None (predictions without a run) or "shown"
    method: Method = "one-euro"
    window: int = 7  # Savitzky-Golay
    order: int = 2
    min_cutoff: float = 1.0  # One-Euro
    beta: float = 0.05


@dataclass(frozen=True)
class SmoothResult:
    run_id: int
    source_run: int | None
    tracks: int
    instances: int
    left_out: int  # untracked predictions on frames with several
    shown: bool  # False where the user chose the shown run (then it stays)

    def message(self) -> str:
        src = "predictions without a run" if self.source_run is None else \
            f"model run {self.source_run}"
        out = (f"smoothed {self.instances} predictions of {self.tracks} track(s) of {src} into "
               f"model run {self.run_id} ("
               + ("shown" if self.shown else "kept beside the run you chose to show")
               + "; the source run is kept)")
        if self.left_out:
            out += (f"; {self.left_out} untracked predictions on frames with several people "
                    "were left out (track them first)")
        return out


def smooth_run(project: Any, req: SmoothRequest, user: str | None = None) -> SmoothResult:
    """Smooth ``req.run`` of one video into a new shown run, in one transaction and one step
    of ``user``'s history (undo removes the new run).

    Raises:
        PoseStudioError: no such run on the video, nothing to smooth, or bad parameters.
    """
    source: int | None = project.shown_runs(req.video_id).run_id if req.run == "shown" \
        else (None if req.run is None else int(req.run))
    fps = next((float(v.fps) for v in project.videos() if v.id == req.video_id), 25.0)
    items = [(f, i) for f, i in video_items(project, req.video_id, source="predicted",
                                             run=source) if i.model_run_id == source]
    if not items:
        what = "predictions without a run" if source is None else f"model run {source}"
        raise PoseStudioError(f"video {req.video_id} has no {what} to smooth")
    groups: dict[Any, list[tuple[int, Instance]]] = defaultdict(list)
    for f, inst in items:
        groups[inst.track_id].append((f, inst))
    left_out = 0
    untracked = groups.pop(None, [])
    if untracked:
        per_frame: dict[int, int] = defaultdict(int)
        for f, _ in untracked:
            per_frame[f] += 1
        if groups or max(per_frame.values()) > 1:
            left_out = len(untracked)
        else:
            groups["single"] = untracked  # one animal: its predictions are one track
    if not groups:
        raise PoseStudioError(f"the {len(untracked)} predictions of video {req.video_id} have no "
                              "tracks and several share a frame: run the tracker first "
                              "(pose-studio track, or Tracks ▸ Track Predictions)")
    out: list[tuple[int, Instance]] = []
    try:
        for track in groups.values():
            out += smooth_track(track, req.method, window=req.window, order=req.order,
                                fps=fps if fps > 0 else 25.0, min_cutoff=req.min_cutoff,
                                beta=req.beta)
    except SmoothingError as e:
        raise PoseStudioError(str(e)) from e
    model_path = ""
    for info in project.run_infos(req.video_id):
        if info.run_id == source:
            model_path = info.model_path
    params: dict[str, Any] = {"smoothed_from": source, "method": req.method}
    params.update({"window": req.window, "order": req.order} if req.method == "savgol" else
                  {"min_cutoff": req.min_cutoff, "beta": req.beta})
    src = "predictions without a run" if source is None else f"model run {source}"
    run_id = write_new_run(project, req.video_id, out, model_path=model_path or "smoothed",
                           model_hash="", params=params, label=f"smooth {src} ({req.method})",
                           user=user)
    shown = project.shown_runs(req.video_id).run_id == run_id
    return SmoothResult(run_id, source, len(groups), len(out), left_out, shown)
