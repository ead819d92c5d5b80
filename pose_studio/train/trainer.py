"""The training loop: data, optimisation, validation AP, checkpoints/resume and export.

Imports torch lazily (inside :func:`train`), so this module can be imported without it.
Progress goes to a callback as plain dicts (see :mod:`pose_studio.train.api` for the
JSON-lines format).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core.output import atomic_file
from pose_studio.core.skeleton import COCO17
from pose_studio.train import data as D
from pose_studio.train import metrics as MT
from pose_studio.train.errors import TrainError

Progress = Callable[[dict[str, Any]], None]
DEFAULT_INPUT = (96, 128)


@dataclass
class TrainConfig:
    out_dir: str
    # (w, h); None: the size of the checkpoint resumed or fine-tuned from, else DEFAULT_INPUT
    input_size: tuple[int, int] | None = None
    epochs: int = 30
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    time_budget_min: float | None = None  # stop (and finish the LR schedule) by this wall time
    threads: int | None = None
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0
    synthetic_caches: list[str] = field(default_factory=list)
    synthetic_scenes: int = 0  # scenes rendered in-process when no cache is given
    synthetic_style: str = "default"
    val_cache: str | None = None
    project: str | None = None
    project_source: str = "user"
    val_fraction: float = 0.15
    block_frames: int = 30  # validation split by blocks of this many frames
    steps_per_epoch: int | None = None
    init: str | None = None  # checkpoint (.pt) to start from (fine-tuning)
    export: str = "best"  # "best" (by validation AP) or "last" epoch
    resume: bool = True
    net: dict[str, Any] = field(default_factory=dict)
    export_name: str = "model"
    aug: bool = True
    progress_every: int = 20

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_size"] = list(self.size)
        return d

    @property
    def size(self) -> tuple[int, int]:
        return self.input_size or DEFAULT_INPUT


@dataclass
class TrainResult:
    onnx_path: Path | None
    card_path: Path | None
    best_ap: float
    epochs_done: int
    steps: int
    history: list[dict[str, Any]]


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise TrainError(
            'training needs PyTorch; install it with: pip install "pose-studio[train]"'
        ) from e
    return torch


def load_samples(cfg: TrainConfig, emit: Progress) -> tuple[D.Samples, D.Samples]:
    """Training and validation samples from caches, in-process rendering and/or a project."""
    train_parts: list[D.Samples] = []
    val_parts: list[D.Samples] = []
    for p in cfg.synthetic_caches:
        if not Path(p).is_file():
            raise TrainError(f"{p}: synthetic cache not found")
        train_parts.append(D.Samples.load(p))
    if cfg.synthetic_scenes > 0:
        emit({"event": "status", "message": f"rendering {cfg.synthetic_scenes} synthetic scenes"})
        train_parts.append(D.synthetic_samples(cfg.seed + 12345, cfg.synthetic_scenes,
                                               cfg.size, style=cfg.synthetic_style))
    if cfg.val_cache:
        val_parts.append(D.Samples.load(cfg.val_cache))
    elif train_parts and cfg.project is None:
        synth = D.Samples.concat(train_parts)
        tr, va = D.split_by_groups(synth.group, cfg.val_fraction, cfg.seed)
        train_parts, val_parts = [synth.subset(tr)], [synth.subset(va)]
    if cfg.project:
        from pose_studio.train.project_data import project_samples

        ps = project_samples(cfg.project, cfg.size, source=cfg.project_source)
        if len(ps) == 0:
            raise TrainError(f"{cfg.project}: the project has no labeled instances to train on")
        tr, va = D.split_by_groups(ps.group, cfg.val_fraction, cfg.seed, gap=cfg.block_frames)
        if len(tr) == 0:
            raise TrainError(f"{cfg.project}: too few labeled frames for a train/val split")
        synth_n = sum(len(p) for p in train_parts)
        # Few labels among many synthetic crops: repeat the labels so they fill about half
        # of every epoch (each repeat gets its own augmentation).
        reps = max(1, round(synth_n / max(len(tr), 1))) if synth_n else 1
        train_parts.append(ps.subset(np.tile(tr, reps)))
        val_parts.append(ps.subset(va) if len(va) else ps.subset(tr[:1]))
        emit({"event": "status", "message": f"project: {len(tr)} training and {len(va)} "
              f"validation crops (training crops repeated x{reps})"})
    if not train_parts:
        raise TrainError("no training data: give synthetic caches/scenes or a project")
    train = D.Samples.concat(train_parts)
    val = D.Samples.concat(val_parts) if val_parts else train.subset(np.arange(min(64, len(train))))
    return train, val


def _lr_at(cfg: TrainConfig, step: int, total: int, elapsed: float) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (0.1 + 0.9 * step / cfg.warmup_steps)
    frac = step / max(total, 1)
    if cfg.time_budget_min:
        frac = max(frac, elapsed / (cfg.time_budget_min * 60))
    frac = min(frac, 1.0)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))


def validate(model: Any, torch: Any, device: Any, val: D.Samples, input_size: tuple[int, int],
             batch: int = 64) -> dict[str, float]:
    """OKS AP on validation crops (model-input space; area from the keypoint extent)."""
    model.eval()
    sig = COCO17.sigma_array()
    oks_v, scores = [], []
    rng = np.random.default_rng(0)
    idx = np.arange(len(val))
    with torch.no_grad():
        for start in range(0, len(val), batch):
            chunk = idx[start : start + batch]
            xs, gts, vs = [], [], []
            for i in chunk:
                img, pts, v = D.augment_sample(rng, val.images[i], val.keypoints[i],
                                               val.visibility[i], input_size, None)
                xs.append(D.to_tensor_layout(img))
                gts.append(pts)
                vs.append(v)
            hm = model(torch.from_numpy(np.stack(xs)).to(device)).float().cpu().numpy()
            xy, sc = MT.decode_heatmaps(hm)
            xy = xy * D.STRIDE
            for j in range(len(chunk)):
                v = vs[j]
                if not (v > 0).any():
                    continue
                lab = gts[j][v > 0]
                ext = lab.max(0) - lab.min(0)
                area = max(float(ext[0] * ext[1]) * 0.5, 16.0)
                oks_v.append(MT.oks(xy[j], gts[j], v, area, sig))
                scores.append(float(sc[j].mean()))
    model.train()
    return MT.ap_one_per_gt(np.asarray(oks_v), np.asarray(scores))


def train(cfg: TrainConfig, progress: Progress | None = None,
          cancel: Callable[[], bool] | None = None) -> TrainResult:
    """Trains (or resumes) and exports ``<out_dir>/<export_name>.onnx`` with its model card."""
    torch = _import_torch()
    from pose_studio.train.export import export_onnx
    from pose_studio.train.net import HRNet, NetConfig

    emit: Progress = progress or (lambda _e: None)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    last = out / "last.pt"
    resuming = cfg.resume and last.is_file()
    init_ck = None
    if resuming or cfg.init:
        # the network and input size follow the checkpoint unless they are given
        ck0 = _load_ckpt(torch, last if resuming else Path(str(cfg.init)))
        init_ck = None if resuming else ck0
        size0 = (ck0.get("config") or {}).get("input_size")
        if cfg.input_size is None and size0:
            cfg = replace(cfg, input_size=(int(size0[0]), int(size0[1])))
        if not cfg.net and ck0.get("net"):
            cfg = replace(cfg, net=dict(ck0["net"]))

    train_s, val_s = load_samples(cfg, emit)
    emit({"event": "data", "train": len(train_s), "val": len(val_s), "device": str(device)})

    net_cfg = NetConfig.from_dict(cfg.net) if cfg.net else NetConfig()
    model = HRNet(net_cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start_epoch, step, best_ap, history = 0, 0, -1.0, []
    elapsed_before = 0.0
    if resuming:
        ck = _load_ckpt(torch, last)
        _load_state(model, ck["model"], last)
        opt.load_state_dict(ck["optimizer"])
        start_epoch, step = int(ck["epoch"]), int(ck["step"])
        best_ap, history = float(ck.get("best_ap", -1.0)), list(ck.get("history", []))
        elapsed_before = float(ck.get("elapsed", 0.0))
        rng = np.random.default_rng(cfg.seed + start_epoch)
        emit({"event": "resume", "epoch": start_epoch, "step": step})
    elif init_ck is not None:
        _load_state(model, {k: v.float() for k, v in init_ck["model"].items()}, Path(str(cfg.init)))
        emit({"event": "status", "message": f"initialised from {cfg.init}"})

    spe = cfg.steps_per_epoch or max(1, math.ceil(len(train_s) / cfg.batch))
    total = spe * cfg.epochs
    aug = D.Augment() if cfg.aug else None
    t0 = time.time() - elapsed_before
    model.train()
    stop = False
    epoch = start_epoch
    for epoch in range(start_epoch, cfg.epochs):
        order = rng.permutation(len(train_s))
        if spe * cfg.batch > len(order):
            reps = math.ceil(spe * cfg.batch / len(order))
            order = np.concatenate([rng.permutation(len(train_s)) for _ in range(reps)])
        order = order[: spe * cfg.batch]
        losses = []
        for x, hm, w in D.batches(train_s, order, cfg.batch, cfg.size, rng, aug):
            elapsed = time.time() - t0
            lr = _lr_at(cfg, step, total, elapsed)
            for g in opt.param_groups:
                g["lr"] = lr
            xt = torch.from_numpy(x).to(device)
            ht = torch.from_numpy(hm).to(device)
            wt = torch.from_numpy(w).to(device)
            pred = model(xt)
            loss = (((pred - ht) ** 2) * wt[:, :, None, None]).mean() * 1000.0
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            losses.append(float(loss.detach()))
            if step % cfg.progress_every == 0:
                emit({"event": "step", "epoch": epoch + 1, "step": step, "steps_per_epoch": spe,
                      "total_steps": total, "loss": float(np.mean(losses[-cfg.progress_every:])),
                      "lr": lr, "elapsed_s": round(time.time() - t0, 1)})
            if cancel is not None and cancel():
                stop = True
                break
            if cfg.time_budget_min and time.time() - t0 > cfg.time_budget_min * 60:
                stop = True
                break
        # plain floats: checkpoints hold only what weights-only loading accepts
        metrics = {k: float(v) for k, v in validate(model, torch, device, val_s,
                                                     cfg.size).items()}
        rec = {"event": "epoch", "epoch": epoch + 1, "epochs": cfg.epochs, "step": step,
               "loss": float(np.mean(losses)) if losses else None, "val_ap": metrics["AP"],
               "val_ap50": metrics["AP50"], "val_ap75": metrics["AP75"],
               "elapsed_s": round(time.time() - t0, 1)}
        history.append(rec)
        improved = metrics["AP"] > best_ap
        best_ap = max(best_ap, metrics["AP"])
        rec["best_ap"] = best_ap
        emit(rec)
        ck = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1,
              "step": step, "best_ap": best_ap, "history": history, "config": cfg.to_dict(),
              "net": net_cfg.to_dict(), "elapsed": time.time() - t0}
        _save_atomic(torch, ck, last)
        if improved:
            _save_atomic(torch, {"model": model.state_dict(), "net": net_cfg.to_dict(),
                                 "epoch": epoch + 1, "val_ap": metrics["AP"],
                                 "config": cfg.to_dict()}, out / "best.pt")
        if stop:
            break
    best = out / ("last.pt" if cfg.export == "last" else "best.pt")
    onnx_path = card_path = None
    if best.is_file():
        ck = _load_ckpt(torch, best)
        model.load_state_dict(ck["model"])
        training_info = {
            "data": _describe_data(cfg, len(train_s), len(val_s)),
            "epochs": int(ck["epoch"]), "steps": step, "batch": cfg.batch, "lr": cfg.lr,
            "optimizer": "AdamW", "loss": "weighted heatmap MSE", "net": net_cfg.to_dict(),
            "augmentation": asdict(aug) if aug else None,
            "wall_time_s": round(time.time() - t0, 1), "device": str(device),
            "val_ap_crops": ck.get("val_ap", (ck.get("history") or [{}])[-1].get("val_ap")),
        }
        onnx_path = out / f"{cfg.export_name}.onnx"
        card_path = export_onnx(model.cpu().eval(), onnx_path, cfg.size, training=training_info,
                                accuracy={"val_oks_ap_crops": training_info["val_ap_crops"]})
        emit({"event": "exported", "onnx": str(onnx_path), "card": str(card_path),
              "val_ap": training_info["val_ap_crops"]})
    emit({"event": "done", "best_ap": best_ap, "epochs": epoch + 1, "step": step,
          "onnx": str(onnx_path) if onnx_path else None})
    return TrainResult(onnx_path, card_path, best_ap, epoch + 1, step, history)


def _describe_data(cfg: TrainConfig, n_train: int, n_val: int) -> dict[str, Any]:
    return {
        "synthetic_caches": [os.path.basename(p) for p in cfg.synthetic_caches],
        "synthetic_scenes": cfg.synthetic_scenes, "synthetic_style": cfg.synthetic_style,
        "project": os.path.basename(cfg.project) if cfg.project else None,
        "train_samples": n_train, "val_samples": n_val,
    }


def _load_ckpt(torch: Any, path: Path) -> dict[str, Any]:
    # weights only: a checkpoint from someone else must not run code (checkpoint.py)
    from pose_studio.train.checkpoint import load

    del torch
    return load(path)


def _load_state(model: Any, state: dict[str, Any], path: Path) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as e:  # another architecture (e.g. --width given against the checkpoint)
        first = str(e).strip().splitlines()[:3]
        raise TrainError(f"{path}: the weights do not fit this network ({' '.join(first)})"
                         ) from e


def _save_atomic(torch: Any, obj: Any, path: Path) -> None:
    with atomic_file(path, fsync=False) as tmp:
        torch.save(obj, tmp)


def save_progress_json(path: Path, history: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps(history, indent=1))
