"""``pose-studio extract``: write exact video frames as images named by their index.

``pose-studio extract clip.mp4 --frames 10,20,5:50 --out frames/`` writes ``frames/000005.png``
... ``frames/000049.png`` (ranges are half-open like Python slices: ``a:b`` and ``a:b:step``).
Frames are the exact frames ``i`` of the video (indexed access, not an approximate seek).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pose_studio.cli.common import CliError, ProgressBar, parse_frame_spec

FORMATS = ("png", "jpg")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "extract",
        help="write exact video frames as PNG/JPEG files named by frame index",
        description=(
            "Write frames of VIDEO (a video file or an image folder) as images named by their "
            "frame index, e.g. 000010.png. Frame i is exactly frame i, also for variable frame "
            "rate, B-frames and transport streams."
        ),
    )
    p.add_argument("video", help="video file or folder of images")
    p.add_argument(
        "--frames",
        default="0:",
        metavar="SPEC",
        help="comma list of frames and half-open ranges a:b or a:b:step, e.g. 10,20,5:50 "
        "(default: all frames)",
    )
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    p.add_argument("--format", choices=FORMATS, default="png", help="image format (default png)")
    p.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality 1-100 (default 95)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import cv2

    from pose_studio.video import open_video

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"{out}: exists and is not a folder")
    if not 1 <= int(args.jpeg_quality) <= 100:
        raise CliError(f"--jpeg-quality must be 1-100, not {args.jpeg_quality}")
    with open_video(args.video) as reader:
        n = len(reader)
        frames = parse_frame_spec(args.frames, n)
        if not frames:
            raise CliError(f"--frames {args.frames!r} selects no frames (the video has {n})")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"{out}: cannot create the folder ({exc.strerror or exc})") from None
        width = max(6, len(str(n - 1)))
        params = [cv2.IMWRITE_JPEG_QUALITY, int(args.jpeg_quality)] if args.format == "jpg" else []
        with ProgressBar(len(frames), desc="extract", unit="frame", enabled=not args.quiet) as bar:
            for i in frames:  # sorted: the reader decodes forward between nearby frames
                target = out / f"{i:0{width}d}.{args.format}"
                ok, data = cv2.imencode(f".{args.format}", reader.get(i), params)
                if not ok:
                    raise CliError(f"{target}: cannot encode the image")
                try:
                    target.write_bytes(data.tobytes())
                except OSError as exc:
                    raise CliError(f"{target}: cannot write ({exc.strerror or exc})") from None
                bar.update(1)
    print(f"wrote {len(frames)} frame(s) to {out}")
    return 0
