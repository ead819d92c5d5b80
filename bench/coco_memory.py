"""Peak memory of importing a big COCO file (target: within about 3x the file's size).

Writes a COCO keypoints file shaped like ``person_keypoints_train2017.json`` (51 keypoint values,
a box, an area, a ~40-point polygon per annotation; image entries with URLs and dates) of about
``SIZE_MB`` megabytes, then imports it in a fresh Python process into a project whose one video
has a frame for every image (``frame_%06d.jpg`` names land on video frames, so no image files are
needed; fingerprints off). The child reports its peak resident memory (``ru_maxrss``) and the
resident memory it had before the import (Python, numpy, SQLAlchemy loaded, project open): the
import's own peak is the difference.

Run: ``python bench/coco_memory.py [SIZE_MB [FILE]]`` (default 200 MB in a temporary folder;
with FILE, the file is written there once and reused). To measure another version of the code,
run it with ``PYTHONPATH`` pointing at that version.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

W, H = 640, 480

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from pose_studio.core.skeleton import COCO17
from pose_studio.formats.coco import import_coco
from pose_studio.store.project import Project

path, proj, n_frames = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
W, H = int(sys.argv[4]), int(sys.argv[5])
p = Project.create(proj, COCO17)
p.add_video(proj.parent / "missing.mp4", width=W, height=H, frame_count=n_frames, fps=30.0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import gc; gc.collect()
with open("/proc/self/status") as f:
    rss = [int(l.split()[1]) for l in f if l.startswith("VmRSS")][0]
t0, c0 = time.perf_counter(), time.process_time()
s = import_coco(p, path, fingerprints=False)
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
p.close()
print(json.dumps({"rss_before_kb": rss, "peak_kb": peak, "seconds": dt, "cpu": cpu,
                  "instances": s.n_user + s.n_predicted,
                  "regions": getattr(s, "n_regions", 0)}))
"""


def write_file(path: Path, size_mb: float, seed: int = 0) -> tuple[int, int]:
    """A COCO file of about ``size_mb`` MB; returns (images, annotations)."""
    rng = random.Random(seed)
    target = size_mb * 1e6
    n_img = max(1, int(target / 650 / 4))  # ~4 annotations per image, ~650 bytes each
    with open(path, "w") as f:
        f.write('{"info": {"description": "synthetic", "year": 2024}, "licenses": '
                '[{"id": 1, "name": "x", "url": "http://x"}], "images": [')
        for i in range(n_img):
            f.write(("," if i else "") + json.dumps({
                "license": 1, "file_name": f"frame_{i:06d}.jpg", "coco_url":
                f"http://images.example.org/train/{i:012d}.jpg", "height": H, "width": W,
                "date_captured": "2013-11-14 16:28:13", "id": i}))
        f.write('], "annotations": [')
        n_ann = 0
        for i in range(n_img):
            for _ in range(4):
                kps: list[float] = []
                for _k in range(17):
                    v = rng.choice((0, 1, 2, 2))
                    kps += [rng.randint(0, W - 1), rng.randint(0, H - 1), v] if v else [0, 0, 0]
                x, y = rng.uniform(0, W / 2), rng.uniform(0, H / 2)
                seg = [round(rng.uniform(0, W), 2) for _ in range(40)]
                f.write(("," if n_ann else "") + json.dumps({
                    "segmentation": [seg], "num_keypoints": sum(1 for v in kps[2::3] if v),
                    "area": round(rng.uniform(100, 9000), 4), "iscrowd": 0, "keypoints": kps,
                    "image_id": i, "bbox": [round(x, 2), round(y, 2), 100.5, 200.25],
                    "category_id": 1, "id": 900000 + n_ann}))
                n_ann += 1
        f.write('], "categories": [{"supercategory": "person", "id": 1, "name": "person", '
                f'"keypoints": {json.dumps(list(_names()))}, "skeleton": []}}]}}')
    return n_img, n_ann


def _names() -> tuple[str, ...]:
    from pose_studio.core.skeleton import COCO17

    return COCO17.keypoints


def main() -> None:
    size_mb = float(sys.argv[1]) if len(sys.argv) > 1 else 200.0
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        path = Path(sys.argv[2]) if len(sys.argv) > 2 else d / "big.json"
        if path.exists():
            with open(path) as f:
                head = f.read()
            n_img, n_ann = head.count("\"coco_url\""), head.count("\"segmentation\"")
            del head
        else:
            n_img, n_ann = write_file(path, size_mb)
        file_mb = path.stat().st_size / 2**20
        print(f"file: {file_mb:.0f} MiB, {n_img} images, {n_ann} annotations")
        out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(d / "p.posestudio"),
                              str(n_img), str(W), str(H)], capture_output=True, text=True,
                             env=os.environ)
        if out.returncode:
            print(out.stderr)
            raise SystemExit(1)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        own = (r["peak_kb"] - r["rss_before_kb"]) / 1024
        print(f"resident before import: {r['rss_before_kb'] / 1024:.0f} MiB; peak "
              f"{r['peak_kb'] / 1024:.0f} MiB; the import's own peak {own:.0f} MiB = "
              f"{own / file_mb:.2f}x the file ({r['seconds']:.1f} s, cpu {r['cpu']:.1f} s, "
              f"{r['instances']} "
              f"instances, {r['regions']} regions)")


if __name__ == "__main__":
    main()
