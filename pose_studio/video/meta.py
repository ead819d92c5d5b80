"""What the video layer knows about a video once it is indexed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


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
        warnings: problems worth telling the user (truncation, long GOP, missing timestamps).
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
