"""Packaging a trained checkpoint as a model: ONNX + card, and compact fine-tuning weights.

``python -m pose_studio.train.bundle CKPT.pt OUT.onnx [--weights OUT.pt]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def load_checkpoint(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """(model in eval mode, checkpoint dict) from a trainer checkpoint or bundled weights."""
    from pose_studio.train.checkpoint import load
    from pose_studio.train.net import HRNet, NetConfig

    ck = load(path)  # weights only: nothing stored in the file runs
    model = HRNet(NetConfig.from_dict(ck["net"]))
    model.load_state_dict({k: v.float() for k, v in ck["model"].items()})
    return model.eval(), ck


def save_weights(ck: dict[str, Any], out: str | Path) -> Path:
    """Half-precision weights + net config (enough to fine-tune from; about 1.5 MB)."""
    import torch

    state = {k: (v.half() if v.is_floating_point() else v) for k, v in ck["model"].items()}
    keep = {"model": state, "net": ck["net"], "epoch": ck.get("epoch"),
            "config": ck.get("config"), "val_ap": ck.get("val_ap")}
    torch.save(keep, out)
    return Path(out)


def export_checkpoint(ckpt: str | Path, onnx_path: str | Path, *,
                      training: dict[str, Any] | None = None,
                      accuracy: dict[str, Any] | None = None) -> Path:
    from pose_studio.train.export import export_onnx

    model, ck = load_checkpoint(ckpt)
    size = tuple(ck.get("config", {}).get("input_size", (96, 128)))
    info = {"epochs": ck.get("epoch"), "net": ck["net"], "val_ap_crops": ck.get("val_ap")}
    info.update(training or {})
    return export_onnx(model, onnx_path, (int(size[0]), int(size[1])), training=info,
                       accuracy=accuracy or {"val_oks_ap_crops": ck.get("val_ap")})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("ckpt")
    ap.add_argument("onnx")
    ap.add_argument("--weights", help="also write half-precision weights here")
    ap.add_argument("--training-json", help="JSON file merged into the card's 'training'")
    a = ap.parse_args(argv)
    extra = json.loads(Path(a.training_json).read_text()) if a.training_json else None
    card = export_checkpoint(a.ckpt, a.onnx, training=extra)
    print(card)
    if a.weights:
        _, ck = load_checkpoint(a.ckpt)
        print(save_weights(ck, a.weights))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
