"""Trainer pieces: targets, augmentation, splits, decoding, AP, the API; a tiny real training run."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pose_studio.core.skeleton import COCO17
from pose_studio.train import api
from pose_studio.train import data as D
from pose_studio.train import metrics as MT

INPUT = (64, 96)


def _samples(n_scenes: int = 6, seed: int = 0) -> D.Samples:
    return D.synthetic_samples(seed, n_scenes, INPUT)


def test_heatmap_targets_peak_at_keypoints() -> None:
    xy = np.array([[10.0, 20.0], [33.0, 41.0], [500.0, 5.0]])
    vis = np.array([2, 1, 2], np.uint8)
    hm, w = D.heatmap_targets(xy, vis, INPUT)
    assert hm.shape == (3, INPUT[1] // 4, INPUT[0] // 4)
    np.testing.assert_allclose(hm[0].max(), np.exp(-((10 / 4 - 2) ** 2) / 8) *
                               np.exp(-0 / 8), rtol=1e-5)
    iy, ix = np.unravel_index(hm[1].argmax(), hm[1].shape)
    assert (ix, iy) == (8, 10)  # 33/4, 41/4 rounded
    assert list(w) == [1.0, 1.0, 0.0]  # outside the map: no loss


def test_decode_recovers_subpixel_peak() -> None:
    xy = np.array([[7.3, 11.6], [9.0, 6.0]]) * 4
    hm, _ = D.heatmap_targets(xy, np.array([2, 2]), INPUT)
    dec, score = MT.decode_heatmaps(hm[None])
    np.testing.assert_allclose(dec[0] * 4, xy, atol=0.05)
    assert (score > 0.9).all()


def test_augmentation_keeps_keypoints_on_their_pixels() -> None:
    # A crop with one bright dot at a keypoint: after any augmentation the dot moves with it.
    crop = np.zeros((*D.stored_size(INPUT)[::-1], 3), np.uint8)
    xy = np.zeros((17, 2), np.float32)
    xy[:] = (40.0, 60.0)
    xy[9] = (22.0, 30.0)  # left wrist
    crop[29:32, 21:24] = 255
    vis = np.full(17, 2, np.uint8)
    rng = np.random.default_rng(0)
    aug = D.Augment(color=False)
    flips = 0
    for _ in range(20):
        img, pts, _v = D.augment_sample(rng, crop, xy, vis, INPUT, aug)
        # after a flip the wrist is the right one (index 10)
        k = 9 if (pts[9] != pts[0]).any() else 10
        flips += k == 10
        x, y = np.round(pts[k]).astype(int)
        if 1 <= x < INPUT[0] - 1 and 1 <= y < INPUT[1] - 1:
            assert img[y - 1 : y + 2, x - 1 : x + 2].max() > 100
    assert 0 < flips < 20


def test_flip_swaps_left_and_right() -> None:
    crop = np.zeros((*D.stored_size(INPUT)[::-1], 3), np.uint8)
    xy = np.tile(np.array([[30.0, 50.0]], np.float32), (17, 1))
    xy[5] = (20.0, 40.0)  # left shoulder on the image left
    vis = np.full(17, 2, np.uint8)
    vis[6] = 0
    _no_aug_img, p0, _ = D.augment_sample(np.random.default_rng(0), crop, xy, vis, INPUT, None)
    aug = D.Augment(scale=(1.0, 1.0), rotation_p=0.0, shift=0.0, flip_p=1.0, color=False)
    _, p1, v1 = D.augment_sample(np.random.default_rng(0), crop, xy, vis, INPUT, aug)
    assert v1[5] == 0 and v1[6] == 2  # visibility moved with the swap
    np.testing.assert_allclose(p1[6, 0], INPUT[0] - 1 - p0[5, 0], atol=1e-4)
    np.testing.assert_allclose(p1[6, 1], p0[5, 1], atol=1e-4)


def test_split_by_frame_blocks_never_leaks_neighbours() -> None:
    frames = np.arange(0, 600)
    train, val = D.split_by_groups(frames, 0.2, seed=1, gap=30)
    assert len(val) > 0 and len(train) > 0
    assert not set(train) & set(val)
    vf = frames[val]
    for t in frames[train]:
        assert np.abs(vf - t).min() >= 30


def test_ap_is_one_for_perfect_and_lower_for_noisy() -> None:
    perfect = MT.ap_one_per_gt(np.ones(20), np.linspace(0, 1, 20))
    assert perfect["AP"] == pytest.approx(1.0)
    noisy = MT.ap_one_per_gt(np.linspace(0.3, 1.0, 20), np.linspace(0, 1, 20))
    assert 0 < noisy["AP"] < 0.9


def test_synthetic_samples_are_consistent() -> None:
    s = _samples(4)
    assert len(s) >= 3
    ws, hs = D.stored_size(INPUT)
    assert s.images.shape[1:] == (hs, ws, 3)
    assert s.keypoints.shape == (len(s), 17, 2)
    lab = s.visibility > 0
    # labeled keypoints lie mostly inside the stored crop (the box covers the person)
    inside = ((s.keypoints[..., 0] >= 0) & (s.keypoints[..., 0] < ws)
              & (s.keypoints[..., 1] >= 0) & (s.keypoints[..., 1] < hs))
    assert inside[lab].mean() > 0.9


def test_train_command_and_progress_lines(tmp_path) -> None:
    cmd = api.train_command(tmp_path / "p.posestudio", tmp_path / "out", 5, init=None)
    assert cmd[0] == sys.executable and "--json-progress" in cmd
    assert cmd[cmd.index("--epochs") + 1] == "5"
    assert cmd[cmd.index("--project") + 1] == str(tmp_path / "p.posestudio")
    ev = {"event": "epoch", "epoch": 1, "step": 10, "loss": 1.5, "val_ap": 0.5}
    assert api.parse_progress_line(api.format_progress_line(ev)) == ev
    assert api.parse_progress_line("hello") is None
    assert api.parse_progress_line('{"event": "unknown"}') is None
    assert api.parse_progress_line("{broken") is None


def test_cli_without_torch_explains_how_to_install(monkeypatch, capsys) -> None:
    import argparse

    from pose_studio.cli import cmd_train

    monkeypatch.setattr(api, "torch_available", lambda: False)
    rc = cmd_train.run(argparse.Namespace())
    assert rc == 1
    assert 'pip install "pose-studio[train]"' in capsys.readouterr().err


TINY_NET = {"width": 8, "stem": 8, "layer1": 8, "blocks": 1, "modules": [1, 1, 1]}


@pytest.mark.slow
def test_few_steps_lower_the_loss_and_export_runs_in_the_engine(tmp_path) -> None:
    import torch  # the test environment installs the train extra: no skip

    from pose_studio.inference import load_model
    from pose_studio.train.export import export_onnx
    from pose_studio.train.net import HRNet, NetConfig

    torch.manual_seed(0)
    s = _samples(6)
    model = HRNet(NetConfig.from_dict(TINY_NET))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    idx = np.arange(min(8, len(s)))
    x, hm, w = next(D.batches(s, idx, 8, INPUT, rng, None))
    xt, ht, wt = (torch.from_numpy(a) for a in (x, hm, w))

    def loss_fn() -> torch.Tensor:
        return (((model(xt) - ht) ** 2) * wt[:, :, None, None]).mean() * 1000

    model.train()
    first = float(loss_fn().detach())
    for _ in range(25):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss_fn().detach()) < 0.7 * first

    onnx_path = tmp_path / "tiny.onnx"
    card_path = export_onnx(model, onnx_path, INPUT, training={"steps": 25})
    card = json.loads(card_path.read_text())
    assert card["family"] == "heatmap" and card["input_size"] == list(INPUT)
    assert card["heatmap_sigma"] == 2.0 and card["skeleton"] == "coco17"
    m = load_model(onnx_path, provider="cpu")  # the engine needs no other information
    assert m.family == "heatmap" and m.input_size == INPUT
    assert m.keypoint_names == COCO17.keypoints
    frame = np.zeros((120, 160, 3), np.uint8)
    preds = m.predict_crops(frame, np.array([[10, 10, 60, 110], [70, 5, 150, 115]]))
    assert len(preds) == 2 and preds[0].xy.shape == (17, 2)
    # dynamic batch: the ONNX graph takes any batch size
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"input": np.zeros((3, 3, INPUT[1], INPUT[0]), np.float32)})[0]
    assert out.shape == (3, 17, INPUT[1] // 4, INPUT[0] // 4)


@pytest.mark.slow
def test_json_progress_subprocess_trains_resumes_and_exports(
        tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch  # the test environment installs the train extra: no skip

    from pose_studio.cli import cmd_train

    out = tmp_path / "run"
    argv = ["--out", str(out), "--synthetic-scenes", "6", "--epochs", "1", "--steps-per-epoch",
            "3", "--batch", "4", "--input", "64x96", "--width", "8", "--threads", "1",
            "--json-progress", "--name", "tiny"]
    # The window trains in a child process and reads its stdout: the first run is one.
    proc = subprocess.run([sys.executable, "-m", "pose_studio.cli.cmd_train", *argv],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [api.parse_progress_line(line) for line in proc.stdout.splitlines()]
    kinds = [e["event"] for e in events if e]
    assert kinds[0] in ("status", "data") and kinds[-1] == "done"
    ep = next(e for e in events if e and e["event"] == "epoch")
    assert {"epoch", "step", "loss", "val_ap"} <= set(ep)
    assert (out / "tiny.onnx").is_file() and (out / "tiny.json").is_file()
    assert (out / "last.pt").is_file()
    # The rest runs in this process (the same command; torch is already loaded here).
    threads = torch.get_num_threads()
    try:
        # a second run with more epochs resumes from the checkpoint
        argv[argv.index("--epochs") + 1] = "2"
        capsys.readouterr()
        assert cmd_train.main(argv) == 0, capsys.readouterr().err[-2000:]
        ev2 = [api.parse_progress_line(line) for line in capsys.readouterr().out.splitlines()]
        resume = [e for e in ev2 if e and e["event"] == "resume"]
        assert resume and resume[0]["epoch"] == 1
        epochs = [e["epoch"] for e in ev2 if e and e["event"] == "epoch"]
        assert epochs == [2]
        # fine-tuning from it without --input/--width takes the checkpoint's size and network
        tune = ["--out", str(tmp_path / "tune"), "--synthetic-scenes", "4", "--epochs", "1",
                "--steps-per-epoch", "2", "--batch", "4", "--threads", "1", "--name", "tuned",
                "--init", str(out / "last.pt")]
        assert cmd_train.main(tune) == 0, capsys.readouterr().err[-2000:]
        card = json.loads((tmp_path / "tune" / "tuned.json").read_text())
        assert card["input_size"] == [64, 96] and card["training"]["net"]["width"] == 8
        # a network that does not fit the weights is refused with a message, not a traceback
        capsys.readouterr()
        assert cmd_train.main([*tune, "--width", "16", "--out", str(tmp_path / "bad")]) == 1
        err = capsys.readouterr().err
        assert "do not fit this network" in err and "Traceback" not in err
    finally:
        torch.set_num_threads(threads)
