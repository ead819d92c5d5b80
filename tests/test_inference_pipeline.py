"""The video pipeline: order, batching across frames, cancel, tracking, storing predictions."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.skeleton import COCO17
from pose_studio.inference import (
    DetectorModel,
    InferenceError,
    PoseModel,
    create_model_run,
    load_model,
    predict_frame,
    run_video,
    stream_to_project,
)
from tests.support import onnx_models as om

W, H = 160, 120


class ArrayReader:
    """A VideoReader stand-in over generated frames (frame i has pixel value i)."""

    opened = 0
    closed = 0

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        ArrayReader.opened += 1

    def __len__(self) -> int:
        return self.n

    def _frame(self, i: int) -> np.ndarray:
        if i == self.fail_at:
            raise InferenceError(f"frame {i} cannot be decoded")
        f = np.full((H, W, 3), i % 256, np.uint8)
        f[40:80, 60:100] = 255 - i % 256
        return f

    def get(self, i: int) -> np.ndarray:
        return self._frame(i)

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        for i in range(start, self.n if stop is None else stop):
            yield i, self._frame(i)

    def close(self) -> None:
        ArrayReader.closed += 1


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PoseModel | DetectorModel]:
    d = tmp_path_factory.mktemp("models")
    return {
        "hm": load_model(om.make_heatmap_model(d / "hm.onnx", input_hw=(64, 48),
                                               planted=[(5.0, 6.0)] * 17), provider="cpu"),
        "simcc": load_model(om.make_simcc_model(d / "s.onnx", input_hw=(64, 48),
                                                planted=[(40, 60)] * 17), provider="cpu"),
        "det": load_model(om.make_detector_end2end(d / "det.onnx", input_hw=(160, 160),
                                                   boxes=((10, 10, 60, 100), (80, 20, 150, 110)),
                                                   scores=(0.9, 0.8), classes=(0, 0)),
                          provider="cpu"),
        "yolo": load_model(om.make_yolo_pose_model(d / "y.onnx", input_hw=(160, 160), planted=[
            {"anchor": 5, "box": (80, 80, 40, 80), "score": 0.9,
             "kpts": np.tile([80.0, 80.0, 0.9], (17, 1))}]), provider="cpu"),
    }


def pm(models: dict[str, PoseModel | DetectorModel], key: str) -> PoseModel:
    m = models[key]
    assert isinstance(m, PoseModel)
    return m


def test_every_requested_frame_in_order(models: dict) -> None:
    res = list(run_video(lambda: ArrayReader(12), pm(models, "hm"), batch=5))
    assert [r.frame_idx for r in res] == list(range(12))
    assert all(len(r.instances) == 1 and r.frame_size == (W, H) for r in res)
    inst = res[0].instances[0]
    assert inst.kind is InstanceKind.PREDICTED and inst.kp_scores is not None
    assert inst.bbox == (0.0, 0.0, float(W), float(H))
    sparse = [9, 2, 5, 5]
    assert [r.frame_idx for r in run_video(lambda: ArrayReader(12), pm(models, "hm"),
                                           frames=sparse, batch=3)] == sparse


def test_crops_of_several_frames_share_one_run(models: dict) -> None:
    m = pm(models, "simcc")
    calls: list[int] = []
    orig = m.session.run_once

    def spy(x: np.ndarray) -> list[np.ndarray]:
        if not calls:
            time.sleep(0.3)  # a slow first run: the producer fills the queue meanwhile
        calls.append(int(x.shape[0]))
        return orig(x)

    m.session.run_once = spy  # type: ignore[method-assign]
    try:
        boxes = [[0, 0, 50, 100], [60, 10, 150, 110]]
        res = list(run_video(lambda: ArrayReader(7), m, boxes=boxes, batch=3))
    finally:
        del m.session.run_once
    # the first run starts with what is ready; then 3 frames x 2 persons share one run
    assert sum(calls) == 14 and all(c % 2 == 0 for c in calls)
    assert 6 in calls[1:] and max(calls) == 6
    assert [len(r.instances) for r in res] == [2] * 7
    assert res[0].instances[1].bbox == (60.0, 10.0, 90.0, 100.0)


def test_detector_then_pose(models: dict) -> None:
    det = models["det"]
    assert isinstance(det, DetectorModel)
    res = list(run_video(lambda: ArrayReader(4), pm(models, "hm"), detector=det, batch=2))
    assert [r.frame_idx for r in res] == [0, 1, 2, 3]
    for r in res:
        boxes = sorted(i.bbox for i in r.instances)  # type: ignore[type-var]
        assert boxes == [(10.0, 10.0, 50.0, 90.0), (80.0, 20.0, 70.0, 90.0)]
        img = r.heatmap_image()
        assert img is not None and img.shape == (H, W)


def test_one_stage_yolo_pose(models: dict) -> None:
    res = list(run_video(lambda: ArrayReader(3), pm(models, "yolo"), batch=2))
    assert [len(r.instances) for r in res] == [1, 1, 1]
    assert np.allclose(res[0].instances[0].xy, [80.0, 60.0])  # r = 1, top pad 20
    assert res[0].maps == (None,)


def test_cancel_stops_early_and_cleans_up(models: dict) -> None:
    cancel = threading.Event()
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int, fps: float) -> None:
        seen.append((done, total))
        if done == 3:
            cancel.set()

    before = threading.active_count()
    res = list(run_video(lambda: ArrayReader(200), pm(models, "hm"), batch=2, cancel=cancel,
                         progress=progress))
    assert len(res) == 3
    assert seen[-1] == (3, 200)
    assert threading.active_count() == before  # producer thread joined
    assert ArrayReader.opened == ArrayReader.closed


def test_closing_the_generator_early_stops_the_producer(models: dict) -> None:
    before = threading.active_count()
    gen = run_video(lambda: ArrayReader(100), pm(models, "hm"), batch=4)
    assert next(gen).frame_idx == 0
    gen.close()
    assert threading.active_count() == before


def test_reader_errors_and_bad_frames_surface_as_pose_studio_errors(models: dict) -> None:
    with pytest.raises(PoseStudioError, match="frame 4 cannot be decoded"):
        list(run_video(lambda: ArrayReader(10, fail_at=4), pm(models, "hm")))
    with pytest.raises(InferenceError, match="out of range"):
        list(run_video(lambda: ArrayReader(10), pm(models, "hm"), frames=[3, 10]))
    with pytest.raises(InferenceError, match="empty"):
        list(run_video(lambda: ArrayReader(10), pm(models, "hm"), boxes=[[5, 5, 5, 9]]))


def test_tracking_follows_previous_keypoints(models: dict) -> None:
    m = pm(models, "hm")
    seen_boxes: list[list[float] | None] = []
    orig = m.prepare_crops

    def spy(frame: np.ndarray, boxes: object, scores: object = None):  # type: ignore[no-untyped-def]
        seen_boxes.append(np.asarray(boxes).reshape(-1, 4)[0].tolist() if boxes is not None
                          else None)
        return orig(frame, boxes, scores)

    m.prepare_crops = spy  # type: ignore[method-assign,assignment]
    try:
        res = list(run_video(lambda: ArrayReader(4), m, boxes=[[20, 20, 120, 100]], track=True,
                             redetect_every=3))
    finally:
        del m.prepare_crops
    assert len(res) == 4
    assert seen_boxes[0] == [20, 20, 120, 100]
    assert seen_boxes[1] != seen_boxes[0]  # from the keypoints of frame 0
    assert seen_boxes[3] == [20, 20, 120, 100]  # re-detect on schedule: the given box again


def test_predict_frame(models: dict) -> None:
    f = ArrayReader(1).get(0)
    r = predict_frame(f, pm(models, "hm"), boxes=[[10, 10, 90, 110]], frame_idx=7)
    assert r.frame_idx == 7 and len(r.instances) == 1
    det = models["det"]
    assert isinstance(det, DetectorModel)
    assert len(predict_frame(f, pm(models, "hm"), det).instances) == 2


def test_stream_to_project_writes_predictions(models: dict, tmp_path: Path) -> None:
    from pose_studio.store.project import Project

    with Project.create(tmp_path / "p.posestudio", COCO17) as proj:
        vid = proj.add_video(tmp_path / "v.mp4", width=W, height=H, frame_count=10, fps=30.0,
                             vfr=False, codec="h264", duration_s=1 / 3, index=None)
        m = pm(models, "hm")
        run_id = create_model_run(proj, m)
        cancel = threading.Event()

        def progress(done: int, total: int, fps: float) -> None:
            if done == 7:
                cancel.set()

        n = stream_to_project(proj, vid, run_video(lambda: ArrayReader(10), m, batch=4,
                                                   cancel=cancel, progress=progress),
                              run_id, batch=3)
        assert n == 7
        runs = proj.model_runs()
        assert runs[-1].id == run_id and runs[-1].model_hash == m.model_hash
        assert runs[-1].providers == ("CPUExecutionProvider",)
        stored = proj.instances(vid, 6)
        assert len(stored) == 1 and stored[0].kind is InstanceKind.PREDICTED
        assert stored[0].model_run_id == run_id and stored[0].kp_scores is not None
        assert proj.instances(vid, 7) == []


def test_real_video_file(models: dict, tmp_path: Path) -> None:
    from pose_studio.video import open_video
    from tests.support.videos import make_indexed_video, read_index_from_frame

    path = make_indexed_video(tmp_path / "v.mp4", 10, size=(W, H))
    frames_seen: list[int] = []
    m = pm(models, "hm")
    orig = m.prepare_crops

    def spy(frame: np.ndarray, boxes: object, scores: object = None):  # type: ignore[no-untyped-def]
        frames_seen.append(read_index_from_frame(frame))
        return orig(frame, boxes, scores)

    m.prepare_crops = spy  # type: ignore[method-assign,assignment]
    try:
        res = list(run_video(lambda: open_video(path), m, frames=range(2, 9), batch=3))
    finally:
        del m.prepare_crops
    assert [r.frame_idx for r in res] == list(range(2, 9))
    assert frames_seen == list(range(2, 9))


def test_stream_keeps_frames_done_before_an_error(models: dict, tmp_path: Path) -> None:
    from pose_studio.store.project import Project

    with Project.create(tmp_path / "p.posestudio", COCO17) as proj:
        vid = proj.add_video(tmp_path / "v.mp4", width=W, height=H, frame_count=10, fps=30.0,
                             vfr=False, codec="h264", duration_s=1 / 3, index=None)
        m = pm(models, "hm")
        with pytest.raises(InferenceError, match="frame 5 cannot be decoded"):
            stream_to_project(proj, vid, run_video(lambda: ArrayReader(10, fail_at=5), m),
                              create_model_run(proj, m), batch=2)
        assert [f for f in range(10) if proj.instances(vid, f)] == [0, 1, 2, 3, 4]
