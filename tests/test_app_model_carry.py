"""The model's word when the window propagates (``app.model_carry``): which models can be
re-run around a person, the offsets learned from a person's drags on propagated frames, and
the request that carries both to the worker."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from pose_studio.app import carry, model_carry
from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.edits import Edit
from pose_studio.core.fusion import FusionParams
from pose_studio.core.skeleton import COCO17
from tests.support.onnx_models import make_heatmap_model, make_not_onnx

K = COCO17.num_keypoints


def _pose(x: float, track: int | None = 3, kind: InstanceKind = InstanceKind.USER) -> Instance:
    xy = np.column_stack([np.linspace(x, x + 40, K), np.linspace(10, 90, K)])
    return Instance(xy=xy, visibility=np.full(K, 2, np.uint8), kind=kind, track_id=track,
                    id=7)


def _request(start: tuple[Instance, ...]) -> carry.PropagationRequest:
    sig = np.asarray(COCO17.sigma_array())
    return carry.PropagationRequest(1, "v.mp4", None, 4, 8, start, ((),) * len(start), None,
                                    sig, tuple(COCO17.keypoints))


def test_redetect_model_takes_top_down_models_with_the_projects_keypoints(tmp_path: Path
                                                                           ) -> None:
    names = tuple(COCO17.keypoints)
    model, why = model_carry.redetect_model(str(make_heatmap_model(tmp_path / "a.onnx")), names)
    assert model is not None and why == ""
    again, _ = model_carry.redetect_model(str(tmp_path / "a.onnx"), names)
    assert again is model  # kept loaded: a fix carried after every drag does not reload it
    model, why = model_carry.redetect_model(str(tmp_path / "gone.onnx"), names)
    assert model is None and why.startswith("the model could not be loaded")
    model, why = model_carry.redetect_model(str(make_heatmap_model(tmp_path / "b.onnx", k=5)),
                                            names)
    assert model is None and "other keypoints" in why
    model, why = model_carry.redetect_model(str(make_not_onnx(tmp_path / "c.onnx")), names)
    assert model is None and why.startswith("the model could not be loaded")


def test_offsets_are_learned_from_drags_on_propagated_frames_only() -> None:
    mem = model_carry.CarryMemory()
    start = _pose(0.0)
    raw = np.array(start.xy)[None].copy()  # where the model put the points on frame 5
    mem.remember(_request((start,)), SimpleNamespace(model={5: raw}))
    shown = _pose(0.0)
    dragged = shown.with_keypoint(2, xy=(float(raw[0, 2, 0]) + 3.0, float(raw[0, 2, 1])))
    assert mem.learn(Edit.set_instance(1, 6, shown, dragged, "drag")) == 0  # not propagated
    assert mem.offsets(1, 3) is None
    assert mem.learn(Edit.set_instance(1, 5, shown, dragged, "drag")) == 1
    off = mem.offsets(1, 3)
    assert off is not None and not off.flags.writeable
    rate = FusionParams().offset_rate
    np.testing.assert_allclose(off[2], (rate * 3.0, 0.0))
    assert not off[np.arange(K) != 2].any()  # points not dragged teach nothing
    assert mem.offsets(1, 4) is None and mem.offsets(2, 3) is None  # per video and track
    # a prediction moved (a model run) teaches nothing either
    pred = _pose(0.0, kind=InstanceKind.PREDICTED)
    moved = pred.with_keypoint(4, xy=(50.0, 50.0))
    assert mem.learn(Edit.set_instance(1, 5, pred, moved, "move")) == 0
    req = model_carry.with_model(_request((start, _pose(9.0, track=None))), mem, "m.onnx")
    assert req.model_path == "m.onnx" and req.model_offsets[0] is off
    assert req.model_offsets[1] is None
    mem.clear()
    assert mem.offsets(1, 3) is None


def test_the_worker_adds_the_learned_offset_to_the_models_points() -> None:
    """Flat frames (the flow has nothing to follow): on the first frame carried (no motion
    known yet) the points are the model's, moved by the offset the request carries."""
    start = _pose(20.0, track=None)
    truth = np.array(start.xy)
    preds = {f: (Instance(xy=truth, visibility=np.full(K, 2, np.uint8),
                          kind=InstanceKind.PREDICTED, kp_scores=np.full(K, 0.97),
                          score=0.97),) for f in range(5, 9)}
    off = np.zeros((K, 2))
    off[:, 0] = 1.5
    base = _request((start,))
    flat = SimpleNamespace(get=lambda i: np.full((120, 160), 128, np.uint8), close=lambda: None)

    def run(offsets: tuple[np.ndarray | None, ...]) -> np.ndarray:
        import dataclasses

        req = dataclasses.replace(base, predictions=preds, model_offsets=offsets)
        res = carry.run_propagation(req, open_reader=lambda p, i: flat)
        got = res.frames[5][0]
        assert got is not None
        return np.asarray(got.xy)

    np.testing.assert_allclose(run(()), truth, atol=0.05)
    np.testing.assert_allclose(run((off,)), truth + off, atol=0.05)


def test_a_start_is_as_sure_as_its_proposal_was() -> None:
    """Propagating from a frame a propagation filled: each point starts with the sigma it was
    proposed with, a point placed since with a placed point's; elsewhere by provenance."""
    from pose_studio.core.annotation import Provenance
    from pose_studio.core.fusion import label_sigmas

    fu = FusionParams()
    mem = model_carry.CarryMemory()
    start = _pose(0.0)
    proposed = np.linspace(0.5, 3.0, K)
    req0 = _request((start,))
    mem.remember(req0, SimpleNamespace(frames={5: (start,)}, sigmas={5: proposed[None]},
                                       model={}))
    assert mem.filled(1, 5, 3) == 1 and mem.filled(1, 6, 3) is None
    shown = start.replace(provenance=np.full(K, int(Provenance.PROPAGATED), np.uint8))
    fixed = shown.with_keypoint(4, xy=(1.0, 2.0))
    got = mem.start_sigmas(1, 5, fixed)
    assert got is not None
    np.testing.assert_allclose(got[4], fu.user_sigma)  # placed since
    np.testing.assert_allclose(np.delete(got, 4), np.delete(proposed, 4))
    assert mem.start_sigmas(1, 6, fixed) is None  # not proposed by a propagation
    import dataclasses

    req = dataclasses.replace(req0, from_frame=5, start=(fixed,))
    req = model_carry.with_model(req, mem, None)
    np.testing.assert_allclose(req.start_sigmas[0], got)
    # unknown: by provenance (placed 0.35 px, accepted as proposed 2 px)
    np.testing.assert_allclose(carry._start_sigmas(dataclasses.replace(
        req, start_sigmas=(None, got), start=(fixed, fixed)))[0], label_sigmas(fixed, fu))
    assert carry._start_sigmas(dataclasses.replace(req, start_sigmas=())) is None
    lab = label_sigmas(fixed, fu)
    assert lab[4] == fu.user_sigma and (np.delete(lab, 4) == fu.accepted_sigma).all()
