"""Session fixtures of the hostile-input suite: the shared inputs and a small tmpfs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.hostile.harness import Assets


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Assets:
    import cv2

    from pose_studio.core.annotation import Instance, InstanceKind
    from pose_studio.core.skeleton import COCO17
    from pose_studio.formats.coco import export_coco
    from pose_studio.store import Project
    from pose_studio.video import open_video
    from tests.support.onnx_models import make_heatmap_model
    from tests.support.videos import make_indexed_video

    d = tmp_path_factory.mktemp("hostile-assets")
    video = make_indexed_video(d / "clip.mp4", 12, size=(64, 48), codec="mjpeg")
    video2 = make_indexed_video(d / "other.avi", 6, size=(64, 48), codec="mjpeg")
    k = COCO17.num_keypoints
    rng = np.random.default_rng(7)
    proj = d / "base.posestudio"
    with Project.create(proj, COCO17) as p, open_video(video) as r:
        m = r.meta
        vid = p.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                          fps=m.fps, index=r.index_bytes())
        track = p.create_track("a")
        for f in (1, 2):
            p.add_instance(vid, f, Instance(xy=rng.uniform(2, 40, (k, 2)),
                                            visibility=np.full(k, 2), track_id=track))
        run = p.create_model_run(model_path="m.onnx", model_hash="h", providers=["CPU"],
                                 params={"a": 1})
        p.add_predictions(vid, [(3, Instance(xy=rng.uniform(2, 40, (k, 2)),
                                             visibility=np.full(k, 2),
                                             kind=InstanceKind.PREDICTED,
                                             kp_scores=rng.random(k), score=0.8))], run)
        from pose_studio.video.fingerprint import frame_signature

        p.set_fingerprints(vid, {1: frame_signature(r.get(1))})
        coco = d / "labels.json"
        export_coco(p, coco, source="user")
    # the same labels moved by a pixel: importing them writes new instances
    data = json.loads(coco.read_text())
    for a in data["annotations"]:
        a["keypoints"] = [v + 1.0 if i % 3 != 2 else v for i, v in enumerate(a["keypoints"])]
    coco.write_text(json.dumps(data))
    model = make_heatmap_model(d / "pose.onnx", input_hw=(64, 48))
    png = d / "img.png"
    cv2.imwrite(str(png), np.full((48, 64, 3), 128, np.uint8))
    return Assets(d, proj, video, video2, coco, model, png)


@pytest.fixture(scope="session")
def tmpfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A 4 MiB tmpfs to fill up (Linux, root); skipped with the reason elsewhere."""
    if not sys.platform.startswith("linux"):
        pytest.skip("full-disk cases need a Linux tmpfs")
    if os.geteuid() != 0:
        pytest.skip("full-disk cases mount a small tmpfs, which needs root")
    mnt = tmp_path_factory.mktemp("full")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0777", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"full-disk cases: cannot mount a tmpfs here ({r.stderr.strip()})")
    try:
        yield mnt
    finally:
        for child in mnt.iterdir():
            with contextlib.suppress(OSError):
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
