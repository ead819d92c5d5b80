"""The format-neutral dataset model: values are frozen and validate() names the first misfit."""

from __future__ import annotations

import numpy as np
import pytest

from pose_studio.core.skeleton_presets import get_skeleton
from pose_studio.formats.dataset import Annotation, Dataset, DatasetError, Frame, ImageEntry, Source
from pose_studio.formats.registry import UnknownFormatError, detect, get_format

SK = get_skeleton("coco17")


def _ann(**kw: object) -> Annotation:
    return Annotation(np.zeros((17, 3)), **kw)  # type: ignore[arg-type]


def _images(n: int) -> Source:
    return Source("set", "images", images=tuple(ImageEntry(f"{i}.jpg") for i in range(n)))


def test_points_are_read_only_copies() -> None:
    pts = np.ones((17, 3))
    a = Annotation(pts)
    pts[0, 0] = 5
    assert a.points[0, 0] == 1
    with pytest.raises(ValueError):
        a.points[0, 0] = 2


@pytest.mark.parametrize(
    ("frames", "tracks", "needle"),
    [
        ([Frame("nope", 0, (_ann(),))], [], "lacks"),
        ([Frame("set", 3, (_ann(),))], [], "outside"),
        ([Frame("set", 0), Frame("set", 0)], [], "twice"),
        ([Frame("set", 0, (Annotation(np.zeros((5, 3))),))], [], "5 keypoints"),
        ([Frame("set", 0, (_ann(track="t9"),))], ["t1"], "track"),
        ([Frame("set", 0, (_ann(run="r"),))], [], "model run"),
    ],
)
def test_validate_names_the_misfit(frames: list[Frame], tracks: list[str], needle: str) -> None:
    ds = Dataset(SK, [_images(2)], frames, tracks=tracks)
    with pytest.raises(DatasetError, match=needle):
        ds.validate()


def test_valid_dataset_passes() -> None:
    ds = Dataset(SK, [_images(2)], [Frame("set", 1, (_ann(track="t1"),))], tracks=["t1"])
    ds.validate()
    assert ds.num_annotations == 1
    assert ds.source("set").frame_count == 2


def test_wrong_shapes_are_refused() -> None:
    with pytest.raises(DatasetError):
        Annotation(np.zeros((17, 2)))
    with pytest.raises(DatasetError):
        Annotation(np.zeros((17, 3)), kp_scores=np.zeros(3))


def test_unknown_format_is_one_clear_error(tmp_path: object) -> None:
    with pytest.raises(UnknownFormatError, match="unknown format"):
        get_format("no-such-format")
    with pytest.raises(UnknownFormatError, match="--format"):
        detect("/nonexistent/file.xyz")
