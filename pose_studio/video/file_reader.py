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
    FLAG_CORRUPT,
    FLAG_DISCARD,
    FLAG_KEY,
    NOPTS,
    IndexFormatError,
    Mode,
    PacketIndex,
    file_identity,
    identity_matches,
    reorder_depth,
    tail_gap_cut,
)
from pose_studio.video.meta import VideoMeta

log = logging.getLogger(__name__)

_LONG_GOP_WARN = 60
_MAX_RESTARTS = 4
DEFAULT_GOP_WINDOW = 64
_AVI_PROBE_PACKETS = 600
_MAX_UNIDENTIFIED = 256

CachedValue = Any  # np.ndarray (BGR, read-only) or av.VideoFrame (not yet converted)


def _value_nbytes(v: CachedValue) -> int:
    return int(v.nbytes) if isinstance(v, np.ndarray) else frame_nbytes(v)


def _ts(v: int | None) -> int:
    return NOPTS if v is None else int(v)


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
        path = self._path
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise self._fail("file not found") from None
        except OSError as exc:
            raise self._fail(f"cannot access the file ({exc.strerror or exc})") from None
        if size == 0:
            raise self._fail("the file is empty (0 bytes)")
        try:
            container = av.open(str(path), metadata_errors="ignore")
        except av.error.InvalidDataError:
            raise self._fail(self._invalid_data_reason()) from None
        except av.error.EOFError:
            raise self._fail(
                "the file ends before its header does: it is truncated or not a video"
            ) from None
        except av.error.PermissionError:
            raise self._fail("permission denied") from None
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise self._fail(f"cannot open the file ({exc})") from None
        streams = [
            s
            for s in container.streams.video
            if not (int(s.disposition) & int(av.stream.Disposition.attached_pic))
        ]
        if not streams:
            container.close()
            raise self._fail("the file has no video stream")
        stream = streams[0]
        if stream.codec_context is None:
            container.close()
            raise self._fail(
                "its video codec is not supported by this FFmpeg build (unknown codec)"
            )
        stream.codec_context.thread_type = "AUTO"
        self._container = container
        self._stream = stream

    def _invalid_data_reason(self) -> str:
        try:
            with self._path.open("rb") as f:
                head = f.read(12)
        except OSError:
            head = b""
        if head[4:8] == b"ftyp":
            return (
                "the MP4/MOV file has no sample index (moov atom): it is truncated, e.g. a recording "
                "that was interrupted or an incomplete copy"
            )
        return "not a video file FFmpeg can read (invalid data)"

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
                    self.index_status = "loaded"
                    return idx
                log.info(
                    "%s: stored index is for another version of the file; rebuilding", self._path
                )
                self.index_status = "stale"
        return self._build_index(ident)

    @property
    def _stream_obj(self) -> av.video.stream.VideoStream:
        assert self._stream is not None
        return self._stream

    def _scan_packets(self) -> tuple[list[tuple[int, int, int, int, int]], str | None]:
        """Demux (no decoding) every packet of the stream: (pts, dts, flags, pos, size)."""
        assert self._container is not None
        rows: list[tuple[int, int, int, int, int]] = []
        error = None
        try:
            for p in self._container.demux(self._stream_obj):
                size = p.size
                if size == 0:
                    continue
                flags = (
                    (FLAG_KEY if p.is_keyframe else 0)
                    | (FLAG_DISCARD if p.is_discard else 0)
                    | (FLAG_CORRUPT if p.is_corrupt else 0)
                )
                pos = p.pos
                rows.append((_ts(p.pts), _ts(p.dts), flags, -1 if pos is None else pos, size))
        except (av.error.FFmpegError, OSError) as exc:
            error = str(exc)
        return rows, error

    def _build_index(self, ident: dict[str, Any]) -> PacketIndex:
        container, stream = self._container, self._stream_obj
        assert container is not None
        rows, demux_error = self._scan_packets()
        file_size = ident["size"]
        # Packets cut by the end of the file (or flagged corrupt at the end) cannot be decoded.
        dropped = 0
        while rows and (
            rows[-1][2] & FLAG_CORRUPT
            or (rows[-1][3] >= 0 and rows[-1][3] + rows[-1][4] > file_size)
        ):
            rows.pop()
            dropped += 1
        if not rows:
            reason = "the file contains no video frames"
            if demux_error:
                reason += f" (reading stopped: {demux_error})"
            raise self._fail(reason)
        arr = np.array(rows, dtype=np.int64)
        pts, dts, flags, pos = arr[:, 0], arr[:, 1], arr[:, 2].astype(np.uint8), arr[:, 3]
        fmt_name = container.format.name
        warnings: list[str] = []
        mode: Mode = "pts"
        frame_pts = pts[(flags & FLAG_DISCARD) == 0]
        is_avi = "avi" in fmt_name.split(",")
        if np.any(frame_pts == NOPTS) or len(np.unique(frame_pts)) != len(frame_pts):
            mode = "count"
            if not is_avi:
                warnings.append(
                    "timestamps are missing or repeated: frames are numbered in decode order"
                )
        elif is_avi and bool(np.all(np.diff(frame_pts) > 0)):
            # AVI stores no presentation times; FFmpeg numbers packets in decode order, so
            # they say nothing about display order (exact for closed GOPs). Where a parser
            # recovered real ones (they reorder, e.g. MPEG-4 ASP), pts mode is used.
            mode = "count"
        order = None
        if mode == "count" and is_avi and not np.all(flags & FLAG_KEY):
            order = self._avi_display_order(pts, flags)
            if order is not None:
                mode = "decoded"
                warnings.append(
                    "AVI with open GOPs: its frame order was found by decoding the whole file once"
                )
        idx = PacketIndex(pts, dts, flags, pos, mode=mode, order=order)  # type: ignore[arg-type]

        # ---- truncation: signals that the file ends early
        signals = []
        if demux_error:
            signals.append(f"reading stopped with an error ({demux_error})")
        if dropped:
            signals.append("the last packet is cut off")
        header_frames = int(stream.frames or 0)
        if header_frames > idx.n_packets:
            signals.append(f"the header lists {header_frames} frames")
        if "mpegts" in fmt_name and file_size % 188 not in (0,) and file_size % 192 != 0:
            signals.append("the transport stream ends inside a packet")
        tb = stream.time_base or Fraction(1, 1)
        header_s, slack = None, 0.5
        if stream.duration:
            header_s = float(stream.duration * tb)  # this track's own duration (MP4/MOV)
        elif container.duration and "mpegts" not in fmt_name:
            header_s = container.duration / 1e6  # all tracks: allow for audio running longer
            slack = 0.5 if len(container.streams) == 1 else 2.0
        if mode == "pts" and header_s is not None and idx.n_frames > 1:
            span = float((int(idx.frame_pts[-1]) - int(idx.frame_pts[0])) * tb)
            step = span / (idx.n_frames - 1)
            if header_s - span > max(slack, 4 * step):
                signals.append(f"the header says {header_s:.1f} s, the frames cover {span:.1f} s")
        n = idx.n_frames
        gap = None
        if mode == "pts":
            gops = idx.gop_lengths()
            tail = max(0, n - 2 * max(gops[-2:]) - 2)
            gap = tail_gap_cut(idx.frame_pts, tail)
            if gap is not None:
                signals.append("frames are missing at the end")
        truncated = bool(signals)
        if (
            not truncated
            and "mpegts" in fmt_name
            and mode == "pts"
            and not self._mostly_cfr(idx)
            and reorder_depth(idx) > 0
        ):
            # A transport stream has no trailer: cut at a packet boundary it looks complete,
            # yet B-frames shown before the last decoded frames may be missing. Not knowing,
            # leave out the frames that could be affected.
            depth = reorder_depth(idx)
            n -= depth
            warnings.append(
                f"the end of this transport stream cannot be verified: its last {depth} frame(s) "
                "are left out (B-frames there may be missing)"
            )
        if truncated:
            if gap is not None:
                n = gap
            elif mode == "pts" and tail_gap_cut(idx.frame_pts, n) is None and self._mostly_cfr(idx):
                pass  # constant rate and no gap: every kept frame is a full prefix
            elif idx.key_frames_count() == idx.n_packets:
                pass  # intra-only: no reordering
            elif mode == "pts":
                n -= reorder_depth(idx)
            elif mode == "count":
                n -= 3  # no display order to reason with: allow for B-frame reordering
            n = max(0, n)
        info = {
            "file": ident,
            "stream_index": stream.index,
            "time_base": [tb.numerator, tb.denominator],
            "container": fmt_name,
            "codec": stream.codec_context.name,
            "truncated": truncated,
            "truncation_signals": signals,
            "warnings": warnings,
        }
        idx = PacketIndex(
            pts,
            dts,
            flags,
            pos,
            mode=mode,
            n_frames=n,
            info=info,
            order=order,  # type: ignore[arg-type]
        )
        self.index_status = "built" if self.index_status == "built" else self.index_status
        if truncated:
            idx = self._verify_tail(idx)
        if idx.n_frames == 0:
            raise self._fail("the file contains no decodable video frames")
        return idx

    def _decode_sources(self, pts_pos: dict[int, int], stop: int | None) -> list[int]:
        """Decode from the start (packets before ``stop``, or all): source packet of each output."""
        out: list[int] = []
        try:
            c = av.open(str(self._path), metadata_errors="ignore")
        except (av.error.FFmpegError, OSError):
            return out
        try:
            s = next(x for x in c.streams.video if x.index == self._stream_obj.index)
            s.codec_context.thread_type = "AUTO"
            n = 0
            for pkt in c.demux(s):
                if pkt.size and stop is not None and n >= stop:
                    break
                try:
                    frames = s.codec_context.decode(pkt if pkt.size else None)
                except (av.error.FFmpegError, OSError):
                    frames = []
                n += 1 if pkt.size else 0
                out.extend(pts_pos.get(-1 if f.pts is None else int(f.pts), -1) for f in frames)
        except (av.error.FFmpegError, OSError):
            pass
        finally:
            c.close()
        return out

    def _avi_display_order(self, pts: np.ndarray, flags: np.ndarray) -> np.ndarray | None:
        """Display order of an AVI whose GOPs are open, else None (counting output is exact).

        AVI timestamps follow decode order; the decoder hands each packet's timestamp to the
        frame it makes, so the output order maps frames to packets. Open GOPs show up as frames
        decoded after the second keyframe but output before it.
        """
        keys = np.flatnonzero(flags & FLAG_KEY)
        if len(keys) < 2:
            return None
        pts_pos = {int(t): i for i, t in enumerate(pts.tolist())}
        # Look at the first few keyframe boundaries (encoders do not open every GOP), within a
        # bounded decode: opening a long AVI must stay quick.
        stop = min(int(keys[5]) if len(keys) > 5 else len(pts), _AVI_PROBE_PACKETS)
        src = self._decode_sources(pts_pos, stop)
        where = {p: q for q, p in enumerate(src)}
        open_gop = False
        for k in (int(x) for x in keys[1:5] if x < stop):
            q = where.get(k)
            if q is not None and any(p > k for p in src[:q]):
                open_gop = True
                break
        if not open_gop:
            return None
        full = [p for p in self._decode_sources(pts_pos, None) if p >= 0]
        if len(set(full)) != len(full):
            return None
        return np.array(full, dtype=np.int64)

    @staticmethod
    def _mostly_cfr(idx: PacketIndex) -> bool:
        if idx.n_frames < 4:
            return True
        d = np.diff(idx.frame_pts)
        med = float(np.median(d))
        return med > 0 and float(np.mean(np.abs(d - med) <= max(1.5, 0.01 * med))) >= 0.95

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
        self.meta = self._make_meta(stream)

    def _make_meta(self, stream: av.video.stream.VideoStream) -> VideoMeta:
        idx, info = self._idx, self._idx.info
        tb = Fraction(*info["time_base"])
        n = idx.n_frames
        vfr = False
        rate_hint = stream.average_rate or stream.guessed_rate or stream.base_rate
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
        warnings = list(info.get("warnings", []))
        if info.get("truncated"):
            warnings.insert(
                0,
                f"the file is truncated after frame {n - 1}: frames 0-{n - 1} can be read "
                f"({'; '.join(info.get('truncation_signals', []))})",
            )
        if max_gop > _LONG_GOP_WARN and idx.key_frames_count() > 0:
            warnings.append(
                f"keyframes are up to {max_gop} frames apart: jumping to a random frame decodes up to "
                f"{max_gop} frames (re-encode with a short GOP for fast review)"
            )
        return VideoMeta(
            path=str(self._path),
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
            warnings=tuple(warnings),
        )

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
        self._count_next = idx.key_pos[key]

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
        found = self._idx.packet_of(pkt.pts, pkt.dts)
        if found is not None and self._matches(pkt, found):
            return found
        return None

    def _decode_until(self, i: int) -> None:
        """Feed packets until frame ``i`` comes out, it cannot any more, or the stream ends."""
        idx = self._idx
        count_mode = idx.mode == "count"
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
            k = idx.frame_of_pts(t)
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
