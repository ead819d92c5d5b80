"""The store side of the labeling tools: read a video's instances, write a proposal.

Each write is ONE transaction (``Project.import_transaction``): all of a command's changes
land, or none. (The window will route the same proposals through its undo journal.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pose_studio.core.annotation import Instance
from pose_studio.core.proposals import Proposal
from pose_studio.store.errors import ProjectError
from pose_studio.store.project import Project

Items = list[tuple[int, Instance]]


def video_items(project: Project, video_id: int, frames: tuple[int, int] | None = None,
                source: Any = "all", run: Any = "shown") -> Items:
    """``(frame, instance)`` of one video (optionally a half-open frame range); predictions
    of the video's shown model run (``run``: another run id, or ``"all"``)."""
    out: Items = []
    for _, f, inst in project.iter_instances(source, video_id, run):
        if frames is None or frames[0] <= f < frames[1]:
            out.append((f, inst))
    return out


def write_proposal(project: Project, video_id: int, proposal: Proposal) -> Proposal:
    """Apply a proposal in one transaction; returns it with the added instances' new ids."""
    added = []
    with project.import_transaction() as w:
        for inst in proposal.delete:
            if inst.id is None:
                raise ProjectError("cannot delete an instance that was never stored")
            w.delete_instance(inst.id)
        for inst in proposal.replace:
            w.update_instance(inst)
        for f, inst in proposal.add:
            added.append((f, w.add_instance(video_id, f, inst.replace(id=None))))
    return Proposal(tuple(added), proposal.replace, proposal.delete)


def write_tracks(project: Project, numbers: Mapping[int, int], *, prefix: str = "track"
                 ) -> dict[int, int]:
    """Create one track per track number and point the instances at them, in one
    transaction: ``numbers`` is ``{instance id: track number}``. Only ``track_id`` changes.
    Returns ``{track number: new track id}``."""
    ids: dict[int, int] = {}
    with project.import_transaction() as w:
        for n in sorted(set(numbers.values())):
            ids[n] = w.create_track(f"{prefix} {n + 1}")
        w.set_track_ids({i: ids[n] for i, n in numbers.items()})
    return ids


def write_new_run(project: Project, video_id: int, items: list[tuple[int, Instance]], *,
                  model_path: str, model_hash: str, params: Mapping[str, Any]) -> int:
    """Store derived predictions (e.g. smoothed ones) as a NEW model run beside the old, in
    one transaction; the old predictions are not touched. Returns the run id."""
    with project.import_transaction() as w:
        run = w.create_model_run(model_path=model_path, model_hash=model_hash, providers=[],
                                 params=dict(params))
        w.add_instances((video_id, f, i.replace(id=None, model_run_id=run)) for f, i in items)
    return run
