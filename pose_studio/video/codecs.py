"""What this PyAV/FFmpeg build can decode and encode (for ``pose-studio doctor``)."""

from __future__ import annotations

from typing import Any, Literal

#: Decoders the reader is tested with, in the order a user meets them.
DECODERS = ("h264", "hevc", "mpeg4", "mjpeg", "vp8", "vp9", "av1", "prores", "mpeg2video",
            "theora", "wmv3", "ffv1")
#: Encoders ``render`` uses (the first one found) and the test videos need.
ENCODERS = ("libx264", "h264", "mpeg4", "libvpx-vp9", "libvpx")
#: Without these a typical camera or phone video cannot be read.
ESSENTIAL_DECODERS = ("h264", "mpeg4", "mjpeg")


def _has(name: str, mode: Literal["r", "w"]) -> bool:
    from av.codec import Codec

    try:
        Codec(name, mode)
    except Exception:  # unknown codec or not in this build (PyAV raises several kinds)
        return False
    return True


def ffmpeg_report() -> dict[str, Any]:
    """PyAV and FFmpeg versions and which of the codecs that matter are here."""
    import av

    return {
        "pyav": av.__version__,
        "ffmpeg": str(getattr(av, "ffmpeg_version_info", "") or ""),
        "libraries": {k: ".".join(str(x) for x in v) for k, v in av.library_versions.items()},
        "decoders": {c: _has(c, "r") for c in DECODERS},
        "encoders": {c: _has(c, "w") for c in ENCODERS},
    }
