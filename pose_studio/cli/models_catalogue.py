"""``pose-studio models list`` and ``models get NAME``: published models, downloaded with
progress, Ctrl-C to cancel, and resume."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any


def register(sub: Any) -> None:
    ls = sub.add_parser("list", help="models their authors publish: purpose, license, size",
                        description="The catalogue of published ONNX models that "
                        "'models get' downloads.")
    ls.add_argument("--kind", choices=["pose", "detector"], help="only this kind")
    ls.set_defaults(func=run_list)
    g = sub.add_parser("get", help="download a catalogue model (resumes, checks its sha256)",
                       description="Download a model of 'models list' into DIR/NAME: an "
                       "archive is unpacked with its pipeline.json so the engine uses the "
                       "right pre-processing. Ctrl-C cancels; running it again resumes.")
    g.add_argument("name", help="a name from 'pose-studio models list'")
    g.add_argument("--dir", help="models folder (default: $POSE_STUDIO_MODELS_DIR or the "
                   "user data folder)")
    g.add_argument("--mirror", metavar="URL",
                   help="base URL that replaces the publisher's (an offline mirror or proxy)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=run_get)


def run_list(args: argparse.Namespace) -> int:
    from pose_studio.inference.catalogue import load_catalogue

    entries = [e for e in load_catalogue() if args.kind in (None, e.kind)]
    width = max(len(e.name) for e in entries)
    print(f"{'name':<{width}}  {'kind':<8}  {'size':>7}  purpose; license")
    for e in entries:
        size = f"~{e.size_mb:.0f} MB" if e.size_mb else "?"
        print(f"{e.name:<{width}}  {e.kind:<8}  {size:>7}  {e.purpose}; {e.license}")
    print(f"\n{len(entries)} models; 'pose-studio models get NAME' downloads one")
    return 0


def run_get(args: argparse.Namespace) -> int:
    from pose_studio.cli.common import ProgressBar
    from pose_studio.inference.catalogue import default_models_dir, find_entry
    from pose_studio.inference.download import get_model
    from pose_studio.inference.errors import DownloadCancelled

    entry = find_entry(args.name)
    folder = default_models_dir() if args.dir is None else args.dir
    cancel = threading.Event()
    bar: ProgressBar | None = None

    def progress(done: int, total: int | None) -> None:
        nonlocal bar
        if bar is None:
            bar = ProgressBar(None if total is None else total // 1024, desc=entry.name,
                              unit="KiB", enabled=not args.quiet)
            bar.n = done // 1024
        else:
            bar.update(done // 1024 - bar.n)

    print(f"{entry.name}: {entry.url(args.mirror)} (~{entry.size_mb:.0f} MB, {entry.license})",
          file=sys.stderr)
    try:
        res = get_model(entry, folder, mirror=args.mirror, progress=progress, cancel=cancel)
    except KeyboardInterrupt:
        cancel.set()
        print(f"\ncancelled: what arrived is kept in {folder}/.partial; run the same command "
              f"again to resume", file=sys.stderr)
        return 130
    except DownloadCancelled as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    if res.already_there:
        print(f"{res.path}: already downloaded; its file matches the recorded sha256")
    else:
        if res.resumed_from:
            print(f"resumed after {res.resumed_from / 1e6:.1f} MB", file=sys.stderr)
        note = "recorded (first download)" if res.first_download else "matches"
        print(f"sha256 {res.sha256} ({note})")
        if res.description:
            print(f"recognised: {res.description}")
        print(f"installed in {res.path}")
    flag = "--detector" if entry.kind == "detector" else "--model"
    print(f"use it with: pose-studio infer PROJECT {flag} {res.path}")
    return 0
