"""How many frames a packet shows, read from the first bytes of its payload (no decoding).

VP8 and VP9 encoders hide "alt-ref" frames: coded frames the decoder uses as references but
never shows. WebM files often carry them as packets of their own, with the timestamp of the
next shown frame, so counting packets (or sorting them by timestamp) counts frames no player
shows. The frame headers say it in a bit or two:

* VP8 (RFC 6386, 9.1): the 3-byte frame tag; bit 4 is ``show_frame``.
* VP9 (VP9 bitstream spec, 6.2): the uncompressed header starts with the frame marker, the
  profile bits, ``show_existing_frame`` (a shown copy of an earlier frame), ``frame_type`` and
  ``show_frame``. A packet may be a *superframe* (several frames, an index at its end, Annex B);
  it shows as many frames as its parts do.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["HIDDEN_FRAME_CODECS", "shown_frames", "shown_frames_counter"]

#: Codecs whose packets may carry frames that are never shown.
HIDDEN_FRAME_CODECS = frozenset({"vp8", "vp9"})


def _vp8_shown(data: memoryview) -> int | None:
    if len(data) < 3:
        return None
    return (data[0] >> 4) & 1


def _vp9_frame_shown(data: memoryview) -> int | None:
    if len(data) < 1:
        return None
    b = data[0]
    if b >> 6 != 2:  # frame_marker
        return None
    profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1)
    bit = 3 if profile < 3 else 2  # profile 3 has a reserved bit first
    if (b >> bit) & 1:  # show_existing_frame: shows an earlier frame again
        return 1
    return (b >> (bit - 2)) & 1  # after frame_type


def _vp9_shown(data: memoryview) -> int | None:
    n = len(data)
    if n == 0:
        return None
    marker = data[n - 1]
    if marker & 0xE0 == 0xC0:  # a superframe index ends the packet
        frames = (marker & 7) + 1
        mag = ((marker >> 3) & 3) + 1
        index_size = 2 + mag * frames
        if n >= index_size and data[n - index_size] == marker:
            pos, shown = 0, 0
            for k in range(frames):
                at = n - index_size + 1 + k * mag
                size = int.from_bytes(bytes(data[at : at + mag]), "little")
                if size == 0 or pos + size > n - index_size:
                    return None
                one = _vp9_frame_shown(data[pos : pos + size])
                if one is None:
                    return None
                shown += one
                pos += size
            return shown
    return _vp9_frame_shown(data)


_PARSERS: dict[str, Callable[[memoryview], int | None]] = {"vp8": _vp8_shown, "vp9": _vp9_shown}


def shown_frames(codec: str, data: bytes | memoryview) -> int | None:
    """Frames a packet of ``codec`` shows (0 for a hidden alt-ref frame), None when unknown."""
    parse = _PARSERS.get(codec)
    if parse is None:
        return None
    return parse(memoryview(data))


def shown_frames_counter(codec: str) -> Callable[[memoryview], int | None] | None:
    """The parser for ``codec`` (None when its packets always show one frame or are unknown)."""
    return _PARSERS.get(codec)
