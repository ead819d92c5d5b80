"""One rule for "the people on a frame" (labels, and the predictions no label stands for)."""

from __future__ import annotations

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.people import people, person_boxes, visible_predictions

K = 17


def _inst(cx: float, *, pred: bool = False, iid: int | None = None, source: int | None = None,
          w: float = 40.0) -> Instance:
    xy = np.stack([np.linspace(cx - w / 2, cx + w / 2, K), np.linspace(10, 90, K)], 1)
    return Instance(xy=xy, visibility=np.full(K, 2, np.uint8),
                    kind=InstanceKind.PREDICTED if pred else InstanceKind.USER, id=iid,
                    source_id=source, kp_scores=np.full(K, 0.8) if pred else None)


def test_accepted_and_covered_predictions_are_the_label() -> None:
    a = _inst(50, pred=True, iid=1)
    b = _inst(150, pred=True, iid=2)
    c = _inst(250, pred=True, iid=3)
    accepted = _inst(50, iid=10, source=1)
    relabeled = _inst(151, iid=11)  # a label over b without a link (b is a re-run's output)
    frame = [a, b, c, accepted, relabeled]
    assert [p.id for p in visible_predictions(frame)] == [3]
    assert [p.id for p in people(frame)] == [10, 11, 3]
    boxes = person_boxes(frame)
    assert boxes is not None and boxes.shape == (3, 4)
    assert np.allclose(boxes[0], (30, 10, 70, 90))


def test_a_prediction_beside_a_label_is_another_person() -> None:
    frame = [_inst(50, iid=10), _inst(80, pred=True, iid=1)]  # IoU 1/7: a second person
    assert [p.id for p in visible_predictions(frame)] == [1]


def test_no_people_no_boxes() -> None:
    assert person_boxes([]) is None
    tiny = Instance(xy=np.full((K, 2), 5.0), visibility=np.full(K, 2, np.uint8))
    assert person_boxes([tiny]) is None  # a zero-size box is not a crop
