"""Edit verbs: plain functions from the session's state to a :class:`Plan` (no Qt).

Each verb looks at the current frame (its instances, the selection) and returns a plan: the
:class:`~pose_studio.core.edits.Edit` to apply and what to select after it, or the reason it
does nothing. :func:`run` applies a plan through the session (one transaction with its history
step). The window's actions and gestures are one-liners over these; new tools (interpolation,
propagation, swaps, bulk edits over frame ranges) are verbs returning a batch
(``Edit.batch``): one history step, one transaction.

Rules that live here and nowhere else:

* Predictions are never edited in place: editing one makes a user copy (``source_id`` set).
* A keypoint that had no position, when made visible, goes under the mouse; one that kept its
  position (hidden, then shown again) stays where it was.
* Arrow-key nudges of one keypoint, and repeated snaps, fold into one history step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pose_studio.core import poses, review
from pose_studio.core.annotation import Instance, InstanceKind, Visibility
from pose_studio.core.edits import Edit

from .session import Session

__all__ = [
    "ADDED",
    "Plan",
    "SnapCycle",
    "accept",
    "accept_all",
    "add_at",
    "cycle_visibility",
    "delete_selected",
    "keypoint_name",
    "move_instance",
    "move_keypoint",
    "nudge",
    "refusal",
    "run",
    "snap_to_peak",
]

#: In :attr:`Plan.select`: the first instance the edit added (its id is known once applied).
ADDED = -1


@dataclass(frozen=True)
class Plan:
    """What a verb would do: an edit and the selection after it, or why it does nothing."""

    edit: Edit | None = None
    why: str | None = None
    select: tuple[int | None, int | None] | None = None
    done: str | None = None  # a status line once applied


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def keypoint_name(s: Session, k: int) -> str:
    sk = s.skeleton
    return sk.keypoints[k] if sk is not None and 0 <= k < sk.num_keypoints else f"keypoint {k}"


def refusal(s: Session) -> str | None:
    """Why nothing may be edited now (None: editing is fine)."""
    if s.project is None or s.video_id is None:
        return "open a video first (File ▸ Open, or File ▸ Add Video)"
    if s.project.read_only:
        return "the project is open read-only"
    if s.shown is not None and not s.shown.exact:
        return "a scrub preview is shown: wait for the exact frame before editing"
    return None


def _where(s: Session) -> tuple[int, int]:
    assert s.video_id is not None
    return s.video_id, s.frame_idx


def edit_instance(s: Session, inst: Instance, after: Instance, label: str, *,
                  merge_key: str | None = None, keypoint: int | None = None) -> Plan:
    """``after`` for ``inst``: an update of a label, a new linked user copy of a prediction."""
    why = refusal(s)
    if why is not None:
        return Plan(why=why)
    v, f = _where(s)
    if inst.is_prediction:
        user = after.as_user_copy() if after.is_prediction else after
        user = user.replace(source_id=inst.id, id=None, kind=InstanceKind.USER)
        return Plan(Edit.add(v, f, user, label), select=(ADDED, keypoint))
    return Plan(Edit.set_instance(v, f, inst, after, label, merge_key=merge_key),
                select=(inst.id, keypoint))


def move_keypoint(s: Session, instance_id: int, k: int, x: float, y: float) -> Plan:
    inst = s.instance(instance_id)
    if inst is None:
        return Plan(why="that instance is gone")
    vis = int(inst.visibility[k]) or int(Visibility.VISIBLE)
    return edit_instance(s, inst, inst.with_keypoint(k, xy=(x, y), visibility=vis),
                         f"move {keypoint_name(s, k)}", keypoint=k)


def move_instance(s: Session, instance_id: int, dx: float, dy: float) -> Plan:
    inst = s.instance(instance_id)
    if inst is None:
        return Plan(why="that instance is gone")
    return edit_instance(s, inst, inst.translated(dx, dy), "move instance")


def _has_position(inst: Instance, k: int) -> bool:
    x, y = inst.xy[k]
    return bool(np.isfinite(x) and np.isfinite(y) and (x != 0.0 or y != 0.0))


def cycle_visibility(s: Session, instance_id: int, k: int,
                     cursor: tuple[float, float] | None = None) -> Plan:
    """Visible → occluded → unlabeled → visible. A point made visible that had no position
    goes under the mouse (or amid the other points); one that has a position keeps it."""
    inst = s.instance(instance_id)
    if inst is None:
        return Plan(why="select a keypoint first (click it)")
    v = Visibility(int(inst.visibility[k])).next_in_cycle()
    xy: tuple[float, float] | None = None
    if int(inst.visibility[k]) == 0 and not _has_position(inst, k):
        xy = cursor
        if xy is None:
            lab = inst.labeled
            c = inst.xy[lab].mean(axis=0) if lab.any() else inst.xy[k]
            xy = (float(c[0]), float(c[1]))
    after = inst.with_keypoint(k, visibility=int(v), xy=xy)
    return edit_instance(s, inst, after, f"{keypoint_name(s, k)} {v.name.lower()}", keypoint=k)


def nudge(s: Session, dx: float, dy: float) -> Plan:
    """Move the selected keypoint by ``(dx, dy)``; repeated nudges are one history step."""
    sel = s.selected_keypoint_of()
    if sel is None:
        return Plan(why="select a keypoint first (click it)")
    inst, k = sel
    if int(inst.visibility[k]) == 0:
        return Plan(why="the keypoint is unlabeled; drag it or press V to label it")
    x, y = inst.xy[k]
    return edit_instance(s, inst, inst.with_keypoint(k, xy=(x + dx, y + dy)),
                         f"nudge {keypoint_name(s, k)}", merge_key=f"nudge:{inst.id}:{k}",
                         keypoint=k)


def accept(s: Session, instance_id: int | None = None) -> Plan:
    """Accept a prediction (the given one, the selected one, or the only one shown)."""
    inst = s.instance(instance_id) if instance_id is not None else s.selected()
    if inst is None and instance_id is None:
        preds = s.visible_predictions()
        inst = preds[0] if len(preds) == 1 else None
    if inst is None or not inst.is_prediction:
        return Plan(why="select a prediction to accept (or press Shift+A for all)",
                    select=(inst.id, None) if inst is not None else None)
    why = refusal(s)
    if why is not None:
        return Plan(why=why)
    v, f = _where(s)
    return Plan(Edit.add(v, f, inst.as_user_copy(), "accept prediction"), select=(ADDED, None))


def accept_all(s: Session) -> Plan:
    why = refusal(s)
    if why is not None:
        return Plan(why=why)
    preds = s.visible_predictions()
    if not preds:
        return Plan(why="no predictions to accept on this frame")
    v, f = _where(s)
    label = f"accept {plural(len(preds), 'prediction')}"
    return Plan(Edit.add(v, f, [p.as_user_copy() for p in preds], label),
                done=f"accepted {plural(len(preds), 'prediction')}")


def delete_selected(s: Session) -> Plan:
    inst = s.selected()
    if inst is None:
        return Plan(why="select an instance to delete")
    why = refusal(s)
    if why is not None:
        return Plan(why=why)
    v, f = _where(s)
    what = "prediction" if inst.is_prediction else "instance"
    return Plan(Edit.delete(v, f, inst, f"delete {what}"),
                done=f"deleted the {what} (Ctrl+Z brings it back)")


def add_at(s: Session, center: tuple[float, float] | None,
                 image_size: tuple[float, float] | None = None) -> Plan:
    """A new label at ``center`` (else the image centre): a copy of the previous labeled
    frame's first label, else the project's mean pose, at a typical size."""
    why = refusal(s)
    if why is not None:
        return Plan(why=why)
    sk = s.skeleton
    assert sk is not None and s.project is not None
    if center is None:
        if not image_size:
            return Plan(why="no frame is shown yet")
        center = (image_size[0] / 2 - 0.5, image_size[1] / 2 - 0.5)
    v, f = _where(s)
    prev = review.next_labeled(s.frames.labeled, f, -1)
    previous = None
    if prev is not None:
        users = [i for i in s.project.instances(v, prev, kind=InstanceKind.USER)
                 if i.labeled.any()]
        previous = users[0] if users else None
    mean = None
    if previous is None:
        gen = s.project.iter_instances("user")
        try:
            mean = poses.mean_pose(sk, (inst for _v, _f, inst in gen))
        finally:
            close = getattr(gen, "close", None)  # a generator: end its read transaction now
            if close is not None:
                close()
    inst = poses.template_instance(sk, center, previous=previous, mean=mean,
                                   image_size=image_size)
    return Plan(Edit.add(v, f, inst, "add instance"), select=(ADDED, None))


@dataclass
class SnapCycle:
    """Which peak a repeated snap of the same keypoint goes to next."""

    key: tuple[int, int, int] | None = None
    index: int = 0

    def reset(self) -> None:
        self.key, self.index = None, 0


def snap_to_peak(s: Session, peaks: Sequence[tuple[float, float, float]],
                 cycle: SnapCycle) -> Plan:
    """Move the selected keypoint to the strongest heatmap peak; again: to the next peak."""
    sel = s.selected_keypoint_of()
    if sel is None:
        return Plan(why="select a keypoint first (click it)")
    inst, k = sel
    if not peaks:
        return Plan(why=f"the heatmap of {keypoint_name(s, k)} has no peak here")
    ident = inst.source_id if (not inst.is_prediction and inst.source_id is not None) \
        else inst.id
    key = (s.frame_idx, k, -1 if ident is None else int(ident))
    if cycle.key == key:
        i = (cycle.index + 1) % len(peaks)
    else:
        i = 0
        if len(peaks) > 1 and inst.visibility[k] > 0 and math.dist(inst.xy[k], peaks[0][:2]) < 1:
            i = 1  # already on the strongest peak: go to the next one
    x, y, val = peaks[i]
    vis = int(inst.visibility[k]) or int(Visibility.VISIBLE)
    plan = edit_instance(s, inst, inst.with_keypoint(k, xy=(x, y), visibility=vis),
                         f"snap {keypoint_name(s, k)} to peak {i + 1}",
                         merge_key=f"snap:{key[2]}:{k}", keypoint=k)
    if plan.edit is not None:
        cycle.key, cycle.index = key, i
    return Plan(plan.edit, plan.why, plan.select,
                f"{keypoint_name(s, k)}: peak {i + 1} of {len(peaks)} (value {val:.2f}); "
                "press S again for the next")


def run(s: Session, plan: Plan) -> Edit | None:
    """Apply ``plan`` through the session and make its selection; None when it had no edit."""
    if plan.edit is None:
        if plan.select is not None and plan.select[0] not in (None, ADDED):
            s.select(*plan.select)
        return None
    applied = s.apply(plan.edit)
    if plan.select is not None:
        iid, k = plan.select
        if iid == ADDED:
            added = [c.after.id for c in applied.changes if c.before is None and c.after]
            iid = added[0] if added else None
        s.select(iid, k)
    return applied
