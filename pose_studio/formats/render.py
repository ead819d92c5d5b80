"""Draw skeleton overlays onto video frames with OpenCV (for ``pose-studio render`` and exports).

Style, matching the window's overlay:

* limbs are coloured by side (left orange, right blue, centre green; ``SIDE_COLORS``), drawn only
  when both ends are labeled (visibility > 0);
* keypoints use the skeleton's per-keypoint colours; visible points are filled, occluded
  (visibility 1) points are hollow rings;
* user labels are drawn solid with a white outline; predictions are thinner, blended
  (``predicted_alpha``) and outlined dark, so the two are easy to tell apart in a video;
* predicted keypoints whose score is below ``min_score`` are left out.

Frames are BGR uint8 (what :mod:`pose_studio.video` returns); the input frame is never modified.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import cv2
import numpy as np

from pose_studio.core.annotation import Instance, Visibility
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.output import (
    OutputError,
    commit_temp,
    describe_os_error,
    remove_quietly,
    temp_path_for,
)
from pose_studio.core.skeleton import SIDE_COLORS, Skeleton

__all__ = ["RenderError", "RenderStyle", "VideoWriter", "draw_instances"]


def _bgr(rgb: Sequence[int]) -> tuple[int, int, int]:
    return (int(rgb[2]), int(rgb[1]), int(rgb[0]))


@dataclass(frozen=True)
class RenderStyle:
    """Sizes are for a 640-pixel-wide frame and scale with the frame width (``scale_with_frame``)."""

    point_radius: float = 4.0
    limb_width: float = 2.0
    outline: float = 1.0
    predicted_scale: float = 0.75
    predicted_alpha: float = 0.75
    min_score: float = 0.0
    draw_boxes: bool = False
    draw_scores: bool = False
    scale_with_frame: bool = True


def _scale(style: RenderStyle, width: int) -> float:
    return max(0.5, width / 640.0) if style.scale_with_frame else 1.0


def _shown(inst: Instance, style: RenderStyle) -> np.ndarray:
    """Keypoints to draw: labeled, finite, and (predictions) at or above ``min_score``."""
    show = (inst.visibility > 0) & np.isfinite(inst.xy).all(axis=1)
    if inst.is_prediction and inst.kp_scores is not None and style.min_score > 0:
        show &= inst.kp_scores >= style.min_score
    return show


def _draw_one(canvas: np.ndarray, inst: Instance, skeleton: Skeleton, style: RenderStyle,
              s: float) -> None:
    pred = inst.is_prediction
    k = min(inst.num_keypoints, skeleton.num_keypoints)
    size = style.predicted_scale if pred else 1.0
    limb_w = max(1, round(style.limb_width * s * size))
    radius = max(1, round(style.point_radius * s * size))
    ring_w = max(1, round(style.outline * s))
    outline_col = (40, 40, 40) if pred else (255, 255, 255)
    show = _shown(inst, style)
    shift = 4  # sub-pixel drawing: coordinates in 1/16 px
    pts = np.round(inst.xy * (1 << shift)).astype(np.int64) if k else np.zeros((0, 2), np.int64)

    for a, b in skeleton.edges:
        if a >= k or b >= k or not (show[a] and show[b]):
            continue
        col = _bgr(SIDE_COLORS[skeleton.edge_side((a, b))])
        p, q = (int(pts[a, 0]), int(pts[a, 1])), (int(pts[b, 0]), int(pts[b, 1]))
        cv2.line(canvas, p, q, col, limb_w, cv2.LINE_AA, shift)

    r16 = radius << shift
    for i in range(k):
        if not show[i]:
            continue
        c = (int(pts[i, 0]), int(pts[i, 1]))
        col = _bgr(skeleton.colors[i])
        if int(inst.visibility[i]) == Visibility.OCCLUDED:
            cv2.circle(canvas, c, r16, outline_col, ring_w + 2, cv2.LINE_AA, shift)
            cv2.circle(canvas, c, r16, col, ring_w + 1, cv2.LINE_AA, shift)
        else:
            cv2.circle(canvas, c, r16 + (ring_w << shift), outline_col, -1, cv2.LINE_AA, shift)
            cv2.circle(canvas, c, r16, col, -1, cv2.LINE_AA, shift)

    box = inst.box() if (style.draw_boxes or style.draw_scores) else None
    if box is not None and style.draw_boxes:
        x, y, w, h = box
        col = (180, 180, 180) if pred else (255, 255, 255)
        cv2.rectangle(canvas, (round(x), round(y)), (round(x + w), round(y + h)), col,
                      max(1, round(s)), cv2.LINE_AA)
    if box is not None and style.draw_scores and pred:
        score = inst.mean_score()
        if score is not None:
            cv2.putText(canvas, f"{score:.2f}", (round(box[0]), max(0, round(box[1]) - 4)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4 * s, (255, 255, 255), max(1, round(s)),
                        cv2.LINE_AA)


def draw_instances(
    frame: np.ndarray,
    instances: Sequence[Instance],
    skeleton: Skeleton,
    style: RenderStyle | None = None,
) -> np.ndarray:
    """A copy of ``frame`` (H, W, 3 BGR uint8) with the instances' skeletons drawn on it.

    Predictions are drawn first (blended) and user labels on top, so a corrected label is
    never hidden by the prediction it replaced.
    """
    style = style or RenderStyle()
    if frame.ndim == 2:
        out = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    else:
        out = np.array(frame[..., :3], dtype=np.uint8, copy=True, order="C")
    s = _scale(style, out.shape[1])
    preds = [i for i in instances if i.is_prediction]
    users = [i for i in instances if not i.is_prediction]
    if preds:
        layer = out.copy()
        for inst in preds:
            _draw_one(layer, inst, skeleton, style, s)
        a = float(np.clip(style.predicted_alpha, 0.0, 1.0))
        cv2.addWeighted(layer, a, out, 1.0 - a, 0.0, dst=out)
    for inst in users:
        _draw_one(out, inst, skeleton, style, s)
    return out


class RenderError(PoseStudioError):
    """An output that cannot be written (folder, codec)."""


class VideoWriter:
    """A small PyAV encoder for BGR frames: H.264 (CRF 20) where available, else MPEG-4.

    Odd frame sizes are padded to even (yuv420p needs it); ``.avi`` files get MPEG-4. The video
    is written under a temporary name beside ``path`` and renamed into place by :meth:`close`
    (all or nothing): a write error (a full disk) or :meth:`abort` leaves no partial file and
    raises :class:`RenderError` with the reason. As a context manager it closes on success and
    aborts on an exception. ``overwrite=False`` refuses to replace a file that appears meanwhile.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float, *,
                 overwrite: bool = True) -> None:
        import av

        self.path = Path(path)
        self._av = av
        self._overwrite = overwrite
        self._container: Any = None
        try:
            self._tmp = temp_path_for(self.path)
        except (OSError, OutputError) as exc:
            raise RenderError(f"cannot write video {self.path}: {_reason(exc)}") from exc
        try:
            self._container = av.open(str(self._tmp), mode="w")
        except Exception as exc:
            remove_quietly([self._tmp])
            raise RenderError(f"cannot write video {self.path}: {_reason(exc)}") from exc
        rate = Fraction(fps if fps and fps > 0 else 30.0).limit_denominator(1001)
        self._w, self._h = width + width % 2, height + height % 2
        avi = self.path.suffix.lower() == ".avi"
        codecs = ("mpeg4",) if avi else ("libx264", "h264", "mpeg4")
        stream: Any = None
        last: Exception | None = None
        for codec in codecs:
            try:
                stream = self._container.add_stream(codec, rate=rate)
                break
            except Exception as exc:  # encoder not in this FFmpeg build
                last = exc
        if stream is None:
            self.abort()
            raise RenderError(f"cannot write video {self.path}: no usable encoder ({last})")
        stream.width, stream.height, stream.pix_fmt = self._w, self._h, "yuv420p"
        # Convert with the matrix players assume for this size and say so in the stream, so
        # the colours survive (swscale would use BT.601 untagged, which players read as
        # BT.709 for HD).
        hd = self._w > 1024 or self._h > 576
        self._sws_cs, avcol = (1, 1) if hd else (5, 6)  # SWS_CS_*, AVCOL_SPC_* (709 / 601)
        stream.codec_context.colorspace = avcol
        stream.codec_context.color_range = 1  # video range
        self._avcol = avcol
        if codec == "libx264":
            stream.options = {"crf": "20", "preset": "veryfast"}
        self._stream = stream
        self.frames = 0

    def write(self, bgr: np.ndarray) -> None:
        if self._container is None:
            raise RenderError(f"video {self.path} is already closed")
        if bgr.shape[0] != self._h or bgr.shape[1] != self._w:
            padded = np.zeros((self._h, self._w, 3), np.uint8)
            padded[: bgr.shape[0], : bgr.shape[1]] = bgr[: self._h, : self._w]
            bgr = padded
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
        frame = frame.reformat(format="yuv420p", dst_colorspace=self._sws_cs, dst_color_range=1)
        frame.colorspace, frame.color_range = self._avcol, 1
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except Exception as exc:  # the muxer's write error (a full disk): stop cleanly
            self.abort()
            raise RenderError(f"cannot write video {self.path}: {_reason(exc)}") from exc
        self.frames += 1

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            container, self._container = self._container, None
            container.close()  # writes the trailer (the MP4 index): may fail on a full disk
            commit_temp(self._tmp, self.path, self._overwrite)
        except Exception as exc:
            self.abort()
            if isinstance(exc, OutputError):
                raise RenderError(str(exc)) from exc
            raise RenderError(f"cannot write video {self.path}: {_reason(exc)}") from exc

    def abort(self) -> None:
        """Stop and remove what was written (the target is left as it was)."""
        container, self._container = self._container, None
        if container is not None:
            with contextlib.suppress(Exception):
                container.close()
        remove_quietly([self._tmp])

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _reason(exc: BaseException) -> str:
    return describe_os_error(exc) if isinstance(exc, OSError) else str(exc)

