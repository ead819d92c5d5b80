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
    p.add_argument("project", help="project file (.posestudio) or database URL")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--check", action="store_true",
                   help="read every labeled frame and compare it with its stored fingerprint: "
                        "lists the labels that no longer sit on their frames (video replaced, "
                        "re-cut or re-encoded with other frames); also checks the file itself "
                        "(SQLite's integrity check, foreign keys, every stored row); exit "
                        "status 1 when anything is found")
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
            "file": _file_status(project, v.id),
            "notices": _notices(project, v.id),
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


def _notices(project: Any, video_id: int) -> list[dict[str, str]]:
    """Problems found when the video was indexed (kept with its index in the project)."""
    from pose_studio.video import notices_from_index

    return [{"kind": n.kind, "severity": n.severity, "text": n.text}
            for n in notices_from_index(project.video_index(video_id))]


def _file_status(project: Any, video_id: int) -> dict[str, str]:
    st = project.video_file_status(video_id)
    return {"state": st.state, "detail": st.detail}


def check(project: Any) -> list[dict[str, Any]]:
    """Fingerprint check of every video's labeled frames, as plain data."""
    from pose_studio.formats.frame_check import check_video_frames

    out = []
    for v in project.videos():
        r = check_video_frames(project, v.id)
        out.append({"id": v.id, "path": str(r.path), "file": r.status.state,
                    "checked": r.checked, "moved": list(r.moved),
                    "unverified": list(r.unverified), "frames_now": r.frame_count,
                    "shift": r.shift, "reasons": {str(f): w for f, w in r.reasons.items()},
                    "error": r.error, "notes": list(r.notes), "damaged": list(r.damaged),
                    "size_now": list(r.size_now) if r.size_now else None})
    return out


def _frames_text(frames: list[int], limit: int = 20) -> str:
    shown = ", ".join(str(f) for f in frames[:limit])
    return shown + (f", ... ({len(frames)} in all)" if len(frames) > limit else "")


def run(args: argparse.Namespace) -> int:
    from pose_studio.core.errors import PoseStudioError
    from pose_studio.store import Project

    with Project.open(args.project, read_only=True) as project:
        health = project.check_health() if args.check else None
        try:
            info = collect(project)
        except PoseStudioError as exc:
            if health is None or health.ok:
                raise
            # a damaged file: what the check found is the answer
            print(f"project:  {project.path}")
            print(f"check file: the project cannot be listed: {exc}")
            _print_health(health, str(project.path))
            return 1
        checks = check(project) if args.check else None
    if checks is not None:
        info["check"] = checks
    if health is not None:
        info["file_check"] = health.as_dict()
    bad = bool(checks) and any(c["moved"] or c["error"] or c["size_now"] or c["damaged"]
                               for c in checks or [])
    bad = bad or (health is not None and not health.ok)
    if args.json:
        print(json.dumps(info, indent=2))
        return 1 if bad else 0
    sk = info["skeleton"]
    print(f"project:  {info['project']}")
    print(f"skeleton: {sk['name']} ({sk['keypoints']} keypoints, {sk['edges']} edges)")
    print(f"videos:   {len(info['videos'])}")
    for v in info["videos"]:
        flag = "  [MISSING: relink it]" if v["missing"] else ""
        rate = f"{v['fps']:.3f} fps" + (" vfr" if v["vfr"] else "")
        print(f"  [{v['id']}] {v['path']}{flag}")
        if v["file"]["state"] == "changed":
            print(f"      FILE CHANGED since it was added: {v['file']['detail']}; run "
                  "`pose-studio info --check` to see which labels no longer sit on their frames")
        print(f"      {v['frames']} frames, {rate}, {v['codec']}, {v['width']}x{v['height']}")
        print(f"      labeled: {v['labeled_frames']} frames / {v['user_instances']} instances; "
              f"predicted: {v['predicted_frames']} frames / {v['predicted_instances']} instances")
        for n in v["notices"]:
            print(f"      {n['severity']}: {n['text']}")
    t = info["totals"]
    print(f"total:    labeled {t['labeled_frames']} frames / {t['user_instances']} instances; "
          f"predicted {t['predicted_frames']} frames / {t['predicted_instances']} instances")
    print(f"tracks:   {info['tracks']}; model runs: {info['model_runs']}")
    if health is not None:
        _print_health(health, info["project"])
    for c in checks or []:
        head = f"check [{c['id']}] {c['path']}:"
        if c["error"]:
            print(f"{head} cannot read the video: {c['error']}")
            continue
        for note in c["notes"]:
            print(f"{head} note: {note}")
        if c["moved"]:
            print(f"{head} {len(c['moved'])} of {c['checked']} checked labeled frames no longer "
                  f"show the picture they were labeled on: frames {_frames_text(c['moved'])}")
            if c["shift"] is None:
                for f, why in list(c["reasons"].items())[:5]:
                    print(f"{head}   frame {f}: {why}")
        else:
            print(f"{head} all {c['checked']} checked labeled frames match their fingerprints"
                  + (" (but the frame size changed)" if c["size_now"] else ""))
        if c["damaged"]:
            print(f"{head} {len(c['damaged'])} labeled frames have a damaged stored fingerprint "
                  f"and cannot be checked: frames {_frames_text(c['damaged'])} (frame "
                  f"{c['damaged'][0]}: {c['reasons'][str(c['damaged'][0])]})")
        if c["unverified"]:
            print(f"{head} {len(c['unverified'])} labeled frames have no fingerprint (labeled "
                  f"before fingerprints were kept): frames {_frames_text(c['unverified'])}")
    return 1 if bad else 0


def _print_health(h: Any, path: str) -> None:
    """The file check's findings (``Project.check_health``)."""
    if h.integrity == ["ok"]:
        print("check file: SQLite integrity check: ok")
    else:
        print(f"check file: SQLite integrity check found problems: {'; '.join(h.integrity[:5])}"
              + (f" ... ({len(h.integrity)} listed)" if len(h.integrity) > 5 else ""))
    for line in h.foreign_keys[:5]:
        print(f"check file: {line}")
    for line in h.errors:
        print(f"check file: {line}")
    if h.damaged:
        print(f"check file: {len(h.damaged)} damaged rows (left out when reading):")
        for d in h.damaged[:20]:
            print(f"check file:   {d}")
    else:
        print(f"check file: all {h.rows_checked} rows valid")
    if not h.ok:
        print(f"check file: `pose-studio repair {path} --out CLEAN.posestudio` writes a copy "
              "with what can be read")
