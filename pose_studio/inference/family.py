"""Which family a model belongs to, from its output names, shapes and metadata."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class FamilySpec:
    """The decoded layout of a model's outputs.

    Attributes:
        family: One of :data:`pose_studio.inference.card.FAMILIES`.
        k: Number of keypoints (pose families).
        outputs: Indices of the outputs used (heatmap: the last stage; simcc: x then y;
            detectors: dets then labels; rtmo: dets then keypoints).
        stride: Heatmap stride (x, y) in input pixels per heatmap pixel.
        split_ratio: SimCC bins per input pixel.
        nc: Number of classes (YOLO models).
        end2end: YOLO-pose export with NMS inside (rows of x1,y1,x2,y2,score,class,kpts).
        kpt_dim: Values per YOLO-pose keypoint: 3 (x, y, visibility) or 2 (x, y; e.g.
            ultralytics ``tiger-pose`` with ``kpt_shape=[12, 2]``).
    """

    family: str
    k: int = 0
    outputs: tuple[int, ...] = (0,)
    stride: tuple[float, float] = (0.0, 0.0)
    split_ratio: float = 0.0
    nc: int = 1
    end2end: bool = False
    kpt_dim: int = 3


def literal(meta: Mapping[str, str], key: str) -> Any:
    """An ultralytics metadata value (written with ``str(python_obj)``), or None."""
    if key not in meta:
        return None
    try:
        return ast.literal_eval(meta[key])
    except (ValueError, SyntaxError):
        return meta[key]


def anchors(h: int, w: int) -> int:
    return sum((h // s) * (w // s) for s in STRIDES)


def detect_family(
    input_size: tuple[int, int],
    outputs: Sequence[tuple[str, tuple[int, ...]]],
    metadata: Mapping[str, str] | None = None,
    family: str | None = None,
) -> FamilySpec:
    """Infer the family from ``(name, shape)`` of each output (shapes from a probe run).

    Args:
        input_size: Model input ``(w, h)``.
        outputs: Output names and concrete shapes (batch 1 or the static batch).
        metadata: ``custom_metadata_map`` (ultralytics keys).
        family: A family stated by a model card; only its layout is then checked.

    Raises:
        ValueError: the outputs fit no family (or not the stated one); says why.
    """
    w_in, h_in = input_size
    meta = dict(metadata or {})
    names = [n.lower() for n, _ in outputs]
    shapes = [tuple(int(d) for d in s) for _, s in outputs]
    tried: list[str] = []

    def want(f: str) -> bool:
        return family is None or family == f

    # --- mmdeploy detector / RTMO: by output names
    if want("detector_end2end") and "dets" in names and "labels" in names:
        d, lab = names.index("dets"), names.index("labels")
        if len(shapes[d]) == 3 and shapes[d][2] >= 5:
            return FamilySpec("detector_end2end", outputs=(d, lab))
        tried.append(f"'dets' has shape {list(shapes[d])}, expected [N, num_dets, 5]")
    if want("rtmo") and "dets" in names and "keypoints" in names:
        d, kp = names.index("dets"), names.index("keypoints")
        if len(shapes[kp]) == 4 and shapes[kp][3] == 3 and len(shapes[d]) == 3:
            return FamilySpec("rtmo", k=shapes[kp][2], outputs=(d, kp))
        tried.append(f"'keypoints' has shape {list(shapes[kp])}, expected [1, N, K, 3]")
    if family == "rtmo" and len(shapes) == 2 and len(shapes[1]) == 4 and shapes[1][3] == 3:
        return FamilySpec("rtmo", k=shapes[1][2], outputs=(0, 1))
    if family == "detector_end2end" and len(shapes) >= 2 and len(shapes[0]) == 3:
        return FamilySpec("detector_end2end", outputs=(0, 1))

    # --- YOLO (one rank-3 output)
    r3 = [i for i, s in enumerate(shapes) if len(s) == 3]
    kpt_shape = literal(meta, "kpt_shape")
    task = str(meta.get("task", "")).lower()
    if task and task not in ("pose", "detect") and family is None and \
            ("names" in meta or "stride" in meta):
        # an ultralytics detect/segment/classify/obb export: its rank-3 output can look
        # like a pose layout by chance (seg [1, 116, 8400] = 4 + 1 + 3*37)
        raise ValueError(f"this is an ultralytics '{task}' model (metadata task={task!r}), "
                         f"not a pose model; export a YOLO '-pose' model instead "
                         f"(e.g. yolo11n-pose.pt with format=onnx)")
    is_pose_meta = kpt_shape is not None or task == "pose"
    if len(r3) == 1 and (want("yolo_pose") or want("detector_yolox") or want("detector_yolo")):
        i = r3[0]
        _, c, a = shapes[i]
        n_anchor = anchors(h_in, w_in)
        names_meta = literal(meta, "names")
        nc = len(names_meta) if isinstance(names_meta, dict) and names_meta else 1
        # ultralytics YOLOv8/11 detector (a person detector for top-down models):
        # [1, 4+nc, anchors], or [1, max_det, 6] when exported with NMS (YOLO26, nms=True)
        if want("detector_yolo") and not is_pose_meta and (task == "detect" or family ==
                                                             "detector_yolo"):
            nc_d = nc if task == "detect" else c - 4
            if a == n_anchor and c == 4 + nc_d and nc_d >= 1:
                return FamilySpec("detector_yolo", outputs=(i,), nc=nc_d)
            if a == 6 and c != n_anchor:
                return FamilySpec("detector_yolo", outputs=(i,), nc=nc_d, end2end=True)
            tried.append(f"ultralytics detector output {list(shapes[i])} is neither "
                         f"[1, 4+{nc_d}, {n_anchor}] nor [1, max_det, 6]")
        if want("detector_yolo") and family is None and not meta and a == n_anchor and \
                c == 84:
            return FamilySpec("detector_yolo", outputs=(i,), nc=80)  # COCO-80, no metadata
        k_meta = int(kpt_shape[0]) if isinstance(kpt_shape, (list, tuple)) else None
        ndim = int(kpt_shape[1]) if isinstance(kpt_shape, (list, tuple)) and \
            len(kpt_shape) > 1 else 3
        if want("yolo_pose") and (is_pose_meta or family == "yolo_pose"):
            if ndim not in (2, 3):
                tried.append(f"YOLO-pose metadata kpt_shape={kpt_shape!r}: keypoints must "
                             f"have 2 or 3 values")
            else:
                if a == n_anchor or (a != c and c < a):
                    k = k_meta if k_meta else (c - 4 - nc) // ndim
                    if 4 + nc + ndim * k == c and k > 0:
                        return FamilySpec("yolo_pose", k=k, outputs=(i,), nc=nc, kpt_dim=ndim)
                k = k_meta if k_meta else (a - 6) // ndim
                if a == 6 + ndim * k and k > 0:
                    return FamilySpec("yolo_pose", k=k, outputs=(i,), nc=nc, end2end=True,
                                      kpt_dim=ndim)
                tried.append(f"YOLO-pose metadata (kpt_shape={kpt_shape}, {nc} class(es)) but "
                             f"output {list(shapes[i])} does not match "
                             f"[1, 4+nc+{ndim}K, anchors]")
        if want("yolo_pose") and not is_pose_meta and a == n_anchor and (c - 5) % 3 == 0 \
                and c > 5:
            return FamilySpec("yolo_pose", k=(c - 5) // 3, outputs=(i,), nc=1)
        if want("detector_yolox") and c == n_anchor and a >= 6:
            return FamilySpec("detector_yolox", outputs=(i,), nc=a - 5)
        if family in ("yolo_pose", "detector_yolox"):
            tried.append(f"output {list(shapes[i])} has neither axis equal to the "
                         f"{n_anchor} anchors of a {w_in}x{h_in} input")

    # --- SimCC: two rank-3 outputs [N, K, r*W] and [N, K, r*H]
    if want("simcc") and len(r3) >= 2:
        ix = names.index("simcc_x") if "simcc_x" in names else r3[0]
        iy = names.index("simcc_y") if "simcc_y" in names else r3[1]
        sx, sy = shapes[ix], shapes[iy]
        if sx[1] == sy[1] and sx[2] > 0 and sy[2] > 0:
            rx, ry = sx[2] / w_in, sy[2] / h_in
            if abs(rx - ry) > 1e-6 and "simcc_x" not in names:
                rx2, ry2 = sy[2] / w_in, sx[2] / h_in
                if abs(rx2 - ry2) <= 1e-6:
                    ix, iy, rx, ry = iy, ix, rx2, ry2
            if abs(rx - ry) <= 1e-6 and rx >= 1.0:
                return FamilySpec("simcc", k=sx[1], outputs=(ix, iy), split_ratio=rx)
        tried.append(f"two rank-3 outputs {list(sx)} and {list(sy)} are not SimCC vectors "
                     f"[N, K, r*{w_in}] and [N, K, r*{h_in}]")

    # --- heatmaps: rank-4 outputs [N, K, H/s, W/s]. Stacked Hourglass / CPM give one per
    # stage (the last is the final one); other extra outputs (aux heads, features) are
    # coarser than the heatmaps: take the finest stride, and the last of those.
    if want("heatmap"):
        best: tuple[float, int] | None = None
        for i, s in enumerate(shapes):
            if len(s) != 4 or s[2] <= 0 or s[3] <= 0:
                continue
            fx, fy = w_in / s[3], h_in / s[2]
            if abs(fx - fy) < 1e-6 and fx >= 1 and abs(fx - round(fx)) < 1e-6 and s[1] >= 1:
                if best is None or fx <= best[0]:
                    best = (fx, i)
            else:
                tried.append(f"rank-4 output {list(s)} is not a heatmap at an integer stride "
                             f"of the {w_in}x{h_in} input")
        if best is not None:
            fx, i = best
            return FamilySpec("heatmap", k=shapes[i][1], outputs=(i,), stride=(fx, fx))
    why = "; ".join(tried) if tried else "no output has the shape of a pose or detector family"
    if family:
        raise ValueError(f"the outputs do not fit the family {family!r} stated by the card: {why}")
    raise ValueError(why)
