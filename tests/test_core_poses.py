"""Templates for new instances and heatmap peaks (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.poses import (
    default_pose,
    local_peaks,
    mean_pose,
    peaks_for,
    template_instance,
)
from pose_studio.core.skeleton import COCO17, Skeleton


def _gauss(h: int, w: int, x: float, y: float, s: float = 1.0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * s * s))


def test_default_pose_is_centred_and_upright() -> None:
    p = default_pose(COCO17)
    assert p.shape == (17, 2) and np.allclose(p.mean(axis=0), 0)
    assert p[COCO17.index("nose"), 1] < p[COCO17.index("left_ankle"), 1]
    odd = Skeleton(name="odd", keypoints=("a", "b", "c"))
    assert np.allclose(np.linalg.norm(default_pose(odd) - default_pose(odd).mean(0), axis=1),
                       0.3)


def test_mean_pose_and_templates() -> None:
    base = default_pose(COCO17) * 80 + (100, 100)
    labels = [Instance(xy=base + d, visibility=np.full(17, 2, np.uint8)) for d in (0, 5, 9)]
    unit, span = mean_pose(COCO17, labels)
    assert span == pytest.approx(80 * np.ptp(default_pose(COCO17), axis=0).max())
    assert np.allclose(unit * span, base - base.mean(axis=0), atol=1e-9)
    assert mean_pose(COCO17, []) == (pytest.approx(default_pose(COCO17)), None)
    t = template_instance(COCO17, (40.0, 60.0), mean=(unit, span))
    assert t.kind is InstanceKind.USER and np.allclose(t.xy.mean(axis=0), (40, 60))
    prev = labels[1].replace(id=5, source_id=3)
    copy = template_instance(COCO17, (10.0, 20.0), previous=prev)
    assert copy.id is None and copy.source_id is None
    assert np.allclose(copy.xy - prev.xy, copy.xy[0] - prev.xy[0])
    assert np.allclose(copy.xy.mean(axis=0), (10, 20))
    sized = template_instance(COCO17, (0.0, 0.0), image_size=(200.0, 100.0))
    assert np.ptp(sized.xy, axis=0).max() == pytest.approx(35.0 * np.ptp(default_pose(COCO17),
                                                                         axis=0).max())


def test_local_peaks_strongest_first_and_subpixel() -> None:
    m = _gauss(16, 12, 3.0, 4.0) + 0.6 * _gauss(16, 12, 8.0, 11.0)
    peaks = local_peaks(m)
    assert [p[:2] for p in peaks] == [pytest.approx((3.0, 4.0), abs=0.05),
                                      pytest.approx((8.0, 11.0), abs=0.05)]
    assert local_peaks(np.zeros((4, 4))) == []


def test_peaks_for_uses_the_nearest_prediction() -> None:
    far = Instance(xy=np.full((17, 2), 300.0), visibility=np.full(17, 2, np.uint8),
                   kind=InstanceKind.PREDICTED)
    near = Instance(xy=np.full((17, 2), 10.0), visibility=np.full(17, 2, np.uint8),
                    kind=InstanceKind.PREDICTED)
    label = Instance(xy=np.full((17, 2), 12.0), visibility=np.full(17, 2, np.uint8))
    m_far = _gauss(8, 8, 1.0, 1.0)
    m_near = _gauss(8, 8, 5.0, 2.0)
    scale2 = np.array([[2.0, 0, 100.0], [0, 2.0, 50.0]])
    peaks = peaks_for(label, 0, [(far, m_far, np.eye(2, 3)), (near, m_near, scale2)])
    assert peaks[0][:2] == pytest.approx((110.0, 54.0), abs=0.1)
    assert peaks_for(label, 0, []) == []
