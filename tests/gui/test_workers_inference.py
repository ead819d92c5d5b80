"""The inference lane: model loading, newest-wins live inference, batch with progress and cancel."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.errors import PoseStudioError
from pose_studio.gui.workers.inference import InferenceController, ModelInfo

pytestmark = pytest.mark.gui


def _until(qtbot, cond, timeout: int = 5000) -> None:
    qtbot.waitUntil(lambda: bool(cond()), timeout=timeout)


class FakeApi:
    """Stands in for pose_studio.inference: deterministic, with a per-frame delay."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.threads: set[int] = set()
        self.loaded: list[str] = []

    def load_model(self, path: str, *, provider: str = "auto", expect: str | None = None,
                   device_id: int = 0) -> Any:
        self.threads.add(threading.get_ident())
        if not Path(path).exists():
            raise PoseStudioError(f"cannot load model {path}: file not found")
        self.loaded.append(path)
        return SimpleNamespace(family="heatmap", keypoint_names=("a", "b"), skeleton=None,
                               providers=["CPUExecutionProvider"], input_size=(64, 64))

    def _result(self, idx: int) -> Any:
        inst = Instance(xy=[[idx, idx], [idx + 1, idx + 1]], visibility=[2, 2],
                        kind=InstanceKind.PREDICTED, kp_scores=[0.9, 0.8], score=0.85)
        return SimpleNamespace(frame_idx=idx, instances=(inst,))

    def predict_frame(self, frame: np.ndarray, model: Any, detector: Any = None,
                      boxes: Any = None, frame_idx: int | None = None) -> Any:
        self.threads.add(threading.get_ident())
        time.sleep(self.delay)
        return self._result(int(frame[0, 0, 0]))

    def run_video(self, reader_factory: Any, model: Any, *, detector: Any = None,
                  frames: Any = None, batch: int = 8, cancel: Any = None,
                  progress: Any = None, boxes: Any = None) -> Iterator[Any]:
        reader = reader_factory()
        for i in frames:
            if cancel is not None and cancel.is_set():
                return
            reader.get(i)
            time.sleep(self.delay)
            yield self._result(i)


class FakeProject:
    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self.frames: list[int] = []
        self.commits = 0
        self.threads: set[int] = set()

    def create_model_run(self, **kw: Any) -> int:
        self.runs.append(kw)
        return len(self.runs)

    def add_predictions(self, video_id: int, items: Any, model_run_id: int, *,
                        replace: bool = True) -> int:
        self.threads.add(threading.get_ident())
        items = list(items)
        self.frames.extend(i for i, _ in items)
        self.commits += 1
        return len(items)

    def delete_predictions(self, video_id: int, frames: Any = None, *, run: Any = "all") -> int:
        self.commits += 1
        return 0

    def iter_instances(self, source: str = "all", video_id: Any = None) -> Iterator[Any]:
        return iter(())


class FakeReader:
    def get(self, i: int) -> np.ndarray:
        return np.full((4, 4, 3), i % 256, np.uint8)


class Rec:
    def __init__(self, ctl: InferenceController) -> None:
        self.infos: list[Any] = []
        self.results: list[tuple[int, int, Any]] = []
        self.errors: list[str] = []
        self.progress: list[tuple[int, int, float]] = []
        self.written: list[int] = []
        self.finished: list[tuple[int, bool]] = []
        ctl.model_loaded.connect(self.infos.append)
        ctl.result_ready.connect(lambda *a: self.results.append(a))
        ctl.failed.connect(self.errors.append)
        ctl.progress.connect(lambda *a: self.progress.append(a))
        ctl.predictions_written.connect(self.written.append)
        ctl.batch_finished.connect(lambda *a: self.finished.append(a))


@pytest.fixture
def ctl_factory() -> Iterator:
    made: list[InferenceController] = []

    def make(**kw: Any) -> InferenceController:
        c = InferenceController(**kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.shutdown()
        assert not c.running


def _model_file(tmp_path: Path) -> Path:
    p = tmp_path / "m.onnx"
    p.write_bytes(b"x")
    return p


def test_load_model_reports_info_and_failure(qtbot, ctl_factory, tmp_path: Path) -> None:
    api = FakeApi()
    ctl = ctl_factory(api=api)
    rec = Rec(ctl)
    ctl.load_model(tmp_path / "missing.onnx")
    _until(qtbot, lambda: rec.errors)
    assert "missing.onnx" in rec.errors[0]
    ctl.load_model(_model_file(tmp_path), provider="cuda")
    _until(qtbot, lambda: rec.infos)
    info = rec.infos[0]
    assert isinstance(info, ModelInfo)
    assert info.keypoints == ("a", "b") and info.providers == ("CPUExecutionProvider",)
    assert any("cuda" in w.lower() for w in info.warnings)
    # a top-down model without a detector says so (whole frames of nobody made junk)
    assert info.top_down and info.needs_boxes
    assert any("no detector" in w for w in info.warnings)
    assert threading.get_ident() not in api.threads


def test_live_inference_drops_stale_results(qtbot, ctl_factory, tmp_path: Path) -> None:
    api = FakeApi(delay=0.03)
    ctl = ctl_factory(api=api)
    rec = Rec(ctl)
    ctl.load_model(_model_file(tmp_path))
    _until(qtbot, lambda: rec.infos)
    last = 0
    for i in range(30):
        frame = np.full((4, 4, 3), i, np.uint8)
        last = ctl.infer_frame(i, frame)
    _until(qtbot, lambda: rec.results)
    qtbot.wait(150)
    assert [r[0] for r in rec.results] == [last]  # only the newest one arrives
    _req, idx, res = rec.results[0]
    assert idx == 29 and res.frame_idx == 29


def test_live_without_model_fails(qtbot, ctl_factory) -> None:
    ctl = ctl_factory(api=FakeApi())
    rec = Rec(ctl)
    ctl.infer_frame(0, np.zeros((4, 4, 3), np.uint8))
    _until(qtbot, lambda: rec.errors)
    assert "no pose model" in rec.errors[0]


def test_batch_writes_chunks_with_throttled_progress(qtbot, ctl_factory, tmp_path: Path) -> None:
    api = FakeApi(delay=0.002)
    ctl = ctl_factory(api=api, open_video=lambda p, i: FakeReader())
    rec = Rec(ctl)
    ctl.load_model(_model_file(tmp_path))
    _until(qtbot, lambda: rec.infos)
    project = FakeProject()
    assert ctl.start_batch(project, 1, "v.mp4", None, 10, 110, chunk=16)
    assert ctl.batch_running
    _until(qtbot, lambda: rec.finished)
    assert rec.finished == [(100, False)]
    assert sorted(project.frames) == list(range(10, 110))
    assert project.commits == 7 and len(rec.written) == 7 and set(rec.written) == {1}
    assert rec.progress[-1][:2] == (100, 100)
    done = [d for d, _t, _f in rec.progress]
    assert done == sorted(done)
    assert len(rec.progress) <= 7 + 1  # throttled: at most one per committed chunk, and the end
    assert project.runs[0]["params"]["frames"] == [10, 110]
    assert threading.get_ident() not in project.threads
    assert not ctl.batch_running


def test_batch_cancel_keeps_finished_frames(qtbot, ctl_factory, tmp_path: Path) -> None:
    api = FakeApi(delay=0.01)
    ctl = ctl_factory(api=api, open_video=lambda p, i: FakeReader())
    rec = Rec(ctl)
    ctl.load_model(_model_file(tmp_path))
    _until(qtbot, lambda: rec.infos)
    project = FakeProject()
    ctl.start_batch(project, 3, "v.mp4", None, 0, 1000, chunk=8)
    _until(qtbot, lambda: len(rec.written) >= 2)
    assert ctl.cancel_batch(wait_ms=5000)  # returns once the worker stopped writing
    n_now = len(project.frames)
    _until(qtbot, lambda: rec.finished)
    n, cancelled = rec.finished[0]
    assert n == n_now
    assert cancelled and 16 <= n < 1000
    assert len(project.frames) == n  # everything reported is in the project
    # A new batch can start after a cancel and is not cancelled itself.
    ctl.start_batch(project, 3, "v.mp4", None, 0, 5)
    _until(qtbot, lambda: len(rec.finished) == 2)
    assert rec.finished[1] == (5, False)


def test_live_requests_are_served_during_a_batch(qtbot, ctl_factory, tmp_path: Path) -> None:
    api = FakeApi(delay=0.005)
    ctl = ctl_factory(api=api, open_video=lambda p, i: FakeReader())
    rec = Rec(ctl)
    ctl.load_model(_model_file(tmp_path))
    _until(qtbot, lambda: rec.infos)
    ctl.start_batch(FakeProject(), 1, "v.mp4", None, 0, 400, chunk=8)
    _until(qtbot, lambda: rec.written)
    req = ctl.infer_frame(42, np.full((4, 4, 3), 42, np.uint8))
    _until(qtbot, lambda: rec.results)
    assert rec.results[-1][:2] == (req, 42)
    assert not rec.finished  # answered while the batch was still running
    ctl.cancel_batch()
    _until(qtbot, lambda: rec.finished)


def test_batch_without_model_and_errors(qtbot, ctl_factory) -> None:
    ctl = ctl_factory(api=FakeApi(), open_video=lambda p, i: FakeReader())
    rec = Rec(ctl)
    ctl.start_batch(FakeProject(), 1, "v.mp4", None, 0, 10)
    _until(qtbot, lambda: rec.finished)
    assert "no pose model" in rec.errors[0]
    assert rec.finished == [(0, True)]


def test_shutdown_during_batch(qtbot, tmp_path: Path) -> None:
    api = FakeApi(delay=0.01)
    ctl = InferenceController(api=api, open_video=lambda p, i: FakeReader())
    rec = Rec(ctl)
    ctl.load_model(_model_file(tmp_path))
    _until(qtbot, lambda: rec.infos)
    ctl.start_batch(FakeProject(), 1, "v.mp4", None, 0, 100000)
    qtbot.wait(50)
    ctl.shutdown()  # cancels the batch and joins the thread (the guard checks none is left)
    assert not ctl.running
    ctl.shutdown()


# --- the real engine, store and reader ---------------------------------------------------------
def _project_with_video(tmp_path: Path, n: int) -> tuple[Any, int, Path, bytes]:
    from pose_studio.core.skeleton import COCO17
    from pose_studio.store.project import Project
    from pose_studio.video import open_video
    from tests.support.videos import make_indexed_video

    path = make_indexed_video(tmp_path / "v.mp4", n, size=(160, 120))
    with open_video(path) as r:
        m = r.meta
        index = r.index_bytes()
    proj = Project.create(tmp_path / "p.posestudio", COCO17)
    vid = proj.add_video(path, width=m.width, height=m.height, frame_count=m.frame_count,
                         fps=m.fps, vfr=m.vfr, codec=m.codec, duration_s=m.duration_s,
                         index=index)
    return proj, vid, path, index


def test_real_model_live_and_batch(qtbot, ctl_factory, tmp_path: Path) -> None:
    from tests.support.onnx_models import make_heatmap_model

    model = make_heatmap_model(tmp_path / "hm.onnx", k=17, input_hw=(128, 96))
    proj, vid, path, index = _project_with_video(tmp_path, 30)
    try:
        ctl = ctl_factory()
        rec = Rec(ctl)
        ctl.load_model(tmp_path / "not-a-model.onnx")
        _until(qtbot, lambda: rec.errors, timeout=10000)
        assert "not-a-model.onnx" in rec.errors[0]
        ctl.load_model(model, provider="cpu")
        _until(qtbot, lambda: rec.infos or len(rec.errors) > 1, timeout=15000)
        assert not rec.errors[1:], rec.errors
        info = rec.infos[0]
        assert len(info.keypoints) == 17 and "CPUExecutionProvider" in info.providers

        frame = np.zeros((120, 160, 3), np.uint8)
        req = ctl.infer_frame(7, frame)
        _until(qtbot, lambda: rec.results, timeout=10000)
        assert rec.results[-1][:2] == (req, 7)
        assert rec.results[-1][2].frame_idx == 7 and len(rec.results[-1][2].instances) == 1

        import hashlib

        assert info.model_hash == hashlib.sha256(model.read_bytes()).hexdigest()

        # batch=8: 8 crops x 17 maps = 136 maps, past OpenCV's 128-channel filter limit
        ctl.start_batch(proj, vid, str(path), index, 0, 30, chunk=8, batch=8)
        _until(qtbot, lambda: rec.finished or len(rec.errors) > 1, timeout=30000)
        assert rec.finished == [(30, False)], rec.errors
        arrays = proj.frame_arrays(vid)
        assert arrays.predicted.sum() == 30
        assert len(rec.written) == 4  # ceil(30 / 8) committed chunks
        assert rec.progress[-1][:2] == (30, 30)
        (run,) = proj.model_runs()
        assert run.model_hash == info.model_hash
    finally:
        proj.close()


def test_real_batch_cancel_keeps_done_frames(qtbot, ctl_factory, tmp_path: Path) -> None:
    from tests.support.onnx_models import make_heatmap_model

    model = make_heatmap_model(tmp_path / "hm.onnx", k=17, input_hw=(256, 192))
    proj, vid, path, index = _project_with_video(tmp_path, 240)
    try:
        ctl = ctl_factory()
        rec = Rec(ctl)
        ctl.load_model(model, provider="cpu")
        _until(qtbot, lambda: rec.infos or rec.errors, timeout=15000)
        ctl.predictions_written.connect(lambda _v: ctl.cancel_batch())
        ctl.start_batch(proj, vid, str(path), index, 0, 240, chunk=4, batch=4)
        _until(qtbot, lambda: rec.finished or rec.errors, timeout=60000)
        n, cancelled = rec.finished[0]
        assert cancelled and 4 <= n < 240, (n, rec.errors)
        assert int(proj.frame_arrays(vid).predicted.sum()) == n
    finally:
        proj.close()
