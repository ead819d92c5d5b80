"""Rows checked as they are read (store/validate.py, codec.validate_rows): a damaged row is left
out and reported with table, id and problem; the rest of the project stays usable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project, ProjectError, validate
from pose_studio.store.codec import READ_COLUMNS, instance_row, validate_rows
from pose_studio.store.errors import ProjectDamagedError

K = COCO17.num_keypoints


def _row(inst: Instance, **change: object) -> tuple[object, ...]:
    full = instance_row(inst, 1, 0, 0.0, instance_id=7)
    by_name = dict(zip(("id", "video_id", "frame_idx", "kind", "score", "bbox_x", "bbox_y",
                        "bbox_w", "bbox_h", "track_id", "source_id", "model_run_id",
                        "created_at", "updated_at", "num_keypoints", "xy", "visibility",
                        "provenance", "kp_scores", "summary_score", "version", "edited_by"),
                       full))
    by_name.update(change)
    return tuple(by_name[c] for c in READ_COLUMNS)


GOOD = Instance(xy=np.arange(2 * K, dtype=float).reshape(K, 2), visibility=np.full(K, 2),
                kind=InstanceKind.PREDICTED, kp_scores=np.full(K, 0.5), score=0.9)


@pytest.mark.parametrize(("change", "says"), [
    ({"kind": 3}, "kind code 3"),
    ({"num_keypoints": 5}, "5 keypoints"),
    ({"xy": b"\0" * 10}, "coordinates blob of 10 bytes"),
    ({"xy": "text"}, "coordinates blob is missing or not a blob"),
    ({"visibility": bytes([2] * (K - 1))}, "visibility blob"),
    ({"visibility": bytes([2] * (K - 1) + [9])}, "visibility code 9 on keypoint 16"),
    ({"provenance": bytes([4] * K)}, "provenance code 4"),
    ({"kp_scores": b"\0\0"}, "keypoint scores blob"),
    ({"xy": np.full((K, 2), np.nan).tobytes()}, "non-finite coordinate"),
    ({"bbox_x": float("inf"), "bbox_y": 0.0, "bbox_w": 1.0, "bbox_h": 1.0}, "box"),
    ({"bbox_x": 1.0}, "box"),
    ({"score": "high"}, "score"),
    ({"track_id": 1.5}, "track id"),
    ({"id": None}, "id None"),
])
def test_each_kind_of_damage_is_named(change: dict[str, object], says: str) -> None:
    rows = [_row(GOOD), _row(GOOD, **change), _row(GOOD)]
    bad = validate_rows(rows, K)
    assert list(bad) == [1] and says in bad[1]


def test_nan_where_a_point_is_not_labeled_is_fine() -> None:
    xy = np.full((K, 2), np.nan)
    vis = np.zeros(K, np.uint8)
    assert validate_rows([_row(GOOD, xy=xy.tobytes(), visibility=vis.tobytes())], K) == {}


@pytest.fixture()
def damaged(tmp_path: Path) -> Path:
    with Project.create(tmp_path / "p", COCO17) as p:
        vid = p.add_video(tmp_path / "v.mp4", width=64, height=48, frame_count=20, fps=10.0)
        for f in range(4):
            p.add_instance(vid, 5, Instance(xy=np.full((K, 2), float(f)),
                                            visibility=np.full(K, 2)))
        path = p.path
    con = sqlite3.connect(path)
    con.execute("PRAGMA ignore_check_constraints = ON")
    con.execute("UPDATE instances SET visibility = ? WHERE id = 2", (bytes([7] * K),))
    con.execute("UPDATE instances SET xy = x'00' WHERE id = 3")
    con.commit()
    con.close()
    return path


def test_damaged_rows_are_left_out_and_reported(damaged: Path) -> None:
    validate.clear()
    with Project.open(damaged) as p:
        got = p.instances(1, 5)
        assert [i.id for i in got] == [1, 4]  # the rest is usable
        assert [(d.table, d.row_id) for d in p.damage] == [("instances", 2), ("instances", 3)]
        assert "visibility code 7" in p.damage[0].problem
        with pytest.raises(ProjectDamagedError, match=r"instances row 3: coordinates blob") as e:
            p.instance(3)
        assert e.value.table == "instances" and e.value.row_id == 3
        with pytest.raises(ProjectDamagedError):
            p.delete_instance(2)  # refused, nothing deleted
        assert len(list(p.iter_instances())) == 2
        p.add_instance(1, 6, Instance(xy=np.full((K, 2), 1.0), visibility=np.full(K, 2)))
    assert [d.row_id for d in validate.recent()] == [2, 3]
    with Project.open(damaged, read_only=True) as p:
        h = p.check_health()
        assert not h.ok and h.integrity == ["ok"] and h.rows_checked >= 5
        assert sorted(d.row_id for d in h.damaged) == [2, 3]


def test_a_healthy_project_checks_ok(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p", COCO17) as p:
        p.add_video(tmp_path / "v.mp4", width=64, height=48, frame_count=20, fps=10.0)
        p.add_instance(1, 2, Instance(xy=np.full((K, 2), 3.0), visibility=np.full(K, 2)))
        h = p.check_health()
    assert h.ok and h.rows_checked >= 2 and not h.damaged


def test_a_bad_video_row_hides_only_that_video(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p", COCO17) as p:
        for name in ("a", "b"):
            p.add_video(tmp_path / f"{name}.mp4", width=64, height=48, frame_count=20, fps=10.0)
        path = p.path
    con = sqlite3.connect(path)
    con.execute("UPDATE videos SET frame_count = -1 WHERE id = 1")
    con.commit()
    con.close()
    with Project.open(path, read_only=True) as p:
        assert [v.id for v in p.videos()] == [2]
        with pytest.raises(ProjectDamagedError, match="frame count -1"):
            p.video(1)
        with pytest.raises(ProjectError, match="frame count"):
            p.frame_arrays(1)
        assert p.frame_arrays(2).labeled.shape == (20,)


def test_a_box_that_is_not_finite_is_refused_on_write(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p", COCO17) as p:
        p.add_video(tmp_path / "v.mp4", width=64, height=48, frame_count=20, fps=10.0)
        with pytest.raises(ProjectError, match="box"):
            p.add_instance(1, 2, Instance(xy=np.full((K, 2), 3.0), visibility=np.full(K, 2),
                                          bbox=(0.0, float("nan"), 1.0, 1.0)))
        assert p.counts()["user_instances"] == 0
