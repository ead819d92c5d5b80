"""GUI responsiveness benchmark: event-loop latency under batch inference, playback, drag repaint.

Run: ``python bench/gui.py [--size 640x480] [--frames 300] [--seconds 3]`` (offscreen Qt).

Measures, each against a baseline taken in the same run:

1. **Event-loop latency** (lateness of a 5 ms precise QTimer) idle, then while batch inference
   runs through :class:`InferenceController` over a generated video (the bundled model if
   ``models/*.onnx`` holds one, else a 256x192 heatmap test model). Target p99 < 50 ms.
2. **Playback**: frames/s delivered by :class:`FrameLoader` when asked to play faster than the
   decoder can go, vs the raw sequential ``reader.get`` rate on the same file; and a 30 fps
   playback (achieved rate, dropped frames).
3. **Keypoint drag repaint**: one drag step (move a keypoint, update its limbs, synchronous
   viewport repaint) on a frame-sized FrameView with a COCO-17 instance, vs a repaint with no
   change.
5. **Pose trails and picture adjustments while playing**: the GUI thread's work per frame shown
   (frame, pixels, repaint) with trails off (baseline), on, and with a gamma table; queries
   per frame; real playback at 4x with trails off and on.
4. **Drag to commit**: in the whole window on the generated video, the mouse release that ends
   a keypoint drag (store commit, history step, views refreshed) plus the repaint after it, vs a
   repaint alone. Driven only by mouse events and the "add instance" key, so the same code runs
   against any version of the window.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def wait_until(app: QApplication, cond, timeout_s: float) -> bool:
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        if cond():
            return True
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.001)
    return bool(cond())


class LatencyProbe:
    """A precise 5 ms timer; records how late each tick is (ms)."""

    def __init__(self, interval_ms: int = 5) -> None:
        self.interval = interval_ms / 1000.0
        self.late: list[float] = []
        self._last = 0.0
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last:
            self.late.append(max(0.0, (now - self._last - self.interval) * 1000.0))
        self._last = now

    def run(self, app: QApplication, seconds: float, until=None) -> list[float]:
        self.late = []
        self._last = 0.0
        self.timer.start()
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end and not (until and until()):
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.0005)
        self.timer.stop()
        return self.late


def summary(name: str, late: list[float]) -> str:
    return (f"{name:<34} p50 {pct(late, 50):6.2f} ms  p99 {pct(late, 99):6.2f} ms  "
            f"max {max(late) if late else float('nan'):6.1f} ms  ({len(late)} ticks)")


def pick_model(tmp: Path) -> Path:
    bundled = sorted((ROOT / "models").glob("*.onnx"))
    for m in bundled:
        if "det" not in m.stem.lower() and "yolox" not in m.stem.lower():
            return m
    from tests.support.onnx_heavy import make_heavy_heatmap_model

    # ~1 GMAC per 256x192 crop: the cost of a real small top-down model.
    return make_heavy_heatmap_model(tmp / "bench_heavy_heatmap.onnx", k=17)


def bench_latency(app: QApplication, tmp: Path, video: Path, index: bytes, meta, seconds: float
                  ) -> None:
    from pose_studio.core.skeleton import COCO17
    from pose_studio.gui.workers.inference import InferenceController
    from pose_studio.store.project import Project

    print("\n== event-loop latency (5 ms precise timer) ==")
    probe = LatencyProbe()
    idle = probe.run(app, seconds)
    print(summary("idle (baseline)", idle))

    model = pick_model(tmp)
    proj = Project.create(tmp / "bench.posestudio", COCO17)
    vid = proj.add_video(video, width=meta.width, height=meta.height,
                         frame_count=meta.frame_count, fps=meta.fps, vfr=meta.vfr,
                         codec=meta.codec, duration_s=meta.duration_s, index=index)
    ctl = InferenceController()
    state: dict[str, object] = {}
    ctl.model_loaded.connect(lambda info: state.__setitem__("info", info))
    ctl.failed.connect(lambda msg: state.__setitem__("error", msg))
    ctl.batch_finished.connect(lambda n, c: state.__setitem__("done", (n, c)))
    ctl.progress.connect(lambda d, t, f: state.__setitem__("fps", f))
    written = [0]
    ctl.predictions_written.connect(lambda v: written.__setitem__(0, written[0] + 1))
    try:
        ctl.load_model(model, provider="cpu")
        if not wait_until(app, lambda: "info" in state or "error" in state, 60):
            print("model did not load in 60 s")
            return
        if "error" in state:
            print(f"model failed to load: {state['error']}")
            return
        print(f"model: {model.name} on {', '.join(state['info'].providers)}")  # type: ignore[attr-defined]
        ctl.start_batch(proj, vid, str(video), index, 0, meta.frame_count, batch=4, chunk=16)
        t0 = time.monotonic()
        busy = probe.run(app, max(seconds, 60.0), until=lambda: "done" in state)
        dt = time.monotonic() - t0
        ctl.cancel_batch()
        wait_until(app, lambda: "done" in state, 30)
        n = state.get("done", (0, True))[0]  # type: ignore[index]
        print(summary("during batch inference", busy))
        print(f"batch: {n} frames in {dt:.1f} s ({n / dt:.1f} frames/s), "
              f"{written[0]} commits; error: {state.get('error')}")
        p99 = pct(busy, 99)
        base = max(pct(idle, 99), 0.01)
        verdict = "PASS" if p99 < 50 else "FAIL"
        print(f"p99 under load {p99:.2f} ms vs idle {pct(idle, 99):.2f} ms "
              f"(ratio {p99 / base:.1f}x); target < 50 ms: {verdict}")
    finally:
        ctl.shutdown()
        proj.close()


def bench_playback(app: QApplication, video: Path, index: bytes, seconds: float) -> None:
    from pose_studio.gui.workers.decode import FrameLoader
    from pose_studio.video import open_video

    print("\n== playback ==")
    with open_video(video, index=index) as r:
        n = len(r)
        t0 = time.perf_counter()
        for i in range(n):
            r.get(i)
        raw = n / (time.perf_counter() - t0)
    print(f"raw sequential reader.get (baseline): {raw:8.1f} frames/s over {n} frames")

    loader = FrameLoader(readahead_s=0)
    got: list[tuple[int, float]] = []
    stopped: list[tuple[int, int, int, int]] = []
    opened: list[object] = []
    loader.opened.connect(opened.append)
    loader.frame_ready.connect(lambda req, idx, f: got.append((idx, time.perf_counter())))
    loader.playback_stopped.connect(lambda *a: stopped.append(a))
    try:
        loader.open(str(video), index)
        wait_until(app, lambda: bool(opened), 30)
        # Paced playback at rising rates: shown rate vs asked rate (and the raw ceiling).
        for rate in (30.0, 60.0, 120.0, 240.0, 480.0, 960.0):
            stopped.clear()
            got.clear()
            span = min(seconds, (n - 1) / rate)
            t0 = time.perf_counter()
            loader.play(0, fps=rate)
            wait_until(app, lambda: bool(stopped), span + 0.02)
            loader.stop_playback()
            wait_until(app, lambda: bool(stopped), 5)
            dt = time.perf_counter() - t0
            _, last, shown, dropped = stopped[-1]
            gaps = np.diff([t for _, t in got]) * 1000 if len(got) > 1 else np.zeros(1)
            print(f"play at {rate:5.0f} fps: {shown / dt:6.1f} frames/s shown "
                  f"({shown / dt / min(rate, raw):.2f}x of min(asked, raw)), {dropped:3d} dropped,"
                  f" reached frame {last} ({(last + 1) / dt:6.1f} video frames/s); interval "
                  f"p50 {np.percentile(gaps, 50):5.1f} ms p99 {np.percentile(gaps, 99):5.1f} ms")
    finally:
        loader.shutdown()


def bench_drag(app: QApplication, size: tuple[int, int]) -> None:
    print("\n== keypoint drag repaint ==")
    try:
        from pose_studio.gui.view.frame_view import FrameView
    except ImportError as exc:
        print(f"FrameView not available ({exc}): skipped")
        return
    from pose_studio.core.annotation import Instance
    from pose_studio.core.skeleton import COCO17

    w, h = size
    view = FrameView()
    view.resize(1000, 700)
    view.show()
    frame = np.full((h, w, 3), 90, np.uint8)
    frame.setflags(write=False)
    view.set_frame(frame, 0)
    rng = np.random.default_rng(0)
    xy = np.column_stack([rng.uniform(0.2 * w, 0.8 * w, 17), rng.uniform(0.2 * h, 0.8 * h, 17)])
    inst = Instance(xy=xy, visibility=np.full(17, 2, np.uint8), id=1)
    view.set_instances(COCO17, [inst])
    app.processEvents()
    item = view.instance_items[0]
    kp = item.keypoints[9]
    vp = view.viewport()

    def timed(step) -> list[float]:
        out = []
        for i in range(200):
            t0 = time.perf_counter()
            step(i)
            vp.repaint()
            out.append((time.perf_counter() - t0) * 1000)
        return out

    base = timed(lambda i: None)

    def drag(i: int) -> None:
        pos = QPointF(xy[9, 0] + (i % 40) - 20, xy[9, 1] + (i % 30) - 15)
        kp.setPos(pos)
        item.preview_keypoint(9, pos)

    moved = timed(drag)
    print(f"repaint, no change (baseline):      p50 {pct(base, 50):6.2f} ms  p99 {pct(base, 99):6.2f} ms")
    print(f"drag step (move + limbs + repaint): p50 {pct(moved, 50):6.2f} ms  "
          f"p99 {pct(moved, 99):6.2f} ms  (ratio {pct(moved, 50) / max(pct(base, 50), 1e-6):.2f}x)")
    view.close()


def bench_drag_commit(app: QApplication, tmp: Path, video: Path, n: int = 60) -> None:
    print("\n== drag to commit (whole window, mouse release -> stored + refreshed) ==")
    import shutil

    from PySide6.QtCore import QEvent, QSettings
    from PySide6.QtGui import QMouseEvent

    from pose_studio.gui.main_window import MainWindow
    from pose_studio.gui.settings import Settings

    qs = QSettings(str(tmp / "drag.ini"), QSettings.Format.IniFormat)
    win = MainWindow(Settings(qs), inference_factory=lambda parent: None)
    win.ask_new_project_path = lambda v: tmp / "drag.posestudio"
    # A folder of its own: a window that puts a bare video's project beside it must not take
    # the name the latency section uses.
    (tmp / "drag").mkdir(exist_ok=True)
    video = Path(shutil.copy(video, tmp / "drag" / video.name))
    win.resize(1200, 800)
    win.show()
    view = win.view
    vp = view.viewport()

    def mouse(kind: QEvent.Type, pos: QPointF, buttons: Qt.MouseButton) -> None:
        button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else \
            Qt.MouseButton.NoButton
        ev = QMouseEvent(kind, pos, QPointF(vp.mapToGlobal(pos.toPoint())), button, buttons,
                         Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(vp, ev)

    try:
        win.open_paths([str(video)])
        if not wait_until(app, lambda: view.frame_idx == 0 and not view.approximate, 60):
            print("the video did not open: skipped")
            return
        wait_until(app, lambda: False, 0.3)
        centre = QPointF(vp.width() / 2, vp.height() / 2)
        mouse(QEvent.Type.MouseMove, centre, Qt.MouseButton.NoButton)
        view.setFocus()
        win.actions_by_id["add_instance"].trigger()
        app.processEvents()
        if not view.instance_items:
            print("no instance was added: skipped")
            return
        base, commit = [], []
        for i in range(n):
            item = view.instance_items[0]
            kp = item.keypoints[9]
            start = QPointF(view.mapFromScene(kp.scenePos()))
            end = start + QPointF(3 + i % 5, 2 - i % 3)
            t0 = time.perf_counter()
            vp.repaint()
            base.append((time.perf_counter() - t0) * 1000)
            mouse(QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
            for j in (1, 2, 3):
                mouse(QEvent.Type.MouseMove, start + (end - start) * (j / 3),
                      Qt.MouseButton.LeftButton)
            t0 = time.perf_counter()
            mouse(QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)
            vp.repaint()
            commit.append((time.perf_counter() - t0) * 1000)
            app.processEvents()
        print(f"repaint alone (baseline):        p50 {pct(base, 50):6.2f} ms  "
              f"p99 {pct(base, 99):6.2f} ms")
        print(f"release -> commit + repaint:     p50 {pct(commit, 50):6.2f} ms  "
              f"p99 {pct(commit, 99):6.2f} ms  ({n} drags)")
    finally:
        win.shutdown()
        win.close()


def bench_review_plot(app: QApplication, n: int = 200_000) -> None:
    print("\n== review plot: frame line following playback ==")
    from types import SimpleNamespace

    from pose_studio.gui.widgets.review_plot import ReviewPlot

    rng = np.random.default_rng(0)
    # Noisy scores are the worst case for drawing (every pixel column spans the range).
    mn = np.clip(0.7 + 0.3 * rng.standard_normal(n), 0, 1).astype(np.float32)
    arrays = SimpleNamespace(labeled=rng.random(n) < 0.01, predicted=np.ones(n, bool),
                             min_score=mn, mean_score=mn)
    plot = ReviewPlot()
    plot.resize(1000, 220)
    plot.show()
    t0 = time.perf_counter()
    plot.set_arrays(arrays)
    app.processEvents()
    print(f"set_arrays + first paint, {n} frames: {(time.perf_counter() - t0) * 1000:.1f} ms")
    step, full = [], []
    for i in range(60):
        t0 = time.perf_counter()
        plot.set_current_frame(i * 997 % n)
        app.processEvents()
        step.append((time.perf_counter() - t0) * 1000)
    for _ in range(20):
        t0 = time.perf_counter()
        plot.plot.viewport().repaint()
        full.append((time.perf_counter() - t0) * 1000)
    print(f"full repaint (baseline):   p50 {pct(full, 50):6.2f} ms  p99 {pct(full, 99):6.2f} ms")
    print(f"frame line move + update:  p50 {pct(step, 50):6.2f} ms  p99 {pct(step, 99):6.2f} ms "
          f"(ratio {pct(step, 50) / max(pct(full, 50), 1e-6):.2f}x)")
    plot.close()


def bench_trails(app: QApplication, tmp: Path, video: Path, people: int = 3) -> None:
    """Pose trails and the picture adjustments while playing: the GUI thread's work per frame
    shown, and frames shown by real playback, with each off (baseline) and on."""
    print("\n== playback with pose trails and picture adjustments (whole window) ==")
    import shutil

    from PySide6.QtCore import QSettings

    from pose_studio.app.session import Topic
    from pose_studio.core.annotation import Instance, InstanceKind
    from pose_studio.gui.main_window import MainWindow
    from pose_studio.gui.settings import Settings
    from pose_studio.gui.view.adjust import Adjust, table

    qs = QSettings(str(tmp / "trails.ini"), QSettings.Format.IniFormat)
    win = MainWindow(Settings(qs), inference_factory=lambda parent: None)
    (tmp / "trails").mkdir(exist_ok=True)
    video = Path(shutil.copy(video, tmp / "trails" / video.name))
    win.resize(1200, 800)
    win.show()
    s, view, vp = win.session, win.view, win.view.viewport()
    try:
        win.open_paths([str(video)])
        if not wait_until(app, lambda: view.frame_idx == 0 and not view.approximate, 60):
            print("the video did not open: skipped")
            return
        n = s.frame_count
        rng = np.random.default_rng(0)
        base = rng.uniform(-40, 40, (17, 2))
        items = []
        for f in range(n):
            for p in range(people):
                xy = base + np.array([120 + 150 * p + 0.7 * f, 200 + 10 * np.sin(f / 9 + p)])
                items.append((f, Instance(xy=xy, visibility=np.full(17, 2, np.uint8),
                                          kind=InstanceKind.PREDICTED,
                                          kp_scores=np.full(17, 0.8), score=0.8)))
        proj = s.require()
        run = proj.create_model_run(model_path="bench.onnx", model_hash="x", providers=["CPU"],
                                    params={})
        proj.add_predictions(s.video_id, items, run)
        s.predictions_written(s.video_id)
        frame = np.ascontiguousarray(s.shown.pixels)  # the pixels do not change the cost
        frame.setflags(write=False)
        tr = win.view_tools.trails

        cpu: dict[str, list[float]] = {}

        def per_frame(frames: range, name: str = "") -> list[float]:
            out = []
            for f in frames:
                t0, c0 = time.perf_counter(), time.thread_time()
                s.goto(f)  # what playback does per frame: the frame, its pixels, a repaint
                s.show_pixels(f, frame)
                vp.repaint()
                out.append((time.perf_counter() - t0) * 1000)
                cpu.setdefault(name, []).append((time.thread_time() - c0) * 1000)
            return out

        cases = [("trails off (baseline)", False, 10, None), ("trails on, 10 frames", True, 10, None),
                 ("trails on, 30 frames", True, 30, None),
                 ("trails 10 + gamma 1.8 (LUT)", True, 10, Adjust(gamma=1.8, brightness=10))]
        # Interleaved rounds (the machine is shared: a load that comes and goes hits every
        # case alike); each round steps through 60 frames as playback does (view.fast: no
        # smoothing, no antialiasing).
        view.fast = True
        times: dict[str, list[float]] = {c[0]: [] for c in cases}
        reads = tr.trails.reads
        for r in range(4):
            start = 20 + 60 * r
            for name, on, length, adj in cases:
                tr.set_length(length)
                tr.set_on(on)
                view.set_lut(table(adj) if adj is not None else None)
                times[name].extend(per_frame(range(start, min(n, start + 60)), name))
        view.fast = False
        base_p50 = pct(times[cases[0][0]], 50)
        base_cpu = pct(cpu[cases[0][0]], 50)
        for name, *_ in cases:
            t, c = times[name], cpu[name]
            print(f"{name:<30} per frame p50 {pct(t, 50):6.2f} ms  p99 {pct(t, 99):6.2f} ms  "
                  f"(x{pct(t, 50) / base_p50:.2f}); GUI-thread CPU p50 {pct(c, 50):6.2f} ms "
                  f"(+{pct(c, 50) - base_cpu:.2f})")
        print(f"trail queries: {tr.trails.reads - reads} for {4 * len(cases) * 60} frames shown "
              f"(one per {128} frames read)")
        big = np.zeros((1080, 1920, 3), np.uint8)
        lut = table(Adjust(gamma=1.8))
        from pose_studio.gui.view.adjust import apply

        t = []
        for _ in range(30):
            t0 = time.perf_counter()
            apply(big, lut)
            t.append((time.perf_counter() - t0) * 1000)
        print(f"LUT on a 1080p frame: p50 {pct(t, 50):.2f} ms")
        # real playback: at 1x (the video's rate: trails must not drop frames) and at 4x
        # (faster than the decoder: the ceiling), trails off then on
        for speed in (1.0, 4.0):
            for on in (False, True):
                tr.set_length(10)
                tr.set_on(on)
                view.set_lut(None)
                win.goto(0)
                wait_until(app, lambda: view.frame_idx == 0 and not view.approximate, 10)
                shown: list[int] = []
                unsub = s.subscribe(lambda t, f, shown=shown: shown.append(s.frame_idx)
                                    if Topic.FRAME in t else None)
                win.playback.set_speed(speed)
                t0 = time.perf_counter()
                win.playback.toggle()
                wait_until(app, lambda: not win.playback.playing, 60)
                dt = time.perf_counter() - t0
                unsub()
                print(f"play at {speed:g}x ({s.fps * speed:.0f} fps asked), trails "
                      f"{'on, 10 frames' if on else 'off          '}: {len(shown) / dt:6.1f} "
                      f"frames/s shown, {n - len(shown)} of {n} frames dropped")
    finally:
        win.shutdown()
        win.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="640x480", help="video size WxH (default 640x480)")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds per latency phase")
    ap.add_argument("--only", default="playback,drag,drag_commit,review_plot,trails,latency",
                    help="comma-separated sections to run (default: all)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    w, h = (int(v) for v in args.size.lower().split("x"))
    app = QApplication.instance() or QApplication([])

    from pose_studio.video import open_video
    from tests.support.videos import make_indexed_video

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t0 = time.perf_counter()
        video = make_indexed_video(tmp / "bench.mp4", args.frames, size=(w, h), gop=30,
                                   bframes=2, texture=True)
        with open_video(video) as r:
            meta = r.meta
            index = r.index_bytes()
        print(f"video: {w}x{h}, {args.frames} frames, H.264 GOP 30 "
              f"(made in {time.perf_counter() - t0:.1f} s); cores: {os.cpu_count()}")
        if "playback" in only:
            bench_playback(app, video, index, args.seconds)
        if "drag" in only:
            bench_drag(app, (w, h))
        if "drag_commit" in only:
            bench_drag_commit(app, tmp, video)
        if "review_plot" in only:
            bench_review_plot(app)
        if "trails" in only:
            bench_trails(app, tmp, video)
        if "latency" in only:
            bench_latency(app, tmp, video, index, meta, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
