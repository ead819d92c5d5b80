"""Videos with the packet-level oddities real files have, made by remuxing indexed videos.

* :func:`make_hidden_frame_video`: VP8/VP9 in WebM with packets that are decoded but never
  shown (what alt-ref frames look like to a demuxer: same timestamp as the next shown frame).
  libvpx writes real alt-ref packets only in two-pass mode, which PyAV cannot drive (it has no
  access to the first pass's statistics), so each keyframe is preceded by a copy of itself
  with its ``show_frame`` bit cleared: decoded, never shown, changes nothing.
* :func:`make_repeated_pts_video`: H.264 with B-frames in Matroska where some packets repeat
  the previous packet's timestamp: only the decoder knows which frame is which.
* :func:`make_avi_with_dropped_frame`: an AVI with empty (dropped-frame) chunks: FFmpeg's AVI
  muxer writes one for every gap in the timestamps it is given.

Every shown frame ``i`` still shows ``i`` (:func:`tests.support.videos.read_index_from_frame`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import av

from tests.support.videos import make_indexed_video


def _clear_show_frame(codec: str, data: bytes) -> bytes:
    b = bytearray(data)
    if codec == "vp8":
        b[0] &= ~0x10  # frame tag bit 4 (RFC 6386 9.1)
    elif codec == "vp9":
        profile = ((b[0] >> 5) & 1) | (((b[0] >> 4) & 1) << 1)
        assert profile < 3
        b[0] &= ~0x02  # marker(2) profile(2) show_existing frame_type show_frame error_res
    else:  # pragma: no cover
        raise ValueError(codec)
    return bytes(b)


def _remux(
    src: Path, dst: Path, edit: Callable[[av.Packet, int], Iterable[tuple[bytes, int, int, bool]]]
) -> Path:
    """Copy the video stream of ``src`` to ``dst``; ``edit(packet, n)`` gives the packets to
    write for the n-th input packet as (payload, pts, dts, keyframe)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        s_in = inp.streams.video[0]
        s_out = out.add_stream_from_template(s_in)
        n = 0
        for pkt in inp.demux(s_in):
            if not pkt.size:
                continue
            for data, pts, dts, key in edit(pkt, n):
                p = av.Packet(data)
                p.pts, p.dts, p.time_base, p.stream = pts, dts, pkt.time_base, s_out
                p.is_keyframe = key
                out.mux(p)
            n += 1
    return dst


def make_hidden_frame_video(path: Path, n_frames: int, codec: str = "vp8", gop: int = 10) -> int:
    """Write ``path`` (.webm); returns how many hidden packets it has (one per keyframe)."""
    plain = make_indexed_video(path.with_name(path.stem + "_plain.webm"), n_frames,
                               codec=codec, gop=gop, bframes=None)
    hidden = 0

    def edit(pkt: av.Packet, n: int) -> list[tuple[bytes, int, int, bool]]:
        nonlocal hidden
        data = bytes(pkt)
        out = []
        if pkt.is_keyframe:
            hidden += 1
            out.append((_clear_show_frame(codec, data), pkt.pts, pkt.dts, False))
        out.append((data, pkt.pts, pkt.dts, pkt.is_keyframe))
        return out

    _remux(plain, path, edit)
    plain.unlink()
    return hidden


def make_repeated_pts_video(path: Path, n_frames: int, every: int = 7) -> Path:
    """H.264 (B-frames) in .mkv; every ``every``-th packet repeats the previous one's pts."""
    plain = make_indexed_video(path.with_name(path.stem + "_plain.mkv"), n_frames,
                               codec="h264", gop=12, bframes=2)
    prev: list[int] = [0]

    def edit(pkt: av.Packet, n: int) -> list[tuple[bytes, int, int, bool]]:
        pts = prev[0] if n % every == every - 1 else pkt.pts
        prev[0] = pkt.pts
        return [(bytes(pkt), pts, pkt.dts, pkt.is_keyframe)]

    _remux(plain, path, edit)
    plain.unlink()
    return path


def make_avi_with_dropped_frame(path: Path, n_frames: int, drop_after: tuple[int, ...],
                                **video: object) -> Path:
    """An AVI (MPEG-4 unless ``video`` says otherwise: keyword arguments of
    ``make_indexed_video``) whose timestamps skip one slot after each packet in ``drop_after``
    (the muxer writes an empty chunk there, and the header counts it)."""
    kw: dict[str, object] = {"codec": "mpeg4", "gop": 12, "bframes": 0, **video}
    plain = make_indexed_video(path.with_name(path.stem + "_plain.avi"), n_frames,
                               **kw)  # type: ignore[arg-type]

    def edit(pkt: av.Packet, n: int) -> list[tuple[bytes, int, int, bool]]:
        shift = sum(1 for k in drop_after if n > k)
        return [(bytes(pkt), pkt.pts + shift, pkt.dts + shift, pkt.is_keyframe)]

    _remux(plain, path, edit)
    plain.unlink()
    return path
