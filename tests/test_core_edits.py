"""Edit values without a store: inverse, batch, merge rules, where."""

from __future__ import annotations

import numpy as np
import pytest

from pose_studio.core.annotation import Instance
from pose_studio.core.edits import Change, Edit, StaleEditError, apply


def _i(x: float, iid: int | None = 1) -> Instance:
    return Instance(xy=np.full((3, 2), x), visibility=np.full(3, 2, np.uint8), id=iid)


class DictStore:
    def __init__(self) -> None:
        self.rows: dict[int, tuple[int, int, Instance]] = {}
        self.next = 100

    def current(self, iid):
        return self.rows.get(iid)

    def insert(self, v, f, inst):
        iid = inst.id if inst.id is not None else self.next
        self.next += 1
        self.rows[iid] = (v, f, inst.replace(id=iid))
        return self.rows[iid][2]

    def update(self, v, f, inst):
        self.rows[inst.id] = (v, f, inst)

    def remove(self, iid):
        del self.rows[iid]


def test_inverse_swaps_and_reverses() -> None:
    e = Edit.batch("b", [Edit.set_instance(1, 2, _i(0), _i(1), "s"), Edit.delete(1, 3, _i(5, 2), "d")])
    inv = e.inverse()
    assert [c.instance_id for c in inv.changes] == [2, 1]
    assert inv.changes[0].before is None and inv.changes[1].after.xy[0, 0] == 0
    assert inv.inverse().equals(e)


def test_apply_checks_before_states_and_gives_ids() -> None:
    store = DictStore()
    added = apply(Edit.add(1, 0, [_i(3, None), _i(4, None)], "add"), store)
    assert [c.after.id for c in added.changes] == [100, 101]
    apply(added.inverse(), store)
    assert store.rows == {}
    with pytest.raises(StaleEditError, match="gone"):
        apply(Edit.set_instance(1, 0, _i(1), _i(2), "move"), store)
    store.insert(1, 0, _i(1))
    with pytest.raises(StaleEditError, match="already exists"):
        apply(Edit.add(1, 0, _i(7), "add"), store)
    with pytest.raises(StaleEditError, match=r"cannot undo 'x': .*changed since"):
        apply(Edit.set_instance(1, 0, _i(9), _i(2), "x"), store, action="undo 'x'")


def test_merge_rules() -> None:
    a = Edit.set_instance(1, 0, _i(0), _i(1), "nudge", merge_key="k")
    b = Edit.set_instance(1, 0, _i(1), _i(2), "nudge again", merge_key="k")
    m = a.merged(b)
    assert m is not None and m.label == "nudge again"
    assert m.changes[0].before.xy[0, 0] == 0 and m.changes[0].after.xy[0, 0] == 2
    assert a.merged(Edit.set_instance(1, 0, _i(1), _i(2), "n", merge_key="other")) is None
    assert a.merged(Edit.set_instance(1, 0, _i(5), _i(6), "n", merge_key="k")) is None  # gap
    assert Edit.set_instance(1, 0, _i(0), _i(1), "plain").merged(b) is None


def test_values_are_checked() -> None:
    with pytest.raises(ValueError):
        Change(1, 0, None, None)
    with pytest.raises(ValueError):
        Change(1, 0, _i(0, None), _i(1))  # before must be stored
    with pytest.raises(ValueError):
        Edit("nothing", ())
    e = Edit.batch("b", [Edit.add(1, f, _i(0, None), "a") for f in (5, 9, 7)])
    assert e.where() == "video 1 frames 5-9 (3 frames)"
    assert Edit.add(2, 4, _i(0, None), "a").where() == "video 2 frame 4"
