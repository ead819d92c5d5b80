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
    p.add_argument("--force", action="store_true", help="replace existing image files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import cv2

    from pose_studio.cli.outputs import (
        JPEG_BYTES_PER_PIXEL,
        PNG_BYTES_PER_PIXEL,
        check_output_folder,
        cleanup_on_failure,
    )
    from pose_studio.core.output import (
        check_folder_targets,
        check_free_space,
        remove_quietly,
        write_bytes_atomic,
    )
    from pose_studio.video import open_video

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"{out}: exists and is not a folder")
    if not 1 <= int(args.jpeg_quality) <= 100:
        raise CliError(f"--jpeg-quality must be 1-100, not {args.jpeg_quality}")
    force = bool(args.force)
    source = Path(args.video)
    with open_video(args.video) as reader:
        n = len(reader)
        frames = parse_frame_spec(args.frames, n)
        if not frames:
            raise CliError(f"--frames {args.frames!r} selects no frames (the video has {n})")
        width = max(6, len(str(n - 1)))
        names = [f"{i:0{width}d}.{args.format}" for i in frames]
        # Never into the image folder being read, never over the video itself.
        check_output_folder(out, [source], "--out")
        check_folder_targets(out, names, force=force, protected=[source], what="--out")
        per_px = JPEG_BYTES_PER_PIXEL if args.format == "jpg" else PNG_BYTES_PER_PIXEL
        check_free_space(out, int(len(frames) * reader.meta.width * reader.meta.height * per_px),
                         "the extracted frames")
        params = [cv2.IMWRITE_JPEG_QUALITY, int(args.jpeg_quality)] if args.format == "jpg" else []
        written: list[Path] = []
        with cleanup_on_failure(out):
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CliError(f"{out}: cannot create the folder ({exc.strerror or exc})") from None
            try:
                with ProgressBar(len(frames), desc="extract", unit="frame",
                                 enabled=not args.quiet) as bar:
                    for i, name in zip(frames, names):  # sorted: decodes forward between them
                        target = out / name
                        ok, data = cv2.imencode(f".{args.format}", reader.get(i), params)
                        if not ok:
                            raise CliError(f"{target}: cannot encode the image")
                        write_bytes_atomic(target, data.tobytes(), overwrite=force)
                        written.append(target)
                        bar.update(1)
            except BaseException:
                remove_quietly(written)  # all or nothing
                raise
    print(f"wrote {len(frames)} frame(s) to {out}")
    return 0
