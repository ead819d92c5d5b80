"""Optional allocator tuning for frame-heavy work (Linux/glibc).

Every decoded frame is a fresh 1-6 MB buffer (frames are never reused: the GUI may alias them).
With glibc's default policy, freeing such buffers while a few others are alive often returns
the memory to the kernel, and the next frame pays page faults on fresh pages: measured here up
to 40 % of a MJPEG playback loop. Keeping freed memory in the heap removes that cost.

Process-wide, so it is opt-in: the application calls :func:`tune_malloc` once at start-up.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_malloc(trim_mb: int = 256, mmap_mb: int = 32) -> bool:
    """Keep up to ``trim_mb`` MiB of freed heap and serve blocks below ``mmap_mb`` MiB from it.

    Returns True where applied (Linux with glibc), False elsewhere (a no-op).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (e.g. musl)
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, int(mmap_mb) << 20) == 1
    ok_trim = mallopt(_M_TRIM_THRESHOLD, int(trim_mb) << 20) == 1
    return ok_mmap and ok_trim
