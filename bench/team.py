"""Several annotators on one PostgreSQL project: throughput, commit latency, conflicts, lost
updates; against raw psycopg single-row updates in the same run.

    python bench/team.py [--url postgresql+psycopg://user@host/db] [--annotators 2 4 8]
                         [--edits 1000 | --seconds 10] [--instances 200] [--think-ms 0]

``--url`` names a server and a database to administer (default: $POSE_STUDIO_TEST_PG_URL);
the bench creates a database of its own there and drops it afterwards.

Each annotator is a process of its own that, ``--edits`` times (or for ``--seconds``), picks a
random instance, reads it and moves its first keypoint one pixel right through
``Project.apply_edit`` (one transaction with its history step and frame summaries). Several
people editing the same instance at once is what makes conflicts: the later edit is refused
with ``StaleEditError``. Every edit that was accepted adds exactly one pixel, so at the end an
instance's x minus its starting x must equal the number of accepted edits on it; any shortfall
is a lost update. The baseline does the same read-modify-write with plain psycopg (``SELECT``
then ``UPDATE ... WHERE id``, autocommit): faster, and it loses updates.

``--think-ms``: each annotator waits this long between edits (0: edits back to back, which
saturates the cores; a person edits far slower than once per 20 ms). Latency is the commit's
(``apply_edit``) only, the wait is not counted; edits/s counts the wall time, waits included.

Targets (issue #16): 8 annotators x 1,000 edits: 0 lost updates, every conflict reported,
p99 commit < 50 ms on a local server.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pose_studio.core.annotation import Instance
from pose_studio.core.edits import Edit, StaleEditError
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project

K = COCO17.num_keypoints
VIDEOS = 4


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _setup(url: str, n_instances: int) -> dict[int, tuple[int, int]]:
    """A project with ``n_instances`` labels spread over a few videos; id -> (video, frame)."""
    where: dict[int, tuple[int, int]] = {}
    rng = np.random.default_rng(0)
    with Project.create(url, COCO17) as p:
        vids = [p.add_video(Path(f"/data/cam{i}.mp4"), width=640, height=480, frame_count=1000,
                            fps=25.0) for i in range(VIDEOS)]
        for i in range(n_instances):
            v, f = vids[i % VIDEOS], i // VIDEOS
            inst = Instance(xy=rng.random((K, 2)) * 400, visibility=np.full(K, 2, np.uint8))
            got = p.add_instance(v, f, inst)
            assert got.id is not None
            where[got.id] = (v, f)
    return where


def _x0(url: str) -> dict[int, float]:
    with Project.open(url, read_only=True) as p:
        return {i.id: float(i.xy[0, 0]) for _v, _f, i in p.iter_instances("user")
                if i.id is not None}


def _picks(rng: np.random.Generator, ids: np.ndarray, edits: int, seconds: float,
           think: float) -> Iterator[int]:
    """The instance each edit goes to: ``edits`` of them, or as many as ``seconds`` allow,
    with ``think`` seconds before each (one annotator's pace)."""
    t_end = time.perf_counter() + seconds if seconds else None
    n = 0
    while (n < edits) if t_end is None else (time.perf_counter() < t_end):
        n += 1
        if think:
            time.sleep(think)
        yield int(rng.choice(ids))


def _annotator(mode: str, url: str, user: str, where: dict[int, tuple[int, int]],
               edits: int, seconds: float, think: float, seed: int, start: Any,
               out: Any) -> None:
    rng = np.random.default_rng(seed)
    ids = np.array(sorted(where))
    lat: list[float] = []
    ok: dict[int, int] = {}
    conflicts = 0
    if mode == "project":
        p = Project.open(url)
        start.wait()
        for iid in _picks(rng, ids, edits, seconds, think):
            v, f = where[iid]
            before = p.instance(iid)
            after = before.with_keypoint(0, xy=(before.xy[0, 0] + 1.0, before.xy[0, 1]),
                                         visibility=2)
            t0 = time.perf_counter()
            try:
                p.apply_edit(Edit.set_instance(v, f, before, after, "nudge"), user=user)
                ok[iid] = ok.get(iid, 0) + 1
            except StaleEditError:
                conflicts += 1
            lat.append(time.perf_counter() - t0)
        p.close()
    else:  # raw psycopg: read, then write the row back, autocommit
        import psycopg

        with psycopg.connect(_plain(url), autocommit=True) as conn:
            start.wait()
            for iid in _picks(rng, ids, edits, seconds, think):
                blob = conn.execute("SELECT xy FROM instances WHERE id = %s", (iid,)).fetchone()
                assert blob is not None
                xy = np.frombuffer(blob[0], "<f8").copy()
                xy[0] += 1.0
                t0 = time.perf_counter()
                conn.execute("UPDATE instances SET xy = %s, version = version + 1 WHERE id = %s",
                             (xy.tobytes(), iid))
                lat.append(time.perf_counter() - t0)
                ok[iid] = ok.get(iid, 0) + 1
    out.put((lat, ok, conflicts))


def _round(mode: str, url: str, where: dict[int, tuple[int, int]], n: int, edits: int,
           seconds: float, think: float) -> dict[str, float]:
    ctx = mp.get_context("fork")
    start = ctx.Barrier(n + 1)
    out = ctx.Queue()
    before = _x0(url)
    procs = [ctx.Process(target=_annotator, args=(mode, url, f"ann{i}", where, edits, seconds,
                                                  think, 1000 * n + i, start, out))
             for i in range(n)]
    for pr in procs:
        pr.start()
    start.wait()
    t0 = time.perf_counter()
    results = [out.get() for _ in procs]
    wall = time.perf_counter() - t0
    for pr in procs:
        pr.join()
    after = _x0(url)
    lat = np.array([x for r in results for x in r[0]])
    accepted: dict[int, int] = {}
    for r in results:
        for iid, c in r[1].items():
            accepted[iid] = accepted.get(iid, 0) + c
    lost = sum(accepted.get(i, 0) - round(after[i] - before[i]) for i in before)
    return {"attempts": float(lat.size), "per_s": lat.size / wall,
            "p50_ms": float(np.percentile(lat, 50) * 1e3),
            "p99_ms": float(np.percentile(lat, 99) * 1e3),
            "conflicts": float(sum(r[2] for r in results)), "lost": float(lost)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=os.environ.get("POSE_STUDIO_TEST_PG_URL"))
    ap.add_argument("--annotators", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--edits", type=int, default=1000, help="edits per annotator")
    ap.add_argument("--seconds", type=float, default=0.0,
                    help="instead of --edits: edit for this long")
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--think-ms", type=float, default=0.0,
                    help="each annotator waits this long between edits")
    args = ap.parse_args()
    if not args.url:
        print("bench/team.py needs a PostgreSQL server: --url or $POSE_STUDIO_TEST_PG_URL",
              file=sys.stderr)
        return 2
    import psycopg

    admin = _plain(args.url)
    name = f"ps_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = args.url.rpartition("/")[0] + "/" + name
    try:
        where = _setup(url, args.instances)
        budget = f"{args.seconds:g} s each" if args.seconds else f"{args.edits} edits each"
        budget += f", {args.think_ms:g} ms between edits"
        print(f"{args.instances} instances on {VIDEOS} videos; {budget}; cores: {os.cpu_count()}")
        print(f"{'annotators':>10} {'how':>8} {'edits/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'conflicts':>9} {'lost':>5}")
        for n in args.annotators:
            for mode in ("project", "raw"):
                r = _round(mode, url, where, n, args.edits, args.seconds,
                           args.think_ms / 1e3)
                print(f"{n:>10} {mode:>8} {r['per_s']:>8.0f} {r['p50_ms']:>7.1f} "
                      f"{r['p99_ms']:>7.1f} {int(r['conflicts']):>9} {int(r['lost']):>5}",
                      flush=True)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
