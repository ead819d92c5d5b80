"""Problems found when a video was indexed, as data a window banner or a command can show.

Each :class:`VideoNotice` has a stable ``kind`` (for icons, filtering and tests) and one line of
``text`` for the user. They come from the packet index, so they can be read back from the bytes
a project stores (:func:`notices_from_index`) without opening the video.

Kinds:
    ``truncated``           the file ends early; only a prefix of the frames can be read.
    ``repeated_timestamps`` timestamps missing or repeated: frames numbered as the decoder shows
                            them (or in decode order).
    ``decode_order``        AVI with open GOPs: the frame order was learnt by decoding.
    ``hidden_frames``       VP8/VP9 alt-ref frames that are never shown were left out.
    ``dropped_frames``      AVI empty (dropped-frame) chunks were left out.
    ``unverified_tail``     the end of a transport stream cannot be verified.
    ``long_gop``            keyframes far apart: random access is slow.
    ``unreadable_images``   images of an image set that cannot be read (their frames fail).
    ``other``               a warning recorded by an older version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    from pose_studio.video.index import PacketIndex

__all__ = ["LONG_GOP_WARN", "VideoNotice", "make_notices", "notices_from_index"]

LONG_GOP_WARN = 60

NoticeKind = Literal[
    "truncated",
    "repeated_timestamps",
    "decode_order",
    "hidden_frames",
    "dropped_frames",
    "unverified_tail",
    "long_gop",
    "unreadable_images",
    "other",
]

#: Kinds that change which frames exist or how they are numbered (a banner should stand out);
#: the others are about speed or are informational.
FRAME_KINDS = frozenset({"truncated", "repeated_timestamps", "decode_order", "unverified_tail",
                         "unreadable_images"})


@dataclass(frozen=True)
class VideoNotice:
    """One problem found in a video: ``kind`` (see the module doc) and one line of ``text``."""

    kind: str
    text: str

    @property
    def severity(self) -> Literal["warning", "info"]:
        return "warning" if self.kind in FRAME_KINDS else "info"

    def __str__(self) -> str:
        return self.text


def make_notices(idx: PacketIndex) -> tuple[VideoNotice, ...]:
    """The notices of an indexed video file, most important first."""
    info = idx.info
    n = idx.n_frames
    out: list[VideoNotice] = []
    if info.get("truncated"):
        out.append(VideoNotice(
            "truncated",
            f"the file is truncated after frame {n - 1}: frames 0-{n - 1} can be read "
            f"({'; '.join(info.get('truncation_signals', []))})",
        ))
    recorded = info.get("notices")
    if isinstance(recorded, list):
        out.extend(VideoNotice(str(k), str(t)) for k, t in recorded)
    else:  # an index from before notices had kinds
        out.extend(VideoNotice("other", str(t)) for t in info.get("warnings", []))
    gops = idx.gop_lengths()
    max_gop = max(gops) if gops else 0
    if max_gop > LONG_GOP_WARN and idx.key_frames_count() > 0:
        out.append(VideoNotice(
            "long_gop",
            f"keyframes are up to {max_gop} frames apart: jumping to a random frame decodes up "
            f"to {max_gop} frames (re-encode with a short GOP for fast review)",
        ))
    return tuple(out)


def notices_from_index(blob: bytes | None) -> tuple[VideoNotice, ...]:
    """The notices kept in a stored index (``Project.video_index(video_id)``); () when there
    is none or it is unreadable (the video is then re-indexed when opened)."""
    if not blob:
        return ()
    from pose_studio.video.index import IndexFormatError, PacketIndex

    try:
        return make_notices(PacketIndex.from_bytes(blob))
    except IndexFormatError:
        return ()
