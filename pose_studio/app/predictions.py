"""The one route for model output into the store, with one kind of model-run record.

Live inference ("predict this frame", "run on frame (live)") and batch runs both record their
run with :func:`record_run` and store results with :func:`write_results`, so every prediction
points at a run that says which model, detector, providers and settings made it, and the same
rules decide what is kept:

* a predicted person needs at least :func:`min_keypoints` visible keypoints and an instance
  score of at least :data:`MIN_INSTANCE_SCORE` (a model given the whole frame with nobody in it
  otherwise stores "2 of 17 points on a red ball");
* a frame whose new result is empty loses that run's older predictions there (labels and other
  runs always stay).

Live predictions and the shown run (:func:`write_live`): a video shows one run (A) and maybe a
second (B). "Predict this frame" with the model that made A (same file hash, detector and
settings) writes into A, so after a batch run the timeline keeps every frame of it; the same for
B. Another model writes into its own live run, and what was on screen stays on screen: the new
run becomes A when the video follows its newest run (the old A turns B when no B is chosen), or
B when the user pinned A.

:func:`people_boxes` gives a batch run the people already on each frame, by the same rule as the
window (:mod:`pose_studio.core.people`). Safe from a worker thread: the store gives each thread
its own connection, and only frozen values cross.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from pose_studio.core import people
from pose_studio.core.annotation import Instance
from pose_studio.core.errors import PoseStudioError
from pose_studio.inference.keypoint_map import fill_instance, names_mapping
from pose_studio.store.project import Project

__all__ = [
    "MIN_INSTANCE_SCORE",
    "NO_DETECTOR_WARNING",
    "LiveWrite",
    "ModelInfo",
    "keep",
    "min_keypoints",
    "people_boxes",
    "record_run",
    "same_model",
    "write_live",
    "write_results",
]

#: Predicted people scoring under this are not stored.
MIN_INSTANCE_SCORE = 0.2

#: The warning recorded with a top-down model loaded without a detector.
NO_DETECTOR_WARNING = ("no detector: frames are cropped to the people already on them, else "
                       "taken whole as one person")


def min_keypoints(k: int) -> int:
    """Fewest visible keypoints a stored prediction has: a quarter of the skeleton, at least 3
    (all of a skeleton smaller than that)."""
    return min(k, max(3, k // 4))


@dataclass(frozen=True)
class ModelInfo:
    """The loaded model(s), as the window shows them and model runs record them.

    Attributes:
        top_down: The model crops people (needs boxes: a detector, known people, or the whole
            frame); False for one-stage models that find people themselves.
        params: The model's own settings (input size, thresholds...), recorded with each run.
    """

    pose_path: str
    detector_path: str | None
    family: str
    keypoints: tuple[str, ...]
    skeleton: Any
    input_size: tuple[int, int] | None
    providers: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    requested_provider: str = "auto"
    #: sha256 of the model file, computed in the worker at load (never on the GUI thread).
    model_hash: str = ""
    top_down: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def needs_boxes(self) -> bool:
        """Top-down without a detector: the boxes come from the people on the frame."""
        return self.top_down and not self.detector_path


class RunStore(Protocol):
    def create_model_run(self, *, model_path: str, model_hash: str, providers: Iterable[str],
                         params: Mapping[str, Any]) -> int: ...


def record_run(project: RunStore, info: ModelInfo, *, mode: str, **params: Any) -> int:
    """Record one model run (``mode`` ``live`` or ``batch``) and return its id."""
    return int(project.create_model_run(
        model_path=info.pose_path, model_hash=info.model_hash, providers=list(info.providers),
        params={"mode": mode, "family": info.family, "detector": info.detector_path,
                "pose": dict(info.params), "warnings": list(info.warnings),
                "min_instance_score": MIN_INSTANCE_SCORE, **params},
    ))


def keep(inst: Instance) -> bool:
    """Whether a predicted person is worth storing (see the module docstring)."""
    if int(inst.labeled.sum()) < min_keypoints(inst.num_keypoints):
        return False
    score = inst.mean_score()
    return score is None or not np.isfinite(score) or score >= MIN_INSTANCE_SCORE


class Result(Protocol):
    """A frame's model output (``pose_studio.inference.FrameResult``)."""

    @property
    def frame_idx(self) -> int: ...
    @property
    def instances(self) -> Sequence[Instance]: ...


def write_results(project: Project, video_id: int, results: Iterable[Result],
                  run_id: int | None, keypoints: Sequence[str] = ()) -> tuple[int, int]:
    """Store the results of some frames (replacing those frames' predictions), in one
    transaction for the stored people and one for frames left empty.

    ``keypoints``: the model's keypoint names; when the project's skeleton names others (the
    user edited it), each keypoint is stored under its own name and the project keypoints the
    model lacks are left unlabeled; only a model whose names share none with the project's
    (generic ``kp0``, ``kp1``...) and has as many keypoints is stored by position.

    Returns:
        ``(frames written, people dropped by the rules)``.

    Raises:
        PoseStudioError: the model's keypoints share no name with the project's.
    """
    sk: Any = getattr(project, "skeleton", None)  # (stores without a skeleton: by position)
    idx = names_mapping(keypoints, sk) if keypoints and sk is not None else None
    if idx is not None and not (idx >= 0).any():
        if len(keypoints) == sk.num_keypoints:
            idx = None  # no shared names (a model with generic kp0, kp1...): by position
        else:
            raise PoseStudioError(
                f"the model's keypoints ({', '.join(list(keypoints)[:4])}, ...) share no name "
                f"with the project skeleton's ({', '.join(sk.keypoints[:4])}, ...): nothing "
                "was stored")
    items: list[tuple[int, Instance]] = []
    empty: list[int] = []
    n_frames = dropped = 0
    for r in results:
        n_frames += 1
        insts = r.instances if idx is None else [fill_instance(i, idx) for i in r.instances]
        kept = [i.replace(model_run_id=run_id) for i in insts if keep(i)]
        dropped += len(insts) - len(kept)
        if kept:
            items.extend((int(r.frame_idx), i) for i in kept)
        else:
            empty.append(int(r.frame_idx))
    if items:
        project.add_predictions(video_id, items, run_id, replace=True)
    if empty:  # only this run's: other runs are kept side by side
        project.delete_predictions(video_id, empty, run=run_id)
    return n_frames, dropped


def _plain(value: Any) -> Any:
    """``value`` as its JSON record reads back (tuples become lists)."""
    return json.loads(json.dumps(value, default=str))


def same_model(record: Any, info: ModelInfo) -> bool:
    """Whether the run ``record`` (a ``ModelRunRecord``) was made by the loaded model: the same
    file (its hash, else its path), detector and settings."""
    if info.model_hash and record.model_hash:
        if record.model_hash != info.model_hash:
            return False
    elif str(record.model_path) != info.pose_path:
        return False
    params = record.params if isinstance(record.params, dict) else {}
    # runs recorded elsewhere (``infer``, ``demo``) may lack keys: the file, the detector and
    # the pose settings they state decide
    pose = params.get("pose")
    return (params.get("detector") == info.detector_path
            and (not isinstance(pose, dict) or pose == _plain(dict(info.params))))


@dataclass(frozen=True)
class LiveWrite:
    """What :func:`write_live` did: the run written (``slot`` ``"A"`` or ``"B"`` of the video;
    ``created``: a new live run), frames, people dropped by the rules, and ``note``: a line for
    the user when what the video shows changed (else "")."""

    run_id: int
    slot: str
    frames: int
    dropped: int
    created: bool = False
    note: str = ""


def _run_label(project: Project, run_id: int | None) -> str:
    from pose_studio.store.runs import model_label

    for r in project.model_runs():
        if r.id == run_id:
            return f"run {run_id} ({model_label(r.model_path, r.params)})"
    return "predictions without a run" if run_id is None else f"run {run_id}"


def write_live(project: Project, video_id: int, info: ModelInfo, results: Sequence[Result],
               own_run: int | None = None) -> LiveWrite:
    """Store live results ("predict this frame", "run on frame") on a video by the rule of the
    module docstring. ``own_run``: the live run this model was given before (None: none)."""
    before = project.shown_runs(video_id)
    records = {r.id: r for r in project.model_runs()}
    target: int | None = None
    for rid in (before.run_id, before.compare_run_id):
        if rid is not None and rid in records and same_model(records[rid], info):
            target = rid
            break
    created = False
    if target is None:
        if own_run is not None and own_run in records and same_model(records[own_run], info):
            target = own_run
        else:
            target = record_run(project, info, mode="live")
            created = True
    n, dropped = write_results(project, video_id, results, target, info.keypoints)
    after = project.shown_runs(video_id)
    note = ""
    if after.run_id == target:
        old = before.run_id
        if old is not None and old != target and after.compare_run_id is None and \
                any(i.run_id == old for i in project.run_infos(video_id)):
            after = project.set_shown_runs(video_id, "newest" if not after.pinned else target,
                                           compare=old)
            note = (f"{_run_label(project, target)} is shown as A; {_run_label(project, old)} "
                    "stays visible as B")
    elif after.compare_run_id != target and any(
            i.run_id == target for i in project.run_infos(video_id)):
        after = project.set_shown_runs(video_id, after.run_id if after.pinned else "newest",
                                       compare=target)
        note = f"{_run_label(project, target)} is shown as B beside the run you chose"
    slot = "A" if after.run_id == target else "B"
    return LiveWrite(int(target), slot, n, dropped, created, note)


def people_boxes(project: Project, video_id: int, start: int, stop: int,
                 cancelled: Callable[[], bool] = lambda: False) -> dict[int, np.ndarray]:
    """``{frame: (n, 4) xyxy}`` of the people already on frames ``[start, stop)``: labels, and
    predictions no label stands for (:func:`pose_studio.core.people.person_boxes`)."""
    by_frame: dict[int, list[Instance]] = {}
    for i, (_v, f, inst) in enumerate(project.iter_instances("all", video_id)):
        if i % 4096 == 0 and cancelled():
            break
        if start <= f < stop:
            by_frame.setdefault(f, []).append(inst)
    out: dict[int, np.ndarray] = {}
    for f, insts in by_frame.items():
        boxes = people.person_boxes(insts)
        if boxes is not None:
            out[f] = boxes
    return out
