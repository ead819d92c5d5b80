"""``pose-studio info PROJECT``: what a project holds (videos, skeleton, label counts)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "info",
        help="show a project's videos, skeleton and label counts",
        description="Summarise a project (opens it read-only, so it works while the window "
        "has it open).",
    )
    p.add_argument("project", help="project file (.posestudio)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def collect(project: Any) -> dict[str, Any]:
    """The facts ``info`` prints, as plain data."""
    sk = project.skeleton
    videos = []
    for v in project.videos():
        fa = project.frame_arrays(v.id)
        videos.append({
            "id": v.id, "path": str(v.path), "stored_path": v.stored_path,
            "missing": v.missing, "frames": v.frame_count, "fps": v.fps, "vfr": v.vfr,
            "codec": v.codec, "width": v.width, "height": v.height,
            "labeled_frames": int(fa.labeled.sum()), "user_instances": int(fa.n_user.sum()),
            "predicted_frames": int(fa.predicted.sum()),
            "predicted_instances": int(fa.n_predicted.sum()),
        })
    totals = {k: sum(v[k] for v in videos) for k in
              ("labeled_frames", "user_instances", "predicted_frames", "predicted_instances")}
    return {
        "project": str(project.path),
        "read_only": project.read_only,
        "skeleton": {"name": sk.name, "keypoints": sk.num_keypoints, "edges": len(sk.edges)},
        "videos": videos,
        "tracks": len(project.tracks()),
        "model_runs": len(project.model_runs()),
        "totals": totals,
    }


def run(args: argparse.Namespace) -> int:
    from pose_studio.store import Project

    with Project.open(args.project, read_only=True) as project:
        info = collect(project)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    sk = info["skeleton"]
    print(f"project:  {info['project']}")
    print(f"skeleton: {sk['name']} ({sk['keypoints']} keypoints, {sk['edges']} edges)")
    print(f"videos:   {len(info['videos'])}")
    for v in info["videos"]:
        flag = "  [MISSING: relink it]" if v["missing"] else ""
        rate = f"{v['fps']:.3f} fps" + (" vfr" if v["vfr"] else "")
        print(f"  [{v['id']}] {v['path']}{flag}")
        print(f"      {v['frames']} frames, {rate}, {v['codec']}, {v['width']}x{v['height']}")
        print(f"      labeled: {v['labeled_frames']} frames / {v['user_instances']} instances; "
              f"predicted: {v['predicted_frames']} frames / {v['predicted_instances']} instances")
    t = info["totals"]
    print(f"total:    labeled {t['labeled_frames']} frames / {t['user_instances']} instances; "
          f"predicted {t['predicted_frames']} frames / {t['predicted_instances']} instances")
    print(f"tracks:   {info['tracks']}; model runs: {info['model_runs']}")
    return 0
