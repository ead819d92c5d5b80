"""The effort benchmark's smoke run (``bench/labeling_effort.py --quick``): two short clips
through the bundled model, the tracker and the three scripted strategies."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
LAST = re.compile(r"^effort: \(c\) \d+\.\d\d actions/frame, \(a\) \d+\.\d\d, \(b\) \d+\.\d\d; "
                  r"ratio c/a \d+\.\d\d; id switches \d+ \(iou baseline \d+\)$")


@pytest.fixture(scope="module")
def quick() -> tuple[dict[str, Any], str]:
    sys.path.insert(0, str(BENCH))
    try:
        import labeling_effort
    finally:
        sys.path.remove(str(BENCH))
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        res = labeling_effort.main(["--quick"])
    return res, buf.getvalue()


@pytest.mark.slow
def test_quick_run_prints_the_last_line_and_every_frame_is_done(
        quick: tuple[dict[str, Any], str]) -> None:
    res, out = quick
    assert LAST.match(out.strip().splitlines()[-1]), out.strip().splitlines()[-1]
    # each strategy brought every frame to OKS 0.95 (the simulation checks it) and:
    assert res["c"] < res["b"] < res["a"]
    assert res["ratio"] < 0.6  # measured 0.40 on the quick clips, 0.28 on the full ones
    assert res["ids"] <= res["iou_ids"]
    for row in res["clips"]:
        if row["gap"] > 0.5:  # people stay more than half a body apart
            assert row["ids"] == 0


@pytest.mark.slow
def test_issue_target_ratio_on_a_benchmark_clip() -> None:
    """Issue 15's target, (c) at most 0.3 of (a) and fewer than (b), on one of the benchmark's
    own clips (two people passing in front of each other, 300 frames, rendered and predicted
    here: about a minute; all three clips take three, 0.28 there). The quick clips are too
    short for it: 40 frames are under three arm swings, and the repeat fit of
    ``core.motion`` needs the swings before."""
    sys.path.insert(0, str(BENCH))
    try:
        import labeling_effort
    finally:
        sys.path.remove(str(BENCH))
    import contextlib
    import io

    spec = next(c for c in labeling_effort.FULL if c.name == "cross2-occluding")
    with contextlib.redirect_stdout(io.StringIO()):
        res = labeling_effort.run((spec,), None)
    assert res["ratio"] <= 0.3, res["ratio"]  # measured 0.27
    assert res["c"] < res["b"]
