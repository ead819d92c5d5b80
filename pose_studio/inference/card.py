"""Model cards (``name.json`` beside ``name.onnx``) and mmdeploy ``pipeline.json`` files."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pose_studio.inference.errors import ModelError

FAMILIES = ("heatmap", "simcc", "yolo_pose", "rtmo", "movenet", "blazepose", "detector_end2end",
            "detector_yolox", "detector_yolo", "detector_rtmdet", "detector_nanodet")
CARD_FORMAT = "pose-studio-model-card/1"

CARD_HELP = (
    'A model card "<model>.json" beside the file can state it, e.g. {"format": '
    f'"{CARD_FORMAT}", "family": "{" | ".join(FAMILIES)}", "input_size": [192, 256], '
    '"mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375], "color": "rgb", '
    '"skeleton": "coco17"}; "layout": "nhwc" for a channels-last input'
)


@dataclass(frozen=True)
class ModelCard:
    """What a card (and/or pipeline.json) says about a model; None means "infer it"."""

    path: Path | None = None
    name: str | None = None
    family: str | None = None
    input_size: tuple[int, int] | None = None  # (w, h)
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    color: str | None = None  # "rgb" | "bgr"
    skeleton: Any = None  # name, dict, or None
    keypoints: tuple[str, ...] | None = None
    flip_pairs: tuple[tuple[int, int], ...] | None = None
    heatmap_sigma: float | None = None
    dark_kernel: int | None = None
    refine: str | None = None  # "dark" | "dark_udp" | "quarter" | "none"
    box_padding: float | None = None
    score_threshold: float | None = None
    keypoint_threshold: float | None = None
    nms_threshold: float | None = None
    flip_test: bool | None = None
    layout: str | None = None  # "nchw" | "nhwc" of the image input
    extra: dict[str, Any] = field(default_factory=dict)
    #: what reading the side files found worth telling (e.g. a pipeline.json not applied)
    notes: tuple[str, ...] = ()


def card_path_for(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def _triple(v: Any, what: str, src: Path) -> tuple[float, float, float]:
    try:
        t = tuple(float(x) for x in v)
    except (TypeError, ValueError):
        t = ()
    if len(t) != 3:
        raise ModelError(f"{src}: '{what}' must be a list of 3 numbers, got {v!r}")
    return t  # type: ignore[return-value]


def _size(v: Any, src: Path) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in v)
    except (TypeError, ValueError):
        raise ModelError(f"{src}: 'input_size' must be [width, height], got {v!r}") from None
    if w <= 0 or h <= 0:
        raise ModelError(f"{src}: 'input_size' must be positive, got {v!r}")
    return w, h


def parse_card(data: Mapping[str, Any], src: Path) -> ModelCard:
    """Validate a card's fields; errors name the card file and the field."""
    if not isinstance(data, Mapping):
        raise ModelError(f"{src}: a model card must be a JSON object")
    kw: dict[str, Any] = {"path": src}
    fam = data.get("family")
    if fam is not None:
        fam = str(fam).lower()
        if fam not in FAMILIES:
            raise ModelError(f"{src}: unknown family {fam!r}; use one of {', '.join(FAMILIES)}")
        kw["family"] = fam
    if data.get("name") is not None:
        kw["name"] = str(data["name"])
    if data.get("input_size") is not None:
        kw["input_size"] = _size(data["input_size"], src)
    for key in ("mean", "std"):
        if data.get(key) is not None:
            kw[key] = _triple(data[key], key, src)
    if kw.get("std") and any(s == 0 for s in kw["std"]):
        raise ModelError(f"{src}: 'std' must not contain 0")
    if data.get("color") is not None:
        col = str(data["color"]).lower()
        if col not in ("rgb", "bgr"):
            raise ModelError(f"{src}: 'color' must be \"rgb\" or \"bgr\", got {col!r}")
        kw["color"] = col
    if data.get("skeleton") is not None:
        kw["skeleton"] = data["skeleton"]
    if data.get("keypoints") is not None:
        kp = data["keypoints"]
        if not isinstance(kp, list) or not all(isinstance(n, str) for n in kp):
            raise ModelError(f"{src}: 'keypoints' must be a list of names")
        kw["keypoints"] = tuple(kp)
    if data.get("flip_pairs") is not None:
        try:
            kw["flip_pairs"] = tuple((int(a), int(b)) for a, b in data["flip_pairs"])
        except (TypeError, ValueError):
            raise ModelError(f"{src}: 'flip_pairs' must be a list of [left, right] "
                             f"index pairs") from None
    for key in ("heatmap_sigma", "box_padding", "score_threshold", "keypoint_threshold",
                "nms_threshold"):
        if data.get(key) is not None:
            try:
                kw[key] = float(data[key])
            except (TypeError, ValueError):
                raise ModelError(f"{src}: '{key}' must be a number") from None
    if data.get("dark_kernel") is not None:
        k = data["dark_kernel"]
        if not isinstance(k, int) or k < 1 or k % 2 == 0:
            raise ModelError(f"{src}: 'dark_kernel' must be an odd positive integer, got {k!r}")
        kw["dark_kernel"] = k
    if data.get("refine") is not None:
        r = str(data["refine"]).lower()
        if r not in ("dark", "dark_udp", "quarter", "none"):
            raise ModelError(f"{src}: 'refine' must be dark, dark_udp, quarter or none")
        kw["refine"] = r
    if data.get("flip_test") is not None:
        kw["flip_test"] = bool(data["flip_test"])
    if data.get("layout") is not None:
        lay = str(data["layout"]).lower()
        if lay not in ("nchw", "nhwc"):
            raise ModelError(f"{src}: 'layout' must be \"nchw\" or \"nhwc\", got {lay!r}")
        kw["layout"] = lay
    known = set(kw) | {"format", "training", "accuracy"}
    kw["extra"] = {k: v for k, v in data.items() if k not in known}
    return ModelCard(**kw)


def pipeline_for(model_path: Path) -> tuple[Path | None, str | None]:
    """The mmdeploy ``pipeline.json`` that describes ``model_path``, if any, and else why one
    beside it does not apply.

    An SDK folder describes ONE model: the file its ``deploy.json`` names, else mmdeploy's
    ``end2end.onnx``, else the only ``.onnx`` of the folder. Other models put beside it (a
    YOLO-pose file dropped into a detector's folder) must not get its size, colour order and
    normalisation.
    """
    pj = model_path.parent / "pipeline.json"
    if not pj.is_file():
        return None, None
    named: list[str] = []
    dj = model_path.parent / "deploy.json"
    if dj.is_file():
        try:
            deploy = json.loads(dj.read_text(encoding="utf-8"))
            named = [str(m.get("net")) for m in deploy.get("models", [])
                     if isinstance(m, Mapping) and m.get("net")]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            named = []
    if not named:
        try:
            onnx_files = sorted(f.name for f in model_path.parent.glob("*.onnx"))
        except OSError:
            onnx_files = [model_path.name]
        named = ["end2end.onnx"] if "end2end.onnx" in onnx_files else \
            (onnx_files if len(onnx_files) == 1 else [])
    if model_path.name in named:
        return pj, None
    which = ", ".join(named) if named else "another model of the folder"
    return None, (f"{pj} describes {which}, not {model_path.name}: its pre-processing is not "
                  f"applied to this model")


def read_card(model_path: Path) -> ModelCard:
    """The card beside the model merged over its pipeline.json (both optional)."""
    pj, note = pipeline_for(model_path)
    base = read_pipeline_json(pj) if pj is not None else ModelCard()
    if note:
        base = ModelCard(**{**_fields(base), "notes": (note,)})
    cp = card_path_for(model_path)
    if not cp.is_file():
        return base
    try:
        data = json.loads(cp.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{cp}: cannot read the model card: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"{cp}: the model card is not valid JSON: {exc}") from exc
    except RecursionError:
        raise ModelError(f"{cp}: the model card is not usable JSON: values nested too "
                         "deeply (a card nests a few levels)") from None
    card = parse_card(data, cp)
    merged = _fields(card)
    for f in card.__dataclass_fields__:
        if merged[f] is None and getattr(base, f) is not None:
            merged[f] = getattr(base, f)
    merged["notes"] = base.notes
    return ModelCard(**merged)


def _fields(card: ModelCard) -> dict[str, Any]:
    return {f: getattr(card, f) for f in card.__dataclass_fields__}


def _walk(obj: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(obj, Mapping):
        if "type" in obj:
            yield obj
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def read_pipeline_json(path: Path) -> ModelCard:
    """Mean/std/to_rgb, input size and box padding from an mmdeploy ``pipeline.json``.

    A missing or unreadable file gives an empty card (it is optional metadata).
    """
    if not path.is_file():
        return ModelCard()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        steps = list(_walk(data))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return ModelCard()
    kw: dict[str, Any] = {"path": path}
    for t in steps:
        typ = str(t.get("type", ""))
        try:
            if typ == "Normalize":
                if "mean" in t:
                    kw["mean"] = _triple(t["mean"], "mean", path)
                if "std" in t:
                    kw["std"] = _triple(t["std"], "std", path)
                kw["color"] = "rgb" if t.get("to_rgb") else "bgr"
            elif typ in ("TopDownAffine", "TopdownAffine") and "image_size" in t:
                kw["input_size"] = _size(t["image_size"], path)
                if t.get("use_udp"):  # ViTPose and other UDP-trained heatmap models
                    kw["refine"] = "dark_udp"
            elif typ == "TopDownGetBboxCenterScale" and "padding" in t:
                kw["box_padding"] = float(t["padding"])
            elif typ == "Resize" and "size" in t and "input_size" not in kw:
                sz = t["size"]
                # mmdet Resize size is (w, h) or a scalar
                kw["input_size"] = _size(sz if isinstance(sz, list) else [sz, sz], path)
        except (ModelError, TypeError, ValueError):
            continue
    return ModelCard(**kw)
