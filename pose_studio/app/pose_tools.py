"""Verbs on the shown frame's poses: left/right swaps, copy and paste, "copy the previous
frame's instances". Each returns a :class:`~pose_studio.app.editing.Plan` (one history step);
a prediction edited here becomes a user copy linked to it, as with every edit.
"""

from __future__ import annotations

from pose_studio.core import proposals, review, swaps
from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.edits import Edit
from pose_studio.core.skeleton import SkeletonError

from .editing import ADDED, Plan, edit_instance, keypoint_name, plural, refusal
from .session import Session

__all__ = ["copy_pose", "copy_previous_frame", "paste_pose", "swap_keypoint", "swap_sides"]


def swap_keypoint(s: Session) -> Plan:
    """Swap the selected keypoint with its left/right partner (e.g. the ankles)."""
    sel = s.selected_keypoint_of()
    if sel is None:
        return Plan(why="select a keypoint first (click it), then X swaps it with its partner")
    inst, k = sel
    sk = s.skeleton
    assert sk is not None
    j = swaps.flip_partner(sk, k)
    if j is None:
        return Plan(why=f"{keypoint_name(s, k)} has no left/right partner in this skeleton")
    after = swaps.swap_keypoint(inst, k, sk)
    label = f"swap {keypoint_name(s, k)} and {keypoint_name(s, j)}"
    plan = edit_instance(s, inst, after, label, keypoint=k)
    return Plan(plan.edit, plan.why, plan.select, label)


def swap_sides(s: Session) -> Plan:
    """Swap every left keypoint of the selected instance with its right partner."""
    inst = s.selected()
    if inst is None:
        people = s.people()
        inst = people[0] if len(people) == 1 else None
    if inst is None:
        return Plan(why="select an instance first (click one of its points)")
    sk = s.skeleton
    assert sk is not None
    try:
        after = swaps.swap_sides(inst, sk)
    except SkeletonError as exc:
        return Plan(why=str(exc))
    plan = edit_instance(s, inst, after, "swap left and right")
    return Plan(plan.edit, plan.why, plan.select, "swapped left and right")


def copy_pose(s: Session) -> Instance | None:
    """The selected instance's pose, to paste (None: nothing selected)."""
    inst = s.selected()
    return None if inst is None else proposals.copy_pose(inst)


def paste_pose(s: Session, pose: Instance | None) -> Plan:
    """Paste ``pose``: onto the selected label (its points replaced, its id and track kept),
    else as a new label on this frame (taking a selected prediction's track)."""
    if pose is None:
        return Plan(why="nothing copied yet: select an instance and press Ctrl+C")
    why = refusal(s)
    if why is not None:
        return Plan(why=why)
    sk = s.skeleton
    if sk is not None and pose.num_keypoints != sk.num_keypoints:
        return Plan(why=f"the copied pose has {pose.num_keypoints} keypoints; this project's "
                        f"skeleton has {sk.num_keypoints}")
    assert s.video_id is not None
    onto = s.selected()
    prop = proposals.paste_pose(pose, onto, s.frame_idx)
    if prop.replace:
        assert onto is not None
        return Plan(Edit.set_instance(s.video_id, s.frame_idx, onto, prop.replace[0],
                                      "paste pose"), select=(onto.id, None),
                    done="pasted the pose onto the selected label")
    (f, new), = prop.add
    if new.track_id is not None and any(i.track_id == new.track_id for i in s.people()):
        new = new.replace(track_id=None)  # that person is here already: a new, untracked one
    return Plan(Edit.add(s.video_id, f, new, "paste pose"), select=(ADDED, None),
                done="pasted the pose as a new label")


def copy_previous_frame(s: Session) -> Plan:
    """Copy the labels of the nearest labeled frame before this one (tracks that already have
    a label here are skipped)."""
    why = refusal(s)
    if why is not None:
        return Plan(why=why)
    assert s.project is not None and s.video_id is not None
    prev = review.next_labeled(s.frames.labeled, s.frame_idx, -1)
    if prev is None:
        return Plan(why="no labeled frame before this one")
    previous = s.project.instances(s.video_id, prev, kind=InstanceKind.USER)
    prop = proposals.copy_previous_frame(previous, s.instances(), s.frame_idx)
    if prop.empty:
        return Plan(why=f"every label of frame {prev} is here already (same tracks)")
    n = len(prop.add)
    label = f"copy {plural(n, 'instance')} from frame {prev}"
    return Plan(Edit.add(s.video_id, s.frame_idx, [i for _, i in prop.add], label),
                select=(ADDED, None), done=f"copied {plural(n, 'label')} from frame {prev}")
