"""Opening a video container, and the two passes over its packets that indexing needs.

* :func:`open_container`: the container and its first real video stream, every failure worded
  for the user (a :class:`VideoError`).
* :func:`scan_packets`: demux every packet without decoding (pts, dts, flags, byte position,
  size), marking VP8/VP9 packets whose frame is never shown.
* :func:`decode_sources`: decode from the start and say which packet each shown frame came
  from (the ground truth where timestamps cannot tell).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import av

from pose_studio.video.bitstream import shown_frames_counter
from pose_studio.video.errors import VideoError
from pose_studio.video.index import FLAG_CORRUPT, FLAG_DISCARD, FLAG_HIDDEN, FLAG_KEY, NOPTS

__all__ = ["PacketScan", "decode_sources", "open_container", "scan_packets"]

Row = tuple[int, int, int, int, int]  # pts, dts, flags, pos, size


def _ts(v: int | None) -> int:
    return NOPTS if v is None else int(v)


def open_container(path: Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """The opened container and its first video stream (not a cover picture).

    Raises:
        VideoError: missing, empty, unreadable, not a video, no video stream, unknown codec.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise VideoError(path, "file not found") from None
    except OSError as exc:
        raise VideoError(path, f"cannot access the file ({exc.strerror or exc})") from None
    if size == 0:
        raise VideoError(path, "the file is empty (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise VideoError(path, invalid_data_reason(path)) from None
    except av.error.EOFError:
        raise VideoError(
            path, "the file ends before its header does: it is truncated or not a video"
        ) from None
    except av.error.PermissionError:
        raise VideoError(path, "permission denied") from None
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoError(path, f"cannot open the file ({exc})") from None
    streams = [
        s
        for s in container.streams.video
        if not (int(s.disposition) & int(av.stream.Disposition.attached_pic))
    ]
    if not streams:
        container.close()
        raise VideoError(path, "the file has no video stream")
    stream = streams[0]
    if stream.codec_context is None:
        container.close()
        raise VideoError(
            path, "its video codec is not supported by this FFmpeg build (unknown codec)"
        )
    stream.codec_context.thread_type = "AUTO"
    return container, stream


def invalid_data_reason(path: Path) -> str:
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError:
        head = b""
    if head[4:8] == b"ftyp":
        return (
            "the MP4/MOV file has no sample index (moov atom): it is truncated, e.g. a recording "
            "that was interrupted or an incomplete copy"
        )
    return "not a video file FFmpeg can read (invalid data)"


@dataclass
class PacketScan:
    """What one demux pass found.

    Attributes:
        rows: (pts, dts, flags, pos, size) of every non-empty packet, in decode order.
        error: why reading stopped early, else None.
        multi_shown: packets that show more than one frame (a VP9 superframe with two shown
            frames): counting packets cannot number frames then.
    """

    rows: list[Row] = field(default_factory=list)
    error: str | None = None
    multi_shown: int = 0

    @property
    def hidden(self) -> int:
        return sum(1 for r in self.rows if r[2] & FLAG_HIDDEN)


def scan_packets(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> PacketScan:
    """Demux (no decoding) every packet of ``stream``."""
    scan = PacketScan()
    rows = scan.rows
    shown = shown_frames_counter(stream.codec_context.name)
    try:
        for p in container.demux(stream):
            size = p.size
            if size == 0:
                continue  # the end-of-stream marker (AVI drops empty chunks itself)
            flags = (
                (FLAG_KEY if p.is_keyframe else 0)
                | (FLAG_DISCARD if p.is_discard else 0)
                | (FLAG_CORRUPT if p.is_corrupt else 0)
            )
            if shown is not None:
                k = shown(memoryview(p))
                if k == 0:
                    flags |= FLAG_HIDDEN
                elif k is not None and k > 1:
                    scan.multi_shown += 1
            pos = p.pos
            rows.append((_ts(p.pts), _ts(p.dts), flags, -1 if pos is None else pos, size))
    except (av.error.FFmpegError, OSError) as exc:
        scan.error = str(exc)
    return scan


def decode_sources(path: Path, stream_index: int, stop: int | None = None) -> list[int]:
    """Decode from the start (the first ``stop`` packets, or all) and return, for every frame
    the decoder outputs, the decode position of the packet it came from.

    Each packet's timestamps are replaced by its position before decoding: decoders carry a
    packet's timestamp to the frame made from it (through any reordering), so this works where
    the file's own timestamps are missing or repeated. Empty list when the file cannot be read.
    """
    out: list[int] = []
    try:
        c = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError):
        return out
    try:
        s = next(x for x in c.streams.video if x.index == stream_index)
        codec = s.codec_context
        codec.thread_type = "AUTO"
        n = 0
        for pkt in c.demux(s):
            if not pkt.size:
                continue
            if stop is not None and n >= stop:
                break
            pkt.pts = pkt.dts = n
            n += 1
            try:
                frames = codec.decode(pkt)
            except (av.error.FFmpegError, OSError):
                continue
            out.extend(-1 if f.pts is None else int(f.pts) for f in frames)
        with contextlib.suppress(av.error.FFmpegError, OSError):
            out.extend(-1 if f.pts is None else int(f.pts) for f in codec.decode(None))
    except (StopIteration, av.error.FFmpegError, OSError):
        pass
    finally:
        c.close()
    return out
