"""The bundled model: present, small, described by its card, and as accurate as the card says."""

from __future__ import annotations

import json

import pytest

from pose_studio.core.paths import models_dir
from pose_studio.train.api import BUNDLED_NAME, bundled_model

FRESH_SEEDS = tuple(range(81_000, 81_012))  # not used for training or for the card's numbers


def _card() -> dict:
    return json.loads(bundled_model().with_suffix(".json").read_text())


def test_bundled_model_is_shipped_with_its_card() -> None:
    onnx = bundled_model()
    assert onnx.parent == models_dir() and onnx.name == f"{BUNDLED_NAME}.onnx"
    assert onnx.is_file(), f"{onnx} is missing"
    total = sum(p.stat().st_size for p in models_dir().iterdir() if p.is_file())
    assert total <= 10 * 1024 * 1024
    card = _card()
    assert card["family"] == "heatmap" and card["skeleton"] == "coco17"
    assert card["heatmap_sigma"] == 2.0 and card["color"] == "rgb"
    assert len(card["flip_pairs"]) == 8
    acc = card["accuracy"]["synthetic_heldout"]
    assert acc["AP"] >= 0.0 and acc["instances"] > 100
    assert "cpu_fps_single_person" in card["accuracy"]


def test_bundled_model_loads_without_being_told_anything() -> None:
    from pose_studio.inference import load_model

    m = load_model(bundled_model(), provider="cpu")
    card = _card()
    assert m.family == "heatmap"
    assert list(m.input_size) == card["input_size"]
    assert len(m.keypoint_names) == 17


@pytest.mark.slow
def test_bundled_model_reaches_its_stated_ap_on_fresh_clips() -> None:
    from pose_studio.train.evaluate import evaluate_onnx

    stated = _card()["accuracy"]["synthetic_heldout"]["AP"]
    res = evaluate_onnx(bundled_model(), seeds=FRESH_SEEDS, n_frames=5, threads=1)
    assert res["instances"] > 60
    # fewer clips than the card's measurement: allow sampling noise
    assert res["AP"] >= stated - 0.05, res
