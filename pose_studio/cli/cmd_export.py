"""``pose-studio export``: write a project's instances as a dataset file (COCO keypoints by
default, or another registered format) and optionally the images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pose_studio.cli.common import CliError, ProgressBar


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export",
        help="export labels/predictions as COCO keypoints (or another format), optionally with "
             "the images",
        description=(
            "Write PROJECT's instances as a COCO keypoints file that pycocotools, mmpose and "
            "CVAT read: image sets under their own file names, relative paths, sizes and ids; "
            "video frames as <video>/<frame>.png; float coordinates, v in {0,1,2}, 1-based "
            "skeleton, categories, track ids, score/source for predictions, and every field "
            "the imported files carried (segmentation, area, attributes...). --format names "
            "another registered format. The file is written atomically."
        ),
    )
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("--out", required=True, metavar="PATH", help="the file (or folder) to write")
    p.add_argument("--format", default="coco", metavar="NAME",
                   help="coco (default) or another registered format that writes")
    p.add_argument("--images", metavar="DIR",
                   help="also write the images here: image-set files copied under their own "
                        "names and folders, video frames read exactly (the file names in the "
                        "JSON are relative to DIR)")
    p.add_argument("--source", choices=("user", "predicted", "all"), default="user",
                   help="user labels (default), model predictions, or both")
    p.add_argument("--image-format", choices=("png", "jpg"), default="png",
                   help="frame image format (default png, lossless)")
    p.add_argument("--jpeg-quality", type=int, default=95, metavar="N",
                   help="JPEG quality 1..100 (default 95)")
    p.add_argument("--video", action="append", metavar="ID|PATH",
                   help="only this video (repeatable; default: all videos)")
    p.add_argument("--bbox-padding", type=float, default=0.1, metavar="F",
                   help="padding of boxes derived from keypoints, as a fraction of their "
                        "longer side (default 0.1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out file and write into a non-empty --images "
                        "folder (never the project's own files)")
    p.set_defaults(func=run)


def resolve_video(project: Any, spec: str) -> int:
    """A video id from an id, a file name or a path (shared with ``import``)."""
    videos = list(project.videos())
    if spec.isdigit():
        for v in videos:
            if v.id == int(spec):
                return int(v.id)
    for v in videos:
        if spec in (str(v.path), Path(v.path).name, str(v.stored_path)):
            return int(v.id)
    found = project.find_video(spec)
    if found is not None:
        return int(found)
    listing = ", ".join(f"{v.id}={Path(v.path).name}" for v in videos) or "none"
    raise CliError(f"no video {spec!r} in project {project.path} (videos: {listing})")


def run(args: argparse.Namespace) -> int:
    from pose_studio.cli.outputs import guard_export
    from pose_studio.formats.coco import export_coco
    from pose_studio.store.project import Project

    if not 1 <= args.jpeg_quality <= 100:
        raise CliError(f"--jpeg-quality must be 1..100, got {args.jpeg_quality}")
    if args.format != "coco":
        return _run_other(args)
    with Project.open(args.project, read_only=True) as project:
        video_ids = [resolve_video(project, s) for s in args.video] if args.video else None
        bar = ProgressBar(None, desc="export", enabled=bool(args.images) and not args.quiet)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.set(done)

        with guard_export(project, args, video_ids), bar:  # sources, --force, space
            summary = export_coco(
                project, args.out, source=args.source, images_dir=args.images,
                image_format=args.image_format, jpeg_quality=args.jpeg_quality,
                video_ids=video_ids, progress=progress, bbox_padding=args.bbox_padding,
            )
    extra = f", {summary.images_written} images in {args.images}" if args.images else ""
    regions = f" and {summary.n_regions} regions" if summary.n_regions else ""
    print(f"wrote {summary.path}: {summary.n_annotations} annotations ({summary.n_user} user, "
          f"{summary.n_predicted} predicted){regions} on {summary.n_images} frames{extra}")
    return 0


def _run_other(args: argparse.Namespace) -> int:
    """Export through the format registry: the project as a dataset, the format's writer.
    First the same checks as COCO's: the sources are the files that were labeled, and the
    output is neither the project nor one of its sources (the writer enforces --force)."""
    from pose_studio.app.dataset_export import ExportRequest, preflight
    from pose_studio.formats.frame_check import verify_sources
    from pose_studio.formats.project_dataset import ProjectFrames, dataset_from_project
    from pose_studio.formats.registry import WriteOptions, get_format
    from pose_studio.store.project import Project

    fmt = get_format(args.format)
    if fmt.write is None:
        raise CliError(f"{fmt.label} files cannot be written (export formats: coco and those "
                       "with a writer)")
    with Project.open(args.project, read_only=True) as project:
        video_ids = [resolve_video(project, s) for s in args.video] if args.video else None
        verify_sources(project, video_ids, action="export")
        preflight(project, ExportRequest(Path(args.out), fmt.name, source=args.source,
                                         jpeg_quality=args.jpeg_quality))
        dataset = dataset_from_project(project, source=args.source, video_ids=video_ids)
        bar = ProgressBar(None, desc="export", enabled=not args.quiet)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.set(done)

        with bar, ProjectFrames(project) as frames:
            s = fmt.write(dataset, Path(args.out), WriteOptions(
                frames=frames, image_format=args.image_format, progress=progress,
                images_dir=Path(args.images) if args.images else None,
                jpeg_quality=args.jpeg_quality, bbox_padding=args.bbox_padding))
    print(f"wrote {s.path} ({fmt.name}): {s.annotations} annotations, {s.files_written} files")
    for line in s.not_written:
        print(f"not written: {line}")
    return 0
