"""Peak memory of every hostile or broken input of the hostile suite, one subprocess each.

    python bench/hostile_memory.py            # every refused case (a few minutes on 2 cores)
    python bench/hostile_memory.py --quick    # the ones built to blow memory up

Builds the suite's inputs (``tests/hostile``), runs each case (a refusal, exit 1, or a damaged
row left out and reported, exit 0) in a fresh interpreter and reads its peak resident memory
after the command (``VmHWM``; ``ru_maxrss`` where there is no ``/proc``); prints the largest,
and a baseline (``pose-studio info`` on a good project) for what the interpreter and its
imports take alone. Cases that need root's capabilities dropped or
a tmpfs are left to the test suite.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# VmHWM (the process's own peak) where /proc has it: ru_maxrss of a child on Linux includes the
# parent's peak at the fork, kept across exec.
CHILD = (
    "import resource, sys\n"
    "from pose_studio.cli.main import main\n"
    "rc = main(sys.argv[1:])\n"
    "kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "kb = kb // 1024 if sys.platform == 'darwin' else kb\n"
    "try:\n"
    "    kb = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
    "except (OSError, StopIteration):\n"
    "    pass\n"
    "print('MAXRSS_KB', kb, file=sys.__stdout__)\n"
    "sys.exit(rc)\n"
)
QUICK = ("video-png-bomb-add", "video-png-claims-30000-add", "video-jpeg-claims-65500-extract",
         "video-bmp-claims-40000-add", "extract-frames-huge-range", "onnx-fixed-100000-check",
         "onnx-card-input-huge-check", "onnx-metadata-imgsz-huge-infer",
         "onnx-fixed-batch-huge-check", "rows-xy-huge-export", "rows-video-frame-count-huge-info",
         "checkpoint-code-running-pickle-init", "broken-skeleton-deep-info", "coco-binary")


def run_one(case: object, assets: object, root: Path) -> tuple[str, int, int]:
    from tests.hostile.harness import Ctx

    folder = root / case.id  # type: ignore[attr-defined]
    folder.mkdir()
    argv = [str(a) for a in case.make(Ctx(folder, assets))]  # type: ignore[attr-defined, arg-type]
    if any("\x00" in a for a in argv):  # a NUL cannot cross exec: these run in-process only
        return case.id, case.exit, 0  # type: ignore[attr-defined]
    env = {**os.environ, "XDG_CACHE_HOME": str(root / "cache"), "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True,
                       env=env, cwd=REPO, timeout=120)
    kb = next((int(line.split()[1]) for line in r.stdout.splitlines()
               if line.startswith("MAXRSS_KB")), -1)
    return case.id, r.returncode, kb  # type: ignore[attr-defined]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    from tests.hostile.harness import Case, build_assets
    from tests.hostile.test_hostile import CASES

    with tempfile.TemporaryDirectory(prefix="hostile-mem-") as tmp:
        root = Path(tmp)
        (root / "assets").mkdir()
        assets = build_assets(root / "assets")
        cases = [c for c in CASES if c.mode in ("inproc", "subprocess") and not c.xfail
                 and (not a.quick or c.id in QUICK)]
        expected = {c.id: c.exit for c in cases}
        baseline = Case("baseline-info-good-project",
                        lambda ctx: ["info", str(ctx.project())], exit=0)
        with ThreadPoolExecutor(a.jobs) as pool:
            results = list(pool.map(lambda c: run_one(c, assets, root), [baseline, *cases]))
    base = results[0]
    rows = sorted(results[1:], key=lambda r: -r[2])
    wrong = [r for r in rows if r[1] != expected[r[0]]]
    print(f"baseline ({base[0]}): {base[2] / 1024:.0f} MB peak RSS")
    print(f"{len(rows)} hostile inputs; largest peak RSS:")
    for cid, rc, kb in rows[:15]:
        print(f"  {kb / 1024:7.0f} MB  exit {rc}  {cid}")
    print(f"max over all: {rows[0][2] / 1024:.0f} MB (target < 500 MB)")
    if wrong:
        print(f"another exit status than the suite expects: {[r[0] for r in wrong]}")
    return 0 if rows[0][2] < 500 * 1024 and not wrong else 1


if __name__ == "__main__":
    raise SystemExit(main())
