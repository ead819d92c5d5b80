"""The inference lane: one thread that owns the ONNX models, for live and batch inference.

Usage (GUI thread)::

    ctl = InferenceController(parent=window)
    ctl.model_loaded.connect(panel.show_model)      # (ModelInfo)
    ctl.failed.connect(show_error)                  # (message)
    ctl.load_model(pose_path, detector_path=None, provider="auto")
    req = ctl.infer_frame(frame_idx, frame)         # live: newest wins
    ctl.result_ready.connect(on_result)             # (req_id, frame_idx, FrameResult)
    ctl.start_batch(project, video_id, video_path, index_blob, start, stop)
    ctl.progress.connect(panel.set_progress)        # (done, total, frames_per_s), <= 10 Hz
    ctl.predictions_written.connect(refresh_timeline)   # (video_id) after each committed chunk
    ctl.batch_finished.connect(on_done)             # (n_frames, cancelled)
    ctl.cancel_batch()                              # or cancel_batch(wait_ms=5000) before
                                                    # closing the project: returns when stopped
    ctl.shutdown()                                  # closeEvent; safe twice

Signals (delivered on the GUI thread):

* ``model_loaded(object)``: a frozen :class:`ModelInfo` (family, keypoint names, skeleton,
  input size, the ORT providers actually registered, warnings such as "CUDA requested, running
  on CPU").
* ``result_ready(int, int, object)``: ``(req_id, frame_idx, FrameResult)`` for
  :meth:`InferenceController.infer_frame`. Only the newest request's result is delivered:
  results of older requests (or of a model replaced since) are dropped.
* ``progress(int, int, float)``: ``(done, total, frames_per_second)`` during a batch, at most
  about ten times a second plus once at the end (for a progress bar / the status bar).
* ``predictions_written(int)``: ``video_id`` after each chunk of batch predictions is committed
  to the project (the session refreshes what shows them).
* ``batch_finished(int, bool)``: ``(n_frames_written, cancelled)``; always sent once per batch,
  also after an error (then preceded by ``failed`` and ``cancelled`` is True).
* ``busy_changed(bool)``: a batch started / ended.
* ``failed(str)``: a user-readable message (model cannot be loaded, no model, batch error).

Threading: the worker QObject lives on its own QThread; the ORT sessions are created, used and
released there. Commands cross through a ``threading.Condition``; live requests keep only the
newest. A batch runs ``run_video`` in the worker with its own video reader, checks a
``threading.Event`` for cancel between frames, and serves live requests between chunks so
"Run on frame (live)" keeps working during a long batch. Frames that were finished before a
cancel stay in the project. Only frozen results and read-only arrays cross the thread.

The batch writes through the window's open :class:`~pose_studio.store.project.Project` (its
bulk prediction methods use a per-thread connection), because a project admits one writer per
process, and only through :mod:`pose_studio.app.predictions` (the one route for predictions:
one run record, the same keep rules and the same "people on a frame" rule as live inference).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from pose_studio.app import predictions as preds
from pose_studio.app.predictions import ModelInfo
from pose_studio.core.errors import PoseStudioError

log = logging.getLogger(__name__)

_LINGERING: list[tuple[QThread, QObject]] = []
PROGRESS_INTERVAL_S = 0.1
DEFAULT_CHUNK = 32  # frames per committed chunk (and per predictions_written)


@dataclass(frozen=True)
class BatchJob:
    project: Any  # an open Project, or a path to open
    video_id: int
    video_path: str
    index_blob: bytes | None
    start: int
    stop: int
    batch: int = 8
    chunk: int = DEFAULT_CHUNK
    params: dict[str, Any] = field(default_factory=dict)


def _default_api() -> Any:
    """:mod:`pose_studio.inference` (``load_model``, ``predict_frame``, ``run_video``)."""
    import pose_studio.inference as api

    return api


def _default_open_video(path: str, index: bytes | None) -> Any:
    from pose_studio.video import open_video

    return open_video(path, index=index)


def _model_hash(pose: Any, path: str) -> str:
    """The engine's hash of the model (file + external data); a plain file hash for stand-ins."""
    value = getattr(pose, "model_hash", None)
    if isinstance(value, str):
        return value
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return ""
    return h.hexdigest()


def _message(exc: BaseException, what: str) -> str:
    if isinstance(exc, PoseStudioError):
        return str(exc)
    return f"{what}: {type(exc).__name__}: {exc}"


class _State:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.stop = False
        self.load: tuple[int, str, str | None, str] | None = None
        self.infer: tuple[int, int, np.ndarray, Any] | None = None
        self.batch: BatchJob | None = None
        self.cancel = threading.Event()
        self.idle = threading.Event()  # no batch running (set by the worker when one ends)
        self.idle.set()


class _InferenceWorker(QObject):
    loaded = Signal(int, object)
    result = Signal(int, int, object)
    progress = Signal(int, int, float)
    written = Signal(int)
    finished = Signal(int, bool)
    busy = Signal(bool)
    failed = Signal(str)

    def __init__(self, state: _State, api: Any, open_video: Callable[[str, bytes | None], Any]
                 ) -> None:
        super().__init__()
        self._s = state
        self._api_arg = api
        self._api: Any = None
        self._open_video = open_video
        self._pose: Any = None
        self._det: Any = None
        self._info: ModelInfo | None = None

    def _get_api(self) -> Any:
        if self._api is None:
            self._api = self._api_arg if self._api_arg is not None else _default_api()
        return self._api

    # --- loop --------------------------------------------------------------------------------
    def run(self) -> None:
        s = self._s
        try:
            while True:
                with s.cond:
                    while not (s.stop or s.load or s.infer or s.batch):
                        s.cond.wait()
                    if s.stop:
                        break
                    load, s.load = s.load, None
                    batch = None
                    if load is None:
                        batch, s.batch = s.batch, None
                if load is not None:
                    self._load(*load)
                elif batch is not None:
                    self._run_batch(batch)
                else:
                    self._serve_live()
        except Exception:
            log.exception("inference worker crashed")
            self.failed.emit("the inference worker stopped after an internal error (see the log)")
        finally:
            self._pose = self._det = None  # release the ORT sessions in this thread
            QThread.currentThread().quit()

    def _serve_live(self) -> None:
        with self._s.cond:
            job, self._s.infer = self._s.infer, None
        if job is None:
            return
        req_id, frame_idx, frame, boxes = job
        if self._pose is None:
            self.failed.emit("no pose model is loaded: choose one in the Model panel")
            return
        try:
            res = self._get_api().predict_frame(frame, self._pose, detector=self._det,
                                                boxes=boxes, frame_idx=frame_idx)
        except Exception as exc:
            if not isinstance(exc, PoseStudioError):
                log.exception("live inference on frame %d failed", frame_idx)
            self.failed.emit(_message(exc, f"inference on frame {frame_idx} failed"))
            return
        self.result.emit(req_id, frame_idx, res)

    # --- model -------------------------------------------------------------------------------
    def _load(self, gen: int, pose_path: str, det_path: str | None, provider: str) -> None:
        try:
            api = self._get_api()
            pose = api.load_model(pose_path, provider=provider, expect="pose")
            if not hasattr(pose, "keypoint_names"):
                raise PoseStudioError(
                    f"{pose_path} is a person detector, not a pose model: choose it as the "
                    "detector and pick a pose model"
                )
            det = None
            if det_path:
                det = api.load_model(det_path, provider=provider, expect="detector")
                if hasattr(det, "keypoint_names") and getattr(det, "top_down", True):
                    raise PoseStudioError(f"{det_path} is a pose model, not a person detector")
        except Exception as exc:
            if not isinstance(exc, PoseStudioError):
                log.exception("loading %s failed", pose_path)
            self.failed.emit(_message(exc, f"cannot load model {pose_path}"))
            return
        self._pose, self._det = pose, det
        info = _model_info(pose, det, pose_path, det_path, provider)
        self._info = info
        self.loaded.emit(gen, info)

    # --- batch -------------------------------------------------------------------------------
    def _run_batch(self, job: BatchJob) -> None:
        s = self._s
        done = 0
        cancelled = False
        own_project = None
        self.busy.emit(True)
        try:
            if self._pose is None:
                raise PoseStudioError("no pose model is loaded: choose one in the Model panel")
            api = self._get_api()
            project = job.project
            if isinstance(project, (str, Path)):
                from pose_studio.store.project import Project

                own_project = project = Project.open(project)
            start, stop = int(job.start), int(job.stop)
            total = max(0, stop - start)
            info = self._info
            assert info is not None
            run_id = preds.record_run(project, info, mode="batch", frames=[start, stop],
                                      **job.params)

            def reader_factory() -> Any:
                return self._open_video(job.video_path, job.index_blob)

            kw: dict[str, Any] = {}
            if info.needs_boxes:
                # No detector: crop the people already on each frame (labels, predictions no
                # label stands for), so a re-run refines them instead of one whole-frame pose.
                known = preds.people_boxes(project, job.video_id, start, stop, s.cancel.is_set)
                if known:
                    kw["boxes"] = known
            results = api.run_video(reader_factory, self._pose, detector=self._det,
                                    frames=range(start, stop), batch=job.batch, cancel=s.cancel,
                                    **kw)
            t0 = time.monotonic()
            last_emit = 0.0
            for chunk in _chunks(results, job.chunk, s.cancel):
                n, _dropped = preds.write_results(project, job.video_id, chunk, run_id,
                                                  info.keypoints)
                done += n
                self.written.emit(job.video_id)
                now = time.monotonic()
                if now - last_emit >= PROGRESS_INTERVAL_S:
                    last_emit = now
                    self.progress.emit(done, total, done / max(now - t0, 1e-6))
                if s.cancel.is_set():
                    break
                self._serve_live()  # keep "live" responsive during a long batch
            cancelled = s.cancel.is_set()
            now = time.monotonic()
            self.progress.emit(done, total, done / max(now - t0, 1e-6))
        except Exception as exc:
            if not isinstance(exc, PoseStudioError):
                log.exception("batch inference failed")
            self.failed.emit(_message(exc, "batch inference failed"))
            cancelled = True
        finally:
            if own_project is not None:
                try:
                    own_project.close()
                except Exception:
                    log.exception("closing the batch project failed")
            s.cancel.clear()
            s.idle.set()
            self.finished.emit(done, cancelled)
            self.busy.emit(False)


def _chunks(results: Iterable[Any], size: int, cancel: threading.Event) -> Iterator[list[Any]]:
    """Group results; a cancel flushes what is finished (it is kept) and stops."""
    buf: list[Any] = []
    for r in results:
        buf.append(r)
        if len(buf) >= size or cancel.is_set():
            yield buf
            buf = []
            if cancel.is_set():
                return
    if buf:
        yield buf


def _model_info(pose: Any, det: Any, pose_path: str, det_path: str | None,
                provider: str) -> ModelInfo:
    providers = tuple(str(p) for p in getattr(pose, "providers", ()) or ())
    warnings = [str(w) for w in getattr(pose, "warnings", ()) or ()]
    if det is not None:
        warnings += [str(w) for w in getattr(det, "warnings", ()) or ()]
    want = provider.lower()
    if want not in ("auto", "cpu") and providers and not any(want in p.lower() for p in providers):
        warnings.append(f"{provider} was requested but is not available: running on "
                        f"{', '.join(providers)}")
    if want == "auto" and providers and all("cpu" in p.lower() for p in providers):
        warnings.append("no GPU provider here: running on the CPU")
    size = getattr(pose, "input_size", None)
    top_down = bool(getattr(pose, "top_down", True))
    if top_down and det is None:
        warnings.append(preds.NO_DETECTOR_WARNING)
    params_fn = getattr(pose, "params", None)
    params = params_fn() if callable(params_fn) else {}
    return ModelInfo(
        pose_path=str(pose_path),
        detector_path=str(det_path) if det_path else None,
        family=str(getattr(pose, "family", "unknown")),
        keypoints=tuple(getattr(pose, "keypoint_names", ()) or ()),
        skeleton=getattr(pose, "skeleton", None),
        input_size=tuple(int(v) for v in size) if size is not None else None,  # type: ignore[arg-type]
        providers=providers,
        warnings=tuple(dict.fromkeys(warnings)),
        requested_provider=provider,
        model_hash=_model_hash(pose, pose_path),
        top_down=top_down,
        params=dict(params) if isinstance(params, dict) else {},
    )


class InferenceController(QObject):
    """Owns the inference thread; see the module docstring for signals and semantics.

    Args:
        parent: Usual QObject parent.
        api: Object with ``load_model(path, provider=, expect=)``, ``predict_frame(frame, model,
            detector=, boxes=, frame_idx=)`` and ``run_video(reader_factory, model, detector=,
            frames=, batch=, cancel=, boxes=)`` (default :mod:`pose_studio.inference`); tests
            pass fakes that implement the same calls.
        open_video: ``(path, index_blob) -> VideoReader`` for batches (default ``open_video``).
    """

    model_loaded = Signal(object)
    result_ready = Signal(int, int, object)
    progress = Signal(int, int, float)
    predictions_written = Signal(int)
    batch_finished = Signal(int, bool)
    busy_changed = Signal(bool)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None, *, api: Any = None,
                 open_video: Callable[[str, bytes | None], Any] | None = None) -> None:
        super().__init__(parent)
        self._state = _State()
        self._req = 0
        self._model_gen = 0
        self._busy = False
        self._info: ModelInfo | None = None
        self._thread: QThread | None = QThread()
        self._thread.setObjectName("pose-studio-inference")
        self._worker: _InferenceWorker | None = _InferenceWorker(
            self._state, api, open_video or _default_open_video
        )
        w = self._worker
        w.moveToThread(self._thread)
        w.loaded.connect(self._on_loaded)
        w.result.connect(self._on_result)
        w.progress.connect(self.progress)
        w.written.connect(self.predictions_written)
        w.finished.connect(self._on_finished)
        w.busy.connect(self._on_busy)
        w.failed.connect(self.failed)
        self._thread.started.connect(w.run)
        self._thread.start()

    # --- state -------------------------------------------------------------------------------
    @property
    def model_info(self) -> ModelInfo | None:
        return self._info

    @property
    def batch_running(self) -> bool:
        return self._busy

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    # --- commands (GUI thread) ---------------------------------------------------------------
    def load_model(self, pose_path: str | Path, detector_path: str | Path | None = None,
                   provider: str = "auto") -> None:
        """Load (replace) the models in the worker; answers ``model_loaded`` or ``failed``."""
        self._model_gen += 1
        self._req += 1  # live results of the previous model are now stale
        with self._state.cond:
            self._state.load = (self._model_gen, str(pose_path),
                                str(detector_path) if detector_path else None, provider)
            self._state.infer = None
            self._state.cond.notify_all()

    def infer_frame(self, frame_idx: int, frame: np.ndarray, boxes: Any = None) -> int:
        """Run the model on one frame (newest request wins). Returns its request id.

        ``frame`` is made read-only (copied if it is writable) before it crosses the thread.
        """
        if frame.flags.writeable:
            frame = frame.copy()
            frame.setflags(write=False)
        if boxes is not None:
            boxes = np.array(boxes, dtype=np.float64, copy=True)
            boxes.setflags(write=False)
        self._req += 1
        with self._state.cond:
            self._state.infer = (self._req, int(frame_idx), frame, boxes)
            self._state.cond.notify_all()
        return self._req

    def start_batch(self, project: Any, video_id: int, video_path: str | Path,
                    index_blob: bytes | None, start: int, stop: int, *, batch: int = 8,
                    chunk: int = DEFAULT_CHUNK) -> bool:
        """Start batch inference over frames ``[start, stop)``; False if one is running."""
        if self._busy:
            self.failed.emit("batch inference is already running: cancel it first")
            return False
        self._busy = True
        self._state.cancel.clear()
        self._state.idle.clear()
        job = BatchJob(project, int(video_id), str(video_path), index_blob, int(start),
                       int(stop), int(batch), max(1, int(chunk)))
        with self._state.cond:
            self._state.batch = job
            self._state.cond.notify_all()
        return True

    def cancel_batch(self, wait_ms: int = 0) -> bool:
        """Ask the running batch to stop; frames already finished are kept.

        With ``wait_ms`` > 0, block until the worker has stopped writing (at most one chunk;
        use it before closing the project). Returns True when no batch is running any more.
        """
        if self._busy:
            self._state.cancel.set()
        if wait_ms > 0:
            return self._state.idle.wait(wait_ms / 1000.0)
        return self._state.idle.is_set()

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Cancel, stop and join the worker. Safe to call twice."""
        thread, worker = self._thread, self._worker
        if thread is None:
            return
        self._thread = self._worker = None
        self._state.cancel.set()
        with self._state.cond:
            self._state.stop = True
            self._state.cond.notify_all()
        thread.quit()
        if not thread.wait(timeout_ms):
            log.warning("inference thread did not stop within %d ms", timeout_ms)
            assert worker is not None
            _LINGERING.append((thread, worker))

    # --- from the worker (GUI thread) --------------------------------------------------------
    def _on_loaded(self, gen: int, info: object) -> None:
        if gen != self._model_gen or self._thread is None:
            return
        assert isinstance(info, ModelInfo)
        self._info = info
        self.model_loaded.emit(info)

    def _on_result(self, req_id: int, frame_idx: int, result: object) -> None:
        if req_id != self._req or self._thread is None:
            return  # a newer request (or model) exists: this result is stale
        self.result_ready.emit(req_id, frame_idx, result)

    def _on_finished(self, n: int, cancelled: bool) -> None:
        self._busy = False
        self.batch_finished.emit(n, cancelled)

    def _on_busy(self, busy: bool) -> None:
        if not busy:
            self._busy = False
        self.busy_changed.emit(busy)
