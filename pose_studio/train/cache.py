"""Pre-rendering synthetic training crops to an ``.npz`` cache (so rendering costs no training time).

``python -m pose_studio.train.cache OUT.npz --seed S --scenes N [--style default] [--input 96x128]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pose_studio.train.data import Samples, synthetic_samples


def parse_size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def build_cache(out: str | Path, *, seed: int, scenes: int, input_size: tuple[int, int],
                style: str = "default", group_offset: int = 0, verbose: bool = False) -> Samples:
    t0 = time.time()

    def progress(i: int, n: int) -> None:
        if verbose and (i % 500 == 0 or i == n):
            print(f"{out}: {i}/{n} scenes, {time.time() - t0:.0f}s", file=sys.stderr, flush=True)

    s = synthetic_samples(seed, scenes, input_size, style=style, group_offset=group_offset,
                          progress=progress)
    s.save(out)
    return s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scenes", type=int, default=1000)
    ap.add_argument("--style", default="default")
    ap.add_argument("--input", default="96x128", help="model input WxH")
    ap.add_argument("--group-offset", type=int, default=0)
    a = ap.parse_args(argv)
    s = build_cache(a.out, seed=a.seed, scenes=a.scenes, input_size=parse_size(a.input),
                    style=a.style, group_offset=a.group_offset, verbose=True)
    print(f"{a.out}: {len(s)} crops", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
