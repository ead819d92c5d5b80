"""Building a :class:`PacketIndex` from one demux pass: frame identity, problems, truncation.

Mostly pure functions over packet tables (testable without a video); the I/O the decisions
need is passed in (:class:`StreamFacts` from the container, a ``decode_probe`` callback that
decodes from the start and says which packet each shown frame came from).

Decisions, in order:

1. Packets cut by the end of the file are dropped.
2. Frame identity (see :mod:`pose_studio.video.index`): by presentation timestamp where every
   shown packet has its own; VP8/VP9 packets that are never shown (alt-ref) are marked hidden
   first, so they neither count nor make timestamps look repeated. AVI stores no presentation
   times: frames are counted in decode order, or, with open GOPs, their order is learnt by
   decoding. Timestamps missing or repeated elsewhere: decode the file once and number the
   frames as the decoder outputs them (what ffmpeg and players show).
3. Truncation signals (the header promises more, packets cut, the timestamps stop early...)
   and how many trailing frames can be trusted; the reader then verifies the tail by decoding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from pose_studio.video.bitstream import HIDDEN_FRAME_CODECS
from pose_studio.video.index import (
    FLAG_CORRUPT,
    FLAG_HIDDEN,
    FLAG_KEY,
    NOPTS,
    NOT_FRAME,
    Mode,
    PacketIndex,
    reorder_depth,
    tail_gap_cut,
)
from pose_studio.video.probe import PacketScan

__all__ = ["INDEXER_VERSION", "IndexingError", "StreamFacts", "build_index", "mostly_cfr",
           "outdated"]

#: Stored in ``info["indexer"]``. 2: hidden VP8/VP9 frames, repeated timestamps numbered by
#: decoding, AVI empty chunks (indexes without it numbered some of those files wrongly).
INDEXER_VERSION = 2

_AVI_PROBE_PACKETS = 600
#: Longest stream decoded once at add time to number frames whose timestamps cannot (about 17
#: minutes at 30 fps; 30-100 s of decoding on two cores up to 1080p).
DECODE_PROBE_MAX_PACKETS = 30_000

DecodeProbe = Callable[[int | None], list[int]]


class IndexingError(ValueError):
    """The packets make no video (the reader words it as a VideoError)."""


@dataclass(frozen=True)
class StreamFacts:
    """What the container says about the stream, beside its packets."""

    container: str  # demuxer name, e.g. "matroska,webm"
    codec: str
    stream_index: int
    time_base: Fraction
    header_frames: int  # frame count the header claims (0: none)
    stream_duration_s: float | None  # this track's own duration (MP4/MOV)
    container_duration_s: float | None  # all tracks
    n_streams: int
    file_size: int


def outdated(idx: PacketIndex) -> bool:
    """A stored index from an older indexer for a file it may have numbered wrongly (VP8/VP9
    with hidden frames, AVI with empty chunks, repeated timestamps): build it again (the
    frame count may change; the project's fingerprint checks then show which labels moved)."""
    info = idx.info
    if int(info.get("indexer", 1)) >= INDEXER_VERSION:
        return False
    return (
        str(info.get("codec", "")) in HIDDEN_FRAME_CODECS
        or "avi" in str(info.get("container", "")).split(",")
        or idx.mode == "count"
    )


def mostly_cfr(idx: PacketIndex) -> bool:
    if idx.n_frames < 4:
        return True
    d = np.diff(idx.frame_pts)
    med = float(np.median(d))
    return med > 0 and float(np.mean(np.abs(d - med) <= max(1.5, 0.01 * med))) >= 0.95


def _drop_cut_tail(rows: list[tuple[int, int, int, int, int]], file_size: int) -> int:
    """Packets cut by the end of the file (or flagged corrupt at the end) cannot be decoded."""
    dropped = 0
    while rows and (
        rows[-1][2] & FLAG_CORRUPT or (rows[-1][3] >= 0 and rows[-1][3] + rows[-1][4] > file_size)
    ):
        rows.pop()
        dropped += 1
    return dropped


def _order_from_decode(sources: list[int], n_pkt: int) -> np.ndarray | None:
    """The packet of each shown frame, if the decode pass names every one exactly once."""
    order = [p for p in sources if 0 <= p < n_pkt]
    if not order or len(order) != len(sources) or len(set(order)) != len(order):
        return None
    return np.array(order, dtype=np.int64)


def _avi_display_order(pts: np.ndarray, flags: np.ndarray, probe: DecodeProbe) -> np.ndarray | None:
    """Display order of an AVI whose GOPs are open, else None (counting output is exact).

    Open GOPs show up as frames decoded after the second keyframe but output before it.
    """
    keys = np.flatnonzero(flags & FLAG_KEY)
    if len(keys) < 2:
        return None
    # Look at the first few keyframe boundaries (encoders do not open every GOP), within a
    # bounded decode: opening a long AVI must stay quick.
    stop = min(int(keys[5]) if len(keys) > 5 else len(pts), _AVI_PROBE_PACKETS)
    src = probe(stop)
    where = {p: q for q, p in enumerate(src)}
    open_gop = False
    for k in (int(x) for x in keys[1:5] if x < stop):
        q = where.get(k)
        if q is not None and any(p > k for p in src[:q]):
            open_gop = True
            break
    if not open_gop:
        return None
    return _order_from_decode(probe(None), len(pts))


def _identity(
    pts: np.ndarray, flags: np.ndarray, facts: StreamFacts, probe: DecodeProbe, multi_shown: int
) -> tuple[Mode, np.ndarray | None, list[tuple[str, str]]]:
    """Frame identity mode, the display order where decoding found it, and warnings."""
    warnings: list[tuple[str, str]] = []
    is_avi = "avi" in facts.container.split(",")
    frame_pts = pts[(flags & NOT_FRAME) == 0]
    repeated = bool(np.any(frame_pts == NOPTS)) or len(np.unique(frame_pts)) != len(frame_pts)
    if not repeated and not multi_shown:
        if is_avi and bool(np.all(np.diff(frame_pts) > 0)):
            # AVI stores no presentation times; FFmpeg numbers packets in decode order, so
            # they say nothing about display order (exact for closed GOPs). Where a parser
            # recovered real ones (they reorder, e.g. MPEG-4 ASP), pts mode is used.
            if not np.all(flags & FLAG_KEY):
                order = _avi_display_order(pts, flags, probe)
                if order is not None:
                    warnings.append((
                        "decode_order",
                        "AVI with open GOPs: its frame order was found by decoding the whole "
                        "file once",
                    ))
                    return "decoded", order, warnings
            return "count", None, warnings
        return "pts", None, warnings
    if is_avi and not multi_shown:
        return "count", None, warnings
    what = "missing" if np.any(frame_pts == NOPTS) else "repeated"
    if len(pts) > DECODE_PROBE_MAX_PACKETS:
        # Decoding a long file at add time costs minutes; counting decoder output is exact
        # where every packet makes one frame and GOPs are closed, which is the common case.
        warnings.append((
            "repeated_timestamps",
            f"timestamps are {what}: frames are numbered in decode order (the file is too long "
            "to verify the order by decoding it when it is added)",
        ))
        return "count", None, warnings
    # Timestamps cannot say which packet is which frame: ask the decoder, once.
    order = _order_from_decode(probe(None), len(pts))
    if order is not None:
        shown = np.flatnonzero((flags & FLAG_HIDDEN) == 0)
        if len(order) == len(shown) and np.array_equal(order, shown):
            mode: Mode = "count"  # decode order is display order: no order array needed
            order = None
        else:
            mode = "decoded"
        warnings.append((
            "repeated_timestamps",
            f"timestamps are {what}: frames are numbered in the order the decoder shows them "
            "(found by decoding the whole file once)",
        ))
        return mode, order, warnings
    warnings.append(
        ("repeated_timestamps", f"timestamps are {what}: frames are numbered in decode order")
    )
    return "count", None, warnings


def _avi_empty_chunks(pts: np.ndarray, dts: np.ndarray) -> int:
    """Empty chunks between the first and the last packet of an AVI stream: its timestamps
    count chunk slots (decode order), and FFmpeg skips the empty ones."""
    ts = dts if bool(np.all(dts != NOPTS)) else pts
    if len(ts) < 2 or bool(np.any(ts == NOPTS)) or not bool(np.all(np.diff(ts) > 0)):
        return 0
    return max(0, int(ts[-1] - ts[0]) + 1 - len(ts))


def _truncation(
    idx: PacketIndex, facts: StreamFacts, demux_error: str | None, dropped: int
) -> tuple[list[str], int | None]:
    """Signals that the file ends early, and (pts mode) the frame count up to a tail gap."""
    signals = []
    fmt = facts.container
    if demux_error:
        signals.append(f"reading stopped with an error ({demux_error})")
    if dropped:
        signals.append("the last packet is cut off")
    slots = idx.n_packets
    if "avi" in fmt.split(",") and idx.mode != "pts":
        # AVI numbers chunk slots, and its header counts empty (dropped-frame) chunks, which
        # FFmpeg skips: compare the header with the slots, not with the packets.
        slots += _avi_empty_chunks(idx.pts, idx.dts)
    if facts.header_frames > slots:
        signals.append(f"the header lists {facts.header_frames} frames")
    if "mpegts" in fmt and facts.file_size % 188 != 0 and facts.file_size % 192 != 0:
        signals.append("the transport stream ends inside a packet")
    header_s, slack = None, 0.5
    if facts.stream_duration_s:
        header_s = facts.stream_duration_s
    elif facts.container_duration_s and "mpegts" not in fmt:
        header_s = facts.container_duration_s  # all tracks: allow for audio running longer
        slack = 0.5 if facts.n_streams == 1 else 2.0
    if idx.mode == "pts" and header_s is not None and idx.n_frames > 1:
        span = float((int(idx.frame_pts[-1]) - int(idx.frame_pts[0])) * facts.time_base)
        step = span / (idx.n_frames - 1)
        if header_s - span > max(slack, 4 * step):
            signals.append(f"the header says {header_s:.1f} s, the frames cover {span:.1f} s")
    gap = None
    if idx.mode == "pts":
        gops = idx.gop_lengths()
        tail = max(0, idx.n_frames - 2 * max(gops[-2:]) - 2)
        gap = tail_gap_cut(idx.frame_pts, tail)
        if gap is not None:
            signals.append("frames are missing at the end")
    return signals, gap


def _usable_frames(idx: PacketIndex, truncated: bool, gap: int | None) -> int:
    """Frames that can be trusted at the end of a truncated file (before verifying by decoding)."""
    n = idx.n_frames
    if not truncated:
        return n
    if gap is not None:
        n = gap
    elif idx.mode == "pts" and tail_gap_cut(idx.frame_pts, n) is None and mostly_cfr(idx):
        pass  # constant rate and no gap: every kept frame is a full prefix
    elif idx.key_frames_count() == idx.n_packets:
        pass  # intra-only: no reordering
    elif idx.mode == "pts":
        n -= reorder_depth(idx)
    elif idx.mode == "count":
        n -= 3  # no display order to reason with: allow for B-frame reordering
    return max(0, n)


def build_index(
    scan: PacketScan, facts: StreamFacts, file_ident: dict[str, Any], probe: DecodeProbe
) -> PacketIndex:
    """The packet index of a scanned stream (its ``info`` says whether it is ``truncated``:
    the reader then verifies the tail by decoding).

    Raises:
        IndexingError: no frames at all.
    """
    rows = scan.rows
    dropped = _drop_cut_tail(rows, facts.file_size)
    if not rows:
        reason = "the file contains no video frames"
        if scan.error:
            reason += f" (reading stopped: {scan.error})"
        raise IndexingError(reason)
    arr = np.array(rows, dtype=np.int64)
    pts, dts, flags, pos = arr[:, 0], arr[:, 1], arr[:, 2].astype(np.uint8), arr[:, 3]
    if np.all(flags & FLAG_HIDDEN):
        flags &= ~np.uint8(FLAG_HIDDEN)  # a misread header: better count every packet
    mode, order, warnings = _identity(pts, flags, facts, probe, scan.multi_shown)
    hidden = int(np.count_nonzero(flags & FLAG_HIDDEN))
    if hidden:
        warnings.append((
            "hidden_frames",
            f"{hidden} hidden (alt-ref) frame(s) that players never show are not counted",
        ))
    fmt = facts.container
    if "avi" in fmt.split(",") and mode != "pts":
        empty = _avi_empty_chunks(pts, dts)
        if empty > 0:
            warnings.append((
                "dropped_frames",
                f"{empty} dropped-frame (empty) chunk(s) in the file are not counted: "
                "frames after one are numbered lower than time x frame rate",
            ))
    idx = PacketIndex(pts, dts, flags, pos, mode=mode, order=order)
    signals, gap = _truncation(idx, facts, scan.error, dropped)
    truncated = bool(signals)
    n = _usable_frames(idx, truncated, gap)
    if (
        not truncated
        and "mpegts" in fmt
        and mode == "pts"
        and not mostly_cfr(idx)
        and reorder_depth(idx) > 0
    ):
        # A transport stream has no trailer: cut at a packet boundary it looks complete,
        # yet B-frames shown before the last decoded frames may be missing. Not knowing,
        # leave out the frames that could be affected.
        depth = reorder_depth(idx)
        n -= depth
        warnings.append((
            "unverified_tail",
            f"the end of this transport stream cannot be verified: its last {depth} frame(s) "
            "are left out (B-frames there may be missing)",
        ))
    tb = facts.time_base
    info = {
        "file": file_ident,
        "indexer": INDEXER_VERSION,
        "stream_index": facts.stream_index,
        "time_base": [tb.numerator, tb.denominator],
        "container": fmt,
        "codec": facts.codec,
        "truncated": truncated,
        "truncation_signals": signals,
        "warnings": [t for _, t in warnings],  # read by older versions
        "notices": [[k, t] for k, t in warnings],
    }
    return PacketIndex(pts, dts, flags, pos, mode=mode, n_frames=n, info=info, order=order)

