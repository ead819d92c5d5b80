"""Loading ONNX models: family detection, cards, fp16, batch, wrong files; exact decoding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pose_studio.core import geometry as geo
from pose_studio.inference import DetectorModel, ModelError, PoseModel, load_model
from tests.support import onnx_models as om

IN_HW = (64, 48)  # small top-down input (h, w) keeps the tests fast


def pose(path: Path, **kw: object) -> PoseModel:
    m = load_model(path, provider="cpu", **kw)  # type: ignore[arg-type]
    assert isinstance(m, PoseModel)
    return m


def frame(w: int = 320, h: int = 240) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)


def to_map(model: PoseModel, box: list[float], xy: np.ndarray) -> np.ndarray:
    """Image points -> heatmap pixels of the crop of ``box``."""
    c, s = geo.box_to_center_scale(box, model.input_size, 1.25)
    m = geo.get_warp_matrix(c, s, model.input_size)
    return geo.apply_affine(m, xy) / np.asarray(model.spec.stride)


# --- heatmap ------------------------------------------------------------------------------------
DARK_HW = (128, 96)  # 32x24 heatmaps
PEAKS = [(6.3 + 0.7 * k, 7.6 + 0.9 * k) for k in range(17)]  # sub-pixel, away from the border


def test_heatmap_family_and_dark_recovers_subpixel_peaks(tmp_path: Path) -> None:
    p = om.make_heatmap_model(tmp_path / "hm.onnx", input_hw=DARK_HW, planted=PEAKS)
    m = pose(p)
    assert m.family == "heatmap" and m.top_down
    assert m.input_size == (96, 128) and m.spec.stride == (4.0, 4.0)
    assert m.skeleton.name == "coco17" and m.keypoint_names[0] == "nose"
    assert m.providers == ["CPUExecutionProvider"] and m.batch_size is None
    box = [40.0, 30.0, 140.0, 210.0]
    (pred,) = m.predict_crops(frame(), [box])
    err = np.abs(to_map(m, box, pred.xy) - np.array(PEAKS))
    assert err.max() < 0.05
    assert (pred.scores > 0.9).all()  # the value at the integer maximum of a unit Gaussian
    # plain argmax would be off by up to half a pixel
    m.refine = "none"
    (raw,) = m.predict_crops(frame(), [box])
    assert np.abs(to_map(m, box, raw.xy) - np.array(PEAKS)).max() > 0.2


def test_dark_decodes_many_crops_in_one_run(tmp_path: Path) -> None:
    """8 crops x 17 keypoints = 136 maps: more than OpenCV's 128-channel filter limit."""
    p = om.make_heatmap_model(tmp_path / "hm.onnx", input_hw=DARK_HW, planted=PEAKS)
    m = pose(p)
    boxes = [[10.0 + 5 * i, 20.0, 110.0 + 5 * i, 200.0] for i in range(8)]
    preds = m.predict_crops(frame(), boxes)
    assert len(preds) == 8
    for box, pred in zip(boxes, preds):
        assert np.abs(to_map(m, box, pred.xy) - np.array(PEAKS)).max() < 0.05


def test_heatmap_quarter_offset_fallback(tmp_path: Path) -> None:
    p = om.make_heatmap_model(tmp_path / "hm.onnx", input_hw=IN_HW, planted=[(5.3, 6.8)] * 17)
    (tmp_path / "hm.json").write_text(json.dumps({"refine": "quarter"}))
    m = pose(p)
    box = [0.0, 0.0, 96.0, 128.0]
    (pred,) = m.predict_crops(frame(), [box])
    assert np.allclose(to_map(m, box, pred.xy)[0], [5.25, 6.75], atol=1e-6)


def test_heatmap_dark_udp_for_vitpose_style_models(tmp_path: Path) -> None:
    p = om.make_heatmap_model(tmp_path / "udp.onnx", input_hw=DARK_HW, planted=PEAKS)
    (tmp_path / "udp.json").write_text(json.dumps({"refine": "dark_udp"}))
    m = pose(p)
    box = [40.0, 30.0, 140.0, 210.0]
    (pred,) = m.predict_crops(frame(), [box])
    c, s = geo.box_to_center_scale(box, m.input_size, 1.25)
    # mmpose UDPHeatmap.decode + add_pred_to_datasample: x_hm / (W-1) * scale + center - s/2
    expect = np.array(PEAKS) / np.array([24 - 1, 32 - 1]) * s + c - s / 2
    assert np.abs(pred.xy - expect).max() < 0.05 * s[0] / 23


def test_heatmap_maps_warp_to_image_space(tmp_path: Path) -> None:
    p = om.make_heatmap_model(tmp_path / "hm.onnx", input_hw=IN_HW, planted=[(6.0, 7.0)] * 17)
    m = pose(p)
    res = m.predict_crops(frame(), [[100.0, 50.0, 180.0, 200.0]])[0]
    assert res.maps is not None and res.maps.maps is not None
    assert res.maps.maps.shape == (17, 16, 12)
    img = res.maps.to_image((320, 240), keypoint=3)
    assert img.shape == (240, 320)
    y, x = np.unravel_index(int(img.argmax()), img.shape)
    assert abs(x - res.xy[3, 0]) <= 1.0 and abs(y - res.xy[3, 1]) <= 1.0


def test_heatmap_float16_io(tmp_path: Path) -> None:
    p = om.make_heatmap_model(tmp_path / "hm16.onnx", input_hw=DARK_HW, planted=PEAKS, fp16=True)
    m = pose(p)
    assert m.session.input_dtype == np.float16
    box = [40.0, 30.0, 140.0, 210.0]
    (pred,) = m.predict_crops(frame(), [box])
    assert pred.xy.dtype == np.float64
    assert np.abs(to_map(m, box, pred.xy) - np.array(PEAKS)).max() < 0.1


def test_hourglass_uses_last_stage_and_cpm_stride_8(tmp_path: Path) -> None:
    p = om.make_heatmap_model(tmp_path / "hg.onnx", input_hw=(64, 64), n_stages=3,
                              planted=[(4.0, 5.0)] * 17)
    m = pose(p)
    assert m.spec.outputs == (2,)
    box = [0.0, 0.0, 100.0, 100.0]
    (pred,) = m.predict_crops(frame(), [box])
    assert np.allclose(to_map(m, box, pred.xy)[0], [4.0, 5.0], atol=0.01)
    cpm = pose(om.make_heatmap_model(tmp_path / "cpm.onnx", input_hw=(256, 192), stride=8))
    assert cpm.spec.stride == (8.0, 8.0) and cpm.family == "heatmap"


def test_static_batch_splits_and_pads(tmp_path: Path) -> None:
    dyn = pose(om.make_heatmap_model(tmp_path / "d.onnx", input_hw=IN_HW))
    st = pose(om.make_heatmap_model(tmp_path / "s.onnx", input_hw=IN_HW, dynamic_batch=False,
                                    static_batch=2))
    assert st.batch_size == 2
    boxes = [[0, 0, 50, 90], [20, 10, 120, 200], [150, 20, 300, 230]]
    calls: list[int] = []
    orig = st.session.run_once

    def spy(x: np.ndarray) -> list[np.ndarray]:
        calls.append(int(x.shape[0]))
        return orig(x)

    st.session.run_once = spy  # type: ignore[method-assign]
    a = dyn.predict_crops(frame(), boxes)
    b = st.predict_crops(frame(), boxes)
    assert calls == [2, 2]
    for pa, pb in zip(a, b):
        assert np.allclose(pa.xy, pb.xy) and np.allclose(pa.scores, pb.scores)


def test_flip_test_averages_flipped_maps(tmp_path: Path) -> None:
    # constant planted maps: the flipped run gives the mirror image (x -> w - x after shift)
    p = om.make_heatmap_model(tmp_path / "f.onnx", input_hw=IN_HW, planted=[(4.0, 5.0)] * 17)
    (tmp_path / "f.json").write_text(json.dumps({"flip_test": True, "refine": "none"}))
    m = pose(p)
    out = m.infer_crops(m.prepare_crops(frame(), [[0, 0, 96, 128]]).tensor)[0]
    # w = 12: the mirrored peak lands at 11 - 4 = 7, shifted by one to 8 (mmpose shift_heatmap)
    both = 0.5 * (1 + np.exp(-16 / 8))
    assert out[0, 0, 5, 4] == pytest.approx(both, abs=1e-4)
    assert out[0, 0, 5, 8] == pytest.approx(both, abs=1e-4)


# --- SimCC --------------------------------------------------------------------------------------
def test_simcc_exact(tmp_path: Path) -> None:
    bins = [(10 + k, 20 + k) for k in range(17)]
    m = pose(om.make_simcc_model(tmp_path / "s.onnx", input_hw=IN_HW, planted=bins))
    assert m.family == "simcc" and m.spec.split_ratio == 2.0 and m.spec.k == 17
    box = [30.0, 40.0, 130.0, 200.0]
    (pred,) = m.predict_crops(frame(), [box])
    c, s = geo.box_to_center_scale(box, m.input_size)
    expect = geo.crop_to_image(np.array(bins) / 2.0, c, s, m.input_size)
    assert np.abs(pred.xy - expect).max() < 1e-9
    assert np.allclose(pred.scores, 0.9, atol=1e-6)
    assert pred.maps is not None and pred.maps.kind == "simcc"
    img = pred.maps.to_image((320, 240), keypoint=0)
    y, x = np.unravel_index(int(img.argmax()), img.shape)
    assert abs(x - pred.xy[0, 0]) <= 1.5 and abs(y - pred.xy[0, 1]) <= 1.5


def test_simcc_split_ratio_from_shapes_and_fp16(tmp_path: Path) -> None:
    m = pose(om.make_simcc_model(tmp_path / "s3.onnx", input_hw=IN_HW, split_ratio=3.0,
                                 fp16=True, k=26))
    assert m.spec.split_ratio == 3.0 and m.num_keypoints == 26
    assert m.skeleton.name in ("halpe26",)
    g = pose(om.make_simcc_model(tmp_path / "g.onnx", input_hw=IN_HW, k=5))
    assert g.keypoint_names == ("kp0", "kp1", "kp2", "kp3", "kp4")


# --- one-stage ----------------------------------------------------------------------------------
def test_yolo_pose_decode_nms_unletterbox(tmp_path: Path) -> None:
    kp = np.zeros((17, 3), np.float32)
    kp[:, 0] = np.linspace(250, 350, 17)
    kp[:, 1] = np.linspace(200, 400, 17)
    kp[:, 2] = 0.95
    dets = [
        {"anchor": 100, "box": (300, 300, 100, 200), "score": 0.9, "kpts": kp},
        {"anchor": 101, "box": (302, 302, 100, 200), "score": 0.8, "kpts": kp},  # NMS'd
        {"anchor": 500, "box": (100, 250, 40, 60), "score": 0.1, "kpts": kp},  # below conf
    ]
    p = om.make_yolo_pose_model(tmp_path / "y.onnx", planted=dets)
    m = pose(p)
    assert m.family == "yolo_pose" and not m.top_down and m.spec.k == 17
    img = np.zeros((720, 1280, 3), np.uint8)  # r = 0.5, pad (0, 140)
    preds = m.predict(img)
    assert len(preds) == 1
    assert preds[0].score == pytest.approx(0.9)
    assert np.allclose(preds[0].box_xyxy, [500, 120, 700, 520])
    assert np.allclose(preds[0].xy[:, 0], kp[:, 0] / 0.5)
    assert np.allclose(preds[0].xy[:, 1], (kp[:, 1] - 140) / 0.5)
    assert np.allclose(preds[0].scores, 0.95)
    inst = preds[0].to_instance()
    assert inst.is_prediction and inst.bbox == pytest.approx((500, 120, 200, 400))


def test_yolo_pose_without_metadata_by_shape(tmp_path: Path) -> None:
    m = pose(om.make_yolo_pose_model(tmp_path / "y.onnx", input_hw=(320, 320), metadata=False))
    assert m.family == "yolo_pose" and m.spec.k == 17 and m.input_size == (320, 320)
    preds = m.predict(frame())  # random weights: any count, must not crash
    assert all(p.xy.shape == (17, 2) for p in preds)


def test_rtmo(tmp_path: Path) -> None:
    m = pose(om.make_rtmo(tmp_path / "r.onnx", input_hw=(320, 320),
                          dets=((10, 20, 110, 220, 0.9), (12, 22, 112, 222, 0.8),
                                (200, 20, 300, 220, 0.2))))
    assert m.family == "rtmo"
    preds = m.predict(np.zeros((160, 320, 3), np.uint8))  # r = 1, top-left: no offset
    assert len(preds) == 1 and np.allclose(preds[0].box_xyxy, [10, 20, 110, 160])
    assert np.allclose(preds[0].xy[:, 0], 60.0)


# --- detectors ----------------------------------------------------------------------------------
def test_detector_end2end_with_nms_op(tmp_path: Path) -> None:
    p = om.make_detector_end2end(tmp_path / "det.onnx", nc=2,
                                 boxes=((100, 100, 300, 500), (110, 110, 310, 510),
                                        (400, 50, 600, 300), (10, 10, 50, 50)),
                                 scores=(0.9, 0.8, 0.7, 0.6), classes=(0, 0, 0, 1))
    d = load_model(p, provider="cpu")
    assert isinstance(d, DetectorModel) and d.family == "detector_end2end"
    boxes, scores = d.detect(np.zeros((720, 1280, 3), np.uint8))  # ratio 0.5, top-left
    assert np.allclose(boxes, [[200, 200, 600, 720], [800, 100, 1200, 600]])
    assert np.allclose(scores, [0.9, 0.7])


@pytest.mark.parametrize("stem", ["conv", "focus"])
def test_end2end_detector_without_card_normalisation_follows_its_stem(tmp_path: Path,
                                                                     stem: str) -> None:
    """Without a card or pipeline.json, an mmdeploy file starting with a convolution is read as
    RTMDet (ImageNet mean/std, BGR, with a warning); YOLOX's Focus stem keeps raw pixels."""
    p = om.make_detector_end2end(tmp_path / "det.onnx", input_hw=(64, 64), stem=stem,
                                 boxes=((4, 4, 40, 60),), scores=(0.9,), classes=(0,))
    d = load_model(p, provider="cpu")
    assert isinstance(d, DetectorModel) and d.family == "detector_end2end"
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[:] = (104, 116, 124)  # BGR, about RTMDet's mean
    x, _ = d.prepare(frame)
    if stem == "conv":
        assert np.abs(x).max() < 0.02 and any("RTMDet" in w for w in d.warnings)
    else:
        assert x[0, 0].mean() == pytest.approx(104) and not d.warnings
    assert len(d.detect(frame)[0]) == 1  # the detector still runs either way
    # a card stating the normalisation wins, silently
    (tmp_path / "det.json").write_text(json.dumps({"mean": [0, 0, 0], "std": [1, 1, 1]}))
    d2 = load_model(p, provider="cpu")
    assert d2.prepare(frame)[0][0, 0].mean() == pytest.approx(104) and not d2.warnings


def test_detector_yolox_raw(tmp_path: Path) -> None:
    p = om.make_yolox_raw(tmp_path / "yx.onnx", input_hw=(320, 320), nc=2, planted=[
        {"box": (40, 40, 120, 200), "score": 0.9}, {"box": (200, 40, 260, 100), "score": 0.95,
                                                     "cls": 1}])
    d = load_model(p, provider="cpu")
    assert isinstance(d, DetectorModel) and d.family == "detector_yolox"
    boxes, scores = d.detect(np.zeros((320, 320, 3), np.uint8))
    assert np.allclose(boxes, [[40, 40, 120, 200]], atol=1e-3)
    assert scores.tolist() == pytest.approx([0.9])


def test_expect_kind(tmp_path: Path) -> None:
    p = om.make_detector_end2end(tmp_path / "det.onnx")
    with pytest.raises(ModelError, match="detector"):
        load_model(p, provider="cpu", expect="pose")


# --- cards --------------------------------------------------------------------------------------
def test_card_overrides_and_pipeline_json(tmp_path: Path) -> None:
    p = om.make_heatmap_model(tmp_path / "m.onnx", input_hw=IN_HW, k=3)
    (tmp_path / "pipeline.json").write_text(json.dumps({"pipeline": {"tasks": [
        {"type": "Task", "transforms": [
            {"type": "TopDownGetBboxCenterScale", "padding": 1.5},
            {"type": "Normalize", "mean": [1, 2, 3], "std": [4, 5, 6], "to_rgb": False}]}]}}))
    m = pose(p)
    assert m.mean == (1, 2, 3) and m.std == (4, 5, 6) and not m.rgb and m.box_padding == 1.5
    (tmp_path / "m.json").write_text(json.dumps({
        "format": "pose-studio-model-card/1", "name": "tiny", "keypoints": ["a", "left_x",
                                                                              "right_x"],
        "color": "rgb", "heatmap_sigma": 3.0, "keypoint_threshold": 0.5}))
    m = pose(p)
    assert m.name == "tiny" and m.keypoint_names == ("a", "left_x", "right_x")
    assert m.skeleton.flip_pairs == ((1, 2),) and m.rgb and m.dark_kernel == 17
    assert m.mean == (1, 2, 3)  # pipeline.json still fills what the card leaves out


@pytest.mark.parametrize("card, match", [
    ("{not json", "not valid JSON"),
    ('{"family": "banana"}', "unknown family"),
    ('{"skeleton": "coco17"}', "17 keypoints but the model outputs 3"),
    ('{"input_size": [10]}', "input_size"),
    ('{"family": "simcc"}', "stated by the card"),
    ('{"dark_kernel": 4}', "odd"),
])
def test_bad_cards_are_refused(tmp_path: Path, card: str, match: str) -> None:
    p = om.make_heatmap_model(tmp_path / "m.onnx", input_hw=IN_HW, k=3)
    (tmp_path / "m.json").write_text(card)
    with pytest.raises(ModelError, match=match):
        load_model(p, provider="cpu")


# --- wrong files --------------------------------------------------------------------------------
def test_wrong_files_are_refused_with_a_description(tmp_path: Path) -> None:
    good = om.make_heatmap_model(tmp_path / "good.onnx", input_hw=IN_HW)
    cases = {
        "missing": (tmp_path / "nope.onnx", "not found"),
        "dir": (tmp_path, "several models"),
        "text": (om.make_not_onnx(tmp_path / "t.onnx"), "cannot load"),
        "corrupt": (om.make_corrupt(tmp_path / "c.onnx", good), "cannot load"),
        "classifier": (om.make_classifier(tmp_path / "cls.onnx"), "logits \\[1, 1000\\]"),
        "rank5": (om.make_heatmap_model(tmp_path / "r5.onnx", input_hw=IN_HW, output_rank=5),
                  "not a recognised pose model"),
        "rank3": (om.make_heatmap_model(tmp_path / "r3.onnx", input_hw=IN_HW, output_rank=3),
                  "not a recognised pose model"),
        "two_inputs": (om.make_two_input_model(tmp_path / "two.onnx"), "one image input"),
    }
    for name, (path, match) in cases.items():
        with pytest.raises(ModelError, match=match) as ei:
            load_model(path, provider="cpu")
        assert str(path.name) in str(ei.value) or name == "dir", name
    import onnx

    newer = onnx.load(str(good))
    newer.ir_version = 99
    onnx.save(newer, str(tmp_path / "newer.onnx"))
    with pytest.raises(ModelError, match="newer than this onnxruntime"):
        load_model(tmp_path / "newer.onnx", provider="cpu")
    with pytest.raises(ModelError, match="corrupt"):
        load_model(tmp_path / "c.onnx", provider="cpu")
    with pytest.raises(ModelError) as ei:
        load_model(tmp_path / "cls.onnx", provider="cpu")
    assert "model card" in str(ei.value) and '"family"' in str(ei.value)


def test_dynamic_input_size_needs_a_card(tmp_path: Path) -> None:
    import onnx

    p = om.make_heatmap_model(tmp_path / "dyn.onnx", input_hw=IN_HW)
    model = onnx.load(str(p))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "h", "w"
    for o in model.graph.output:
        od = o.type.tensor_type.shape.dim
        od[2].dim_param, od[3].dim_param = "hh", "ww"
    onnx.save(model, str(p))
    with pytest.raises(ModelError, match="input_size"):
        load_model(p, provider="cpu")
    (tmp_path / "dyn.json").write_text('{"input_size": [96, 128]}')
    m = pose(p)
    assert m.input_size == (96, 128) and m.spec.stride == (4.0, 4.0)
