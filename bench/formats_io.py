"""Write and read N COCO-17 annotations (half labels, half predictions, 4 per frame) through the
SLEAP, DeepLabCut and YOLO-pose formats, annotations only (no images), and print the times.

Run: ``python bench/formats_io.py [N]`` (default 100000)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.skeleton import COCO17
from pose_studio.formats.dataset import Annotation, Dataset, Frame, ImageEntry, Source
from pose_studio.formats.registry import ReadOptions, WriteOptions, get_format


def build(n: int, per_frame: int = 4) -> Dataset:
    rng = np.random.default_rng(0)
    k = COCO17.num_keypoints
    n_frames = n // per_frame
    images = tuple(ImageEntry(f"img{i:06d}.png", 640, 480) for i in range(n_frames))
    frames = []
    for i in range(n_frames):
        anns = []
        for j in range(per_frame):
            p = np.column_stack([rng.uniform(0, 639, k), rng.uniform(0, 479, k), np.full(k, 2.0)])
            pred = j % 2 == 1
            anns.append(Annotation(p, kind=InstanceKind.PREDICTED if pred else InstanceKind.USER,
                                   kp_scores=rng.uniform(0, 1, k) if pred else None,
                                   score=0.9 if pred else None, run="r" if pred else None,
                                   track=f"t{j}"))
        frames.append(Frame("imgs", i, tuple(anns)))
    return Dataset(COCO17, [Source("imgs", "images", "/data/imgs", images)], frames,
                   tracks=[f"t{j}" for j in range(per_frame)], runs={"r": {}})


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    ds = build(n)
    print(f"{ds.num_annotations} annotations on {len(ds.frames)} frames")
    with tempfile.TemporaryDirectory() as d:
        for name, target in (("slp", "x.slp"), ("dlc", "dlc"), ("yolo", "yolo")):
            fmt = get_format(name)
            assert fmt.write is not None and fmt.read is not None
            t0 = time.perf_counter()
            summary = fmt.write(ds, Path(d) / target, WriteOptions())
            t1 = time.perf_counter()
            if name == "yolo":  # the reader needs the images for their sizes
                print(f"{name:5s} write {t1 - t0:6.2f} s ({summary.files_written} files)")
                continue
            back = fmt.read(Path(d) / target, ReadOptions())
            t2 = time.perf_counter()
            print(f"{name:5s} write {t1 - t0:6.2f} s   read {t2 - t1:6.2f} s   "
                  f"({back.num_annotations} annotations back)")


if __name__ == "__main__":
    main()
