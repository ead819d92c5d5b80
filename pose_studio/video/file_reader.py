"""Frame-exact random access to a video file with PyAV and a packet index.

``get(i)``:
    1. from the cache if there;
    2. if the decoder is already running towards ``i`` from a suitable keyframe, decode forward;
    3. otherwise seek to the keyframe for ``i`` (its dts: the TS demuxer seeks by dts), check at
       packet level where the demuxer landed (further back if it overshot, skipping packets
       without decoding if it landed early), decode forward and identify every output frame by
       its pts (or by count in "count" mode);
    4. if the frame never comes out (open-GOP leading frames), restart one keyframe earlier.
Every frame decoded on the way is cached (undecoded-to-BGR, 1.5 bytes/pixel), which makes
backward steps and local review nearly free.

Not thread-safe: one reader per thread.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from pose_studio.video.base import DEFAULT_CACHE_MB, VideoReader
from pose_studio.video.cache import FrameCache
from pose_studio.video.convert import frame_nbytes, orientation_from_frame, to_bgr
from pose_studio.video.errors import VideoError
from pose_studio.video.index import (
    NOPTS,
    IndexFormatError,
    PacketIndex,
    file_identity,
    identity_matches,
)
from pose_studio.video.indexing import IndexingError, StreamFacts, build_index, outdated
from pose_studio.video.meta import make_meta
from pose_studio.video.probe import PacketScan, decode_sources, open_container, scan_packets

log = logging.getLogger(__name__)

_MAX_RESTARTS = 4
DEFAULT_GOP_WINDOW = 64
_MAX_UNIDENTIFIED = 256

CachedValue = Any  # np.ndarray (BGR, read-only) or av.VideoFrame (not yet converted)


def _value_nbytes(v: CachedValue) -> int:
    return int(v.nbytes) if isinstance(v, np.ndarray) else frame_nbytes(v)


class FileVideoReader(VideoReader):
    """A video file opened for frame-exact access (see the module doc)."""

    _demux: Iterator[av.Packet] | None
    _pending: av.Packet | None
    _dec_start: int | None
    _got: np.ndarray | None

    def __init__(
        self,
        path: str | Path,
        *,
        index: bytes | None = None,
        cache_mb: float = DEFAULT_CACHE_MB,
        gop_window: int = DEFAULT_GOP_WINDOW,
    ) -> None:
        """Open and index (or load the index of) a video file.

        Args:
            path: the video file.
            index: bytes from ``index_bytes()``; used when it matches the file.
            cache_mb: decoded-frame cache budget (MiB).
            gop_window: after a seek, how many frames decoded just before the target are kept
                in the cache (backward steps and local review become cache hits).
        """
        self._path = Path(path)
        self._container: av.container.InputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._closed = False
        self._cache: FrameCache[CachedValue] = FrameCache(int(cache_mb * 2**20), _value_nbytes)
        self._cache_target = True
        self._gop_window = gop_window
        self._rotation: int | None = None  # learnt from the first decoded frame
        self._mirror = False
        self._coded_size: tuple[int, int] | None = None
        self._reset_decoder_state()
        self._open_container()
        try:
            self._idx = self._load_or_build_index(index)
            self._prepare_lookups()
            self._finish_open()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------------------ opening
    def _fail(self, reason: str) -> VideoError:
        return VideoError(self._path, reason)

    def _open_container(self) -> None:
        self._container, self._stream = open_container(self._path)

    def _reopen_container(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = None
        self._open_container()
        self._reset_decoder_state()

    # ------------------------------------------------------------------------------ index
    def _load_or_build_index(self, blob: bytes | None) -> PacketIndex:
        ident = file_identity(self._path)
        if blob is not None:
            try:
                idx = PacketIndex.from_bytes(blob)
            except IndexFormatError as exc:
                log.info("%s: stored index unusable (%s); rebuilding", self._path, exc)
                self.index_status = "invalid"
            else:
                if (
                    identity_matches(idx.info.get("file", {}), ident)
                    and idx.info.get("stream_index") == self._stream_obj.index
                ):
                    if not outdated(idx):
                        self.index_status = "loaded"
                        return idx
                    log.info("%s: stored index is from an older indexer; rebuilding", self._path)
                else:
                    log.info(
                        "%s: stored index is for another version of the file; rebuilding",
                        self._path,
                    )
                self.index_status = "stale"
        return self._build_index(ident)

    @property
    def _stream_obj(self) -> av.video.stream.VideoStream:
        assert self._stream is not None
        return self._stream

    def _scan_packets(self) -> PacketScan:
        """Demux (no decoding) every packet of the stream (the pass that builds the index)."""
        assert self._container is not None
        return scan_packets(self._container, self._stream_obj)

    def _build_index(self, ident: dict[str, Any]) -> PacketIndex:
        container, stream = self._container, self._stream_obj
        assert container is not None
        scan = self._scan_packets()
        facts = StreamFacts(
            container=container.format.name,
            codec=stream.codec_context.name,
            stream_index=stream.index,
            time_base=stream.time_base or Fraction(1, 1),
            header_frames=int(stream.frames or 0),
            stream_duration_s=(
                float(stream.duration * stream.time_base)
                if stream.duration and stream.time_base
                else None
            ),
            container_duration_s=container.duration / 1e6 if container.duration else None,
            n_streams=len(container.streams),
            file_size=int(ident["size"]),
        )
        try:
            idx = build_index(
                scan, facts, ident, lambda stop: decode_sources(self._path, stream.index, stop)
            )
        except IndexingError as exc:
            raise self._fail(str(exc)) from None
        if idx.info["truncated"]:
            idx = self._verify_tail(idx)
        if idx.n_frames == 0:
            raise self._fail("the file contains no decodable video frames")
        return idx

    def _verify_tail(self, idx: PacketIndex) -> PacketIndex:
        """Decode the end of a truncated file; keep the frames that really come out."""
        for _ in range(3):
            n = idx.n_frames
            if n == 0:
                return idx
            self._idx = idx
            self._prepare_lookups()
            self._cache.clear()
            self._reset_decoder_state()
            target = n - 1
            if self._decode_frame(target) is not None:
                return idx
            # Keep the contiguous run of frames that did decode from the keyframe on.
            key = idx.start_key(target)
            first = idx.key_rank[key]
            k = first
            while k < n and k in self._cache:
                k += 1
            new_n = k if k > first else first
            if new_n >= n:
                new_n = n - 1
            idx = PacketIndex(
                idx.pts,
                idx.dts,
                idx.flags,
                idx.pos,
                mode=idx.mode,
                n_frames=new_n,
                info=idx.info,
                order=idx.order,
            )
        return idx

    def _prepare_lookups(self) -> None:
        idx = self._idx
        self._pkt_pts = idx.pts
        self._pkt_dts = idx.dts

    def _finish_open(self) -> None:
        idx, stream = self._idx, self._stream_obj
        info = idx.info
        if "width" not in info or "mirror" not in info:
            if "width" in info:
                # An index from before mirroring was read: learn the orientation again and let
                # the caller store the updated index.
                self.index_status = "upgraded"
            frame0 = self._decode_frame(0)
            if frame0 is None:
                raise self._fail("the first frame cannot be decoded (damaged or unsupported video)")
            assert self._coded_size is not None
            info["coded_width"], info["coded_height"] = self._coded_size
            info["rotation"] = self._rotation or 0
            info["mirror"] = self._mirror
            w, h = self._coded_size
            if info["rotation"] in (90, 270):
                w, h = h, w
            info["width"], info["height"] = w, h
        else:
            self._rotation = int(info.get("rotation", 0))
            self._mirror = bool(info.get("mirror", False))
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        self.meta = make_meta(str(self._path), idx, Fraction(rate) if rate else None)

    # ------------------------------------------------------------------------------ public
    def index_bytes(self) -> bytes:
        return self._idx.to_bytes()

    def pts(self, i: int) -> int:
        k = self.check_index(i)
        if self._idx.mode == "decoded":  # timestamps follow decode order: the k-th one
            return int(np.sort(self._idx.dts)[k])
        return int(self._idx.frame_pts[k])

    def timestamp(self, i: int) -> float:
        k = self.check_index(i)
        if self._idx.mode != "pts":
            return k / self.meta.fps
        tb = Fraction(*self.meta.time_base)
        return float((int(self._idx.frame_pts[k]) - int(self._idx.frame_pts[0])) * tb)

    def timestamps(self) -> np.ndarray:
        """Seconds from the first frame for every frame (float64; from the timestamps)."""
        idx = self._idx
        if idx.mode != "pts" or idx.n_frames == 0:
            return super().timestamps()
        tb = Fraction(*self.meta.time_base)
        fp = idx.frame_pts.astype(np.float64)
        return (fp - fp[0]) * (tb.numerator / tb.denominator)

    def keyframe_for(self, i: int) -> int:
        """The frame index decoding starts from to reach frame ``i`` (cost of random access)."""
        idx = self._idx
        key = idx.start_key(self.check_index(i))
        return idx.key_rank[key]

    @property
    def cache(self) -> FrameCache[CachedValue]:
        return self._cache

    def clear_cache(self) -> None:
        """Drop cached frames and the decoder's position (the next read seeks afresh)."""
        self._cache.clear()
        self._dec_start = None

    def close(self) -> None:
        if self._container is not None:
            with contextlib.suppress(av.error.FFmpegError):
                self._container.close()
        self._container = None
        self._closed = True
        self._cache.clear()
        self._demux = None
        self._pending = None

    def _get(self, i: int) -> np.ndarray:
        if self._closed:
            raise self._closed_error()
        frame = self._decode_frame(i)
        if frame is None:
            raise self._fail(f"frame {i} cannot be decoded (the file is damaged around it)")
        return frame

    def _get_for_iteration(self, i: int, cache: bool) -> np.ndarray:
        self._cache_target = cache
        try:
            return self._get(i)
        finally:
            self._cache_target = True

    # ------------------------------------------------------------------------------ decoding
    def _reset_decoder_state(self) -> None:
        self._demux = None
        self._pending = None
        self._next_pos = 0  # decode position of the next packet the demuxer gives
        self._dec_start = None  # keyframe (index into key_pos) decoding began at
        self._min_frame = 0  # frames before the start keyframe (open-GOP leaders) are unsafe
        self._last_out = -1  # highest frame index output since decoding began
        self._count_next = 0  # count mode: index of the next output frame
        self._drained = False
        self._want = -1
        self._got = None

    def _decode_frame(self, i: int) -> np.ndarray | None:
        cached = self._cache.get(i)
        if cached is not None:
            return self._materialize(i, cached)
        idx = self._idx
        key = idx.start_key(i)
        for _ in range(_MAX_RESTARTS):
            if not self._can_continue(i, key) and not self._seek_to_key(key):
                return None
            self._want, self._got = i, None
            try:
                self._decode_until(i)
            finally:
                self._want = -1
            if self._got is not None:
                got, self._got = self._got, None
                return got
            cached = self._cache.peek(i)
            if cached is not None:
                return self._materialize(i, cached)
            if key == 0:
                break
            key -= 1  # the frame did not come out: start from an earlier keyframe
            self._dec_start = None
        return None

    def _materialize(self, i: int, v: CachedValue) -> np.ndarray:
        if isinstance(v, np.ndarray):
            return v
        arr = to_bgr(v, self._rotation or 0, self._mirror)
        self._cache.put(i, arr)
        return arr

    def _can_continue(self, i: int, key: int) -> bool:
        if self._dec_start is None or self._drained or self._demux is None:
            return False
        if key < self._dec_start or self._idx.key_pos[key] > self._next_pos:
            return False
        if self._idx.mode == "count":
            return i >= self._count_next
        return i > self._last_out

    def _seek_to_key(self, key: int) -> bool:
        """Position the demuxer on keyframe ``key``'s packet with a flushed decoder."""
        idx = self._idx
        target = idx.key_pos[key]
        tries = [k for k in range(key, max(-1, key - 4), -1)]
        for k in tries:
            ts = idx.seek_timestamp(k)
            if ts is None or self._container is None:
                continue
            try:
                self._container.seek(ts, stream=self._stream_obj, backward=True)
            except (av.error.FFmpegError, OSError):
                continue
            if self._land_on(target):
                self._start_decoding_at(key)
                return True
        # Last resort: read from the beginning of the file.
        try:
            self._reopen_container()
        except VideoError:
            return False
        if self._land_on(target, from_start=True):
            self._start_decoding_at(key)
            return True
        return False

    def _land_on(self, target: int, from_start: bool = False) -> bool:
        """After a seek: read packets (not decoding) until the one at decode position ``target``."""
        assert self._container is not None
        self._demux = self._container.demux(self._stream_obj)
        self._pending = None
        pos: int | None = 0 if from_start else None
        unidentified = 0
        while True:
            pkt = self._read_packet()
            if pkt is None:
                return False
            if pos is None:
                pos = self._identify(pkt)
                if pos is None:
                    unidentified += 1
                    if unidentified > _MAX_UNIDENTIFIED:
                        return False
                    continue
                if pos > target:
                    return False  # overshot: seek further back
            elif not self._matches(pkt, pos):
                found = self._identify(pkt)
                if found is not None:
                    pos = found
                    if pos > target:
                        return False
            if pos == target:
                self._pending = pkt
                self._next_pos = target
                return True
            pos += 1

    def _start_decoding_at(self, key: int) -> None:
        assert self._stream is not None
        self._stream.codec_context.flush_buffers()
        idx = self._idx
        self._dec_start = key
        self._drained = False
        self._last_out = -1
        self._min_frame = idx.key_rank[key]
        self._count_next = idx.key_rank[key]  # shown frames before the keyframe's packet

    def _read_packet(self) -> av.Packet | None:
        if self._pending is not None:
            p, self._pending = self._pending, None
            return p
        if self._demux is None:
            return None
        try:
            p = next(self._demux)
        except StopIteration:
            return None
        except (av.error.FFmpegError, OSError) as exc:
            log.warning("%s: reading stopped: %s", self._path, exc)
            return None
        if p.size == 0:
            return None
        return p

    def _matches(self, pkt: av.Packet, pos: int) -> bool:
        """Is ``pkt`` the packet at decode position ``pos``? (True when nothing says no.)"""
        if pos >= len(self._pkt_pts):
            return False
        t = pkt.pts
        if t is not None:
            v = int(self._pkt_pts[pos])
            if v != NOPTS:
                return t == v
        d = pkt.dts
        if d is not None:
            v = int(self._pkt_dts[pos])
            if v != NOPTS:
                return d == v
        return True

    def _identify(self, pkt: av.Packet) -> int | None:
        found = self._idx.packet_of(pkt.pts, pkt.dts, pkt.pos)
        if found is not None and self._matches(pkt, found):
            return found
        return None

    def _decode_until(self, i: int) -> None:
        """Feed packets until frame ``i`` comes out, it cannot any more, or the stream ends."""
        idx = self._idx
        count_mode = idx.mode == "count"
        by_packet = idx.mode == "decoded"
        codec = self._stream_obj.codec_context
        n_pkt = idx.n_packets
        while self._got is None:
            if count_mode:
                if self._count_next > i:
                    return
            elif self._last_out > i:
                return  # overshot: output is in display order, so frame i will not come
            pkt = self._read_packet() if self._next_pos < n_pkt else None
            if pkt is None:
                self._drain(codec)
                return
            pos = self._next_pos
            if not self._matches(pkt, pos):
                found = self._identify(pkt)
                if found is not None:
                    pos = found
            self._next_pos = pos + 1
            if by_packet:
                # Name each frame by its packet: the decoder carries the timestamp through
                # (repeated or decode-ordered timestamps cannot tell frames apart).
                pkt.pts = pkt.dts = pos
            try:
                frames = codec.decode(pkt)
            except (av.error.FFmpegError, OSError) as exc:
                log.debug("%s: packet %d does not decode: %s", self._path, pos, exc)
                continue
            for f in frames:
                self._on_frame(f)

    def _drain(self, codec: av.video.codeccontext.VideoCodecContext) -> None:
        try:
            frames = codec.decode(None)
        except (av.error.FFmpegError, OSError):
            frames = []
        for f in frames:
            self._on_frame(f)
        self._drained = True

    def _on_frame(self, f: av.VideoFrame) -> None:
        idx = self._idx
        if idx.mode != "count":
            t = f.pts
            if t is None:
                return
            k = idx.frame_of_pts(t) if idx.mode == "pts" else idx.frame_of_packet(t)
            if k is None or k < self._min_frame:
                return
        else:
            k = self._count_next
            self._count_next += 1
            if k >= idx.n_frames:
                return
        if k > self._last_out:
            self._last_out = k
        if self._rotation is None:
            self._rotation, self._mirror = orientation_from_frame(f)
            self._coded_size = (f.width, f.height)
        want = self._want
        if k == want:
            arr = to_bgr(f, self._rotation, self._mirror)
            if self._cache_target:
                self._cache.put(k, arr)
            self._got = arr
        elif (k > want or k >= want - self._gop_window) and k not in self._cache:
            # Frames just before the target make backward steps free; frames far before it
            # would only cost fresh memory (page faults) and be evicted first.
            self._cache.put(k, f)
