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
    assert res["ratio"] < 0.65  # measured 0.44 on the quick clips, 0.32 on the full ones
    assert res["ids"] <= res["iou_ids"]
    for row in res["clips"]:
        if row["gap"] > 0.5:  # people stay more than half a body apart
            assert row["ids"] == 0


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 15's target c/a <= 0.3 is not reached (0.32 on "
                   "the full clips, 0.35 before each point's path through the placed points "
                   "joined the fusion): about half of (c)'s drags are still on occluded points "
                   "(arms behind the torso, where the parent joint is hidden too, and faces "
                   "turned away), which OKS counts but nothing in the image shows; most of the "
                   "rest on fast visible elbows and wrists, where the model's error is about "
                   "the tolerance (docs/LABELING.md)")
def test_issue_target_ratio(quick: tuple[dict[str, Any], str]) -> None:
    assert quick[0]["ratio"] <= 0.3
