"""ONNX export (dynamic batch) and the model card the inference engine reads."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from pose_studio.core.output import atomic_file, write_bytes_atomic
from pose_studio.core.skeleton import COCO17
from pose_studio.train import data as D

CARD_FORMAT = "pose-studio-model-card/1"
OPSET = 17


def model_card(input_size: tuple[int, int], *, name: str, training: dict[str, Any] | None = None,
               accuracy: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "name": name,
        "family": "heatmap",
        "input_size": [int(input_size[0]), int(input_size[1])],
        "mean": [float(v) for v in D.MEAN_RGB],
        "std": [float(v) for v in D.STD_RGB],
        "color": "rgb",
        "skeleton": "coco17",
        "keypoints": list(COCO17.keypoints),
        "flip_pairs": [list(p) for p in COCO17.flip_pairs],
        "heatmap_sigma": D.SIGMA,
        "heatmap_stride": D.STRIDE,
        "refine": "dark",
        "dark_kernel": 11,
        # the net is trained with flip augmentation and is fast enough to run twice per crop
        "flip_test": True,
        "box_padding": D.BOX_PADDING,
        "score_threshold": 0.3,
        "nms_threshold": 0.45,
        "training": training or {},
        "accuracy": accuracy or {},
    }
    card.update(extra)
    return card


def write_card(path: Path, card: dict[str, Any]) -> Path:
    write_bytes_atomic(path, (json.dumps(card, indent=2) + "\n").encode("utf-8"))
    return path


def export_onnx(model: Any, onnx_path: str | Path, input_size: tuple[int, int], *,
                training: dict[str, Any] | None = None, accuracy: dict[str, Any] | None = None,
                name: str | None = None) -> Path:
    """Writes ``onnx_path`` (input ``[batch, 3, H, W]`` -> output ``[batch, K, H/4, W/4]``)
    and ``onnx_path.with_suffix('.json')``; returns the card path."""
    import torch

    onnx_path = Path(onnx_path)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    w, h = input_size
    dummy = torch.zeros(1, 3, h, w)
    model = model.eval()
    kwargs: dict[str, Any] = dict(
        input_names=["input"], output_names=["output"], opset_version=OPSET,
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, do_constant_folding=True,
    )
    with warnings.catch_warnings(), atomic_file(onnx_path, fsync=False) as tmp:
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        try:
            torch.onnx.export(model, (dummy,), str(tmp), dynamo=False, **kwargs)
        except TypeError:  # older torch without the dynamo switch
            torch.onnx.export(model, (dummy,), str(tmp), **kwargs)
    card = model_card(input_size, name=name or onnx_path.stem, training=training,
                      accuracy=accuracy)
    return write_card(onnx_path.with_suffix(".json"), card)
