"""Loading user-supplied ONNX pose models and person detectors.

:func:`load_model` inspects the session (inputs, outputs, metadata), reads an optional model
card and the mmdeploy ``pipeline.json`` that describes the file, probes the model once
(warm-up), recognises its family and returns a :class:`PoseModel` or a :class:`DetectorModel`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pose_studio.core.skeleton import Skeleton, SkeletonError
from pose_studio.core.skeleton_presets import BUILTIN_SKELETONS, get_skeleton
from pose_studio.inference.card import CARD_HELP, ModelCard, card_path_for, read_card
from pose_studio.inference.errors import ModelError
from pose_studio.inference.families import Probe, adapter_for, detect_family
from pose_studio.inference.families.base import literal
from pose_studio.inference.limits import check_input, check_model_file
from pose_studio.inference.model import DetectorModel, PoseModel
from pose_studio.inference.providers import CPU
from pose_studio.inference.session import OnnxSession, TensorInfo

#: image input element types the engine can feed
_INPUT_TYPES = ("float32", "float16", "uint8", "int32")
#: model skeleton by keypoint count (a card or the family can say otherwise)
_SKELETON_BY_K = {17: "coco17", 26: "halpe26", 133: "wholebody133"}
_SKELETON_BY_FAMILY = {"blazepose": "blazepose33"}


def _skeleton_for(k: int, card: ModelCard, src: Path, family: str) -> Skeleton:
    """The keypoint layout: card skeleton, card keypoint names, else by family and K."""
    sk: Skeleton | None = None
    try:
        if isinstance(card.skeleton, dict):
            sk = Skeleton.from_dict(card.skeleton)
        elif card.skeleton is not None:
            ref = str(card.skeleton)
            if card.path is not None and ref.lower().endswith(".json") and \
                    not Path(ref).is_absolute():
                ref = str(card.path.parent / ref)
            sk = get_skeleton(ref)
        elif card.keypoints is not None:
            data: dict[str, Any] = {"name": card.name or "custom",
                                    "keypoints": list(card.keypoints)}
            if card.flip_pairs is not None:
                data["flip_pairs"] = [list(p) for p in card.flip_pairs]
            sk = Skeleton.from_dict(data)
    except SkeletonError as exc:
        raise ModelError(f"{card.path or src}: {exc}") from exc
    if sk is not None:
        if sk.num_keypoints != k:
            raise ModelError(f"{card.path or src}: the card's skeleton {sk.name!r} has "
                             f"{sk.num_keypoints} keypoints but the model outputs {k}")
        return sk
    name = _SKELETON_BY_FAMILY.get(family) or _SKELETON_BY_K.get(k)
    if name in BUILTIN_SKELETONS and BUILTIN_SKELETONS[name].num_keypoints == k:
        return BUILTIN_SKELETONS[name]
    return Skeleton(name=f"generic{k}", keypoints=tuple(f"kp{i}" for i in range(k)))


def _layout(inp: TensorInfo, card: ModelCard) -> str:
    """``nchw`` or ``nhwc`` of a rank-4 image input (a card's ``layout`` wins)."""
    if card.layout is not None:
        return card.layout
    _, c1, _, c3 = inp.shape
    if c1 == 3:
        return "nchw"
    if c3 == 3 or (isinstance(c3, int) and c3 in (1, 4) and not isinstance(c1, int)):
        return "nhwc"
    if isinstance(c3, int) and c3 in (1, 4) and isinstance(c1, int) and c1 not in (1, 3, 4):
        return "nhwc"
    return "nchw"


def _stated_size(sess: OnnxSession, card: ModelCard, path: Path) -> tuple[int, int] | None:
    """The input size ``(w, h)`` the file fixes, or the card/pipeline/metadata states."""
    inp = sess.inputs[0]
    if sess.layout == "nhwc":
        _, h, w, _ = inp.shape
    else:
        _, _, h, w = inp.shape
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        if card.input_size is not None and card.input_size != (w, h):
            raise ModelError(f"{card.path}: input_size {list(card.input_size)} does not match "
                             f"the model's fixed input {w}x{h} ({path.name})")
        return w, h
    if card.input_size is not None:
        return card.input_size
    imgsz = literal(sess.metadata, "imgsz")
    if isinstance(imgsz, (list, tuple)) and len(imgsz) == 2:
        return int(imgsz[1]), int(imgsz[0])
    if isinstance(imgsz, int):
        return imgsz, imgsz
    return None


def _model_file(p: Path) -> Path:
    """The ``.onnx`` file to load: the path itself, or the one ``.onnx`` in a folder (an
    extracted rtmlib/mmdeploy ``onnx_sdk`` archive holds ``end2end.onnx`` + ``pipeline.json``).
    """
    if not p.exists():
        raise ModelError(f"{p}: model file not found")
    if p.is_dir():
        found = sorted(p.glob("*.onnx"))
        if len(found) == 1:
            return found[0]
        if not found:
            raise ModelError(f"{p}: a folder without an .onnx model file")
        raise ModelError(f"{p}: the folder holds several models "
                         f"({', '.join(f.name for f in found)}); choose one")
    if not p.is_file():
        raise ModelError(f"{p}: not a file")
    if p.suffix.lower() == ".zip":
        raise ModelError(f"{p}: this is a zip archive (e.g. an rtmlib/mmdeploy onnx_sdk "
                         f"download); extract it and open the end2end.onnx inside (its "
                         f"pipeline.json beside it is read too), or get it with "
                         f"'pose-studio models get'")
    return p


def _check_input(p: Path, sess: OnnxSession, desc: str) -> None:
    if len(sess.inputs) != 1:
        raise ModelError(f"{p}: expected one image input, found {len(sess.inputs)} ({desc}); "
                         f"this is not a supported pose model or person detector")
    inp = sess.inputs[0]
    if len(inp.shape) != 4:
        raise ModelError(f"{p}: expected an image input [N, 3, H, W] or [N, H, W, 3], found "
                         f"{inp} ({desc}); this is not a supported pose model or detector")
    channels = inp.shape[3] if sess.layout == "nhwc" else inp.shape[1]
    if isinstance(channels, int) and channels != 3:
        raise ModelError(f"{p}: the image input {inp} has {channels} channel(s); Pose Studio "
                         f"feeds colour images (3 channels). If the layout is not what it "
                         f"seems, state it in a model card: {{\"layout\": \"nchw\"}} or "
                         f"{{\"layout\": \"nhwc\"}}")
    if inp.dtype not in _INPUT_TYPES:
        raise ModelError(f"{p}: the image input {inp} is {inp.dtype}; supported: "
                         f"{', '.join(_INPUT_TYPES)}")


def _probe(sess: OnnxSession, size: tuple[int, int], p: Path, desc: str,
           device_id: int, threads: int | None) -> tuple[OnnxSession, list[Any]]:
    """One run on a blank image (warm-up); a GPU session that cannot run falls back to CPU."""
    probe = sess.blank_input(sess.static_batch or 1, size)
    try:
        return sess, sess.run_once(probe)
    except ModelError as exc:
        gpu = sess.providers[0] if sess.providers and sess.providers[0] != CPU else None
        if gpu is None:
            raise ModelError(f"{p}: the model does not run on a {size[0]}x{size[1]} image "
                             f"({desc}): {exc}") from exc
        # the GPU session was built but cannot run (missing kernels/libraries, out of
        # memory): run on the CPU rather than not at all, and say so
        cpu_sess = OnnxSession(p, "cpu", device_id, threads)
        cpu_sess.layout = sess.layout
        cpu_sess.requested_providers = sess.requested_providers
        cpu_sess.warnings = [*sess.warnings, f"{gpu} cannot run this model ({exc}); "
                             f"running on the CPU instead (slower)"]
        try:
            return cpu_sess, cpu_sess.run_once(probe)
        except ModelError as exc2:
            raise ModelError(f"{p}: the model does not run on a {size[0]}x{size[1]} image "
                             f"({desc}): {exc2}") from exc2


def load_model(
    path: str | Path,
    *,
    provider: str = "auto",
    device_id: int = 0,
    threads: int | None = None,
    expect: str | None = None,
) -> PoseModel | DetectorModel:
    """Load any supported ONNX pose model or person detector.

    Args:
        path: The ``.onnx`` file (a ``<name>.json`` model card and the mmdeploy
            ``pipeline.json`` that describes it are read when present), or a folder with one.
        provider: ``auto`` (DirectML on Windows, CUDA on Linux, CoreML on macOS, then CPU),
            ``cpu``, ``cuda``, ``dml`` or ``coreml``.
        device_id: GPU index.
        threads: CPU intra-op threads; default leaves one core for the GUI and decoder.
        expect: ``"pose"`` or ``"detector"`` to refuse the other kind with a clear message.

    Raises:
        ModelError: not a file, not ONNX, corrupt, not a pose model/detector, bad card.
    """
    p = _model_file(Path(path).expanduser())
    t0 = time.perf_counter()
    card = read_card(p)
    check_model_file(p)  # before ORT reads it (limits.py)
    sess = OnnxSession(p, provider, device_id, threads)
    sess.warnings.extend(card.notes)
    desc = sess.describe_io()
    if sess.inputs and len(sess.inputs[0].shape) == 4:
        sess.layout = _layout(sess.inputs[0], card)
    _check_input(p, sess, desc)
    stated = _stated_size(sess, card, p)
    size = stated or ((256, 256) if sess.layout == "nhwc" else (640, 640))
    check_input(p, sess.static_batch, size)  # before any tensor of that size exists
    sess, outs = _probe(sess, size, p, desc, device_id, threads)
    if any(n != CPU for n in sess.requested_providers) and sess.providers[:1] == [CPU] and \
            not any("CPU" in w for w in sess.warnings):
        sess.warnings.append(f"onnxruntime fell back to the CPU (requested "
                             f"{', '.join(sess.requested_providers)})")

    def detect(outs: list[Any], size: tuple[int, int]) -> Any:
        shapes = [(o.name, tuple(a.shape)) for o, a in zip(sess.outputs, outs)]
        probe = Probe(size, shapes, sess.metadata, card.family, sess.layout,
                      sess.inputs[0].dtype)
        try:
            return detect_family(probe)
        except ValueError as exc:
            found = "; ".join(f"{n} {list(s)}" for n, s in shapes)
            raise ModelError(f"{p}: not a recognised pose model or person detector ({exc}). "
                             f"Found {desc} (outputs on a {size[0]}x{size[1]} probe image: "
                             f"{found}). {CARD_HELP}") from exc

    spec = detect(outs, size)
    cls = adapter_for(spec.family)
    if stated is None:
        assumed = cls.assumed_input_size or ((640, 640) if cls.kind == "detector" or
                                             spec.family in ("rtmo", "yolo_pose") else None)
        if assumed is None:
            raise ModelError(f"{p}: the input size is dynamic ({desc}) and this {spec.family} "
                             f"model needs to know it; the model card {card_path_for(p).name} "
                             f"must give \"input_size\": [width, height]. {CARD_HELP}")
        if assumed != size:
            sess, outs = _probe(sess, assumed, p, desc, device_id, threads)
            spec = detect(outs, assumed)
            cls = adapter_for(spec.family)
        size = assumed
        sess.warnings.append(
            f"the input size is flexible and no model card or pipeline.json states it: "
            f"assumed {size[0]}x{size[1]} ({spec.family}'s usual size); put \"input_size\": "
            f"[width, height] in {card_path_for(p).name} to choose another")
    if cls.top_down or (spec.family == "yolo_pose" and not spec.end2end):
        sess.check_batching(outs, sess.blank_input(1, size))  # paths that batch images
    if not sess.providers or sess.providers[0] != CPU:
        sess.run_once(sess.blank_input(sess.static_batch or 1, size))  # 2nd warm-up (GPU)
    adapter = cls(spec, card, size, p, sess.warnings, sess.inputs[0].dtype)
    load_ms = (time.perf_counter() - t0) * 1000
    if cls.kind == "detector":
        model: PoseModel | DetectorModel = DetectorModel(p, sess, card, adapter, size, load_ms)
    else:
        model = PoseModel(p, sess, card, adapter, size,
                          _skeleton_for(spec.k, card, p, spec.family), load_ms)
    if expect == "pose" and not isinstance(model, PoseModel):
        raise ModelError(f"{p}: this is a person detector ({spec.family}), not a pose model")
    if expect == "detector" and not isinstance(model, DetectorModel):
        raise ModelError(f"{p}: this is a pose model ({spec.family}), not a person detector")
    return model
