"""Click-to-place labeling (no Qt): pick a body part, click, the next part comes up.

The window's place mode keeps which part comes next (:class:`PlaceState`); each click is the
verb :func:`place`: keypoint ``k`` of the selected instance goes where the user clicked (a
prediction gets a linked user copy, as any edit of a prediction does), or, with nothing
selected, a new label is made holding only that point. One click is one history step: a
misplaced point is one Ctrl+Z away and the points placed before it stay.

After a click the next part is the next unlabeled keypoint in skeleton order (wrapping around);
when every keypoint is placed, the next click starts a new instance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose_studio.core.annotation import Instance, Visibility
from pose_studio.core.edits import Edit

from .editing import ADDED, Plan, edit_instance, keypoint_name, refusal
from .session import Session

__all__ = ["PlaceState", "next_unlabeled", "place", "unlabeled"]


def unlabeled(inst: Instance | None, k_count: int) -> list[int]:
    """Keypoints ``inst`` has not labeled (all of them for no instance)."""
    if inst is None:
        return list(range(k_count))
    return [int(k) for k in np.flatnonzero(inst.visibility[:k_count] == 0)]


def next_unlabeled(inst: Instance | None, after: int | None, k_count: int) -> int | None:
    """The first unlabeled keypoint after ``after`` in skeleton order (wrapping), or None when
    the instance has every keypoint."""
    todo = unlabeled(inst, k_count)
    if not todo:
        return None
    start = -1 if after is None else after
    return next((k for k in todo if k > start), todo[0])


@dataclass
class PlaceState:
    """Which part a click places, and on which instance (the mode's state in the window).

    ``part`` None: the instance is complete, the next click starts a new one.
    """

    part: int | None = 0
    instance_id: int | None = None
    auto_advance: bool = True
    picked: bool = False  # the user chose ``part`` (it wins over the automatic choice)

    def follow(self, s: Session) -> None:
        """Keep up with the selection: another instance selected brings up its first
        unlabeled part (unless the user has just picked one)."""
        sel = s.selected()
        sel_id = None if sel is None else sel.id
        k_count = s.skeleton.num_keypoints if s.skeleton is not None else 0
        if sel_id != self.instance_id:
            self.instance_id = sel_id
            if not self.picked:
                self.part = next_unlabeled(sel, None, k_count) if sel is not None else 0
        if self.part is not None and self.part >= k_count:
            self.part = 0 if k_count else None

    def restart(self, s: Session) -> None:
        """The mode was turned on: the first unlabeled part of the selection comes up."""
        self.picked = False
        self.instance_id = None
        sel = s.selected()
        k_count = s.skeleton.num_keypoints if s.skeleton is not None else 0
        self.instance_id = None if sel is None else sel.id
        self.part = next_unlabeled(sel, None, k_count) if sel is not None else 0

    def pick(self, k: int | None) -> None:
        self.part = k
        self.picked = k is not None

    def step(self, s: Session, d: int) -> None:
        """The next (``d`` = 1) or previous part in skeleton order, labeled or not."""
        n = s.skeleton.num_keypoints if s.skeleton is not None else 0
        if n:
            cur = self.part if self.part is not None else (-1 if d > 0 else 0)
            self.pick((cur + d) % n)

    def placed(self, s: Session, k: int) -> None:
        """A click placed ``k`` on the selected instance: bring up the next part."""
        self.picked = False
        inst = s.selected()
        self.instance_id = None if inst is None else inst.id
        n = s.skeleton.num_keypoints if s.skeleton is not None else 0
        if self.auto_advance:
            self.part = next_unlabeled(inst, k, n)
        else:
            self.part = k


def place(s: Session, instance_id: int | None, k: int, x: float, y: float,
          occluded: bool = False) -> Plan:
    """Keypoint ``k`` at ``(x, y)`` on instance ``instance_id`` (None: a new label holding only
    this point), visible or ``occluded``."""
    why = refusal(s)
    if why is not None:
        return Plan(why=why)
    sk = s.skeleton
    assert sk is not None and s.video_id is not None
    if not 0 <= k < sk.num_keypoints:
        return Plan(why="choose a body part to place first")
    vis = int(Visibility.OCCLUDED if occluded else Visibility.VISIBLE)
    name = keypoint_name(s, k)
    inst = s.instance(instance_id)
    if inst is None:
        n = sk.num_keypoints
        xy = np.zeros((n, 2))
        v = np.zeros(n, np.uint8)
        xy[k] = (x, y)
        v[k] = vis
        new = Instance(xy=xy, visibility=v)
        return Plan(Edit.add(s.video_id, s.frame_idx, new, f"place {name} (new instance)"),
                    select=(ADDED, k))
    return edit_instance(s, inst, inst.with_keypoint(k, xy=(x, y), visibility=vis),
                         f"place {name}", keypoint=k)
