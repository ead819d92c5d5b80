"""Batch inference on a Ray cluster: videos, and chunks of long videos, fanned out to workers.

Ray does the scheduling, the retries and the cluster; this module only cuts the work and
writes it. Each worker is a Ray actor with its own ONNX Runtime session (a GPU each where the
cluster has them: ``num_gpus=1`` per actor), loaded once and reused for every chunk it gets.

Exactly once: a chunk's predictions are written in one transaction that also claims
``(run, video, first frame)`` in ``run_chunks`` (``Project.add_prediction_chunk``). A worker
that died after its chunk was written, and was retried by Ray, finds the chunk claimed and
writes nothing. On a server each worker writes its own chunks (several writers at once); a
project file has one writer, so workers send their predictions back and the driver writes.

Chunks start on multiples of the batch size, so every model call sees the same frames as in
the sequential loop (the results are the same). With ``track`` a video is one chunk: tracking
follows the previous frame.

``ray`` is imported lazily (an optional extra: ``pip install "pose-studio[cluster]"``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pose_studio.core.errors import PoseStudioError

__all__ = ["INSTALL_HINT", "Chunk", "ClusterError", "InferJob", "plan_chunks", "require_ray",
           "run_on_ray"]

INSTALL_HINT = ('--ray needs Ray: pip install "pose-studio[cluster]" (or pip install ray), '
                "then start a cluster with 'ray start --head' or leave ADDRESS out for a local one")


class ClusterError(PoseStudioError):
    """Ray is missing, the cluster cannot be reached, or a chunk failed (one line)."""


@dataclass(frozen=True)
class InferJob:
    """What every worker loads and how it runs (plain values: it travels to the workers)."""

    model: str
    detector: str | None = None
    provider: str = "auto"
    device_id: int = 0
    threads: int = 1
    batch: int = 8
    track: bool = False
    redetect_every: int = 0
    mapping: np.ndarray | None = None  # model keypoints -> project keypoints (by name)
    fill: np.ndarray | None = None     # project keypoints <- model keypoints (-1: none)
    project: str | None = None         # a server URL: workers write there themselves


@dataclass(frozen=True)
class Chunk:
    video_id: int
    run_id: int
    path: str
    index: bytes | None
    first: int
    stop: int

    @property
    def frames(self) -> int:
        return self.stop - self.first


@dataclass
class Progress:
    """Per video: frames done of how many (the driver's view)."""

    total: dict[int, int] = field(default_factory=dict)
    done: dict[int, int] = field(default_factory=dict)
    instances: dict[int, int] = field(default_factory=dict)


def plan_chunks(videos: Sequence[tuple[int, int, str, bytes | None, int, int]],
                chunk_frames: int, batch: int, track: bool) -> list[Chunk]:
    """Cut ``(video_id, run_id, path, index, first, stop)`` into chunks of about
    ``chunk_frames`` frames (a multiple of ``batch``; whole videos with ``track``), longest
    videos first so the last chunks to finish are short ones."""
    size = max(batch, -(-max(1, chunk_frames) // batch) * batch)
    out: list[Chunk] = []
    for vid, run, path, index, a, b in sorted(videos, key=lambda v: v[4] - v[5]):
        step = (b - a) if track else size
        for f in range(a, b, max(step, 1)):
            out.append(Chunk(vid, run, path, index, f, min(b, f + step)))
    return out


def _predict(job: InferJob, models: tuple[Any, Any], chunk: Chunk) -> list[tuple[int, Any]]:
    """The chunk's ``(frame, instance)`` predictions (mapped to the project's keypoints)."""
    from pose_studio.inference.keypoint_map import fill_result, remap_result
    from pose_studio.inference.pipeline import run_video
    from pose_studio.video import open_video

    pose, det = models

    def factory() -> Any:
        return open_video(chunk.path, index=chunk.index)

    items: list[tuple[int, Any]] = []
    for r in run_video(factory, pose, detector=det, frames=range(chunk.first, chunk.stop),
                       batch=job.batch, track=job.track, redetect_every=job.redetect_every,
                       keep_maps=False):
        if job.mapping is not None:
            r = remap_result(r, job.mapping)
        elif job.fill is not None:
            r = fill_result(r, job.fill)
        items.extend((r.frame_idx, inst.replace(model_run_id=chunk.run_id))
                     for inst in r.instances)
    return items


class Worker:
    """One Ray actor: its own model session(s), loaded once (see the module docstring)."""

    def __init__(self, job: InferJob) -> None:
        from pose_studio.inference import load_model

        self.job = job
        pose = load_model(job.model, provider=job.provider, device_id=job.device_id,
                          threads=job.threads, expect="pose")
        det = None if job.detector is None else load_model(
            job.detector, provider=job.provider, device_id=job.device_id,
            threads=job.threads, expect="detector")
        self.models = (pose, det)
        self.project: Any = None
        if job.project is not None:
            from pose_studio.store import Project

            self.project = Project.open(job.project)

    def run(self, chunk: Chunk) -> tuple[Chunk, Any]:
        """``(chunk, n_instances or None)`` when the worker wrote it (a server; None: written
        before), else ``(chunk, predictions)`` for the driver to write."""
        items = _predict(self.job, self.models, chunk)
        if self.project is None:
            return chunk, items
        return chunk, self.project.add_prediction_chunk(
            chunk.video_id, chunk.first, chunk.stop, items, chunk.run_id)


def require_ray() -> Any:
    """The ``ray`` module, or :class:`ClusterError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ClusterError(INSTALL_HINT) from None
    return ray


def _connect(ray: Any, address: str | None, workers: int | None) -> None:
    if ray.is_initialized():
        return
    try:
        if address:
            ray.init(address=address, logging_level="WARNING", log_to_driver=False)
        else:  # a local cluster for this command (no dashboard: nothing listens outside)
            ray.init(num_cpus=workers, include_dashboard=False, logging_level="WARNING",
                     log_to_driver=False)
    except Exception as e:  # Ray raises several kinds: one line with its words
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ClusterError(f"cannot start or reach the Ray cluster {address or '(local)'}: "
                           f"{text}") from None


def run_on_ray(project: Any, job: InferJob, chunks: Sequence[Chunk], *,
               address: str | None = None, workers: int | None = None,
               cancel: threading.Event | None = None,
               on_progress: Callable[[Progress, Chunk], None] | None = None) -> Progress:
    """Run ``chunks`` on Ray and write them into ``project`` (exactly once each).

    ``workers``: how many actors (default: the cluster's GPUs, else its CPUs, at most one per
    chunk). ``cancel`` set: the workers are stopped, what was written stays.

    Raises:
        ClusterError: Ray missing, the cluster unreachable, or a chunk that failed for good.
    """
    ray = require_ray()
    _connect(ray, address, workers)
    res = ray.cluster_resources()
    gpus = int(res.get("GPU", 0))
    n = workers or gpus or max(1, int(res.get("CPU", 1)))
    n = max(1, min(n, len(chunks)))
    # A worker process that dies is restarted and its chunk retried (written once: see above).
    actor_cls = ray.remote(num_cpus=0 if gpus else 1, num_gpus=1 if gpus else 0,
                           max_restarts=2, max_task_retries=2)(Worker)
    actors = [actor_cls.remote(job) for _ in range(n)]
    progress = Progress()
    for c in chunks:
        progress.total[c.video_id] = progress.total.get(c.video_id, 0) + c.frames
        progress.done.setdefault(c.video_id, 0)
        progress.instances.setdefault(c.video_id, 0)
    todo = list(reversed(chunks))
    running: dict[Any, Any] = {}
    try:
        for a in actors:
            if todo:
                running[a.run.remote(todo.pop())] = a
        while running:
            if cancel is not None and cancel.is_set():
                break
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
            for ref in ready:
                actor = running.pop(ref)
                try:
                    chunk, got = ray.get(ref)
                except Exception as e:
                    raise ClusterError(_first_line(e)) from None
                if isinstance(got, list):  # the driver writes (a project file)
                    got = project.add_prediction_chunk(chunk.video_id, chunk.first, chunk.stop,
                                                       got, chunk.run_id)
                progress.done[chunk.video_id] += chunk.frames
                progress.instances[chunk.video_id] += int(got or 0)
                if on_progress is not None:
                    on_progress(progress, chunk)
                if todo and not (cancel is not None and cancel.is_set()):
                    running[actor.run.remote(todo.pop())] = actor
    finally:
        for a in actors:  # cancel: stop work in flight; done: free the sessions
            ray.kill(a, no_restart=True)
    return progress


def _first_line(e: BaseException) -> str:
    """A failed chunk in one line (Ray wraps the worker's error and its traceback)."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, BaseException):
        e = cause
    text = str(e).strip().splitlines()
    msg = next((t for t in reversed(text) if t.strip() and not t.startswith(" ")), "")
    return f"a chunk failed on the cluster: {msg or type(e).__name__}"
