"""What this machine can hold: checks made BEFORE a large allocation, so a hostile or broken file
(an image header claiming 100,000 x 100,000 pixels, a model with a giant fixed input, a frame range
of three billion) is refused with one clear line instead of a ``MemoryError`` or the kernel's
OOM killer.

Pure standard library (the core layer). Memory is what the OS says is available now (Linux:
``MemAvailable`` and the cgroup limit; macOS/other POSIX: physical memory; Windows:
``GlobalMemoryStatusEx``), capped by ``RLIMIT_AS``/``RLIMIT_DATA``. ``POSE_STUDIO_MEMORY_BUDGET``
(bytes, or with a K/M/G suffix) overrides it, for tests and for users who want a lower ceiling.
"""

from __future__ import annotations

import os
import sys

from pose_studio.core.errors import PoseStudioError

__all__ = [
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE",
    "ResourceLimitError",
    "available_memory",
    "check_allocation",
    "check_count",
    "check_image_size",
    "format_bytes",
]

#: Largest image side accepted anywhere (JPEG's and WebP's own limit; more is never a photo).
MAX_IMAGE_SIDE = 65535
#: Largest image in pixels (OpenCV's own default decode limit, 2**30).
MAX_IMAGE_PIXELS = 1 << 30
#: Share of the available memory one allocation may take.
DEFAULT_FRACTION = 0.5
_FALLBACK = 4 << 30  # when the OS does not say


class ResourceLimitError(PoseStudioError):
    """An input that would need more memory (or more items) than this machine can hold."""


def format_bytes(n: float) -> str:
    """``1536 -> '1.5 KiB'``."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def _parse_size(text: str) -> int | None:
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    try:
        return int(float(t[:-1] if mult > 1 else t) * mult)
    except ValueError:
        return None


def _linux_available() -> int | None:
    avail: int | None = None
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh.read(8192).decode("ascii", "replace").splitlines():
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        return None
    # A container's own limit (cgroup v2, then v1) can be far below the host's memory.
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
         "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            with open(limit_file, "rb") as fh:
                raw = fh.read(64).strip()
            if raw == b"max":
                continue
            limit = int(raw)
            with open(usage_file, "rb") as fh:
                used = int(fh.read(64).strip())
        except (OSError, ValueError):
            continue
        if limit < (1 << 60):
            free = max(0, limit - used)
            avail = free if avail is None else min(avail, free)
        break
    return avail


def _windows_available() -> int | None:  # pragma: no cover - Windows only
    import ctypes

    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong),
                    ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong),
                    ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

    st = MemoryStatusEx()
    st.dwLength = ctypes.sizeof(MemoryStatusEx)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(st)):  # type: ignore[attr-defined]
        return None
    return int(st.ullAvailPhys)


def _posix_physical() -> int | None:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _rlimit() -> int | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    lowest: int | None = None
    for name in ("RLIMIT_AS", "RLIMIT_DATA"):
        which = getattr(resource, name, None)
        if which is None:
            continue
        soft, _ = resource.getrlimit(which)
        if soft != resource.RLIM_INFINITY and soft > 0:
            lowest = soft if lowest is None else min(lowest, soft)
    return lowest


def available_memory() -> int:
    """Bytes this process can still allocate without trouble (see the module docstring)."""
    env = os.environ.get("POSE_STUDIO_MEMORY_BUDGET")
    if env:
        parsed = _parse_size(env)
        if parsed is not None and parsed > 0:
            return parsed
    if sys.platform.startswith("linux"):
        avail = _linux_available()
    elif sys.platform == "win32":  # pragma: no cover
        avail = _windows_available()
    else:  # pragma: no cover - macOS, BSD: no cheap "available"; half the physical memory
        phys = _posix_physical()
        avail = phys // 2 if phys else None
    if avail is None:
        avail = _FALLBACK
    limit = _rlimit()
    return min(avail, limit) if limit is not None else avail


def check_allocation(nbytes: float, what: str, *, fraction: float = DEFAULT_FRACTION) -> None:
    """Raise :class:`ResourceLimitError` when ``nbytes`` is more than ``fraction`` of the memory
    available now. ``what`` names the thing for the message (``"frame 3000x2000 of clip.mp4"``).
    """
    if nbytes < 0:
        raise ResourceLimitError(f"{what}: a negative size ({nbytes}) is not possible")
    avail = available_memory()
    if nbytes > avail * fraction:
        raise ResourceLimitError(
            f"{what} would need {format_bytes(nbytes)} of memory; this machine has "
            f"{format_bytes(avail)} available, so it was not attempted"
        )


def check_count(n: int, limit: int, what: str) -> None:
    """Refuse more than ``limit`` items (a range or list that would be expanded in memory)."""
    if n > limit:
        raise ResourceLimitError(f"{what}: {n:,} items is more than the {limit:,} this can take")


def check_image_size(
    width: int, height: int, what: str, *, channels: int = 3, itemsize: int = 1,
    copies: int = 2,
) -> None:
    """Refuse an image (or video frame, or tensor plane) too large to decode here.

    ``copies``: how many buffers of that size the operation holds at once (decode + convert).
    """
    w, h = int(width), int(height)
    if w <= 0 or h <= 0:
        raise ResourceLimitError(f"{what}: invalid image size {w}x{h}")
    if w > MAX_IMAGE_SIDE or h > MAX_IMAGE_SIDE or w * h > MAX_IMAGE_PIXELS:
        raise ResourceLimitError(
            f"{what}: the image claims {w}x{h} pixels, more than Pose Studio reads "
            f"(at most {MAX_IMAGE_SIDE} per side and {MAX_IMAGE_PIXELS:,} pixels)"
        )
    check_allocation(w * h * channels * itemsize * copies, f"{what} ({w}x{h})")
