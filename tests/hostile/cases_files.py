"""Hostile and broken data files: COCO keypoints (``import``), ONNX models (``models check``,
``infer``) and PyTorch checkpoints (``train --init`` and resuming)."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.hostile.harness import Case, Ctx, with_input

Build = Callable[[Ctx], Path]
MARKER = "PWNED"  # a file a hostile pickle would create


def _json(obj: Any) -> Callable[[Ctx], Path]:
    return lambda ctx: ctx.write("in.json", json.dumps(obj))


def _raw(data: bytes) -> Callable[[Ctx], Path]:
    return lambda ctx: ctx.write("in.json", data)


def _coco(ctx: Ctx) -> dict[str, Any]:
    return dict(json.loads(ctx.assets.coco.read_text()))


def _mutated(change: Callable[[dict[str, Any]], None]) -> Callable[[Ctx], Path]:
    def build(ctx: Ctx) -> Path:
        data = _coco(ctx)
        change(data)
        return ctx.write("in.json", json.dumps(data))
    return build


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        obj: Any = d
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return change


def _fifo_json(ctx: Ctx) -> Path:
    p = ctx.dir / "in.json"
    os.mkfifo(p)
    return p


COCO: dict[str, tuple[Callable[[Ctx], Path], str, str]] = {
    # name: (builder, message regex, xfail reason)
    "empty-file": (_raw(b""), "in.json", ""),
    "not-json": (_raw(b"images: []"), "not valid JSON", ""),
    "binary": (_raw(os.urandom(3000)), "in.json", ""),
    "utf16": (_raw('{"images": []}'.encode("utf-16")), "in.json", ""),
    "top-level-list": (_json([1, 2, 3]), "in.json", ""),
    "top-level-null": (_json(None), "in.json", ""),
    "missing-images": (_json({"annotations": [], "categories": []}), "images", ""),
    "images-not-list": (_json({"images": 5, "annotations": [], "categories": []}), "images", ""),
    "nan-literals": (_raw(b'{"images": [{"id": 1, "width": NaN, "height": Infinity, '
                          b'"file_name": "a.png"}], "annotations": [], "categories": []}'),
                     "in.json", ""),
    "huge-number": (_raw(b'{"images": [{"id": 1e999, "width": 10, "height": 10, "file_name": '
                         b'"a.png"}], "annotations": [], "categories": []}'), "in.json", ""),
    "deep-nesting": (_raw(b"[" * 100000 + b"]" * 100000), "in.json", ""),
    "keypoints-short": (_mutated(_set(("annotations", 0, "keypoints"), [1, 2])), "keypoints",
                        ""),
    "keypoints-strings": (_mutated(_set(("annotations", 0, "keypoints"), ["a"] * 51)),
                          "keypoints", ""),
    "visibility-7": (_mutated(_set(("annotations", 0, "keypoints"), [1.0, 1.0, 7] * 17)),
                     "in.json", ""),
    "image-id-missing": (_mutated(_set(("annotations", 0, "image_id"), 987654)), "in.json", ""),
    "image-size-negative": (_mutated(_set(("images", 0, "width"), -5)), "width", ""),
    "category-keypoints-not-list": (_mutated(_set(("categories", 0, "keypoints"), "abc")),
                                    "keypoints", ""),
    "category-unknown-skeleton": (_mutated(_set(("categories", 0, "keypoints"), ["x", "y"])),
                                  "in.json", ""),
    "frame-index-huge": (_mutated(_set(("images", 0, "frame_index"), 10**12)), "in.json", ""),
    "frame-index-negative": (_mutated(_set(("images", 0, "frame_index"), -3)), "in.json", ""),
    "bbox-strings": (_mutated(_set(("annotations", 0, "bbox"), ["a", "b", "c", "d"])),
                     "in.json", ""),
    "fifo": (_fifo_json, "named pipe", ""),
    "folder": (lambda ctx: (ctx.dir / "in.json").mkdir() or ctx.dir / "in.json", "folder", ""),
}


# --- ONNX ---------------------------------------------------------------------------------------
def _onnx_bytes(data: bytes | Callable[[Ctx], bytes], name: str = "m.onnx") -> Build:
    return lambda ctx: ctx.write(name, data(ctx) if callable(data) else data)


def _model(**kw: Any) -> Build:
    def build(ctx: Ctx) -> Path:
        from tests.support.onnx_models import make_heatmap_model

        return make_heatmap_model(ctx.dir / "m.onnx", **kw)
    return build


def _model_with_card(card: str, **kw: Any) -> Build:
    def build(ctx: Ctx) -> Path:
        p = _model(**kw)(ctx)
        ctx.write("m.json", card)
        return p
    return build


def _model_meta(meta: dict[str, str]) -> Build:
    """A heatmap model with a dynamic input size and crafted metadata (read for its size)."""
    def build(ctx: Ctx) -> Path:
        import onnx
        from onnx import helper

        p = _model(input_hw=(64, 48))(ctx)
        m = onnx.load(str(p))
        for value in (m.graph.input[0], m.graph.output[0]):
            dims = value.type.tensor_type.shape.dim
            dims[2].dim_param, dims[3].dim_param = "h", "w"
        helper.set_model_props(m, meta)
        onnx.save(m, str(p))
        return p
    return build


def _zip(ctx: Ctx) -> Path:
    p = ctx.dir / "m.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("end2end.onnx", b"x")
    return p


def _fifo_model(ctx: Ctx) -> Path:
    p = ctx.dir / "m.onnx"
    os.mkfifo(p)
    return p


ONNX: dict[str, tuple[Build, str, str]] = {
    # name: (builder, message regex, runner)
    "empty": (_onnx_bytes(b""), "m.onnx", "inproc"),
    "random": (_onnx_bytes(os.urandom(5000)), "m.onnx", "inproc"),
    "text": (_onnx_bytes(b"this is not a model\n"), "m.onnx", "inproc"),
    "truncated": (_onnx_bytes(lambda ctx: ctx.assets.model.read_bytes()[:200]), "m.onnx",
                  "inproc"),
    "pickle": (_onnx_bytes(pickle.dumps({"a": 1})), "m.onnx", "inproc"),
    "fixed-100000": (_model(input_hw=(100000, 100000)), "100000x100000", "inproc"),
    "fixed-batch-huge": (_model(dynamic_batch=False, static_batch=100000, input_hw=(64, 48)),
                         "batch", "inproc"),
    "card-input-huge": (_model_with_card('{"input_size": [100000, 100000]}',
                                         input_hw=(64, 48)), "m.json|100000", "inproc"),
    "card-not-json": (_model_with_card("{oops", input_hw=(64, 48)), "m.json", "inproc"),
    "card-deep": (_model_with_card("[" * 100000 + "]" * 100000, input_hw=(64, 48)), "m.json",
                  "inproc"),
    "card-huge-numbers": (_model_with_card('{"input_size": [1e308, 1e308]}', input_hw=(64, 48)),
                          "m.json|input_size", "inproc"),
    "metadata-imgsz-huge": (_model_meta({"imgsz": "[100000, 100000]"}), "100000x100000",
                            "inproc"),
    "metadata-imgsz-garbage": (_model_meta({"imgsz": "__import__('os').system('x')"}),
                               "m.onnx", "inproc"),
    "metadata-imgsz-deep": (_model_meta({"imgsz": "-" * 100000 + "1"}), "m.onnx", "inproc"),
    "zip": (_zip, "zip", "inproc"),
    "folder-empty": (lambda ctx: (ctx.dir / "models").mkdir() or ctx.dir / "models",
                     "without an .onnx", "inproc"),
    "fifo": (_fifo_model, "named pipe|not a file", "subprocess"),
    "char-device": (lambda ctx: Path("/dev/zero"), "character device|not a file", "inproc"),
}


# --- checkpoints ----------------------------------------------------------------------------------
class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {MARKER}",))


def _torch_save(obj: Callable[[], Any]) -> Build:
    def build(ctx: Ctx) -> Path:
        import torch

        p = ctx.dir / "init.pt"
        torch.save(obj(), p)
        return p
    return build


def _evil_pickle(ctx: Ctx) -> Path:
    import torch

    p = ctx.dir / "init.pt"
    torch.save({"model": {}, "config": _Evil()}, p)
    return p


def _plain_pickle(ctx: Ctx) -> Path:
    return ctx.write("init.pt", pickle.dumps(_Evil()))


def _fifo_ckpt(ctx: Ctx) -> Path:
    p = ctx.dir / "init.pt"
    os.mkfifo(p)
    return p


def _tensor() -> Any:
    import torch

    return torch.zeros(3)


CKPT: dict[str, tuple[Build, str, str]] = {
    "code-running-pickle": (_evil_pickle, "refused.*posix.system|refused", "inproc"),
    "plain-pickle": (_plain_pickle, "(init|last).pt: refused", "inproc"),
    "random": (lambda ctx: ctx.write("init.pt", os.urandom(4000)), "(init|last).pt", "inproc"),
    "empty": (lambda ctx: ctx.write("init.pt", b""), "(init|last).pt", "inproc"),
    "zip-garbage": (lambda ctx: ctx.write("init.pt", b"PK\x03\x04" + os.urandom(500)),
                    "(init|last).pt", "inproc"),
    "a-tensor": (_torch_save(_tensor), "not a Pose Studio checkpoint", "inproc"),
    "no-model": (_torch_save(lambda: {"epoch": 3}), "no 'model'", "inproc"),
    "fifo": (_fifo_ckpt, "named pipe", "subprocess"),
}


def _no_marker(ctx: Ctx) -> None:
    assert not (ctx.dir / MARKER).exists() and not Path(MARKER).exists(), "code from a file ran"


def _resume_from(build: Build) -> Callable[[Ctx], list[str]]:
    def make(ctx: Ctx) -> list[str]:
        out = ctx.dir / "run"
        out.mkdir()
        src = build(ctx)
        src.rename(out / "last.pt")
        return ["train", "--out", str(out), "--project", str(ctx.project()), "--epochs", "1"]
    return make


#: Known failures outside this branch's area (strict xfail: they flip when fixed there).
ONNX_XFAIL: dict[str, str] = {}


def all_cases() -> list[Case]:
    out = []
    for name, (build, says, xfail) in COCO.items():
        out.append(Case(
            f"coco-{name}",
            with_input(build, lambda ctx, p: ["import", str(ctx.project()), str(p),
                                    "--no-fingerprints"]),
            match=says, xfail=xfail, mode="subprocess" if name == "fifo" else "inproc"))
    for name, (build, says, mode) in ONNX.items():
        out.append(Case(f"onnx-{name}-check",
                        with_input(build, lambda ctx, p: ["models", "check", str(p)]),
                        match=says, mode=mode, watch=(), xfail=ONNX_XFAIL.get(name, "")))
        if mode == "inproc":
            out.append(Case(
                f"onnx-{name}-infer",
                with_input(build, lambda ctx, p: ["infer", str(ctx.project()), "--model", str(p),
                                        "--provider", "cpu"]),
                match=says, xfail=ONNX_XFAIL.get(name, "")))
    for name, (build, says, mode) in CKPT.items():
        out.append(Case(
            f"checkpoint-{name}-init",
            with_input(build, lambda ctx, p: ["train", "--out", str(ctx.dir / "run"), "--project",
                                    str(ctx.project()), "--init", str(p),
                                    "--epochs", "1"]),
            match=says, mode=mode, check=_no_marker))
        if mode == "inproc":
            out.append(Case(f"checkpoint-{name}-resume", _resume_from(build), match=says,
                            check=_no_marker))
    return out
