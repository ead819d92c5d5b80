"""The real third-party model files of the shared corpus (``shared/realworld/models``), each
run on the real COCO photos and a real video of ``shared/realworld/data`` without a model card:
keypoints must land on the annotated people (OKS against the COCO labels), boxes on them.
Skipped, with the reason, where the corpus is absent."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from pose_studio.core import geometry as geo
from pose_studio.core.oks import oks
from pose_studio.core.skeleton import COCO17
from pose_studio.inference import DetectorModel, PoseModel, load_model, predict_frame, run_video
from pose_studio.inference.keypoint_map import keypoint_mapping
from tests.support.realworld import realworld_file

COCO_DIR = "data/coco/mmpose_coco"


@lru_cache(maxsize=1)
def _coco() -> tuple[dict[int, Path], dict[int, list[dict[str, Any]]]]:
    gt_path = realworld_file(f"{COCO_DIR}/test_coco.json")
    gt = json.loads(gt_path.read_text())
    images = {i["id"]: gt_path.parent / i["file_name"] for i in gt["images"]}
    anns: dict[int, list[dict[str, Any]]] = {}
    for a in gt["annotations"]:
        if a["num_keypoints"] >= 10 and not a.get("iscrowd"):
            anns.setdefault(a["image_id"], []).append(a)
    return images, anns


def _people() -> list[tuple[np.ndarray, dict[str, Any]]]:
    images, anns = _coco()
    return [(cv2.imread(str(images[i])), a) for i in sorted(anns) for a in anns[i]]


def _best_oks(model: PoseModel, insts: Any, ann: dict[str, Any]) -> float:
    idx = keypoint_mapping(model.skeleton, COCO17)
    g = np.asarray(ann["keypoints"], np.float64).reshape(17, 3)
    best = 0.0
    for inst in insts:
        xy = inst.xy if idx is None else inst.xy[idx]
        best = max(best, float(oks(g[:, :2], g[:, 2], xy, ann["area"], COCO17.sigma_array())))
    return best


def _model(rel: str) -> Any:
    return load_model(realworld_file(f"models/{rel}"), provider="cpu", threads=1)


# --- pose models --------------------------------------------------------------------------------
@pytest.mark.parametrize("rel, family, layout", [
    ("movenet_singlepose_lightning_int8_tf2onnx.onnx", "movenet", "nhwc"),
    ("movenet_singlepose_lightning_int8_tf2onnx_nchw.onnx", "movenet", "nchw"),
])
def test_movenet_finds_the_skier(rel: str, family: str, layout: str) -> None:
    m = _model(rel)
    assert isinstance(m, PoseModel) and m.family == family and m.session.layout == layout
    assert not m.top_down and m.skeleton is COCO17 and not m.warnings
    images, anns = _coco()
    img = cv2.imread(str(images[785]))  # one person: single-pose on the whole photo
    r = predict_frame(img, m)
    assert len(r.instances) == 1 and _best_oks(m, r.instances, anns[785][0]) > 0.75


def test_movenet_matches_googles_reference_preprocessing_within_a_pixel() -> None:
    """The reference recipe written here independently (``tf.image.resize_with_pad``: ratio
    max(w/192, h/192), floor sizes, floor half padding, zeros, RGB uint8) and the model run
    directly: the engine's keypoints, taken back to the 192x192 input, are within 1 px."""
    import onnxruntime as ort

    path = realworld_file("models/movenet_singlepose_lightning_int8_tf2onnx.onnx")
    m = _model(path.name)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images, _ = _coco()
    for iid in sorted(images):
        img = cv2.imread(str(images[iid]))
        h, w = img.shape[:2]
        ratio = max(w / 192, h / 192)
        rw, rh = int(np.floor(w / ratio)), int(np.floor(h / ratio))
        pw, ph = int(np.floor((192 - w / ratio) / 2)), int(np.floor((192 - h / ratio) / 2))
        canvas = np.zeros((192, 192, 3), np.uint8)
        canvas[ph:ph + rh, pw:pw + rw] = cv2.resize(img, (rw, rh),
                                                   interpolation=cv2.INTER_LINEAR)[..., ::-1]
        out = sess.run(None, {sess.get_inputs()[0].name: canvas[None]})[0][0, 0]
        ref = np.stack([out[:, 1] * 192, out[:, 0] * 192], axis=1)
        preds = m.predict_image(img)  # every keypoint, inside the frame or not
        assert len(preds) == 1, iid
        mine = preds[0].xy / ratio + [pw, ph]
        assert np.abs(mine - ref).max() <= 1.0, (iid, np.abs(mine - ref).max())


@pytest.mark.parametrize("rel, family, skeleton", [
    ("ultralight_nano_simplepose.onnx", "heatmap", "coco17"),
    ("blazepose_landmark_full_tf2onnx.onnx", "blazepose", "blazepose33"),
])
def test_top_down_models_put_keypoints_on_the_coco_people(rel: str, family: str,
                                                          skeleton: str) -> None:
    m = _model(rel)
    assert isinstance(m, PoseModel) and m.family == family and m.top_down
    assert m.skeleton.name == skeleton
    scores = []
    for img, ann in _people():
        x, y, w, h = ann["bbox"]
        r = predict_frame(img, m, boxes=[[x, y, x + w, y + h]], keep_maps=False)
        scores.append(_best_oks(m, r.instances, ann))
    assert np.median(scores) > 0.65 and max(scores) > 0.85, scores


# --- detectors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("rel, family", [
    ("yolox_nano_416.onnx", "detector_yolox"),
    ("light_person_detector.onnx", "detector_yolox"),
    ("nanodet_m_320.onnx", "detector_nanodet"),
    ("rtmdet-nano_mmdeploy", "detector_end2end"),
    ("rtmdetnp_morgan322.onnx", "detector_rtmdet"),
])
def test_detectors_box_the_coco_people(rel: str, family: str) -> None:
    d = _model(rel)
    assert isinstance(d, DetectorModel) and d.family == family
    if family == "detector_end2end":  # its pipeline.json states size and normalisation
        assert d.input_size == (320, 320) and d.mean == (103.53, 116.28, 123.675)
    images, anns = _coco()
    for iid in (785, 196141):
        boxes, _ = d.detect(cv2.imread(str(images[iid])))
        for a in anns[iid]:
            x, y, w, h = a["bbox"]
            assert len(boxes) and geo.box_iou(np.array([x, y, x + w, y + h]), boxes).max() > 0.75


def test_detector_and_pose_model_on_a_real_video() -> None:
    """Street video (mmpose demo): every frame gets people with most keypoints visible."""
    video = realworld_file("data/videos/mmpose_demo.mp4")
    det, m = _model("nanodet_m_320.onnx"), _model("ultralight_nano_simplepose.onnx")
    results = list(run_video(video, m, detector=det, keep_maps=False))
    assert len(results) == 5
    for r in results:
        assert any(int((i.visibility == 2).sum()) >= 12 for i in r.instances), r.frame_idx
        for inst in r.instances:  # keypoints outside the frame are never visible
            w, h = r.frame_size
            vis = inst.visibility == 2
            assert ((inst.xy[vis] >= 0) & (inst.xy[vis] <= [w, h])).all()


def test_int8_of_the_opset8_simplepose_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pose_studio.cli import main as cli

    src = realworld_file("models/ultralight_nano_simplepose.onnx")
    for flag in ("--int8", "--int8-static"):
        extra = ["--calibrate", str(realworld_file("data/videos/mmpose_demo.mp4"))] \
            if flag == "--int8-static" else []
        assert cli.main(["models", "convert", str(src), flag, *extra, "--out",
                         str(tmp_path / "q.onnx")]) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "opset 8" in err and "opset 10" in err, err
    assert not (tmp_path / "q.onnx").exists()
