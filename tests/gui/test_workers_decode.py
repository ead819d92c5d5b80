"""The decode lane: exact frames, newest-wins requests, paced playback, clean shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from pose_studio.core.errors import PoseStudioError
from pose_studio.gui.workers.decode import FrameLoader

pytestmark = pytest.mark.gui


@dataclass(frozen=True)
class _Meta:
    path: str
    width: int = 8
    height: int = 4
    frame_count: int = 300
    fps: float = 30.0


class FakeReader:
    """A reader whose frame ``i`` is filled with ``i % 256`` and stores ``i`` in pixel [0,0,:2]."""

    def __init__(self, path: str, n: int = 300, delay: float = 0.0,
                 clock: ManualClock | None = None) -> None:
        self.meta = _Meta(path, frame_count=n)
        self.n = n
        self.delay = delay
        self.clock = clock  # decoding moves it by ``delay`` instead of sleeping
        self.calls: list[int] = []
        self.thread: int | None = None
        self.closed = False

    def __len__(self) -> int:
        return self.n

    def get(self, i: int) -> np.ndarray:
        self.thread = threading.get_ident()
        self.calls.append(i)
        if self.delay and self.clock is not None:
            self.clock.advance(self.delay)
        elif self.delay:
            time.sleep(self.delay)
        a = np.full((4, 8, 3), i % 256, np.uint8)
        a[0, 0, 0], a[0, 0, 1] = i // 256, i % 256
        a.setflags(write=False)
        return a

    def index_bytes(self) -> bytes:
        return b"IDX"

    def close(self) -> None:
        self.closed = True


class ManualClock:
    """A clock the test moves: playback is checked by frame numbers, never by wall time."""

    def __init__(self) -> None:
        self.t = 1024.0  # binary-exact sums with steps like 1/64
        self.lock = threading.Lock()
        self.loader: FrameLoader | None = None

    def __call__(self) -> float:
        with self.lock:
            return self.t

    def advance(self, dt: float) -> None:
        with self.lock:
            self.t += dt
        if self.loader is not None:
            self.loader.clock_moved()


def _until(qtbot, cond, timeout: int = 3000) -> None:
    qtbot.waitUntil(lambda: bool(cond()), timeout=timeout)


def _idx(frame: np.ndarray) -> int:
    return int(frame[0, 0, 0]) * 256 + int(frame[0, 0, 1])


class Recorder:
    def __init__(self, loader: FrameLoader, clock: ManualClock | None = None) -> None:
        self.clock = clock
        self.frames: list[tuple[int, int, int]] = []
        self.times: list[float] = []
        self.errors: list[str] = []
        self.stopped: list[tuple[int, int, int, int]] = []
        self.metas: list[object] = []
        self.indexes: list[bytes] = []
        loader.frame_ready.connect(self._on_frame)
        loader.failed.connect(self.errors.append)
        loader.playback_stopped.connect(lambda *a: self.stopped.append(a))
        loader.opened.connect(self.metas.append)
        loader.index_built.connect(self.indexes.append)

    def _on_frame(self, req_id: int, idx: int, frame: object) -> None:
        assert isinstance(frame, np.ndarray) and not frame.flags.writeable
        self.frames.append((req_id, idx, _idx(frame) if frame.shape[:2] == (4, 8) else -2))
        self.times.append(self.clock() if self.clock is not None else time.monotonic())


@pytest.fixture
def make_loader() -> Iterator:
    made: list[FrameLoader] = []

    def factory(**kw: object) -> FrameLoader:
        loader = FrameLoader(**kw)  # type: ignore[arg-type]
        made.append(loader)
        return loader

    yield factory
    for loader in made:
        loader.shutdown()
        assert not loader.running


def _fake_factory(readers: list[FakeReader], n: int = 300, delay: float = 0.0,
                  clock: ManualClock | None = None):
    def factory(path: str, index: bytes | None) -> FakeReader:
        r = FakeReader(path, n, delay, clock)
        readers.append(r)
        return r

    return factory


def test_request_returns_exact_frame_from_worker_thread(qtbot, make_loader) -> None:
    readers: list[FakeReader] = []
    loader = make_loader(reader_factory=_fake_factory(readers), readahead_s=0)
    rec = Recorder(loader)
    loader.open("fake.mp4")
    _until(qtbot, lambda: rec.metas, timeout=3000)
    assert rec.indexes == [b"IDX"]  # no index given: the built one is handed back
    for want in (17, 3, 299, 0):
        req = loader.request(want)
        _until(qtbot, lambda req=req: rec.frames and rec.frames[-1][0] == req, timeout=3000)
        assert rec.frames[-1] == (req, want, want)
    assert readers[0].thread != threading.get_ident()


def test_a_stale_stored_index_is_rebuilt_and_handed_back(qtbot, make_loader) -> None:
    """A replaced video makes the reader rebuild its index: the new one must be stored."""
    readers: list[FakeReader] = []
    base = _fake_factory(readers)

    def factory(path: str, index: bytes | None) -> FakeReader:
        r = base(path, index)
        r.index_status = "stale" if index == b"OLD" else "loaded"  # type: ignore[attr-defined]
        return r

    loader = make_loader(reader_factory=factory, readahead_s=0)
    rec = Recorder(loader)
    loader.open("fake.mp4", b"OLD")
    _until(qtbot, lambda: rec.metas, timeout=3000)
    _until(qtbot, lambda: rec.indexes, timeout=3000)
    assert rec.indexes == [b"IDX"]
    loader.open("fake.mp4", b"IDX")  # a fitting index: nothing to store
    _until(qtbot, lambda: len(rec.metas) == 2, timeout=3000)
    assert rec.indexes == [b"IDX"]


def test_request_right_after_open_is_served(qtbot, make_loader) -> None:
    readers: list[FakeReader] = []
    loader = make_loader(reader_factory=_fake_factory(readers), readahead_s=0)
    rec = Recorder(loader)
    loader.open("a.mp4")
    req = loader.request(42)
    _until(qtbot, lambda: rec.frames)
    assert rec.frames == [(req, 42, 42)]
    # Opening another file replaces the reader; the old one is closed in the worker.
    loader.open("b.mp4")
    req = loader.request(7)
    _until(qtbot, lambda: rec.frames[-1][0] == req)
    assert len(rec.metas) == 2 and readers[0].closed and not readers[1].closed


def test_flooded_requests_newest_wins(qtbot, make_loader) -> None:
    readers: list[FakeReader] = []
    loader = make_loader(reader_factory=_fake_factory(readers, delay=0.02), readahead_s=0)
    rec = Recorder(loader)
    loader.open("fake.mp4")
    _until(qtbot, lambda: rec.metas, timeout=3000)
    last = 0
    for i in range(100):
        last = loader.request(i)
    _until(qtbot, lambda: rec.frames and rec.frames[-1][0] == last, timeout=5000)
    qtbot.wait(60)
    assert rec.frames[-1][1:] == (99, 99)
    assert len(rec.frames) < 10, "stale requests were not dropped"
    ids = [f[0] for f in rec.frames]
    assert ids == sorted(ids)
    assert all(idx == got for _, idx, got in rec.frames)


def test_readahead_fills_cache_after_request(qtbot, make_loader) -> None:
    readers: list[FakeReader] = []
    loader = make_loader(reader_factory=_fake_factory(readers), readahead_s=0.5)  # 15 frames
    rec = Recorder(loader)
    loader.open("fake.mp4")
    _until(qtbot, lambda: rec.metas, timeout=3000)
    loader.request(100)
    _until(qtbot, lambda: len(readers[0].calls) >= 16, timeout=3000)
    qtbot.wait(50)
    assert readers[0].calls == list(range(100, 116))
    assert len(rec.frames) == 1  # read-ahead is silent


def _clocked(make_loader, readers: list, **kw: object) -> tuple[FrameLoader, Recorder,
                                                                   ManualClock]:
    clock = ManualClock()
    loader = make_loader(reader_factory=_fake_factory(readers, clock=clock,
                                                      **kw),  # type: ignore[arg-type]
                         readahead_s=0, clock=clock)
    clock.loader = loader
    return loader, Recorder(loader, clock), clock


def test_playback_paces_to_the_clock(qtbot, make_loader) -> None:
    readers: list[FakeReader] = []
    loader, rec, clock = _clocked(make_loader, readers)
    loader.open("fake.mp4")
    _until(qtbot, lambda: rec.metas, timeout=3000)
    t0 = clock()
    req = loader.play(10, fps=32.0, speed=2.0)  # 64 frames/s (binary-exact steps)
    _until(qtbot, lambda: rec.frames)  # frame 10 is due at once
    for step in range(1, 21):  # a frame period a step: one new frame each time, none early
        clock.advance(1 / 64)
        _until(qtbot, lambda s=step: rec.frames[-1][1] == 10 + s)
    loader.stop_playback()
    idxs = [idx for r, idx, _ in rec.frames if r == req]
    assert idxs == list(range(10, 31))  # every frame, in order, none skipped
    for (r, idx, _), t in zip(rec.frames, rec.times):
        if r == req:  # never ahead of the clock
            assert t - t0 >= (idx - 10) / 64
    _until(qtbot, lambda: rec.stopped, timeout=2000)
    assert rec.stopped[-1][0] == req and not loader.is_playing
    # Nothing from the stopped playback arrives later, however the clock moves.
    n = len(rec.frames)
    clock.advance(1.0)
    qtbot.wait(50)
    assert len(rec.frames) == n


def test_playback_drops_frames_instead_of_lagging(qtbot, make_loader) -> None:
    readers: list[FakeReader] = []
    # Decoding takes 1/32 s of the clock a frame but the video plays at 128 frames/s.
    loader, rec, clock = _clocked(make_loader, readers, delay=1 / 32)
    loader.open("fake.mp4")
    _until(qtbot, lambda: rec.metas, timeout=3000)
    t0 = clock()
    req = loader.play(0, fps=128.0)
    _until(qtbot, lambda: len(rec.frames) >= 6)
    loader.stop_playback()
    idxs = [idx for r, idx, _ in rec.frames if r == req][:6]
    # each frame is the one due when its decode started: 4 frames (one decode) apart
    assert idxs == [0, 4, 8, 12, 16, 20]
    for (r, idx, _), t in zip(rec.frames, rec.times):
        if r == req:  # never ahead of the clock (it arrives after its decode moved it on)
            assert idx <= (t - t0) * 128
    _until(qtbot, lambda: rec.stopped, timeout=2000)
    _, _last, shown, dropped = rec.stopped[-1]
    assert shown >= 6 and dropped >= 3 * 5


def test_playback_ends_at_last_frame(qtbot, make_loader) -> None:
    readers: list[FakeReader] = []
    loader, rec, clock = _clocked(make_loader, readers, n=20)
    loader.open("fake.mp4")
    _until(qtbot, lambda: rec.metas, timeout=3000)
    req = loader.play(10, fps=256.0)
    for step in range(1, 12):
        _until(qtbot, lambda s=step: len(rec.frames) >= min(s, 10) or rec.stopped)
        clock.advance(1 / 256)
    _until(qtbot, lambda: rec.stopped, timeout=3000)
    assert rec.stopped[-1][:2] == (req, 19)
    assert [idx for _r, idx, _ in rec.frames] == list(range(10, 20))
    assert not loader.is_playing


def test_request_stops_playback(qtbot, make_loader) -> None:
    readers: list[FakeReader] = []
    loader = make_loader(reader_factory=_fake_factory(readers), readahead_s=0)
    rec = Recorder(loader)
    loader.open("fake.mp4")
    _until(qtbot, lambda: rec.metas, timeout=3000)
    loader.play(0, fps=30.0)
    qtbot.wait(100)
    req = loader.request(250)
    _until(qtbot, lambda: rec.frames and rec.frames[-1][0] == req, timeout=3000)
    qtbot.wait(100)
    assert rec.frames[-1][1] == 250
    assert rec.stopped


def test_errors_are_messages(qtbot, make_loader) -> None:
    def failing(path: str, index: bytes | None) -> FakeReader:
        raise PoseStudioError(f"cannot open video {path}: not a video file")

    loader = make_loader(reader_factory=failing)
    rec = Recorder(loader)
    loader.open("/x/broken.mp4")
    _until(qtbot, lambda: rec.errors, timeout=3000)
    assert "broken.mp4" in rec.errors[0]
    loader.request(3)
    _until(qtbot, lambda: len(rec.errors) > 1, timeout=3000)
    assert "no video" in rec.errors[1]

    readers: list[FakeReader] = []
    loader2 = make_loader(reader_factory=_fake_factory(readers, n=10))
    rec2 = Recorder(loader2)
    loader2.open("ok.mp4")
    _until(qtbot, lambda: rec2.metas, timeout=3000)
    loader2.request(50)
    _until(qtbot, lambda: rec2.errors, timeout=3000)
    assert "out of range" in rec2.errors[0]


def test_shutdown_joins_and_is_idempotent(qtbot) -> None:
    readers: list[FakeReader] = []
    loader = FrameLoader(reader_factory=_fake_factory(readers, delay=0.01))
    rec = Recorder(loader)
    loader.open("fake.mp4")
    _until(qtbot, lambda: rec.metas, timeout=3000)
    loader.play(0, fps=60.0)
    qtbot.wait(50)
    loader.shutdown()
    assert not loader.running
    assert readers[0].closed
    loader.shutdown()  # second call is a no-op
    n = len(rec.frames)
    qtbot.wait(50)
    assert len(rec.frames) == n


# --- the real reader ------------------------------------------------------------------------------
def test_real_video_exact_frames_and_broken_file(qtbot, make_loader, tmp_path: Path) -> None:
    from tests.support.videos import make_indexed_video
    from tests.support.videos import read_index_from_frame as read_index

    path = make_indexed_video(tmp_path / "v.mp4", 40, size=(160, 120), gop=12, bframes=2)
    loader = make_loader()
    rec = Recorder(loader)
    got: dict[int, int] = {}
    loader.frame_ready.connect(lambda r, i, f: got.__setitem__(i, read_index(f)))
    loader.open(str(path))
    _until(qtbot, lambda: rec.metas or rec.errors, timeout=10000)
    assert not rec.errors, rec.errors
    assert rec.metas[0].frame_count == 40
    for want in (31, 5, 6, 39, 0):
        req = loader.request(want)
        _until(qtbot, lambda req=req: rec.frames and rec.frames[-1][0] == req, timeout=5000)
        assert got[want] == want

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    loader.open(str(bad))
    _until(qtbot, lambda: rec.errors, timeout=10000)
    assert "broken.mp4" in rec.errors[0]


class GopReader(FakeReader):
    """Keyframe every 30 frames; ``timestamp`` irregular (VFR) when asked."""

    def __init__(self, path: str, n: int = 300, vfr: bool = False) -> None:
        super().__init__(path, n)
        self.meta = _VfrMeta(path, frame_count=n, vfr=vfr)
        self.cache: set[int] = set()
        # VFR: frames alternate 50 ms and 10 ms apart (mean 30 ms): paced by the mean rate,
        # every odd frame would come 20 ms early.
        steps = np.where(np.arange(n) % 2 == 0, 0.05, 0.01)
        self.times = np.concatenate([[0.0], np.cumsum(steps[:-1])])

    def keyframe_for(self, i: int) -> int:
        return i - i % 30

    def timestamp(self, i: int) -> float:
        return float(self.times[i])


@dataclass(frozen=True)
class _VfrMeta(_Meta):
    vfr: bool = False


def test_scrub_shows_keyframe_when_far_then_exact(qtbot, make_loader) -> None:
    readers: list[GopReader] = []

    def factory(path: str, index: bytes | None) -> GopReader:
        readers.append(GopReader(path))
        return readers[-1]

    loader = make_loader(reader_factory=factory, readahead_s=0)
    rec = Recorder(loader)
    loader.open("gop.mp4")
    _until(qtbot, lambda: rec.metas)
    req = loader.scrub(95)  # 5 frames after keyframe 90: cheap, exact
    _until(qtbot, lambda: rec.frames and rec.frames[-1][0] == req)
    assert rec.frames[-1][1:] == (95, 95)
    req = loader.scrub(110)  # 20 frames after keyframe 90: the keyframe is shown
    _until(qtbot, lambda: rec.frames[-1][0] == req)
    assert rec.frames[-1][1:] == (90, 90)
    readers[0].cache.add(111)
    req = loader.scrub(111)  # cached: exact
    _until(qtbot, lambda: rec.frames[-1][0] == req)
    assert rec.frames[-1][1:] == (111, 111)
    req = loader.request(110)  # drag ended: exact
    _until(qtbot, lambda: rec.frames[-1][0] == req)
    assert rec.frames[-1][1:] == (110, 110)


def test_vfr_playback_follows_timestamps(qtbot, make_loader) -> None:
    clock = ManualClock()

    def factory(path: str, index: bytes | None) -> GopReader:
        return GopReader(path, vfr=True)

    loader = make_loader(reader_factory=factory, readahead_s=0, clock=clock)
    clock.loader = loader
    rec = Recorder(loader, clock)
    loader.open("vfr.mp4")
    _until(qtbot, lambda: rec.metas)
    times = GopReader("x", vfr=True).times
    t0 = clock()
    req = loader.play(0, fps=33.3)
    _until(qtbot, lambda: rec.frames)
    for i in range(1, 21):  # move the clock to each frame's own timestamp
        clock.advance(times[i] - times[i - 1] + 1e-9)
        _until(qtbot, lambda i=i: rec.frames[-1][1] == i)
    loader.stop_playback()
    got = [(idx, t) for (r, idx, _), t in zip(rec.frames, rec.times) if r == req]
    assert [idx for idx, _ in got] == list(range(21))
    for idx, t in got:  # shown at its own timestamp, not at idx / fps
        assert t - t0 == pytest.approx(times[idx] - times[0], abs=1e-6)
