"""The store side of the labeling tools that is not an edit: read a video's instances, and
store derived predictions (smoothing) as a new model run.

Labels, and the tracks of predictions, change through the edit journal (``pose_studio.app``:
``proposal_edits``, ``carry``, ``tracks``): one step each, undoable from the window and from
``pose-studio undo``. Model output is not a history step (it is recomputable and kept run by
run), so a new run of smoothed predictions is written here, in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pose_studio.core.annotation import Instance
from pose_studio.store.project import Project

Items = list[tuple[int, Instance]]


def video_items(project: Project, video_id: int, frames: tuple[int, int] | None = None,
                source: Any = "all", run: Any = "shown") -> Items:
    """``(frame, instance)`` of one video (optionally a half-open frame range); predictions of
    the video's shown model run unless ``run`` names another (or ``"all"``)."""
    out: Items = []
    for _, f, inst in project.iter_instances(source, video_id, run=run):
        if frames is None or frames[0] <= f < frames[1]:
            out.append((f, inst))
    return out


def write_new_run(project: Project, video_id: int, items: list[tuple[int, Instance]], *,
                  model_path: str, model_hash: str, params: Mapping[str, Any],
                  label: str = "new model run", user: str | None = None) -> int:
    """Store derived predictions (e.g. smoothed ones) as a NEW model run beside the old, in
    one transaction and one step of the history (``label``: undo removes the run); the old
    predictions are not touched. Returns the run id."""
    with project.import_transaction(label, user=user) as w:
        run = w.create_model_run(model_path=model_path, model_hash=model_hash, providers=[],
                                 params=dict(params))
        w.add_instances((video_id, f, i.replace(id=None, model_run_id=run)) for f, i in items)
    return run
