"""Scoring model runs against labels (per label, frame, keypoint; COCO AP equal to the reference
implementation) and ``pose-studio compare``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose_studio.cli import main as cli
from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.oks import coco_keypoint_ap, oks
from pose_studio.core.run_eval import Points, score_run
from pose_studio.core.skeleton import COCO17
from pose_studio.inference import InferenceError
from pose_studio.inference.compare import compare_runs, evaluate_run
from pose_studio.store import Project

K = 17
SIG = COCO17.sigma_array()


def _random_points(rng: np.random.Generator, frames: int, per: int, noise: float,
                   miss: float) -> Points:
    fr, xy, vis, sc, bx = [], [], [], [], []
    for f in range(frames):
        for p in range(per):
            if rng.random() < miss:
                continue
            base = np.stack([np.linspace(50 + 100 * p, 80 + 100 * p, K), np.linspace(20, 200, K)],
                            1)
            fr.append(f)
            xy.append(base + rng.normal(0, noise, (K, 2)))
            v = np.full(K, 2, np.uint8)
            v[rng.random(K) < 0.2] = 0
            vis.append(v)
            sc.append(rng.random())
            bx.append([50 + 100 * p - 10, 10, 60, 200])
    return Points(np.array(fr), np.array(xy), np.array(vis), np.array(sc), np.array(bx, float))


def _instances(p: Points, pred: bool) -> dict[int, list[Instance]]:
    out: dict[int, list[Instance]] = {}
    for i in range(len(p)):
        inst = Instance(p.xy[i], p.vis[i], score=p.score[i] if pred else None,
                        kind=InstanceKind.PREDICTED if pred else InstanceKind.USER,
                        bbox=tuple(p.boxes[i]))  # type: ignore[arg-type]
        out.setdefault(int(p.frames[i]), []).append(inst)
    return out


def test_ap_equals_the_reference_implementation() -> None:
    rng = np.random.default_rng(0)
    gt = _random_points(rng, 80, 2, 0.0, 0.1)
    dt = _random_points(rng, 100, 3, 6.0, 0.2)  # frames 80..99 are unlabeled: not counted
    r = score_run(gt, dt, SIG)
    g = _instances(gt, False)
    ref = coco_keypoint_ap(g, {k: v for k, v in _instances(dt, True).items() if k in g}, SIG)
    assert (r.ap, r.ap50, r.ap75) == pytest.approx((ref["AP"], ref["AP50"], ref["AP75"]),
                                                   abs=1e-12)
    assert 0 < r.ap < 1 and r.predictions == int(np.isin(dt.frames, gt.frames).sum())


def test_per_label_frame_and_keypoint_oks() -> None:
    """One frame, two people; the prediction for person 0 is 3 px off on the nose only, person
    1 is missed."""
    base = np.stack([np.linspace(10, 60, K), np.linspace(10, 200, K)], 1)
    gt = Points(np.array([4, 4]), np.stack([base, base + 300]), np.full((2, K), 2, np.uint8),
                np.array([np.nan, np.nan]), np.array([[0, 0, 100, 220], [300, 300, 100, 220]],
                                                     float))
    d = base.copy()
    d[0] += 3.0
    dt = Points(np.array([4]), d[None], np.full((1, K), 2, np.uint8), np.array([0.9]),
                np.full((1, 4), np.nan))
    r = score_run(gt, dt, SIG)
    expect = oks(base, np.full(K, 2), d, 100 * 220, SIG)
    assert r.label_oks.tolist() == pytest.approx([expect, 0.0])
    assert r.frame_oks.tolist() == pytest.approx([expect / 2])
    term = np.exp(-(18.0 / (2 * SIG[0]) ** 2 / (22000 + np.spacing(1)) / 2))
    assert r.label_keypoint_oks[0, 0] == pytest.approx(term)
    assert r.keypoint_oks[0] == pytest.approx(term / 2) and r.keypoint_oks[5] == 0.5


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, int, int]:
    """Labels on frames 0..9; run A 8 px off everywhere, run B 1 px off except frame 3 (30 px);
    on unlabeled frame 20 the runs disagree."""
    path = tmp_path / "p.posestudio"
    rng = np.random.default_rng(1)
    with Project.create(path, COCO17) as p:
        vid = p.add_video(tmp_path / "v.mp4", width=640, height=480, frame_count=100, fps=25.0)
        base = np.stack([np.linspace(100, 160, K), np.linspace(50, 300, K)], 1)
        for f in range(10):
            p.add_instance(vid, f, Instance(base + rng.normal(0, 0.5, (K, 2)),
                                            np.full(K, 2, np.uint8)))

        def pred(off: float) -> Instance:
            return Instance(base + off, np.full(K, 2, np.uint8), kind=InstanceKind.PREDICTED,
                            kp_scores=np.full(K, 0.9, np.float32), score=0.9,
                            bbox=(90, 40, 80, 270))

        ra = p.create_model_run(model_path="/m/first.onnx", model_hash="a", providers=[],
                                params={"pose": {"name": "first"}})
        p.add_predictions(vid, [(f, pred(8.0)) for f in (*range(10), 20)], ra)
        rb = p.create_model_run(model_path="/m/retrained.onnx", model_hash="b", providers=[],
                                params={"pose": {"name": "retrained"}})
        p.add_predictions(vid, [(f, pred(30.0 if f == 3 else 1.0)) for f in range(10)] +
                          [(20, pred(60.0))], rb)
    return path, ra, rb


def test_compare_runs_says_where_the_retrained_model_got_better(
        two_runs: tuple[Path, int, int]) -> None:
    path, ra, rb = two_runs
    with Project.open(path, read_only=True) as p:
        c = compare_runs(p, ra, rb, top=20)
        ea = evaluate_run(p, ra, video_ids=[1])
    assert c.labels == 10 and c.labeled_frames == 10
    assert c.a.name == "first" and c.b.name == "retrained"
    assert c.b.scores.ap > c.a.scores.ap
    assert np.array_equal(ea.scores.frame_oks, c.a.scores.frame_oks)
    fa, fb = c.a.scores.frame_oks, c.b.scores.frame_oks
    assert (fb[np.arange(10) != 3] > fa[np.arange(10) != 3]).all() and fb[3] < fa[3]
    assert c.changed[0].key.frame_idx == 3 and c.changed[0].delta < 0  # labeled, worse
    unl = [ch for ch in c.changed if ch.oks_a != ch.oks_a]
    assert [ch.key.frame_idx for ch in unl] == [20] and unl[0].agreement < 0.5
    assert c.a.predicted_frames == 11 and ea.frame_keys()[0].video_id == 1


def test_pose_studio_compare(two_runs: tuple[Path, int, int],
                             capsys: pytest.CaptureFixture[str]) -> None:
    path, ra, rb = two_runs
    assert cli.main(["compare", str(path), str(ra), str(rb), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "labels: 10 people on 10 frames" in out
    assert f"run {ra}: first" in out and f"run {rb}: retrained" in out
    assert "video 1 frame 3: OKS" in out and "per keypoint" in out
    assert cli.main(["compare", str(path), "--list"]) == 0
    listed = capsys.readouterr().out
    assert f"run {rb} (shown): retrained" in listed and "11 frames" in listed
    assert cli.main(["compare", str(path), str(ra), "77"]) == 1
    assert "has no model run 77" in capsys.readouterr().err
    with Project.open(path, read_only=True) as p, pytest.raises(InferenceError):
        compare_runs(p, ra, None)
