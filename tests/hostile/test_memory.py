"""Refused inputs built to blow memory up stay far below 500 MB: they are refused from their
headers and sizes before anything of their claimed size is allocated. One fresh interpreter runs
them all in turn and reports its peak RSS (``bench/hostile_memory.py`` measures every case).

The peak is the child's own (``VmHWM``): ``ru_maxrss`` of a child process on Linux includes the
parent's peak at the fork (kept across exec), which made this test measure pytest itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.harness import REPO, Assets, Ctx
from tests.hostile.test_hostile import CASES

HEAVY = ("video-png-bomb-add", "video-png-claims-30000-add", "video-jpeg-claims-65500-extract",
         "video-bmp-claims-40000-add", "extract-frames-huge-range", "onnx-fixed-100000-check",
         "onnx-card-input-huge-check", "onnx-metadata-imgsz-huge-infer",
         "onnx-fixed-batch-huge-check", "rows-xy-huge-export", "rows-video-frame-count-huge-info",
         "broken-skeleton-deep-info")
LIMIT_MB = 500

CHILD = """
import json, resource, sys
from pose_studio.cli.main import main

def peak_kb():
    # VmHWM: this process's own high-water mark. ru_maxrss would not do: Linux carries the
    # parent's peak over fork and exec, so a child of a big pytest process reports the parent.
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb // 1024 if sys.platform == "darwin" else kb

out, steps = [], []
for argv in json.loads(sys.argv[1]):
    out.append(main(argv))
    steps.append(peak_kb())
print(json.dumps({"rc": out, "maxrss_kb": steps[-1], "steps": steps}))
"""

@pytest.mark.skipif(sys.platform == "win32", reason="resource.getrusage is POSIX")
def test_refused_inputs_stay_under_500_mb(assets: Assets, tmp_path: Path) -> None:
    by_id = {c.id: c for c in CASES}
    argvs, expected = [], []
    for cid in HEAVY:
        folder = tmp_path / cid
        folder.mkdir()
        case = by_id[cid]
        argvs.append([str(a) for a in case.make(Ctx(folder, assets))])
        expected.append(case.exit)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    r = subprocess.run([sys.executable, "-c", CHILD, json.dumps(argvs)], capture_output=True,
                       text=True, env=env, cwd=REPO, timeout=120)
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["rc"] == expected, r.stderr
    peak_mb = got["maxrss_kb"] / 1024
    steps = ", ".join(f"{cid} {kb // 1024} MB" for cid, kb in zip(HEAVY, got["steps"]))
    assert peak_mb < LIMIT_MB, f"peak RSS {peak_mb:.0f} MB over refused inputs: {steps}"
