"""Helpers shared by the labeling commands (track, interpolate, propagate, suggest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pose_studio.cli.common import CliError


def one_video(project: Any, spec: str | None) -> Any:
    """The video named by ``--video`` (id or path); the only one when there is one."""
    from pose_studio.cli.cmd_infer import _videos

    videos = _videos(project, spec)
    if len(videos) != 1:
        raise CliError(f"project {project.path} has {len(videos)} videos: name one with --video")
    return videos[0]


def frame_range(spec: str | None, n_frames: int) -> tuple[int, int]:
    from pose_studio.cli.common import parse_range

    return parse_range(spec, n_frames)


def track_filter(project: Any, spec: str | None) -> int | None:
    """``--track``: a track id or name; None when not given."""
    if spec is None:
        return None
    tracks = project.tracks()
    for t in tracks:
        if str(t.id) == spec or t.name == spec:
            return int(t.id)
    names = ", ".join(f"{t.id} ({t.name})" for t in tracks[:10]) or "none; run 'pose-studio track'"
    raise CliError(f"project {project.path} has no track {spec!r} (tracks: {names})")


class FrameSource:
    """``frame index -> BGR frame`` from a project's video, opened once."""

    def __init__(self, project: Any, video: Any) -> None:
        from pose_studio.video import open_video

        if video.missing:
            raise CliError(f"video {video.id} ({video.stored_path}) is missing: relink it first")
        self._reader = open_video(Path(video.path), index=project.video_index(video.id))

    def __call__(self, i: int) -> Any:
        return self._reader.get(i)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

