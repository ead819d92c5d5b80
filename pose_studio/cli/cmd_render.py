"""``pose-studio render``: draw the project's skeletons onto a video's frames.

Writes a video (``OUT.mp4``/``.avi``/``.mkv``/``.mov``, H.264 where the FFmpeg build has it, else
MPEG-4 Part 2) or a folder of PNGs (``OUT`` with no video suffix), one output frame per input
frame in the range, at the source frame rate.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pose_studio.cli.common import CliError, ProgressBar, parse_range

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".m4v"}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "render",
        help="draw skeleton overlays onto a video (MP4 or PNG frames)",
        description=(
            "Draw user labels and/or predictions from PROJECT onto the frames of one of its "
            "videos and write a video file or a folder of PNGs."
        ),
    )
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("--video", help="video id, file name or path (default: the only video)")
    p.add_argument("--frames", metavar="A:B", help="half-open frame range (default: all)")
    p.add_argument("--source", choices=("user", "predicted", "all"), default="all",
                   help="which instances to draw (default: all)")
    p.add_argument("--min-score", type=float, default=0.0,
                   help="hide predicted keypoints scoring below this (default 0)")
    p.add_argument("--boxes", action="store_true", help="also draw instance boxes and scores")
    p.add_argument("--out", required=True,
                   help="output video (.mp4/.avi/.mkv/.mov) or a folder for PNG frames")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true",
                   help="replace an existing output video or frames (never the project's own "
                        "files)")
    p.set_defaults(func=run)


def _pick_video(project: Any, spec: str | None) -> Any:
    videos = list(project.videos())
    if not videos:
        raise CliError(f"project {project.path} has no videos")
    if spec is None:
        if len(videos) == 1:
            return videos[0]
        names = ", ".join(f"{v.id}={Path(v.path).name}" for v in videos)
        raise CliError(f"project has {len(videos)} videos; choose one with --video ({names})")
    if spec.isdigit():
        for v in videos:
            if v.id == int(spec):
                return v
    for v in videos:
        if spec in (str(v.path), Path(v.path).name, str(getattr(v, "stored_path", ""))):
            return v
    try:
        want = Path(spec).resolve()
        for v in videos:
            if Path(v.path).resolve() == want:
                return v
    except OSError:
        pass
    raise CliError(f"no video {spec!r} in project {project.path}")


def _frames(reader: Any, start: int, stop: int) -> Iterator[tuple[int, Any]]:
    yield from reader.iter_frames(start, stop)


def _select(insts: list[Any], source: str, kind: Any) -> list[Any]:
    """The instances to draw; with ``all``, a prediction the user accepted (a user instance
    made from it) is hidden so the corrected label is not drawn twice."""
    users = [i for i in insts if i.kind is kind.USER]
    preds = [i for i in insts if i.kind is kind.PREDICTED]
    if source == "user":
        return users
    if source == "predicted":
        return preds
    accepted = {u.source_id for u in users if u.source_id is not None}
    return [p for p in preds if p.id not in accepted] + users


def _check_outputs(project: Any, out: Path, as_video: bool, frames: range, force: bool,
                   size: tuple[int, int]) -> None:
    """Refuse before any work: an existing output without --force, any project file, no space."""
    from pose_studio.cli.outputs import (
        PNG_BYTES_PER_PIXEL,
        VIDEO_BYTES_PER_PIXEL,
        check_output_folder,
        project_files,
    )
    from pose_studio.core.output import check_folder_targets, check_free_space, check_target

    protected = project_files(project)
    pixels = len(frames) * size[0] * size[1]
    if as_video:
        check_target(out, force=force, protected=protected, what="--out",
                     missing_folder_ok=True)
        check_free_space(out.parent, int(pixels * VIDEO_BYTES_PER_PIXEL), "the rendered video")
    else:
        check_output_folder(out, protected, "--out")
        check_folder_targets(out, (_png_name(i) for i in frames), force=force,
                             protected=protected, what="--out")
        check_free_space(out, int(pixels * PNG_BYTES_PER_PIXEL), "the rendered frames")


def _png_name(i: int) -> str:
    return f"frame_{i:06d}.png"


def run(args: argparse.Namespace) -> int:
    import cv2

    from pose_studio.cli.outputs import cleanup_on_failure
    from pose_studio.core.annotation import InstanceKind
    from pose_studio.core.output import OutputError, remove_quietly, write_bytes_atomic
    from pose_studio.formats.frame_check import verify_sources
    from pose_studio.formats.render import RenderStyle, VideoWriter, draw_instances
    from pose_studio.store.project import Project
    from pose_studio.video import open_video

    out = Path(args.out)
    as_video = out.suffix.lower() in VIDEO_SUFFIXES
    if not as_video and out.exists() and not out.is_dir():
        raise CliError(
            f"--out {out} is a file without a video suffix: use .mp4/.avi/.mkv/.mov or a folder"
        )
    with Project.open(args.project, read_only=True) as project:
        record = _pick_video(project, args.video)
        verify_sources(project, [record.id], action="render")
        start, stop = parse_range(args.frames, int(record.frame_count))
        _check_outputs(project, out, as_video, range(start, stop), bool(args.force),
                       (int(record.width or 0), int(record.height or 0)))
        style = RenderStyle(min_score=args.min_score, draw_boxes=args.boxes,
                            draw_scores=args.boxes)
        skeleton = project.skeleton
        written: list[Path] = []
        with open_video(record.path, index=project.video_index(record.id)) as reader, \
                cleanup_on_failure(out.parent if as_video else out):
            writer: VideoWriter | None = None
            if as_video:
                out.parent.mkdir(parents=True, exist_ok=True)
                writer = VideoWriter(out, reader.meta.width, reader.meta.height,
                                     float(record.fps or reader.meta.fps),
                                     overwrite=bool(args.force))
            else:
                try:
                    out.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise CliError(f"cannot create folder {out}: {exc.strerror}") from exc
            n = 0
            try:
                with ProgressBar(stop - start, desc="render", enabled=not args.quiet) as bar:
                    for idx, frame in _frames(reader, start, stop):
                        insts = _select(project.instances(record.id, idx), args.source,
                                        InstanceKind)
                        img = draw_instances(frame, insts, skeleton, style)
                        if writer is not None:
                            writer.write(img)
                        else:
                            path = out / _png_name(idx)
                            ok, buf = cv2.imencode(".png", img)
                            if not ok:  # pragma: no cover - BGR uint8 always encodes
                                raise OutputError(f"cannot encode {path}")
                            write_bytes_atomic(path, buf.tobytes(), overwrite=bool(args.force))
                            written.append(path)
                        n += 1
                        bar.update(1)
                if writer is not None:
                    writer.close()
            except BaseException:
                if writer is not None:
                    writer.abort()
                remove_quietly(written)  # all or nothing: no partial set of frames
                raise
    if not args.quiet:
        print(f"rendered {n} frames to {out}")
    return 0
