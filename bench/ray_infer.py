"""Batch inference on Ray against the sequential ``infer`` loop: same model, same videos.

    python bench/ray_infer.py [--videos 4] [--frames 400] [--workers 2] [--chunk 200]

K synthetic videos go through ``pose-studio infer`` twice: the sequential loop (one ONNX
Runtime session with every core's threads) and ``--ray`` on a local Ray with ``--workers``
actors (one session of one thread each). The model is the bundled top-down HRNet
(``models/posestudio-hrnet-coco17.onnx``, whole frame as the person box). Printed: frames/s of
each, the ratio, whether the predictions are equal, and Ray's start-up (``ray.init``, paid once
per command) apart from the job.

What a GPU changes (written out, not measured here: this machine has no GPU): a worker is one
actor per GPU, each with its own session, and videos and chunks are independent, so a cluster
of N GPUs runs about N times the per-GPU rate measured with ``bench/inference.py`` on one of
them, until the bottleneck moves: decoding (one CPU core decodes a few hundred 1080p frames/s,
so a GPU running a model at 1,000+ frames/s needs 3-4 cores of decoding beside it) or the
database (a chunk of 512 frames is one transaction; a local PostgreSQL takes thousands of
prediction rows per second per writer, far above what any GPU produces). Ray's own cost is per
chunk (a few ms to schedule it and ship its predictions back), so chunks of hundreds of frames
keep it well under 1% of a GPU's time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pose_studio.cli import main as cli  # noqa: E402
from pose_studio.core.skeleton import COCO17  # noqa: E402
from pose_studio.store import Project  # noqa: E402

MODEL = ROOT / "models" / "posestudio-hrnet-coco17.onnx"


def _project(path: Path, videos: list[Path]) -> None:
    from pose_studio.video import open_video

    with Project.create(path, COCO17) as p:
        for v in videos:
            with open_video(v) as r:
                m = r.meta
                p.add_video(v, width=m.width, height=m.height, frame_count=m.frame_count,
                            fps=m.fps, vfr=m.vfr, codec=m.codec, duration_s=m.duration_s,
                            index=r.index_bytes())


def _predictions(path: Path) -> dict[tuple[int, int], bytes]:
    with Project.open(path, read_only=True) as p:
        return {(v, f): np.asarray(i.xy).tobytes()
                for v, f, i in p.iter_instances("predicted", run="all")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=200)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    try:
        import ray
    except ImportError:
        print('bench/ray_infer.py needs Ray: pip install "pose-studio[cluster]"', file=sys.stderr)
        return 2
    from tests.support.videos import make_indexed_video

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        clips = [make_indexed_video(tmp / f"v{i}.mp4", args.frames, size=(320, 240),
                                    texture=True) for i in range(args.videos)]
        seq, par = tmp / "seq.posestudio", tmp / "ray.posestudio"
        _project(seq, clips)
        _project(par, clips)
        common = ["--model", str(MODEL), "--provider", "cpu", "--batch", str(args.batch),
                  "--quiet"]
        total = args.videos * args.frames
        t0 = time.perf_counter()
        assert cli.main(["infer", str(seq), *common]) == 0
        t_seq = time.perf_counter() - t0
        t0 = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="ERROR",
                 log_to_driver=False)
        t_init = time.perf_counter() - t0
        t0 = time.perf_counter()
        assert cli.main(["infer", str(par), *common, "--ray", "--workers", str(args.workers),
                         "--chunk", str(args.chunk)]) == 0
        t_ray = time.perf_counter() - t0
        ray.shutdown()
        same = _predictions(seq) == _predictions(par)
        print(f"{args.videos} videos x {args.frames} frames (320x240), {MODEL.name}, batch "
              f"{args.batch}, cores: {os.cpu_count()}")
        print(f"sequential infer ({os.cpu_count()} threads): {t_seq:6.2f} s  "
              f"{total / t_seq:6.1f} frames/s")
        print(f"ray, {args.workers} workers x 1 thread: {t_ray:6.2f} s  {total / t_ray:6.1f} "
              f"frames/s  (+ ray.init {t_init:.2f} s once)")
        print(f"ray / sequential time: {t_ray / t_seq:.3f} (with ray.init: "
              f"{(t_ray + t_init) / t_seq:.3f}); predictions equal: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
