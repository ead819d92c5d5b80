"""Training data from a project's user labels (the retraining loop)."""

from __future__ import annotations

import numpy as np
import pytest

from pose_studio.core.skeleton import COCO17
from pose_studio.store.project import Project
from pose_studio.synth import render_clip, write_clip
from pose_studio.train import data as D
from pose_studio.train.project_data import VIDEO_STRIDE, project_samples
from pose_studio.video import open_video

INPUT = (64, 96)


@pytest.fixture
def labeled_project(tmp_path):
    frames, gts = render_clip(21, 12, (160, 120), 1, motions=["walk"], occlude=0.0)
    video = write_clip(tmp_path / "clip.avi", frames, fps=10)
    path = tmp_path / "p.posestudio"
    with Project.create(path, COCO17) as proj, open_video(video) as r:
        m = r.meta
        vid = proj.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                             fps=m.fps, index=r.index_bytes())
        for f in (0, 3, 6, 9, 11):
            for inst in gts[f].instances():
                proj.add_instance(vid, f, inst)
    return path, frames, gts, vid


def test_project_samples_crop_the_labeled_people(labeled_project) -> None:
    path, frames, gts, vid = labeled_project
    s = project_samples(path, INPUT)
    assert len(s) == 5
    assert sorted(s.group.tolist()) == [vid * VIDEO_STRIDE + f for f in (0, 3, 6, 9, 11)]
    # the crop's keypoints land where the figure is: compare with a crop of the raw frame
    i = int(np.argmin(s.group))
    crop, xy = D.extract_crop(frames[0], gts[0].boxes[0], gts[0].keypoints[0],
                              gts[0].visibility[0], INPUT)
    np.testing.assert_allclose(s.keypoints[i], xy, atol=1e-3)
    # the stored video is lossy (MJPG): the crop matches the rendered frame closely
    assert np.abs(s.images[i].astype(int) - crop.astype(int)).mean() < 12


def test_project_without_labels_is_a_clear_error(tmp_path) -> None:
    import torch  # the test environment installs the train extra: no skip

    del torch
    from pose_studio.train.trainer import TrainConfig, TrainError, train

    path = tmp_path / "empty.posestudio"
    Project.create(path, COCO17).close()
    with pytest.raises(TrainError, match="no labeled instances"):
        train(TrainConfig(out_dir=str(tmp_path / "o"), project=str(path)))
