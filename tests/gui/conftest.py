"""GUI test fixtures: isolated QSettings, a dangling-QThread guard, window and project factories.

* Every GUI test gets QSettings in a temp folder (never the user's).
* The guard records every ``QThread.start`` and FAILS a test that leaves one running.
* ``make_window`` builds a :class:`MainWindow` whose questions are answered (a video opened
  while a project is open joins it; no relinking; errors captured in ``window.messages``
  instead of message boxes) and shuts it down at teardown, before the guard looks. A bare
  video's project goes beside it, in ``tmp_path``.
* ``add_label``/``add_predictions`` put instances into the store directly (outside the history,
  as another tool would) and tell the session.
* ``fake_reader_factory`` is a reader that draws the index pattern of ``tests/support/videos``
  (exact, instant) for tests about editing rather than decoding.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings, QThread
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.support.videos import draw_index_frame, read_index_from_frame


# --------------------------------------------------------------------------- settings isolation
@pytest.fixture(autouse=True)
def _isolated_qsettings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("qsettings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(d))
    yield d


@pytest.fixture(autouse=True)
def _isolated_models_dir(tmp_path_factory: pytest.TempPathFactory,
                         monkeypatch: pytest.MonkeyPatch) -> Path:
    """Downloaded models ("Get a model…", the Model panel's list) go to a temp folder."""
    d = tmp_path_factory.mktemp("models")
    monkeypatch.setenv("POSE_STUDIO_MODELS_DIR", str(d))
    return d


# -------------------------------------------------------------------------- dangling threads
_started: list[tuple[QThread, str]] = []
_orig_start = QThread.start


def _recording_start(self: QThread, *args: Any) -> None:
    _started.append((self, "".join(traceback.format_stack(limit=8)[:-1])))
    _orig_start(self, *args)


def running_threads(started: list[tuple[QThread, str]], wait_ms: int = 500) -> list[str]:
    """Start sites of the recorded QThreads still running (after a short grace period)."""
    running = []
    for th, where in started:
        try:
            alive = th.isRunning()
        except RuntimeError:  # the C++ object is gone: it was stopped and deleted
            continue
        if alive and not th.wait(wait_ms):
            running.append(where)
    return running


@pytest.fixture(autouse=True)
def _dangling_qthreads(qapp: QApplication) -> Iterator[None]:
    """Fail a test that leaves a QThread (or a Python thread it started) running."""
    QThread.start = _recording_start  # type: ignore[method-assign]
    py_before = {t.ident for t in threading.enumerate()}
    _started.clear()
    yield
    QThread.start = _orig_start  # type: ignore[method-assign]
    qapp.processEvents()
    running = running_threads(_started)
    _started.clear()
    py_left = [
        t for t in threading.enumerate()
        if t.ident not in py_before and t.is_alive() and not t.daemon
        and not t.name.startswith(("Dummy", "QThread"))
    ]
    for t in py_left:
        t.join(0.5)
    py_left = [t for t in py_left if t.is_alive()]
    if running or py_left:
        pytest.fail(
            f"{len(running)} QThread(s) still running after the test, started at:\n"
            + "\n---\n".join(running)
            + (f"\nPython threads left: {[t.name for t in py_left]}" if py_left else "")
        )


# ---------------------------------------------------------------------------- message capture
@pytest.fixture
def captured_boxes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """``(kind, title, text)`` of every static QMessageBox call; none is shown."""
    seen: list[tuple[str, str, str]] = []

    def make(kind: str, ret: Any) -> Callable[..., Any]:
        def f(parent: Any, title: str, text: str, *a: Any, **k: Any) -> Any:
            seen.append((kind, title, text))
            return ret

        return f

    ok = QMessageBox.StandardButton.Ok
    monkeypatch.setattr(QMessageBox, "warning", make("warning", ok))
    monkeypatch.setattr(QMessageBox, "critical", make("critical", ok))
    monkeypatch.setattr(QMessageBox, "information", make("information", ok))
    monkeypatch.setattr(QMessageBox, "question", make("question", QMessageBox.StandardButton.No))
    return seen


# ------------------------------------------------------------------------------ fake reader
@dataclass(frozen=True)
class FakeMeta:
    path: str
    width: int = 160
    height: int = 120
    frame_count: int = 200
    fps: float = 25.0
    fps_rational: tuple[int, int] = (25, 1)
    vfr: bool = False
    duration_s: float = 8.0
    codec: str = "fake"
    rotation: int = 0
    kind: str = "file"


class FakeReader:
    """Frames drawn by ``draw_index_frame``; any existing path with 'broken' in it fails."""

    def __init__(self, path: str, n: int = 200, size: tuple[int, int] = (160, 120),
                 delay: float = 0.0) -> None:
        from pose_studio.core.errors import PoseStudioError

        if "broken" in Path(path).name:
            raise PoseStudioError(f"cannot open video {path}: not a video file (test)")
        self.meta = FakeMeta(str(path), width=size[0], height=size[1], frame_count=n,
                             duration_s=n / 25.0)
        self._n = n
        self._size = size
        self._delay = delay
        self.calls: list[int] = []

    def __len__(self) -> int:
        return self._n

    def get(self, i: int) -> np.ndarray:
        if not 0 <= i < self._n:
            raise IndexError(i)
        self.calls.append(i)
        if self._delay:
            time.sleep(self._delay)
        a = draw_index_frame(i, self._size)
        a.setflags(write=False)
        return a

    def index_bytes(self) -> bytes:
        return b"fake-index"

    def pts(self, i: int) -> float:
        return i / 25.0

    def close(self) -> None:
        pass


def fake_reader_factory(path: str, index: bytes | None) -> FakeReader:
    return FakeReader(path)


def displayed_index(window: Any) -> int:
    """The frame index burned into the pixels the view shows (-1 if none/unreadable)."""
    from PySide6.QtGui import QImage

    pix = window.view.pixmap_item.pixmap()
    if pix.isNull():
        return -1
    img = pix.toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    buf = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes())
    arr = buf.reshape(h, img.bytesPerLine())[:, : w * 3].reshape(h, w, 3)
    return read_index_from_frame(arr[:, :, ::-1].copy())


# --------------------------------------------------------------------------------- factories
@pytest.fixture
def make_window(
    qtbot: Any, tmp_path: Path, _dangling_qthreads: None, captured_boxes: list
) -> Iterator[Callable[..., Any]]:
    """``make_window(fake=True)`` -> a shown MainWindow with dialogs bypassed."""
    from pose_studio.gui.main_window import MainWindow
    from pose_studio.gui.settings import Settings
    from pose_studio.gui.workers.decode import FrameLoader

    made: list[Any] = []

    def factory(fake: bool = True, inference: bool = False, reader_delay: float = 0.0) -> Any:
        qs = QSettings(str(tmp_path / f"settings{len(made)}.ini"), QSettings.Format.IniFormat)

        def reader(path: str, index: bytes | None) -> FakeReader:
            return FakeReader(path, delay=reader_delay)

        loader_factory = (lambda parent: FrameLoader(parent, reader_factory=reader)) \
            if fake else None
        inference_factory = None if inference else (lambda parent: None)
        win = MainWindow(Settings(qs), loader_factory=loader_factory,
                         inference_factory=inference_factory)
        win.opening.ask_relink_path = lambda rec: None
        win.opening.ask_video_target = lambda videos, name: "add"
        qtbot.addWidget(win)
        win.resize(1000, 700)
        win.show()
        made.append(win)
        return win

    yield factory
    for win in made:
        win.shutdown()
        win.close()


@pytest.fixture
def fake_video(tmp_path: Path) -> Path:
    """A file the fake reader opens (its content is never read)."""
    p = tmp_path / "clip.mp4"
    p.write_bytes(b"\0" * 16)
    return p


def wait_frame(qtbot: Any, win: Any, frame_idx: int, timeout: int = 5000) -> None:
    """Wait until the view shows ``frame_idx`` exactly (by the view's own record)."""
    qtbot.waitUntil(lambda: win.view.frame_idx == frame_idx and win.session.frame_idx == frame_idx
                    and not win.view.approximate, timeout=timeout)


def open_fake(qtbot: Any, win: Any, video: Path) -> None:
    win.open_paths([str(video)])
    qtbot.waitUntil(lambda: win.session.video_id is not None and win.view.frame_idx == 0, timeout=5000)


K = 17


def pose_xy(cx: float, cy: float) -> np.ndarray:
    rng = np.random.default_rng(int(cx * 7 + cy))
    return np.stack([cx + rng.uniform(-25, 25, K), cy + rng.uniform(-35, 35, K)], axis=1)


def add_label(win: Any, frame: int, cx: float = 80.0, cy: float = 60.0, vis: Any = None,
              inst: Any = None) -> Any:
    """A user instance written straight into the store (not a history step), then shown."""
    from pose_studio.core.annotation import Instance

    if inst is None:
        v = np.full(K, 2, np.uint8) if vis is None else np.asarray(vis, np.uint8)
        inst = Instance(xy=pose_xy(cx, cy), visibility=v)
    s = win.session
    stored = s.project.add_instance(s.video_id, frame, inst)
    s.predictions_written(s.video_id, [frame])  # "someone else wrote this frame"
    return stored


def add_predictions(win: Any, frame: int, n: int = 2) -> list[Any]:
    from pose_studio.core.annotation import Instance, InstanceKind

    s = win.session
    proj = s.project
    # One model run for all of them: each run's predictions are kept side by side and a video
    # shows one run (a new run per call would show only its own frame).
    same = [r.id for r in proj.model_runs() if r.model_path == "m.onnx"]
    run = same[0] if same else proj.create_model_run(model_path="m.onnx", model_hash="x",
                                                     providers=["CPU"], params={})
    items = []
    for i in range(n):
        items.append((frame, Instance(xy=pose_xy(50.0 + 40 * i, 60.0),
                                      visibility=np.full(K, 2, np.uint8),
                                      kind=InstanceKind.PREDICTED,
                                      kp_scores=np.linspace(0.3, 0.9, K), score=0.7)))
    proj.add_predictions(s.video_id, items, run)
    s.predictions_written(s.video_id)
    return proj.instances(s.video_id, frame, kind=InstanceKind.PREDICTED)


def steps(win: Any) -> int:
    """How many steps the history shows (done and undone)."""
    return len(win.session.history.steps)
