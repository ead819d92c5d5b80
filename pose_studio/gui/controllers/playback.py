"""Navigation and playback: which frame the decode lane is asked for, and what comes back.

Every frame request carries an id (the decode lane's); a delivered frame older than the newest
shown one is dropped, a scrub preview (a keyframe instead of the asked frame) is shown as
approximate, and playback frames move the session's frame as they arrive. Nothing here reads
the wall clock: playback pacing is the decode lane's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
from PySide6.QtCore import QObject

from pose_studio.app.session import Frames, Topic

from ..widgets.timeline import Timeline
from ..widgets.transport import SPEEDS, Transport
from .base import Shell

log = logging.getLogger(__name__)


class PlaybackController(QObject):
    """See the module docstring. ``ready()`` tells whether the decode lane has the session's
    video open (requests before that would be for another video)."""

    def __init__(self, shell: Shell, loader: Any, transport: Transport, timeline: Timeline,
                 ready: Callable[[], bool]) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.session = shell.session
        self.loader = loader
        self.transport = transport
        self.timeline = timeline
        self.ready = ready
        self.playing = False
        self.speed = 1.0
        self.scrubbing = False
        self.times: np.ndarray | None = None  # VFR: seconds of each frame
        self.vfr = False
        self.images = False  # an image set: positions read "image 5 of 120", no time
        self._time_base: tuple[int, int] = (1, 1)
        self.closed = False
        self._play_req = -1
        self._shown_req = -1
        self._asked: dict[int, int] = {}  # request id -> frame asked for
        self._from_playback = False
        shell.signals.changed.connect(self._on_changed)
        loader.frame_ready.connect(self.on_frame_ready)
        if hasattr(loader, "playback_stopped"):
            loader.playback_stopped.connect(self._on_playback_stopped)
        transport.play_button.clicked.connect(self.toggle)
        transport.frame_spin.valueChanged.connect(self.goto)
        transport.speed_combo.currentIndexChanged.connect(
            lambda i: self.set_speed(float(transport.speed_combo.itemData(i))))
        timeline.seek_requested.connect(self.goto)
        timeline.scrub_started.connect(self._scrub_started)
        timeline.scrub_finished.connect(self._scrub_finished)

    # --- navigation ----------------------------------------------------------------------------
    def goto(self, frame_idx: int) -> None:
        """Show ``frame_idx`` (clamped); stops playback."""
        s = self.session
        if s.video_id is None:
            return
        self.stop()
        if not s.goto(frame_idx) and (s.shown is None or s.shown.index != s.frame_idx):
            self.request(s.frame_idx)

    def step(self, delta: int) -> None:
        self.goto(self.session.frame_idx + delta)

    def last(self) -> None:
        self.goto(self.session.frame_count - 1)

    def request(self, frame_idx: int) -> None:
        if not self.ready():
            return
        if self.scrubbing and hasattr(self.loader, "scrub"):
            req = self.loader.scrub(frame_idx)  # a keyframe preview when the GOP is long
        else:
            req = self.loader.request(frame_idx)
        self._shown_req = req
        if len(self._asked) > 256:
            self._asked = {k: v for k, v in self._asked.items() if k >= req - 64}
        self._asked[req] = frame_idx

    def _on_changed(self, topics: frozenset[Topic], _frames: Frames) -> None:
        s = self.session
        if Topic.VIDEO in topics:
            self.transport.set_count(s.frame_count)
            if s.video_id is None:
                self.times, self.vfr, self.images = None, False, False
        if Topic.FRAME in topics:
            self.transport.set_frame(s.frame_idx, self.time_text(s.frame_idx))
            self.timeline.set_current(s.frame_idx)
            if not self._from_playback and s.video_id is not None:
                self.request(s.frame_idx)

    def on_frame_ready(self, req_id: int, frame_idx: int, frame: object) -> None:
        if self.closed or not isinstance(frame, np.ndarray):
            return
        s = self.session
        if self.playing and req_id == self._play_req:
            self._from_playback = True
            try:
                s.goto(frame_idx)
            finally:
                self._from_playback = False
            s.show_pixels(frame_idx, frame, exact=True)
            return
        if req_id < self._shown_req:
            return  # an older scrub frame after a newer one was shown
        self._shown_req = req_id
        asked = self._asked.pop(req_id, frame_idx)
        s.show_pixels(frame_idx, frame, exact=asked == frame_idx)

    def _scrub_started(self) -> None:
        self.scrubbing = True
        self.shell.view.fast = True

    def _scrub_finished(self) -> None:
        self.scrubbing = False
        self.shell.view.fast = False
        self.request(self.session.frame_idx)  # the exact frame (and a smooth repaint)

    # --- playback ------------------------------------------------------------------------------
    def toggle(self) -> None:
        s = self.session
        if s.video_id is None or not self.ready():
            return
        if self.playing:
            self.stop()
            return
        start = s.frame_idx + 1
        if start >= s.frame_count:
            start = 0
        self.playing = True
        self.shell.view.fast = True
        self.transport.show_playing(True)
        self._play_req = self.loader.play(start, s.fps, self.speed)

    def stop(self) -> None:
        if not self.playing:
            return
        self.playing = False
        self.shell.view.fast = False
        self.transport.show_playing(False)
        self.loader.stop_playback()
        self.request(self.session.frame_idx)  # repaint the current frame smoothly

    def _on_playback_stopped(self, req_id: int, last: int, shown: int, dropped: int) -> None:
        if req_id == self._play_req and self.playing:
            self.playing = False
            self.shell.view.fast = False
            self.transport.show_playing(False)
            self.shell.status(f"played {shown} frames, dropped {dropped} to keep time", 4000)

    def set_speed(self, speed: float) -> None:
        self.speed = speed
        self.transport.set_speed(speed)
        if self.playing:
            s = self.session
            self._play_req = self.loader.play(s.frame_idx + 1, s.fps, self.speed)
        self.shell.status(f"playback speed {speed:g}×", 4000)

    def faster(self) -> None:
        i = SPEEDS.index(min(SPEEDS, key=lambda v: abs(v - self.speed)))
        self.set_speed(SPEEDS[min(len(SPEEDS) - 1, i + 1)])

    def slower(self) -> None:
        i = SPEEDS.index(min(SPEEDS, key=lambda v: abs(v - self.speed)))
        self.set_speed(SPEEDS[max(0, i - 1)])

    # --- time ----------------------------------------------------------------------------------
    def set_meta(self, meta: Any, index_blob: bytes | None) -> None:
        """A video was opened: its timestamps (VFR) for the time label."""
        self.vfr = bool(getattr(meta, "vfr", False))
        self.images = getattr(meta, "kind", "file") == "images"
        self.times = None
        self._time_base = tuple(getattr(meta, "time_base", (1, 1)))  # type: ignore[assignment]
        if self.vfr:
            self.set_index(index_blob)

    def set_index(self, blob: bytes | None) -> None:
        """Per-frame presentation times (s) of a VFR video, from its frame index."""
        if not self.vfr or not blob:
            return
        try:
            from pose_studio.video.index import PacketIndex

            idx = PacketIndex.from_bytes(blob)
            if idx.mode != "pts" or len(idx.frame_pts) == 0:
                return
            pts = idx.frame_pts.astype(np.float64)
            self.times = (pts - pts[0]) * float(Fraction(*self._time_base))
        except Exception:  # the display falls back to frame / fps
            log.debug("no timestamps from the frame index", exc_info=True)
        f = self.session.frame_idx
        self.transport.set_frame(f, self.time_text(f))

    def time_text(self, frame_idx: int) -> str:
        """``m:ss.mmm`` of the frame: its own timestamp for VFR video, else frame / fps; for an
        image set its place (``image 5 of 120``): images have no time."""
        if self.images:
            return f"image {frame_idx + 1} of {self.session.frame_count}"
        times = self.times
        approx = False
        if times is not None and 0 <= frame_idx < len(times):
            t = float(times[frame_idx])
        else:
            t = frame_idx / (self.session.fps or 30.0)
            approx = self.vfr
        m, sec = divmod(t, 60.0)
        return f"{'≈' if approx else ''}{int(m)}:{sec:06.3f}"
