"""What the window says about the shown frame and source (Qt-free).

An image set steps image by image: its position reads "image 5 of 120" (no time, no frame
rate), and each image's relative path and own size are shown. The file comes from the
project's per-image rows (``Project.frame_file``), or, for image folders added before those
rows existed, from the listing the set's stored index records (parsed once per set). The size
is that of the pixels on screen when they are this frame's, else the recorded one.

Also the one line the video list shows under a source's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FrameFiles", "FrameInfo", "image_set_sizes", "source_details", "source_name"]


@dataclass(frozen=True)
class FrameInfo:
    """The shown frame of the current source."""

    image_set: bool
    index: int
    count: int
    name: str | None = None  # the image's path relative to its set's folder
    size: tuple[int, int] | None = None

    def position_text(self) -> str:
        """``image 5 of 120`` (counted from 1, as people count images)."""
        return f"image {self.index + 1} of {self.count}"

    def file_text(self) -> str:
        """``images/val/000123.jpg · 640×480`` (what is known of it)."""
        bits = [b for b in (self.name, f"{self.size[0]}×{self.size[1]}" if self.size else None)
                if b]
        return " · ".join(bits)


class FrameFiles:
    """Looks up the image behind each frame of the current image set (one small query per
    frame; a listing parsed once per set for old image folders)."""

    def __init__(self) -> None:
        self._listing_of: int | None = None
        self._listing: list[tuple[str, int | None, int | None]] | None = None

    def clear(self) -> None:
        self._listing_of, self._listing = None, None

    def info(self, session: Any) -> FrameInfo | None:
        """The current frame's info, or None when no video is shown."""
        project, vid = session.project, session.video_id
        if project is None or vid is None:
            return None
        rec = session.video_record()
        if rec is None:
            return None
        idx = int(session.frame_idx)
        images = rec.kind == "images"
        shown = session.shown_exact()
        size = (int(shown.pixels.shape[1]), int(shown.pixels.shape[0])) if shown is not None \
            else None
        if not images:
            return FrameInfo(False, idx, int(session.frame_count), None,
                             size or (int(rec.width), int(rec.height)))
        name, stored = self._file(project, int(vid), idx)
        return FrameInfo(True, idx, int(session.frame_count), name, size or stored)

    def _file(self, project: Any, vid: int, idx: int
              ) -> tuple[str | None, tuple[int, int] | None]:
        f = project.frame_file(vid, idx)
        if f is not None:
            size = (int(f.width), int(f.height)) if f.width and f.height else None
            return str(f.path), size
        if self._listing_of != vid:
            from pose_studio.video.image_reader import listing_from_index

            self._listing_of = vid
            self._listing = listing_from_index(project.video_index(vid))
        if self._listing is not None and 0 <= idx < len(self._listing):
            rel, w, h = self._listing[idx]
            return rel, (int(w), int(h)) if w and h else None
        return None, None


def source_details(video: Any, sizes: dict[tuple[int, int], int] | None = None) -> str:
    """One line on a project source: ``1920×1080, 900 frames, 30 fps`` for a video;
    ``image set: 120 images, 3 sizes`` for an image set (``sizes``: ``Project.image_sizes``)."""
    if getattr(video, "kind", "file") == "images":
        n = int(video.frame_count)
        text = f"image set: {n} image{'' if n == 1 else 's'}"
        if sizes and len(sizes) > 1:
            return f"{text}, {len(sizes)} sizes"
        if sizes:
            (w, h), = sizes
            return f"{text}, {w}×{h}"
        return f"{text}, {video.width}×{video.height}"
    bits = [f"{video.width}×{video.height}", f"{video.frame_count} frames"]
    if getattr(video, "fps", None):
        bits.append(f"{float(video.fps):.3g} fps" + (" VFR" if getattr(video, "vfr", False)
                                                       else ""))
    return ", ".join(bits)


def source_name(video: Any) -> str:
    """The name a source is listed under (an image set's folder name with a slash)."""
    name = Path(str(video.path)).name
    return f"{name}/" if getattr(video, "kind", "file") == "images" else name


def image_set_sizes(project: Any, videos: Any, cache: dict[Any, Any] | None = None
                    ) -> dict[int, dict[tuple[int, int], int]]:
    """``{image set id: {(width, height): images}}`` for the video list (one grouped query
    per image set; ``cache`` keeps the answer while a set's image count is the same: 0.1 s
    for 100k images)."""
    if project is None:
        return {}
    out = {}
    for v in videos:
        if getattr(v, "kind", "file") != "images":
            continue
        key = (str(project.path), int(v.id), int(v.frame_count))
        sizes = cache.get(key) if cache is not None else None
        if sizes is None:
            sizes = project.image_sizes(int(v.id))
            if cache is not None:
                cache[key] = sizes
        out[int(v.id)] = sizes
    return out
