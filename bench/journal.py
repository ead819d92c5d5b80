"""Edit journal costs: what recording an import as one undo step costs, and single edits.

Run: ``python bench/journal.py [--instances 100000]``.

1. **Import**: ``N`` annotations (COCO-17) written through ``import_transaction`` in one
   transaction, with the journal step recorded (ids + digest) vs the same import with recording
   switched off (baseline, same run). Prints the step's bytes, its undo (rows moved into the
   step's stash) and redo times, and the stash size.
2. **Edits**: one keypoint move applied with ``apply_edit`` (check + write + journal entry, one
   fsynced transaction) vs the plain ``update_instance`` of the same change (baseline); bytes per
   journal entry.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from pose_studio.core.annotation import Instance, InstanceKind  # noqa: E402
from pose_studio.core.edits import Edit  # noqa: E402
from pose_studio.core.skeleton import COCO17  # noqa: E402
from pose_studio.store import Project, journal_import  # noqa: E402


def _items(n: int, frames: int) -> list[tuple[int, int, Instance]]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        pred = i % 2 == 1
        out.append((1, i % frames, Instance(
            xy=rng.uniform(0, 640, (17, 2)), visibility=np.full(17, 2, np.uint8),
            kind=InstanceKind.PREDICTED if pred else InstanceKind.USER,
            kp_scores=rng.uniform(0, 1, 17) if pred else None, score=0.7 if pred else None)))
    return out


def _project(tmp: Path, name: str, frames: int) -> Project:
    p = Project.create(tmp / name, COCO17)
    p.add_video(tmp / "v.mp4", width=640, height=480, frame_count=frames, fps=30.0)
    return p


def bench_import(tmp: Path, n: int) -> None:
    print(f"== import of {n} annotations (one transaction) ==")
    frames = max(1, n // 5)
    items = _items(n, frames)
    times = {}
    for mode in ("off", "on"):
        p = _project(tmp, f"imp-{mode}.posestudio", frames)
        real = journal_import.record
        if mode == "off":
            journal_import.record = lambda *a, **k: None  # type: ignore[assignment]
        try:
            t0 = time.perf_counter()
            with p.import_transaction("import bench.json") as w:
                w.add_instances(items)
            times[mode] = time.perf_counter() - t0
        finally:
            journal_import.record = real  # type: ignore[assignment]
        if mode == "on":
            with p._read() as conn:
                size = conn.exec_driver_sql(
                    "SELECT length(payload) FROM edit_journal").scalar_one()
            t0 = time.perf_counter()
            p.undo()
            t_undo = time.perf_counter() - t0
            with p._read() as conn:
                stash = conn.exec_driver_sql("SELECT length(stash) FROM edit_journal").scalar_one()
            t0 = time.perf_counter()
            p.redo()
            t_redo = time.perf_counter() - t0
        p.close()
    print(f"import without the journal step (baseline): {times['off']:6.2f} s")
    print(f"import with the journal step:               {times['on']:6.2f} s "
          f"(ratio {times['on'] / times['off']:.2f}x, +{times['on'] - times['off']:.2f} s)")
    print(f"journal step: {size} bytes ({size / n:.3f} bytes per annotation)")
    print(f"undo: {t_undo:.2f} s (stash {stash / 1e6:.1f} MB while undone); redo: {t_redo:.2f} s")


def bench_edits(tmp: Path, n: int = 200) -> None:
    print(f"\n== single keypoint moves ({n}, fsync per edit) ==")
    p = _project(tmp, "edits.posestudio", 100)
    base = Instance(xy=np.full((17, 2), 50.0), visibility=np.full(17, 2, np.uint8))
    cur = p.apply_edit(Edit.add(1, 0, base, "add")).edit.changes[0].after  # type: ignore[union-attr]
    plain, journaled = [], []
    for i in range(n):
        nxt = cur.with_keypoint(i % 17, xy=(50.0 + i, 60.0))
        t0 = time.perf_counter()
        p.update_instance(nxt)
        plain.append(time.perf_counter() - t0)
        p.update_instance(cur)
        t0 = time.perf_counter()
        p.apply_edit(Edit.set_instance(1, 0, cur, nxt, "move"))
        journaled.append(time.perf_counter() - t0)
        cur = nxt
    with p._read() as conn:
        size = conn.exec_driver_sql(
            "SELECT avg(length(payload)) FROM edit_journal WHERE label = 'move'").scalar_one()
    p.close()
    q = lambda a, v: float(np.percentile(np.asarray(a) * 1000, v))  # noqa: E731
    print(f"update_instance (baseline):        p50 {q(plain, 50):6.2f} ms  p99 {q(plain, 99):6.2f} ms")
    print(f"apply_edit (check+write+journal):  p50 {q(journaled, 50):6.2f} ms  "
          f"p99 {q(journaled, 99):6.2f} ms  (ratio {q(journaled, 50) / q(plain, 50):.2f}x)")
    print(f"journal entry: {size:.0f} bytes per keypoint move")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        bench_import(Path(d), args.instances)
        bench_edits(Path(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
