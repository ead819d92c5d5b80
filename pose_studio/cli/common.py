"""Helpers shared by the CLI commands: progress bars, frame specs, errors, Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, TextIO

from pose_studio.core.errors import PoseStudioError


class CliError(PoseStudioError):
    """A command-line problem worded for the user (printed as one ``error:`` line)."""


@contextlib.contextmanager
def ctrl_c_cancels(doing: str) -> Iterator[threading.Event]:
    """Yield an event the first Ctrl-C sets (the command stops after its current step and keeps
    what it did, saying ``cancelling: <doing>``); a second Ctrl-C stops at once. The signal
    handler is only installed in the main thread (elsewhere the event is never set)."""
    cancel = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        if cancel.is_set():  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        cancel.set()
        print(f"\ncancelling: {doing} ...", file=sys.stderr, flush=True)

    in_main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, on_sigint) if in_main else None
    try:
        yield cancel
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)


class ProgressBar:
    """A small text progress bar on stderr with a rate (frames/s).

    Redraws at most ten times a second; on a non-terminal stream it prints a line every few
    seconds instead, so CI logs stay short.
    """

    def __init__(
        self,
        total: int | None,
        desc: str = "",
        unit: str = "frame",
        stream: TextIO | None = None,
        enabled: bool = True,
    ) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.n = 0
        self._t0 = time.monotonic()
        self._last = 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __enter__(self) -> ProgressBar:
        self._t0 = time.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def rate(self) -> float:
        dt = time.monotonic() - self._t0
        return self.n / dt if dt > 0 else 0.0

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        interval = 0.1 if self._tty else 5.0
        if now - self._last >= interval:
            self._last = now
            self._draw(final=False)

    def set(self, n: int) -> None:
        self.update(n - self.n)

    def _line(self) -> str:
        rate = f"{self.rate:.1f} {self.unit}s/s"
        if self.total:
            frac = min(1.0, self.n / self.total)
            width = 28
            fill = int(frac * width)
            bar = "#" * fill + "-" * (width - fill)
            return f"{self.desc} [{bar}] {self.n}/{self.total} {frac:4.0%} {rate}"
        return f"{self.desc} {self.n} {self.unit}s {rate}"

    def _draw(self, final: bool) -> None:
        if not self.enabled:
            return
        if self._tty:
            self.stream.write("\r" + self._line() + ("\n" if final else ""))
        else:
            self.stream.write(self._line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        self._draw(final=True)
        self.enabled = False


#: Most frames a spec may select when the video's length is not known.
MAX_SPEC_FRAMES = 10_000_000


def _spec_ranges(spec: str, n_frames: int | None) -> list[range]:
    out: list[range] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        try:
            if ":" in part:
                bits = part.split(":")
                if len(bits) > 3:
                    raise ValueError(part)
                start = int(bits[0]) if bits[0] else 0
                if bits[1]:
                    stop = int(bits[1])
                elif n_frames is not None:
                    stop = n_frames
                else:
                    raise CliError(f"open range {part!r} needs a known frame count")
                step = int(bits[2]) if len(bits) == 3 and bits[2] else 1
                if step <= 0:
                    raise CliError(f"frame range {part!r}: step must be positive")
                out.append(range(start, stop, step))
            else:
                i = int(part)
                out.append(range(i, i + 1))
        except ValueError:
            raise CliError(f"bad frame spec {part!r}: use e.g. 10,20,5:50 or 0:100:5") from None
    return out


def _first_outside(r: range, n: int) -> int | None:
    """The smallest element of ``r`` outside ``[0, n)`` (O(1); None when all are inside)."""
    if not r:
        return None
    if r.start < 0 or r.start >= n:
        return r.start
    if r[-1] < n:
        return None
    return r.start + -(-(n - r.start) // r.step) * r.step  # first element >= n


def parse_frame_spec(spec: str, n_frames: int | None = None) -> list[int]:
    """Parse ``10,20,5:50,100:200:10`` into sorted unique frame indices.

    ``a:b`` is half-open like Python slices; ``a:`` runs to the end (needs ``n_frames``).
    Ranges are checked against ``n_frames`` before anything is expanded, so ``0:3000000000``
    on a short video is refused at once (and without a frame count at most
    :data:`MAX_SPEC_FRAMES` frames are listed).

    Raises:
        CliError: malformed text, an index outside ``[0, n_frames)``, too many frames.
    """
    ranges = _spec_ranges(spec, n_frames)
    if n_frames is not None:
        bad = [b for b in (_first_outside(r, n_frames) for r in ranges) if b is not None]
        if bad:
            raise CliError(f"frame {min(bad)} is out of range: the video has {n_frames} frames "
                           f"(0..{n_frames - 1})")
        import numpy as np  # here: the CLI's --help does not load numpy

        mask = np.zeros(n_frames, dtype=bool)  # one byte per frame of the video
        for r in ranges:
            mask[r.start:r.stop:r.step] = True
        return [int(f) for f in np.flatnonzero(mask)]
    total = sum(len(r) for r in ranges)
    if total > MAX_SPEC_FRAMES:
        raise CliError(f"--frames {spec!r} selects {total:,} frames; at most "
                       f"{MAX_SPEC_FRAMES:,} can be listed")
    out: set[int] = set()
    for r in ranges:
        out.update(r)
    return sorted(out)


def parse_range(spec: str | None, n_frames: int) -> tuple[int, int]:
    """Parse ``a:b`` (either side optional) into a clipped half-open range."""
    if not spec:
        return 0, n_frames
    if ":" not in spec:
        raise CliError(f"bad frame range {spec!r}: use a:b, e.g. 0:500")
    a, b = spec.split(":", 1)
    try:
        start = int(a) if a else 0
        stop = int(b) if b else n_frames
    except ValueError:
        raise CliError(f"bad frame range {spec!r}: use a:b, e.g. 0:500") from None
    if start < 0 or start >= n_frames or stop <= start:
        raise CliError(f"frame range {spec!r} is empty or outside 0..{n_frames}")
    return start, min(stop, n_frames)
