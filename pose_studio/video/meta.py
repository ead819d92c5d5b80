"""What the video layer knows about a video once it is indexed."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

import numpy as np

from pose_studio.video.notices import VideoNotice, make_notices

if TYPE_CHECKING:  # pragma: no cover
    from pose_studio.video.index import PacketIndex


@dataclass(frozen=True)
class VideoMeta:
    """Facts about an opened video (or image folder); sizes are as displayed (after rotation).

    Attributes:
        path: the file or folder.
        width: displayed width in pixels (after applying ``rotation``).
        height: displayed height in pixels.
        frame_count: frames that can be decoded (from the packet index, not the header's guess;
            for a truncated file, the frames before the cut).
        fps: average frame rate (frames per second of presentation time).
        fps_rational: ``fps`` as (numerator, denominator), e.g. (30000, 1001).
        vfr: True when frame durations vary (show timestamps beside frame numbers).
        duration_s: presentation time covered by the frames, seconds.
        codec: decoder name, e.g. "h264", "hevc", "mjpeg"; "png" etc. for image folders.
        rotation: clockwise degrees (0/90/180/270) applied to the coded frames for display.
        mirrored: after the rotation, the frames are flipped left-right for display (a
            mirrored display matrix).
        kind: "file" or "images".
        time_base: (num, den) of the stream's timestamps (``reader.pts(i)`` is in this unit).
        keyframes: number of keyframes (random-access points).
        max_gop: most frames between two keyframes (random access cost grows with it).
        truncated: True when the file ends early (cut-off download or interrupted recording).
        container: demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "image2".
        warnings: problems worth telling the user (truncation, long GOP, missing timestamps),
            one line each: the ``text`` of ``notices``.
        notices: the same as :class:`VideoNotice` values with a stable ``kind`` (for a banner).
    """

    path: str
    width: int
    height: int
    frame_count: int
    fps: float
    fps_rational: tuple[int, int]
    vfr: bool
    duration_s: float
    codec: str
    rotation: int = 0
    mirrored: bool = False
    kind: Literal["file", "images"] = "file"
    time_base: tuple[int, int] = (1, 1)
    keyframes: int = 0
    max_gop: int = 0
    truncated: bool = False
    container: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)
    notices: tuple[VideoNotice, ...] = field(default_factory=tuple)


def make_meta(path: str, idx: PacketIndex, rate_hint: Fraction | None) -> VideoMeta:
    """The metadata of an indexed video file (``idx.info`` holds the size and orientation).

    ``rate_hint``: the container's frame rate (used where timestamps cannot give one, and to
    keep an exact rational like 30000/1001 that millisecond timestamps round).
    """
    info = idx.info
    tb = Fraction(*info["time_base"])
    n = idx.n_frames
    vfr = False
    if idx.mode == "pts" and n > 1:
        fp = idx.frame_pts
        span = float((int(fp[-1]) - int(fp[0])) * tb)
        fps = (n - 1) / span if span > 0 else float(rate_hint or 30)
        d = np.diff(fp)
        med = float(np.median(d))
        vfr = bool(np.any(np.abs(d - med) > max(1.5, 0.01 * med)))
        duration = span + 1.0 / fps
    else:
        fps = float(rate_hint) if rate_hint else 30.0
        duration = n / fps
    if rate_hint and abs(float(rate_hint) - fps) <= 0.002 * fps:
        fr = Fraction(rate_hint)  # timestamps rounded by the container (e.g. 1 ms in MKV)
        fps = float(fr)
    else:
        fr = Fraction(fps).limit_denominator(1001)
    gops = idx.gop_lengths()
    max_gop = max(gops) if gops else 0
    notices = make_notices(idx)
    return VideoMeta(
        path=path,
        width=int(info["width"]),
        height=int(info["height"]),
        frame_count=n,
        fps=float(fps),
        fps_rational=(fr.numerator, fr.denominator),
        vfr=vfr,
        duration_s=float(duration),
        codec=str(info.get("codec", "")),
        rotation=int(info.get("rotation", 0)),
        mirrored=bool(info.get("mirror", False)),
        kind="file",
        time_base=(tb.numerator, tb.denominator),
        keyframes=idx.key_frames_count(),
        max_gop=max_gop,
        truncated=bool(info.get("truncated", False)),
        container=str(info.get("container", "")),
        warnings=tuple(x.text for x in notices),
        notices=notices,
    )
