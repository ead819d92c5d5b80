"""The packet index: which packet is frame ``i`` and where to start decoding for it.

Built once by demuxing the whole stream without decoding (a few microseconds a packet), stored in
the project as bytes (:meth:`PacketIndex.to_bytes`) so reopening is instant.

Frame identity:
    * ``"pts"`` mode: frame ``i`` is the packet with the ``i``-th smallest presentation timestamp.
    * ``"count"`` mode (AVI, which stores no presentation times, or missing/duplicate timestamps):
      frame ``i`` is the ``i``-th frame the decoder outputs; exact for closed GOPs.
    * ``"decoded"`` mode: the packet of every frame, in display order, learnt by decoding the
      whole file once (AVI with open GOPs; repeated timestamps in a stream that reorders).
Packets flagged ``FLAG_HIDDEN`` (VP8/VP9 alt-ref frames the decoder never outputs) and
``FLAG_DISCARD`` are not frames in "pts" mode; hidden ones are not frames in any mode.
Timestamps are never derived from ``fps x time``.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

NOPTS = int(np.iinfo(np.int64).min)
FLAG_KEY = 1
FLAG_DISCARD = 2
FLAG_CORRUPT = 4
FLAG_HIDDEN = 8  # decoded for reference, never shown (VP8/VP9 alt-ref)
NOT_FRAME = FLAG_DISCARD | FLAG_HIDDEN

INDEX_FORMAT = "pose-studio-video-index"
INDEX_VERSION = 1
_SAMPLE_BYTES = 65536

Mode = Literal["pts", "count", "decoded"]


class IndexFormatError(ValueError):
    """Index bytes that are not a usable index (another format, version or damaged)."""


def file_identity(path: str | Path) -> dict[str, Any]:
    """Size, mtime and a hash of the first and last 64 KiB: enough to tell a replaced file."""
    p = Path(path)
    st = p.stat()
    h = hashlib.blake2b(digest_size=16)
    h.update(str(st.st_size).encode())
    if p.is_file():
        with p.open("rb") as f:
            h.update(f.read(_SAMPLE_BYTES))
            if st.st_size > 2 * _SAMPLE_BYTES:
                f.seek(st.st_size - _SAMPLE_BYTES)
                h.update(f.read(_SAMPLE_BYTES))
    return {"size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns), "sample_hash": h.hexdigest()}


def identity_matches(stored: dict[str, Any], current: dict[str, Any]) -> bool:
    """Same file: same size and same sampled content (a copied file keeps its index)."""
    return bool(
        stored.get("size") == current["size"]
        and stored.get("sample_hash") == current["sample_hash"]
    )


@dataclass
class PacketIndex:
    """Every packet of the video stream in decode order, and the frame <-> packet maps.

    Attributes:
        pts, dts: int64 timestamps in stream time base (``NOPTS`` where missing).
        flags: uint8 bit set of ``FLAG_KEY``/``FLAG_DISCARD``/``FLAG_CORRUPT``/``FLAG_HIDDEN``.
        pos: int64 byte offset of each packet (-1 unknown).
        mode: "pts", "count" (see module doc) or "decoded": display order learnt by decoding
            the whole file once (AVI with open GOPs, whose timestamps follow decode order);
            ``order`` then lists the packet of every frame.
        n_frames: usable frames; fewer than the packets allow when the file is truncated.
        info: JSON-able facts stored with the index (time base, stream, rotation, warnings...).
        order: "decoded" mode only: packet position of each frame, in display order.
    """

    pts: np.ndarray
    dts: np.ndarray
    flags: np.ndarray
    pos: np.ndarray
    mode: Mode
    n_frames: int = -1
    info: dict[str, Any] = field(default_factory=dict)
    order: np.ndarray | None = None

    # Derived in __post_init__
    frame_pkt: np.ndarray = field(init=False, repr=False)
    frame_pts: np.ndarray = field(init=False, repr=False)
    key_pos: list[int] = field(init=False, repr=False)
    key_rank: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.pts = np.ascontiguousarray(self.pts, np.int64)
        self.dts = np.ascontiguousarray(self.dts, np.int64)
        self.flags = np.ascontiguousarray(self.flags, np.uint8)
        self.pos = np.ascontiguousarray(self.pos, np.int64)
        n_pkt = len(self.pts)
        if not (len(self.dts) == len(self.flags) == len(self.pos) == n_pkt):
            raise IndexFormatError("packet arrays differ in length")
        if self.mode == "pts":
            frame_pkts = np.flatnonzero((self.flags & NOT_FRAME) == 0)
            order = np.argsort(self.pts[frame_pkts], kind="stable")
            self.frame_pkt = frame_pkts[order]
        elif self.mode == "count":
            # Discarded packets stay counted (as indexes stored before hidden frames were known).
            self.frame_pkt = np.flatnonzero((self.flags & FLAG_HIDDEN) == 0)
        elif self.mode == "decoded":
            if self.order is None:
                raise IndexFormatError("decoded-order index without its order")
            self.order = np.ascontiguousarray(self.order, np.int64)
            if len(self.order) and (self.order.min() < 0 or self.order.max() >= n_pkt):
                raise IndexFormatError("frame order points outside the packets")
            self.frame_pkt = self.order
        else:
            raise IndexFormatError(f"unknown index mode {self.mode!r}")
        total = len(self.frame_pkt)
        if self.n_frames < 0 or self.n_frames > total:
            self.n_frames = total
        self.frame_pkt = self.frame_pkt[: self.n_frames]
        if self.mode == "count":
            ts = np.where(self.dts != NOPTS, self.dts, self.pts)[self.frame_pkt]
            ok = np.all(ts != NOPTS) and bool(np.all(np.diff(ts) > 0))
            self.frame_pts = ts if ok else np.arange(self.n_frames, dtype=np.int64)
        else:
            self.frame_pts = self.pts[self.frame_pkt]
        keys = np.flatnonzero(self.flags & FLAG_KEY)
        if n_pkt and (len(keys) == 0 or keys[0] != 0):
            # Decoding can always start at the first packet of the file.
            keys = np.concatenate([[0], keys])
        self.key_pos = [int(k) for k in keys]
        # Display rank of each keyframe: frames ranked below it are not decodable from it.
        self._rank_of: np.ndarray | None = None
        if self.mode == "count":
            # frames (shown packets) before the keyframe's packet in decode order
            self.key_rank = np.searchsorted(self.frame_pkt, keys).tolist()
        elif self.mode == "pts":
            self.key_rank = np.searchsorted(self.frame_pts, self.pts[keys]).tolist()
        else:
            rank_of = np.full(n_pkt, self.n_frames, np.int64)
            rank_of[self.frame_pkt] = np.arange(self.n_frames)
            self.key_rank = rank_of[keys].tolist()
            self._rank_of = rank_of

    def frame_of_packet(self, pos: int) -> int | None:
        """"decoded" mode: the frame that the packet at decode position ``pos`` shows."""
        rank_of = self._rank_of
        if rank_of is None or not 0 <= pos < len(rank_of):
            return None
        k = int(rank_of[pos])
        return k if k < self.n_frames else None

    def frame_of_pts(self, t: int) -> int | None:
        """"pts" mode: the frame whose packet has presentation timestamp ``t``."""
        fp = self.frame_pts  # sorted: a binary search (no dict: videos can be very long)
        k = int(np.searchsorted(fp, t))
        return k if k < len(fp) and int(fp[k]) == t else None

    def packet_of(self, pts: int | None, dts: int | None, pos: int | None = None) -> int | None:
        """Decode position of a packet identified by its timestamps (after a seek); where
        several packets share them (hidden frames), by its byte position in the file."""
        for value, arr in ((dts, self.dts), (pts, self.pts)):
            if value is None:
                continue
            hits = np.flatnonzero(arr == value)
            if len(hits) == 1:
                return int(hits[0])
            if len(hits) > 1 and pos is not None and pos >= 0:
                at = hits[self.pos[hits] == pos]
                if len(at) == 1:
                    return int(at[0])
        return None

    @property
    def n_packets(self) -> int:
        return len(self.pts)

    def start_key(self, frame: int) -> int:
        """Index into ``key_pos`` of the keyframe to decode from for ``frame``.

        The latest keyframe at or before the frame's packet in decode order that is not shown
        after the frame: open-GOP leading frames (shown before their keyframe but decoded after
        it) need the previous keyframe's references.
        """
        d = int(self.frame_pkt[frame])
        if self.mode == "count":
            return max(0, bisect.bisect_right(self.key_pos, d) - 1)
        j = bisect.bisect_right(self.key_pos, d) - 1
        while j > 0 and self.key_rank[j] > frame:
            j -= 1
        return max(j, 0)

    def gop_lengths(self) -> list[int]:
        edges = [*self.key_pos, self.n_packets]
        return [b - a for a, b in itertools.pairwise(edges) if b > a]

    def key_frames_count(self) -> int:
        return int(np.count_nonzero(self.flags & FLAG_KEY))

    def seek_timestamp(self, key: int) -> int | None:
        """The timestamp to seek to for keyframe ``key``: its dts (TS seeks by dts), else pts."""
        p = self.key_pos[key]
        cands = [int(v) for v in (self.dts[p], self.pts[p]) if v != NOPTS]
        return min(cands) if cands else None

    # ----------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Compact serialisation: a JSON header and the packet arrays in one npz blob."""
        header = {
            "format": INDEX_FORMAT,
            "version": INDEX_VERSION,
            "mode": self.mode,
            "n_frames": self.n_frames,
            "info": self.info,
        }
        arrays: dict[str, Any] = {
            "header": np.frombuffer(json.dumps(header).encode(), np.uint8),
            "pts": self.pts,
            "dts": self.dts,
            "flags": self.flags,
            "pos": self.pos,
        }
        if self.order is not None:
            arrays["order"] = self.order
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> PacketIndex:
        """Inverse of :meth:`to_bytes`; raises :class:`IndexFormatError` for anything else."""
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as z:
                header = json.loads(bytes(z["header"]).decode())
                arrays = {k: z[k] for k in ("pts", "dts", "flags", "pos")}
                order = z["order"] if "order" in z.files else None
        except Exception as exc:  # any damage: zip, npy, json
            raise IndexFormatError(f"not a video index ({exc})") from exc
        if not isinstance(header, dict) or header.get("format") != INDEX_FORMAT:
            raise IndexFormatError("not a video index")
        if header.get("version") != INDEX_VERSION:
            raise IndexFormatError(
                f"index version {header.get('version')} (expected {INDEX_VERSION})"
            )
        try:
            return cls(
                arrays["pts"],
                arrays["dts"],
                arrays["flags"],
                arrays["pos"],
                mode=header["mode"],
                n_frames=int(header["n_frames"]),
                info=dict(header.get("info", {})),
                order=order,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexFormatError(f"damaged video index ({exc})") from exc


def reorder_depth(index: PacketIndex) -> int:
    """How many positions a frame can be decoded after its display slot (B-frame delay)."""
    if index.mode != "pts" or index.n_frames == 0:
        return 0
    frame_pkts = np.flatnonzero((index.flags & NOT_FRAME) == 0)
    order = np.argsort(index.pts[frame_pkts], kind="stable")
    decode_rank = np.empty(len(frame_pkts), np.int64)
    decode_rank[order] = np.arange(len(frame_pkts))  # display rank of each decode-ordered frame
    return int(max(0, np.max(np.arange(len(frame_pkts)) - decode_rank)))


def tail_gap_cut(frame_pts: np.ndarray, tail_from: int) -> int | None:
    """For near-constant frame rates: the frame count up to the first timestamp gap after
    ``tail_from`` (a frame missing at a cut shows as a double step), or None if no gap."""
    if len(frame_pts) < 4:
        return None
    d = np.diff(frame_pts)
    med = float(np.median(d))
    if med <= 0:
        return None
    tol = max(1.5, 0.01 * med)
    if np.mean(np.abs(d - med) <= tol) < 0.95:
        return None  # genuinely variable frame rate: gaps say nothing
    for k in range(max(0, tail_from), len(d)):
        if d[k] > 1.5 * med:
            return k + 1
    return None


def file_size(path: str | Path) -> int:
    return os.stat(path).st_size
