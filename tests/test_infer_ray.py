"""``pose-studio infer --ray``: chunks on a local Ray (``ray.init(num_cpus=2)``) give the same
predictions as the sequential loop, each chunk is written exactly once, and without Ray the
option says how to install it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pose_studio.cli import main as cli
from pose_studio.core.skeleton import COCO17
from pose_studio.inference.cluster import plan_chunks
from pose_studio.store import Project
from tests.support import onnx_models as om

W, H = 96, 72


def _project(target: str, tmp_path: Path, lengths: tuple[int, ...]) -> str:
    from pose_studio.video import open_video
    from tests.support.videos import make_indexed_video

    with Project.create(target, COCO17) as proj:
        for i, n in enumerate(lengths):
            video = tmp_path / f"v{i}.mp4"
            if not video.exists():
                make_indexed_video(video, n, size=(W, H))
            with open_video(video) as r:
                m = r.meta
                proj.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                               fps=m.fps, vfr=m.vfr, codec=m.codec, duration_s=m.duration_s,
                               index=r.index_bytes())
    return target


def _predictions(target: str) -> dict[tuple[int, int], list[bytes]]:
    with Project.open(target) as p:
        out: dict[tuple[int, int], list[bytes]] = {}
        for v in p.videos():
            for f in range(v.frame_count):
                insts = p.instances(v.id, f, "predicted")
                if insts:
                    out[(v.id, f)] = sorted(np.asarray(i.xy).tobytes() for i in insts)
        return out


@pytest.fixture(scope="module")
def local_ray() -> Iterator[object]:
    import ray  # in the dev extra: a missing ray fails here instead of skipping
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("models")
    pose = om.make_heatmap_model(d / "pose.onnx", input_hw=(32, 24),
                                 planted=[(3.0 + i % 5, 4.0 + i % 7) for i in range(17)])
    det = om.make_detector_end2end(d / "det.onnx", input_hw=(96, 96),
                                   boxes=((5, 5, 40, 60), (50, 10, 90, 70)),
                                   scores=(0.9, 0.8), classes=(0, 0))
    return str(pose), str(det)


def test_chunks_start_on_batches_and_cover_every_frame() -> None:
    chunks = plan_chunks([(1, 10, "a", None, 3, 40), (2, 11, "b", None, 0, 5)], 10, 4, False)
    assert [(c.video_id, c.first, c.stop) for c in chunks] == [
        (1, 3, 15), (1, 15, 27), (1, 27, 39), (1, 39, 40), (2, 0, 5)]  # longest video first
    assert [(c.first, c.stop) for c in plan_chunks([(1, 1, "a", None, 0, 50)], 8, 4, True)] \
        == [(0, 50)]  # tracking follows the previous frame: one chunk


@pytest.mark.slow
def test_ray_equals_sequential_and_writes_each_chunk_once(
        tmp_path: Path, local_ray: object, models: tuple[str, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    pose, det = models
    seq = _project(str(tmp_path / "seq.posestudio"), tmp_path, (40, 9))
    par = _project(str(tmp_path / "ray.posestudio"), tmp_path, (40, 9))
    common = ["--model", pose, "--detector", det, "--provider", "cpu", "--batch", "4",
              "--quiet"]
    assert cli.main(["infer", seq, *common]) == 0
    rc = cli.main(["infer", par, *common, "--ray", "--chunk", "12", "--workers", "2"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "ray: 5 chunks of 2 videos" in out.err
    assert "video 1: 40 frames, 80 instances" in out.out
    want = _predictions(seq)
    assert len(want) == 49 and _predictions(par) == want
    with Project.open(par) as p:  # a chunk the cluster retried after it was written
        run = next(r.id for r in p.model_runs() if r.params.get("video_id") == 1)
        assert p.add_prediction_chunk(1, 12, 24, [], run) is None
    assert _predictions(par) == want


def test_a_chunk_is_written_once(project_target: str, backend: str, tmp_path: Path) -> None:
    """Two writers of the same chunk (a retry racing the original): one writes, one skips
    (a file has one writer: there the retry comes through the same project)."""
    from pose_studio.core.annotation import Instance, InstanceKind

    with Project.create(project_target, COCO17) as p:
        p.add_video(tmp_path / "v.mp4", width=W, height=H, frame_count=20, fps=25.0)
        run = p.create_model_run(model_path="m.onnx", model_hash="x", providers=["CPU"],
                                 params={})
        inst = Instance(xy=np.full((17, 2), 5.0), visibility=np.full(17, 2, np.uint8),
                        kind=InstanceKind.PREDICTED, score=0.5)
        items = [(f, inst) for f in range(4, 8)]
        assert p.add_prediction_chunk(1, 4, 8, items, run) == 4
        if backend == "sqlite":
            assert p.add_prediction_chunk(1, 4, 8, items, run) is None
        else:
            with Project.open(project_target) as other:
                assert other.add_prediction_chunk(1, 4, 8, items, run) is None
        assert sum(len(p.instances(1, f, "predicted")) for f in range(20)) == 4


def test_without_ray_the_option_says_how_to_install(
        tmp_path: Path, models: tuple[str, str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    target = _project(str(tmp_path / "p.posestudio"), tmp_path, (3,))
    rc = cli.main(["infer", target, "--model", models[0], "--ray"])
    err = capsys.readouterr().err
    assert rc != 0 and 'pip install "pose-studio[cluster]"' in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.postgres
def test_on_a_server_the_workers_write(tmp_path: Path, local_ray: object, models: tuple[str, str],
                                       capsys: pytest.CaptureFixture[str],
                                       server_url: str) -> None:
    pose, det = models
    seq = _project(str(tmp_path / "seq.posestudio"), tmp_path, (9,))
    common = ["--model", pose, "--detector", det, "--provider", "cpu", "--batch", "4", "--quiet"]
    assert cli.main(["infer", seq, *common]) == 0
    url = server_url
    _project(url, tmp_path, (9,))
    rc = cli.main(["infer", url, *common, "--ray", "--chunk", "4", "--workers", "2"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "ray: 3 chunks of 1 videos" in out.err
    assert _predictions(url) == _predictions(seq)


@pytest.mark.slow
def test_cancel_stops_the_workers_and_keeps_what_was_written(
        tmp_path: Path, local_ray: object, models: tuple[str, str]) -> None:
    import threading

    from pose_studio.inference.cluster import InferJob, run_on_ray

    target = _project(str(tmp_path / "c.posestudio"), tmp_path, (24,))
    cancel = threading.Event()
    with Project.open(target) as p:
        run = p.create_model_run(model_path=models[0], model_hash="x", providers=["CPU"],
                                 params={})
        v = p.videos()[0]
        chunks = plan_chunks([(v.id, run, str(v.path), p.video_index(v.id), 0, 24)], 8, 4, False)
        job = InferJob(model=models[0], detector=models[1], provider="cpu", batch=4)
        got = run_on_ray(p, job, chunks, workers=1, cancel=cancel,
                         on_progress=lambda prog, c: cancel.set())  # Ctrl-C after one chunk
        assert sum(got.done.values()) == 8
        written = [f for f in range(24) if p.instances(v.id, f, "predicted")]
    assert len(written) == 8 and written[-1] - written[0] == 7  # one whole chunk, no part
