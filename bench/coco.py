"""COCO export of 100k annotations vs ``json.dump`` of the same dict (target: ratio <= 2).

Builds a project with N instances through the store's bulk APIs (half user labels through
``import_transaction``, half predictions through ``add_predictions``), then times
``export_coco`` (read from SQLite + build + atomic write, JSON only) against ``json.dump`` of the
dict it wrote. Also times ``import_coco`` of that file.

Run: ``python bench/coco.py [N]``. Times are wall clock and, in brackets, this process's CPU
time (the machine may be shared: CPU time is the steadier figure). To compare with another
version of the code, run the same script with ``PYTHONPATH`` pointing at that version.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.skeleton import COCO17
from pose_studio.formats.coco import export_coco, import_coco
from pose_studio.store.project import Project


def build_project(path: Path, n: int, per_frame: int = 4) -> Project:
    rng = np.random.default_rng(0)
    k = COCO17.num_keypoints
    n_frames = n // per_frame + 1
    project = Project.create(path, COCO17)
    vid = project.add_video(path.parent / "bench.mp4", width=1920, height=1080,
                            frame_count=n_frames, fps=30.0)
    run = project.create_model_run(model_path="bench.onnx", model_hash="0", providers=["CPU"],
                                   params={})
    n_user = n // 2
    with project.import_transaction() as w:
        for i in range(n_user):
            xy = rng.uniform(0, 1000, size=(k, 2))
            vis = rng.integers(0, 3, size=k).astype(np.uint8)
            w.add_instance(vid, i // per_frame, Instance(xy=xy, visibility=vis))
    preds = []
    for i in range(n - n_user):
        xy = rng.uniform(0, 1000, size=(k, 2))
        preds.append((i // per_frame, Instance(
            xy=xy, visibility=np.full(k, 2, np.uint8), kind=InstanceKind.PREDICTED,
            score=float(rng.uniform()), kp_scores=rng.uniform(size=k).astype(np.float32))))
    project.add_predictions(vid, preds, run, replace=False)
    return project


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        project = build_project(d / "bench.posestudio", n)
        print(f"built project with {n} instances in {time.perf_counter() - t0:.1f} s")

        t0, c0 = time.perf_counter(), time.process_time()
        summary = export_coco(project, d / "export.json", source="all")
        t_export = time.perf_counter() - t0
        c_export = time.process_time() - c0
        assert summary.n_annotations == n, summary

        coco = json.loads((d / "export.json").read_text())
        t0, c0 = time.perf_counter(), time.process_time()
        with open(d / "baseline.json", "w") as f:
            json.dump(coco, f)
        t_dump = time.perf_counter() - t0
        c_dump = time.process_time() - c0

        print(f"export_coco ({n} annotations, read+build+write): {t_export:.2f} s "
              f"[cpu {c_export:.2f} s] ({summary.bytes_written / 1e6:.1f} MB)")
        print(f"json.dump of the same dict (baseline):          {t_dump:.2f} s "
              f"[cpu {c_dump:.2f} s]")
        print(f"ratio export / json.dump: {t_export / t_dump:.2f} [cpu {c_export / c_dump:.2f}] "
              "(target <= 2)")

        fresh = Project.create(d / "fresh.posestudio", COCO17)
        fresh.add_video(d / "bench.mp4", width=1920, height=1080,
                        frame_count=project.video(1).frame_count, fps=30.0)
        t0, c0 = time.perf_counter(), time.process_time()
        imp = import_coco(fresh, d / "export.json")
        print(f"import_coco of the same file: {time.perf_counter() - t0:.2f} s "
              f"[cpu {time.process_time() - c0:.2f} s] "
              f"({imp.n_user} user + {imp.n_predicted} predicted)")
        fresh.close()
        project.close()


if __name__ == "__main__":
    main()
