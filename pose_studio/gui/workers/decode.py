"""The decode lane: one thread that owns the video reader and serves frames to the GUI.

Usage (GUI thread)::

    loader = FrameLoader(parent=window)
    loader.opened.connect(on_opened)            # (VideoMeta)
    loader.frame_ready.connect(on_frame)        # (req_id, frame_idx, ndarray)
    loader.failed.connect(show_error)           # (message)
    loader.open(path, index_blob)               # index_blob from Project.video_index(...)
    req = loader.request(120)                   # newest request wins
    loader.scrub(4000)                          # slider drag: keyframe preview if far
    loader.play(121, fps=meta.fps, speed=1.0)   # paced playback, drops frames when late
    loader.stop_playback()
    loader.shutdown()                           # in closeEvent; safe twice

Signals (all delivered on the GUI thread):

* ``opened(object)``: a :class:`pose_studio.video.VideoMeta` after :meth:`FrameLoader.open`.
* ``index_built(object)``: ``bytes`` of the frame index when :meth:`open` was given none (or a
  stale one that had to be rebuilt); store
  it with ``Project.set_video_index`` so the next open skips indexing.
* ``frame_ready(int, int, object)``: ``(req_id, frame_idx, frame)``; ``frame`` is the reader's
  H×W×3 BGR uint8 array and is **read-only** (never write into it: the reader's cache and Qt
  may share it). Every finished request is delivered, newest last, so a fast scrub still shows
  intermediate frames; compare ``req_id`` with :attr:`FrameLoader.last_request_id` to know
  whether it is the newest. Playback frames carry the ``req_id`` returned by :meth:`play`.
  After :meth:`FrameLoader.scrub` ``frame_idx`` may be the keyframe before the asked frame
  (always the true index of the pixels: show it as approximate, never annotate it).
* ``playback_stopped(int, int, int, int)``: ``(req_id, last_frame_idx, frames_shown,
  frames_dropped)`` when a playback ends (end of video, :meth:`stop_playback`, a new :meth:`request`/:meth:`open`, error).
* ``failed(str)``: a user-readable message (file cannot be opened, frame cannot be decoded).

Threading (architecture-survey §3, video-access R3): the worker QObject lives on its own QThread
and creates/closes its reader there (one reader per thread). Commands reach it through a
``threading.Condition``; it keeps only the newest frame request, so a scrub never queues up. At
idle it reads ahead a second or so into the reader's cache, one frame at a time, and stops as
soon as a new command arrives (video-access R3). During playback it paces against
``time.monotonic`` (by the frames' own timestamps on variable-frame-rate video) and always
decodes the frame due *now*, skipping the ones it is late for; it also drops a frame when the
GUI has not yet consumed two earlier ones, so a slow paint never makes playback lag behind. The
clock is injectable, so tests move it and check order and frame numbers, never wall time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from pose_studio.core.errors import PoseStudioError

log = logging.getLogger(__name__)

ReaderFactory = Callable[[str, "bytes | None"], Any]

#: Threads that did not stop within the shutdown timeout; kept referenced so Qt does not destroy
#: a running QThread (which aborts the process). They finish their current frame and exit.
_LINGERING: list[tuple[QThread, QObject | None]] = []

_MAX_IN_FLIGHT = 2  # playback frames emitted but not yet received by the GUI thread
_MAX_WAIT = 0.25  # longest sleep before looking at the clock again (an injected clock may jump)


def _default_reader_factory(path: str, index: bytes | None) -> Any:
    from pose_studio.video import open_video

    return open_video(path, index=index)


def _readonly(frame: np.ndarray) -> np.ndarray:
    if frame.flags.writeable:
        frame = frame.copy()
        frame.setflags(write=False)
    return frame


@dataclass
class _Play:
    req_id: int
    start: int
    rate: float  # frames per second of wall time (fps * speed), for constant-rate video
    t0: float
    speed: float = 1.0
    times: np.ndarray | None = None  # VFR: seconds of each frame (set by the worker)
    last: int = -1
    shown: int = 0
    dropped: int = 0

    def due(self, now: float) -> int:
        """The frame that should be on screen at ``now``."""
        if self.times is None:
            return self.start + int((now - self.t0) * self.rate)
        target = self.times[self.start] + (now - self.t0) * self.speed
        return int(np.searchsorted(self.times, target, side="right")) - 1

    def wake_time(self) -> float:
        """When the frame after ``last`` becomes due."""
        nxt = self.last + 1
        if self.times is None:
            return self.t0 + (nxt - self.start) / self.rate
        if nxt >= len(self.times):
            return self.t0 + (self.times[-1] - self.times[self.start]) / self.speed + 0.05
        return self.t0 + (self.times[nxt] - self.times[self.start]) / self.speed


class _State:
    """Commands from the GUI thread to the worker; every field is guarded by ``cond``."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.stop = False
        self.open_cmd: tuple[str, bytes | None] | None = None
        self.request: tuple[int, int, bool] | None = None  # req_id, frame, exact
        self.play: _Play | None = None
        self.stop_play = False
        self.in_flight = 0


class _DecodeWorker(QObject):
    frame = Signal(int, int, object)
    opened = Signal(object)
    index_built = Signal(object)
    failed = Signal(str)
    playback_stopped = Signal(int, int, int, int)

    def __init__(self, state: _State, reader_factory: ReaderFactory, readahead_s: float,
                 cache_mb: int, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._s = state
        self._clock = clock
        self._factory = reader_factory
        self._readahead_s = readahead_s
        self._cache_mb = cache_mb
        self._reader: Any = None
        self._n = 0
        self._ahead: list[int] = []  # frames still to read ahead, in order (reversed stack)
        self._readahead_n = 0
        self._times: np.ndarray | None = None  # per-frame seconds (VFR pacing), built lazily
        self.scrub_gop = 12  # a scrub jump costing more decodes than this shows the keyframe

    # --- the loop ---------------------------------------------------------------------------
    def run(self) -> None:
        s = self._s
        try:
            while True:
                with s.cond:
                    while not (s.stop or s.open_cmd or s.request or s.play or s.stop_play
                               or self._ahead):
                        s.cond.wait()
                    if s.stop:
                        break
                    open_cmd, s.open_cmd = s.open_cmd, None
                    request = None
                    if open_cmd is None:  # a request made right after open() waits for it
                        request, s.request = s.request, None
                    stop_play, s.stop_play = s.stop_play, False
                    play = s.play
                    if open_cmd or request or stop_play:
                        s.play = None
                if (open_cmd or request or stop_play) and play is not None:
                    self._end_play(play)
                    play = None
                if open_cmd is not None:
                    self._open(*open_cmd)
                elif request is not None:
                    self._serve(*request)
                elif play is not None:
                    self._play_step(play)
                elif self._ahead:
                    self._read_ahead_one()
        except Exception:  # a bug; keep the thread's death visible in the log
            log.exception("decode worker crashed")
            self.failed.emit("the video decoder stopped after an internal error (see the log)")
        finally:
            self._close_reader()
            QThread.currentThread().quit()

    # --- commands ---------------------------------------------------------------------------
    def _close_reader(self) -> None:
        if self._reader is not None:
            try:
                self._reader.close()
            except Exception:
                log.exception("closing the video reader failed")
            self._reader = None
            self._n = 0
            self._ahead = []
            self._times = None

    def _open(self, path: str, index: bytes | None) -> None:
        self._close_reader()
        try:
            reader = self._factory(path, index)
        except PoseStudioError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:
            log.exception("opening %s failed", path)
            self.failed.emit(f"cannot open video {path}: {exc}")
            return
        self._reader = reader
        meta = reader.meta
        self._n = len(reader)
        frame_bytes = max(1, int(meta.width) * int(meta.height) * 3)
        budget = (self._cache_mb << 20) // 2 // frame_bytes  # leave half the cache to the GOP
        fps = float(meta.fps) if meta.fps and meta.fps > 0 else 30.0
        self._readahead_n = int(max(0, min(budget, round(self._readahead_s * fps))))
        self.opened.emit(meta)
        # A stored index that no longer fits the file (replaced or re-encoded video) was rebuilt:
        # hand the new one back too, or the file is re-indexed on every open. The same for an
        # index from an older version that had to learn something again ("upgraded").
        status = getattr(reader, "index_status", "built")
        if index is None or status in ("stale", "invalid", "upgraded"):
            try:
                blob = reader.index_bytes()
            except Exception:
                log.exception("reading the frame index of %s failed", path)
            else:
                if blob:
                    self.index_built.emit(bytes(blob))

    def _get(self, idx: int) -> np.ndarray | None:
        if self._reader is None:
            self.failed.emit("no video is open")
            return None
        if not 0 <= idx < self._n:
            self.failed.emit(f"frame {idx} is out of range: the video has {self._n} frames")
            return None
        try:
            return _readonly(self._reader.get(idx))
        except PoseStudioError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:
            log.exception("decoding frame %d failed", idx)
            self.failed.emit(f"cannot decode frame {idx} of {self._reader.meta.path}: {exc}")
        return None

    def _emit(self, req_id: int, idx: int, frame: np.ndarray) -> None:
        with self._s.cond:
            self._s.in_flight += 1
        self.frame.emit(req_id, idx, frame)

    def _scrub_target(self, idx: int) -> int:
        """``idx`` if it is cheap to decode now, else the keyframe decoding would start from."""
        r = self._reader
        if r is None or not 0 <= idx < self._n or not hasattr(r, "keyframe_for"):
            return idx
        try:
            cache = getattr(r, "cache", None)
            if cache is not None and idx in cache:
                return idx
            key = int(r.keyframe_for(idx))
        except Exception:
            return idx
        return key if idx - key > self.scrub_gop else idx

    def _serve(self, req_id: int, idx: int, exact: bool = True) -> None:
        shown = idx if exact else self._scrub_target(idx)
        frame = self._get(shown)
        if frame is None:
            return
        self._emit(req_id, shown, frame)
        if exact:
            stop = min(self._n, idx + 1 + self._readahead_n)
            self._ahead = list(range(stop - 1, idx, -1))
        else:
            self._ahead = []

    def _frame_times(self) -> np.ndarray | None:
        """Seconds of every frame, for VFR pacing (None when unknown or constant-rate)."""
        r = self._reader
        if r is None or not getattr(r.meta, "vfr", False) or not hasattr(r, "timestamp"):
            return None
        if self._times is None:
            try:
                t = np.fromiter((r.timestamp(i) for i in range(self._n)), np.float64, self._n)
            except Exception:
                log.debug("frame timestamps unavailable", exc_info=True)
                return None
            if not (np.diff(t) > 0).all():
                return None
            self._times = t
        return self._times

    def _read_ahead_one(self) -> None:
        idx = self._ahead.pop()
        if self._reader is None:
            self._ahead = []
            return
        try:
            self._reader.get(idx)
        except Exception:  # read-ahead is best effort; the real request will report it
            log.debug("read-ahead of frame %d failed", idx, exc_info=True)
            self._ahead = []

    def _end_play(self, play: _Play) -> None:
        self.playback_stopped.emit(play.req_id, max(play.last, play.start - 1), play.shown,
                                   play.dropped)

    def _play_step(self, play: _Play) -> None:
        s = self._s
        self._ahead = []
        if play.last < 0 and play.shown == 0 and play.times is None:
            times = self._frame_times()
            if times is not None:
                play.times = times
                play.t0 = self._clock()  # building the times may have taken a moment
        now = self._clock()
        due = play.due(now)
        if due >= self._n:
            with s.cond:
                if s.play is play:
                    s.play = None
            self._end_play(play)
            return
        if due <= play.last:  # early: sleep until the next frame is due (or a command arrives)
            wake = play.wake_time()
            with s.cond:
                if s.play is play and not (s.stop or s.open_cmd or s.request or s.stop_play):
                    s.cond.wait(min(_MAX_WAIT, max(0.0, wake - self._clock())))
            return
        with s.cond:
            busy = s.in_flight >= _MAX_IN_FLIGHT
            if busy:  # the GUI is behind: do not pile frames up; look again shortly
                s.cond.wait(0.002)
        if busy:
            return
        frame = self._get(due)
        if frame is None:
            with s.cond:
                if s.play is play:
                    s.play = None
            self._end_play(play)
            return
        play.dropped += max(0, due - max(play.last, play.start - 1) - 1)
        play.last = due
        play.shown += 1
        self._emit(play.req_id, due, frame)


class FrameLoader(QObject):
    """Owns the decode thread; see the module docstring for the signals and their meaning.

    Args:
        parent: Usual QObject parent.
        reader_factory: ``(path, index_blob) -> VideoReader``; defaults to
            :func:`pose_studio.video.open_video`. Tests pass a fake.
        readahead_s: Seconds of video to decode ahead into the cache after a request.
        cache_mb: The reader's cache budget, used to bound the read-ahead.
        clock: Seconds, monotonic (tests pass a clock they move; :meth:`clock_moved` then wakes
            the worker).
    """

    frame_ready = Signal(int, int, object)
    opened = Signal(object)
    index_built = Signal(object)
    failed = Signal(str)
    playback_stopped = Signal(int, int, int, int)

    def __init__(self, parent: QObject | None = None, *,
                 reader_factory: ReaderFactory | None = None, readahead_s: float = 1.0,
                 cache_mb: int = 256, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self._state = _State()
        self._clock = clock
        self.reader_factory: ReaderFactory = reader_factory or _default_reader_factory
        self._req = 0
        self._play_req = -1
        self._play_ids: set[int] = set()
        self._playing = False
        self._thread: QThread | None = QThread()
        self._thread.setObjectName("pose-studio-decode")
        self._worker: _DecodeWorker | None = _DecodeWorker(
            self._state, reader_factory or _default_reader_factory, readahead_s, cache_mb, clock
        )
        self._worker.moveToThread(self._thread)
        self._worker.frame.connect(self._on_frame)
        self._worker.opened.connect(self.opened)
        self._worker.index_built.connect(self.index_built)
        self._worker.failed.connect(self.failed)
        self._worker.playback_stopped.connect(self._on_playback_stopped)
        self._thread.started.connect(self._worker.run)
        self._thread.start()

    # --- commands (GUI thread) -----------------------------------------------------------------
    @property
    def last_request_id(self) -> int:
        """The id of the newest :meth:`request` or :meth:`play`."""
        return self._req

    @property
    def is_playing(self) -> bool:
        return self._playing

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def _next_id(self) -> int:
        self._req += 1
        return self._req

    def open(self, path: str, index_blob: bytes | None = None) -> None:
        """Open a video (replacing any open one); answers with ``opened`` or ``failed``."""
        with self._state.cond:
            self._state.open_cmd = (str(path), index_blob)
            self._state.request = None
            self._state.cond.notify_all()

    def request(self, frame_idx: int) -> int:
        """Ask for one exact frame; an older request not yet started is dropped.

        Stops playback. Returns the request id that ``frame_ready`` will carry.
        """
        return self._request(frame_idx, True)

    def scrub(self, frame_idx: int) -> int:
        """Like :meth:`request`, for a slider being dragged: when frame ``frame_idx`` would
        need a long decode from its keyframe (long-GOP files) and is not cached, the keyframe
        is shown instead, with **its own index** in ``frame_ready``. Call :meth:`request` when
        the drag ends to show the exact frame. No read-ahead follows a scrub.
        """
        return self._request(frame_idx, False)

    def _request(self, frame_idx: int, exact: bool) -> int:
        req_id = self._next_id()
        self._playing = False
        self._play_req = -1
        with self._state.cond:
            self._state.request = (req_id, int(frame_idx), exact)
            self._state.cond.notify_all()
        return req_id

    def play(self, start_idx: int, fps: float, speed: float = 1.0) -> int:
        """Play from ``start_idx`` at ``fps * speed`` frames per second of wall time.

        Returns the request id carried by the playback frames.
        """
        rate = float(fps) * float(speed)
        if not rate > 0:
            raise ValueError(f"playback rate must be positive (fps={fps}, speed={speed})")
        req_id = self._next_id()
        self._play_req = req_id
        self._play_ids.add(req_id)
        self._playing = True
        with self._state.cond:
            self._state.request = None
            self._state.stop_play = False
            self._state.play = _Play(req_id, int(start_idx), rate, self._clock(),
                                     speed=float(speed))
            self._state.cond.notify_all()
        return req_id

    def stop_playback(self) -> None:
        """Stop playing; playback frames still queued for the GUI are discarded."""
        if not self._playing:
            return
        self._playing = False
        self._play_req = -1
        with self._state.cond:
            self._state.stop_play = True
            self._state.cond.notify_all()

    def clock_moved(self) -> None:
        """Wake the worker to look at the clock now (an injected clock was moved)."""
        with self._state.cond:
            self._state.cond.notify_all()

    def shutdown(self, timeout_ms: int = 3000) -> None:
        """Stop the worker, close its reader and join the thread. Safe to call twice."""
        thread, worker = self._thread, self._worker
        if thread is None:
            return
        self._thread = None
        self._worker = None
        self._playing = False
        with self._state.cond:
            self._state.stop = True
            self._state.cond.notify_all()
        thread.quit()
        if not thread.wait(timeout_ms):
            log.warning("decode thread did not stop within %d ms", timeout_ms)
            _LINGERING.append((thread, worker))

    # --- from the worker (GUI thread) ---------------------------------------------------------
    def _on_frame(self, req_id: int, frame_idx: int, frame: object) -> None:
        with self._state.cond:
            self._state.in_flight = max(0, self._state.in_flight - 1)
            self._state.cond.notify_all()
        if self._thread is None:
            return
        # A playback frame that arrives after stop_playback()/request()/a new play() is stale.
        if req_id in self._play_ids and req_id != self._play_req:
            return
        self.frame_ready.emit(req_id, frame_idx, frame)

    def _on_playback_stopped(self, req_id: int, last: int, shown: int, dropped: int) -> None:
        self._play_ids.discard(req_id)
        if req_id == self._play_req:
            self._playing = False
            self._play_req = -1
        self.playback_stopped.emit(req_id, last, shown, dropped)
