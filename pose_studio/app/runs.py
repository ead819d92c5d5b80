"""Model runs in the window, Qt-free: the run picker's rows, A and B (toggle, swap, choose), the
second run's predictions on the shown frame, and "did the retrained model get better, and
where" (:func:`compare_report`, for a background job).

A video shows one run (A: its newest unless the user chose one, then pinned) and optionally a
second (B), drawn in a second colour. The keys act on A; B is for looking (swap to work on it).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pose_studio.core.annotation import Instance
from pose_studio.core.errors import PoseStudioError

__all__ = ["ABMemory", "CompareReport", "KeypointRow", "RunRow", "compare_predictions",
           "compare_report", "run_rows", "verdict"]


@dataclass(frozen=True)
class RunRow:
    """One run with predictions on a video, as the run picker lists it."""

    run_id: int | None
    name: str
    mode: str
    created_at: float
    frames: int
    first_frame: int
    last_frame: int
    predictions: int
    model_path: str = ""
    detector: str | None = None
    is_a: bool = False
    is_b: bool = False

    @property
    def key(self) -> str:
        return "no run" if self.run_id is None else f"run {self.run_id}"

    @property
    def date_text(self) -> str:
        if not self.created_at:
            return ""
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created_at))

    @property
    def span_text(self) -> str:
        return (f"{self.frames} frame{'s' if self.frames != 1 else ''} "
                f"({self.first_frame}–{self.last_frame})" if self.frames > 1
                else f"1 frame ({self.first_frame})")

    @property
    def title(self) -> str:
        """``"run 5 · pose.onnx (batch)"``: the legend's words for the run."""
        what = self.name or ("imported predictions" if self.run_id is None else "?")
        return f"{self.key} · {what}" + (f" ({self.mode})" if self.mode else "")


def run_rows(project: Any, video_id: int) -> list[RunRow]:
    """The runs with predictions on ``video_id``, newest first (predictions without a run
    last), with which one is A and which B."""
    shown = project.shown_runs(video_id)
    rows = []
    for i in project.run_infos(video_id):
        params = i.params or {}
        mode = str(params.get("mode", "")) if i.run_id is not None else "imported"
        det = params.get("detector")
        rows.append(RunRow(i.run_id, i.model_name, mode, i.created_at, i.frames, i.first_frame,
                           i.last_frame, i.instances, i.model_path,
                           str(det) if det else None, i.run_id == shown.run_id,
                           shown.compare_run_id is not None
                           and i.run_id == shown.compare_run_id))
    rows.sort(key=lambda r: -1 if r.run_id is None else r.run_id, reverse=True)
    return rows


def compare_predictions(project: Any, video_id: int, frame_idx: int,
                        run_id: int | None) -> list[Instance]:
    """B's predictions on a frame: all of them, labeled people too (comparing two runs is
    about how each fits the labels)."""
    if run_id is None:
        return []
    return project.instances(video_id, frame_idx, kind="predicted", run=run_id)


class ABMemory:
    """Toggling B off and on again brings the same run back (per video, for the session)."""

    def __init__(self) -> None:
        self._last_b: dict[int, int] = {}

    def toggle(self, session: Any) -> str:
        """B off when shown, else on (the last B of this video, else the newest other run).
        Returns a line for the status bar."""
        shown = session.shown_runs()
        if shown is None:
            raise PoseStudioError("open a video first")
        vid = int(session.video_id)
        if shown.compare_run_id is not None:
            self._last_b[vid] = int(shown.compare_run_id)
            session.set_shown_runs("newest" if not shown.pinned else shown.run_id, compare=None)
            return "second run (B) hidden: B shows it again"
        rows = run_rows(session.project, vid)
        if not rows:
            raise PoseStudioError("this video has no predictions yet: run a model first "
                                  "(Model panel)")
        others = [r for r in rows if r.run_id is not None and r.run_id != shown.run_id]
        if not others:
            raise PoseStudioError("this video has one model run: run another model (or this "
                                  "one on other settings) to compare two")
        want = self._last_b.get(vid)
        pick = next((r for r in others if r.run_id == want), others[0])
        session.set_shown_runs("newest" if not shown.pinned else shown.run_id,
                               compare=pick.run_id)
        return f"B: {pick.title} (B hides it, Shift+B swaps A and B)"

    def swap(self, session: Any) -> str:
        shown = session.shown_runs()
        if shown is None or shown.compare_run_id is None:
            raise PoseStudioError("no second run (B) is shown: B picks one (or the Runs panel)")
        if shown.run_id is None:
            raise PoseStudioError("imported predictions cannot be the second run: choose a "
                                  "model run as A in the Runs panel")
        session.set_shown_runs(shown.compare_run_id, compare=shown.run_id)
        return f"A is now run {shown.compare_run_id}, B run {shown.run_id}"

    def forget(self) -> None:
        self._last_b.clear()


# --- did the retrained model get better, and where --------------------------------------------
@dataclass(frozen=True)
class KeypointRow:
    name: str
    oks_a: float
    oks_b: float

    @property
    def delta(self) -> float:
        return self.oks_b - self.oks_a


@dataclass(frozen=True, eq=False)
class CompareReport:
    """What the comparison view shows: each run's scores (``comparison``), per-keypoint OKS of
    A and B, the frames that changed most (``comparison.changed``) and one verdict line.
    Its arrays are read-only (it crosses from the worker thread)."""

    a: int | None
    b: int | None
    video_ids: tuple[int, ...]
    comparison: Any  # pose_studio.inference.compare.RunComparison
    keypoints: tuple[KeypointRow, ...]
    verdict: str
    #: B is the newer run: changes read "B − A" (else "A − B"), as the verdict speaks of the
    #: newer run against the older one.
    newer_is_b: bool = True

    def change(self, oks_a: float, oks_b: float) -> float:
        """Newer minus older (positive: the newer run is better there)."""
        return oks_b - oks_a if self.newer_is_b else oks_a - oks_b

    @property
    def change_label(self) -> str:
        return "B − A" if self.newer_is_b else "A − B"


def _freeze(obj: Any) -> None:
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, np.ndarray):
            v.setflags(write=False)


def _fmt(v: float) -> str:
    return "-" if not math.isfinite(v) or v < 0 else f"{v:.3f}"


def verdict(cmp: Any, newer_is_b: bool = True) -> str:
    """One line: did the newer run get better, by how much, and on which keypoints."""
    a, b = cmp.a, cmp.b
    if cmp.labels == 0:
        return ("No labels on these frames: AP needs your labels (accept or draw some). The "
                "list shows where the two runs disagree most.")
    old, new = (a, b) if newer_is_b else (b, a)
    d = new.scores.ap - old.scores.ap
    word = "better" if d > 0.005 else "worse" if d < -0.005 else "about the same"
    kd = new.scores.keypoint_oks - old.scores.keypoint_oks
    ok = np.isfinite(kd)
    up, down = int((kd[ok] > 0.005).sum()), int((kd[ok] < -0.005).sum())
    line = (f"{new.name} (run {new.run_id}) is {word} than {old.name} (run {old.run_id}): "
            f"AP {_fmt(old.scores.ap)} → {_fmt(new.scores.ap)} ({d:+.3f}) on {cmp.labels} "
            f"labeled people, {cmp.labeled_frames} frames")
    if ok.any():
        names = cmp.keypoint_names
        best, worst = int(np.nanargmax(np.where(ok, kd, -np.inf))), \
            int(np.nanargmin(np.where(ok, kd, np.inf)))
        line += f"; better on {up} keypoints, worse on {down}"
        if kd[best] > 0.005:
            line += f" (most gained: {names[best]} {kd[best]:+.3f}"
            line += f", most lost: {names[worst]} {kd[worst]:+.3f})" if kd[worst] < -0.005 \
                else ")"
        elif kd[worst] < -0.005:
            line += f" (most lost: {names[worst]} {kd[worst]:+.3f})"
    return line + "."


def compare_report(project: Any, run_a: int | None, run_b: int | None,
                   video_ids: Sequence[int], *, top: int = 50,
                   progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> CompareReport:
    """Score A and B against the labels of ``video_ids`` (on a worker thread: the store gives
    it its own connection)."""
    from pose_studio.inference.compare import compare_runs

    cmp = compare_runs(project, run_a, run_b, video_ids=video_ids, top=top,
                       progress=progress, cancelled=cancelled)
    for e in (cmp.a, cmp.b):
        _freeze(e.scores)
    ka, kb = cmp.a.scores.keypoint_oks, cmp.b.scores.keypoint_oks
    rows = tuple(KeypointRow(n, float(ka[k]), float(kb[k]))
                 for k, n in enumerate(cmp.keypoint_names))
    newer_is_b = _newer(run_b, run_a)
    return CompareReport(run_a, run_b, tuple(int(v) for v in video_ids), cmp, rows,
                         verdict(cmp, newer_is_b), newer_is_b)


def _newer(x: int | None, y: int | None) -> bool:
    """Whether run ``x`` is newer than ``y`` (ids grow with time; no run is oldest)."""
    return (-1 if x is None else x) > (-1 if y is None else y)
