"""Running a pose model over video frames, and storing the predictions.

Decoding and pre-processing of the next frames run in a producer thread (its own video
reader, a small bounded queue) while the caller's thread runs the model. Top-down crops of all
persons of several frames go into one ``session.run`` when the batch axis allows.

Usable from a Qt worker: :func:`run_video` is a plain generator with a cancel token
(``threading.Event``) and a progress callback; it never touches Qt.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose_studio.core import geometry as geo
from pose_studio.core.annotation import Instance
from pose_studio.inference.errors import InferenceError
from pose_studio.inference.model import CropBatch, DetectorModel, Letterbox, PoseModel
from pose_studio.inference.results import FrameResult, PosePrediction

ReaderFactory = Callable[[], Any]
Progress = Callable[[int, int, float], None]
Boxes = Sequence[Sequence[float]]

_DONE = object()


@dataclass
class _Item:
    idx: int
    frame_size: tuple[int, int]
    frame: np.ndarray | None = None
    tensor: np.ndarray | None = None
    letterbox: Letterbox | None = None
    crops: CropBatch | None = None


def _as_factory(reader_factory: ReaderFactory | str | Path) -> ReaderFactory:
    if isinstance(reader_factory, (str, Path)):
        path = reader_factory

        def factory() -> Any:
            from pose_studio.video import open_video

            return open_video(path)

        return factory
    return reader_factory


def _frame_iter(reader: Any, frames: Sequence[int] | None) -> Iterator[tuple[int, np.ndarray]]:
    """Frames in the requested order; sequential decoding where the list is dense enough."""
    n = len(reader)
    if frames is None:
        yield from reader.iter_frames(0, n)
        return
    wanted = [int(i) for i in frames]
    if not wanted:
        return
    bad = [i for i in wanted if i < 0 or i >= n]
    if bad:
        raise InferenceError(f"frame {bad[0]} is out of range: the video has {n} frames "
                             f"(0..{n - 1})")
    ascending = all(b > a for a, b in itertools.pairwise(wanted))
    span = wanted[-1] - wanted[0] + 1
    if ascending and span <= 16 * len(wanted):
        want = set(wanted)
        for i, frame in reader.iter_frames(wanted[0], wanted[-1] + 1):
            if i in want:
                yield i, frame
        return
    for i in wanted:
        yield i, reader.get(i)


def _boxes_for(boxes: Boxes | Mapping[int, Boxes] | None, idx: int) -> np.ndarray | None:
    if boxes is None:
        return None
    b = boxes.get(idx) if isinstance(boxes, Mapping) else boxes
    if b is None:
        return None
    arr = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    bad = ~((arr[:, 2] > arr[:, 0]) & (arr[:, 3] > arr[:, 1]))
    if bad.any():
        raise InferenceError(f"frame {idx}: box {arr[bad][0].tolist()} is empty "
                             f"(boxes are x1, y1, x2, y2 with x2 > x1 and y2 > y1)")
    return arr


def _to_frame_result(idx: int, preds: Sequence[PosePrediction], frame_size: tuple[int, int],
                     model: PoseModel, keep_maps: bool) -> FrameResult:
    """Predictions -> stored instances: people under the model's score threshold dropped
    (BlazePose's "no person in this crop"), keypoints outside the frame not visible."""
    keep = [p for p in preds if p.score >= model.score_threshold] if model.top_down else \
        list(preds)
    insts = tuple(p.to_instance(model.keypoint_threshold, frame_size) for p in keep)
    maps = tuple(p.maps if keep_maps else None for p in keep)
    return FrameResult(idx, insts, maps, frame_size)


def predict_frame(
    frame: np.ndarray,
    pose_model: PoseModel,
    detector: DetectorModel | None = None,
    boxes: Boxes | None = None,
    *,
    frame_idx: int = 0,
    keep_maps: bool = True,
) -> FrameResult:
    """Predict one BGR frame: one-stage models see the frame; top-down models use the given
    ``boxes`` (x1, y1, x2, y2), else the detector's persons, else the whole frame."""
    size = (int(frame.shape[1]), int(frame.shape[0]))
    if not pose_model.top_down:
        preds = pose_model.predict_image(frame)
    else:
        b = _boxes_for(boxes, frame_idx)
        scores = None
        if b is None and detector is not None:
            b, scores = detector.detect(frame)
        preds = pose_model.predict_crops(frame, b, scores, keep_maps=keep_maps) \
            if b is None or len(b) else []
    return _to_frame_result(frame_idx, preds, size, pose_model, keep_maps)


class _Producer:
    """Decode + pre-process in a thread, hand items over a bounded queue."""

    def __init__(self, factory: ReaderFactory, frames: Sequence[int] | None,
                 prepare: Callable[[int, np.ndarray], _Item], size: int) -> None:
        self.q: queue.Queue[Any] = queue.Queue(maxsize=max(1, size))
        self.stop = threading.Event()
        self.total: int | None = None if frames is None else len(frames)
        self._factory, self._frames, self._prepare = factory, frames, prepare
        self.thread = threading.Thread(target=self._run, name="pose-producer", daemon=True)

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        reader = None
        try:
            reader = self._factory()
            self._put(("len", len(reader)))
            for idx, frame in _frame_iter(reader, self._frames):
                if self.stop.is_set():
                    break
                if not self._put(self._prepare(idx, frame)):
                    break
        except BaseException as exc:  # handed to the consumer thread
            self._put(("error", exc))
        finally:
            if reader is not None and hasattr(reader, "close"):
                with contextlib.suppress(Exception):  # closing is best effort
                    reader.close()
            self._put(_DONE)

    def start(self) -> None:
        self.thread.start()

    def get(self, block: bool = True) -> Any:
        """The next item; None when not blocking and nothing is ready."""
        if block:
            return self.q.get()
        try:
            return self.q.get_nowait()
        except queue.Empty:
            return None

    def shutdown(self) -> None:
        self.stop.set()
        while self.thread.is_alive():
            try:
                while True:
                    self.q.get_nowait()
            except queue.Empty:
                pass
            self.thread.join(timeout=0.05)


def run_video(
    reader_factory: ReaderFactory | str | Path,
    pose_model: PoseModel,
    *,
    detector: DetectorModel | None = None,
    frames: Sequence[int] | None = None,
    batch: int = 8,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    boxes: Boxes | Mapping[int, Boxes] | None = None,
    track: bool = False,
    redetect_every: int = 0,
    min_track_score: float = 0.3,
    keep_maps: bool = True,
    max_crops_per_run: int = 32,
    queue_size: int | None = None,
) -> Generator[FrameResult, None, None]:
    """Predict frames of a video; yields one :class:`FrameResult` per requested frame, in order.

    Args:
        reader_factory: Callable returning a new ``VideoReader`` (called in the producer
            thread: one reader per thread), or a video path.
        pose_model: From :func:`load_model`.
        detector: Person detector for top-down models.
        frames: Frame indices (any order); None for all frames.
        batch: Most frames processed together (their crops share one ``session.run``);
            frames already decoded are taken without waiting for a full batch.
        cancel: Set it to stop early; the generator then ends without an error.
        progress: ``progress(done, total, frames_per_second)`` after each frame.
        boxes: Top-down without a detector: xyxy boxes for every frame, or ``{frame: boxes}``;
            None uses the whole frame.
        track: Top-down: crop each frame at the box of the previous frame's keypoints;
            re-detect (or fall back to ``boxes``/whole frame) every ``redetect_every`` frames
            (0: never on schedule) and whenever a person's score drops below
            ``min_track_score``.
        keep_maps: Keep heatmaps/SimCC vectors with each result (for the overlay).
        max_crops_per_run: Cap of one run's batch when the batch axis is dynamic.
        queue_size: Producer queue length (default ``2 * batch``).

    Raises:
        PoseStudioError: reader problems (``VideoError``), bad frame numbers, model failures.
    """
    factory = _as_factory(reader_factory)
    batch = max(1, int(batch))
    frames = list(frames) if frames is not None else None
    one_stage = not pose_model.top_down
    tracking = bool(track) and not one_stage

    def prepare(idx: int, frame: np.ndarray) -> _Item:
        size = (int(frame.shape[1]), int(frame.shape[0]))
        if one_stage:
            x, lb = pose_model.prepare_image(frame)
            return _Item(idx, size, tensor=x, letterbox=lb)
        if tracking:
            return _Item(idx, size, frame=frame)
        if detector is not None:
            x, lb = detector.prepare(frame)
            return _Item(idx, size, frame=frame, tensor=x, letterbox=lb)
        return _Item(idx, size, crops=pose_model.prepare_crops(frame, _boxes_for(boxes, idx)))

    prod = _Producer(factory, frames, prepare, queue_size or 2 * batch)
    prod.start()
    t0 = time.perf_counter()
    done = 0
    total = prod.total or 0
    tracker = _Tracker(pose_model, detector, boxes, redetect_every, min_track_score) \
        if tracking else None

    def report(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            dt = time.perf_counter() - t0
            progress(done, total, done / dt if dt > 0 else 0.0)

    try:
        finished = False
        pending_error: BaseException | None = None
        while not finished:
            if cancel is not None and cancel.is_set():
                return
            group: list[_Item] = []
            while len(group) < (1 if tracking else batch):
                # block for the first frame only, then take what is ready: batches grow by
                # themselves when the model is the bottleneck, latency stays low otherwise
                item = prod.get(block=not group)
                if item is None:
                    break
                if item is _DONE:
                    finished = True
                    break
                if isinstance(item, tuple):
                    if item[0] == "error":  # finish the frames before it, then raise
                        pending_error = item[1]
                        finished = True
                        break
                    if item[0] == "len" and prod.total is None:
                        total = int(item[1])
                    continue
                group.append(item)
            if not group:
                if pending_error is not None:
                    raise pending_error
                break
            if tracker is not None:
                results = [tracker.step(group[0], keep_maps)]
            elif one_stage:
                outs = pose_model.infer_images(np.concatenate([it.tensor for it in group]),
                                               max_crops_per_run)
                results = []
                for it, o in zip(group, outs):
                    assert it.letterbox is not None
                    preds1 = pose_model.decode_image(o, it.letterbox)
                    results.append(_to_frame_result(it.idx, preds1, it.frame_size,
                                                    pose_model, keep_maps))
            else:
                if detector is not None:
                    dets = detector.infer(np.concatenate([it.tensor for it in group]))
                    for it, d in zip(group, dets):
                        assert it.frame is not None and it.letterbox is not None
                        b, s = detector.decode(d, it.letterbox)
                        it.crops = pose_model.prepare_crops(it.frame, b, s)
                        it.frame = None
                crops = [it.crops for it in group]
                allc = CropBatch.concat(crops)  # type: ignore[arg-type]
                preds = pose_model.decode_crops(
                    pose_model.infer_crops(allc.tensor, max_crops_per_run), allc, keep_maps)
                results, pos = [], 0
                for it, c in zip(group, crops):
                    n = len(c)  # type: ignore[arg-type]
                    results.append(_to_frame_result(it.idx, preds[pos:pos + n],
                                                    it.frame_size, pose_model, keep_maps))
                    pos += n
            for r in results:
                yield r
                report(1)
                if cancel is not None and cancel.is_set():
                    return
        if pending_error is not None:
            raise pending_error
    finally:
        prod.shutdown()


class _Tracker:
    """Top-down without per-frame detection: crop at the previous keypoints' boxes."""

    def __init__(self, model: PoseModel, detector: DetectorModel | None,
                 boxes: Boxes | Mapping[int, Boxes] | None, every: int, min_score: float) -> None:
        self.model, self.detector, self.boxes = model, detector, boxes
        self.every, self.min_score = int(every), float(min_score)
        self.prev: np.ndarray | None = None
        self.since = 0

    def _fresh_boxes(self, it: _Item) -> tuple[np.ndarray | None, np.ndarray | None]:
        assert it.frame is not None
        if self.detector is not None:
            return self.detector.detect(it.frame)
        return _boxes_for(self.boxes, it.idx), None

    def step(self, it: _Item, keep_maps: bool) -> FrameResult:
        assert it.frame is not None
        due = self.prev is None or len(self.prev) == 0 or \
            (self.every > 0 and self.since >= self.every)
        if due:
            b, s = self._fresh_boxes(it)
            self.since = 0
        else:
            b, s = self.prev, None
        self.since += 1
        preds = self.model.predict_crops(it.frame, b, s, keep_maps=keep_maps) \
            if b is None or len(b) else []
        nxt = []
        w, h = it.frame_size
        for p in preds:
            if p.score < self.min_score:
                continue
            good = np.isfinite(p.xy).all(axis=1) & (p.scores >= self.model.keypoint_threshold)
            if good.sum() < 2:
                continue
            kb = geo.keypoints_box(p.xy, good)
            assert kb is not None
            c = (kb[:2] + kb[2:]) / 2
            half = np.maximum((kb[2:] - kb[:2]) * 0.6, 8.0)  # keypoints sit inside the body
            box = np.clip(np.concatenate([c - half, c + half]), 0, [w, h, w, h])
            if box[2] - box[0] > 2 and box[3] - box[1] > 2:
                nxt.append(box)
        self.prev = np.asarray(nxt).reshape(-1, 4) if len(nxt) == len(preds) and nxt else None
        it.frame = None
        return _to_frame_result(it.idx, preds, it.frame_size, self.model, keep_maps)


def create_model_run(project: Any, pose_model: PoseModel, detector: DetectorModel | None = None,
                     **extra: Any) -> int:
    """Record the model run (file hash, providers ORT registered, settings) in the project."""
    params: dict[str, Any] = {"pose": pose_model.params(), **extra}
    if detector is not None:
        params["detector"] = {**detector.params(), "path": str(detector.path),
                              "sha256": detector.model_hash, "providers": detector.providers}
    if pose_model.warnings:
        params["warnings"] = list(pose_model.warnings)
    return int(project.create_model_run(model_path=str(pose_model.path),
                                        model_hash=pose_model.model_hash,
                                        providers=pose_model.providers, params=params))


def stream_to_project(
    project: Any,
    video_id: int,
    results: Iterable[FrameResult],
    model_run_id: int | None,
    batch: int = 64,
    *,
    on_written: Callable[[int], None] | None = None,
) -> int:
    """Write predicted instances into the project, ``batch`` frames per transaction.

    The predictions are the model run's own: other runs' predictions on the same frames stay
    (runs are kept side by side, so labels accepted from them keep their link). A frame this
    run already predicted gets the new result; a frame whose new result is empty loses this
    run's older predictions. Whatever was yielded before a cancel or an error is written (the
    last partial batch included).

    Returns:
        The number of frames written.
    """
    items: list[tuple[int, Instance]] = []
    empty: list[int] = []
    frames_in_batch = 0
    written = 0

    def flush() -> None:
        nonlocal items, empty, frames_in_batch, written
        if items:
            project.add_predictions(video_id, items, model_run_id, replace=True)
        if empty:
            project.delete_predictions(video_id, empty, run=model_run_id)
        written += frames_in_batch
        if on_written is not None and frames_in_batch:
            on_written(written)
        items, empty, frames_in_batch = [], [], 0

    try:
        for r in results:
            if r.instances:
                items.extend((r.frame_idx, inst.replace(model_run_id=model_run_id))
                             for inst in r.instances)
            else:
                empty.append(r.frame_idx)
            frames_in_batch += 1
            if frames_in_batch >= batch:
                flush()
    except BaseException:
        # the results stopped (model/reader error, KeyboardInterrupt): keep what was done,
        # unless writing itself is what failed
        if frames_in_batch:
            with contextlib.suppress(Exception):
                flush()
        raise
    flush()
    return written
