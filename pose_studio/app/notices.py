"""The problems found in a source, as the window's banner shows them (Qt-free).

A video's reader reports :class:`~pose_studio.video.VideoNotice` values when it indexes the file
(truncated, repeated timestamps, frames numbered in decode order, hidden VP8/VP9 frames left
out, long GOPs...; an image set: images that cannot be read). Each has a severity: a
``warning`` changes which frames exist or how they are numbered; ``info`` is about speed or
explains something that is handled. The banner shows them for the video they belong to; the
user can dismiss it, and it is not shown again for that video in this session (another video
with notices shows its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["BannerText", "Notices", "banner_for"]


@dataclass(frozen=True)
class BannerText:
    """What the banner says: ``warning`` or ``info``, a headline, every notice's line."""

    severity: str
    headline: str
    lines: tuple[str, ...]

    def text(self) -> str:
        return "\n".join(self.lines)


def banner_for(name: str, notices: Sequence[Any]) -> BannerText | None:
    """The banner for source ``name`` (None: nothing to say). Warnings first."""
    if not notices:
        return None
    ordered = sorted(notices, key=lambda n: getattr(n, "severity", "info") != "warning")
    warn = sum(1 for n in ordered if getattr(n, "severity", "info") == "warning")
    lines = tuple(str(getattr(n, "text", n)) for n in ordered)
    if warn:
        head = f"⚠ {name}: {lines[0]}"
    else:
        head = f"Note: {name}: {lines[0]}"
    if len(lines) > 1:
        head += f"  (+{len(lines) - 1} more)"
    return BannerText("warning" if warn else "info", head, lines)


class Notices:
    """The notices of each opened source and which the user dismissed (this session)."""

    def __init__(self) -> None:
        self._by_source: dict[object, tuple[Any, ...]] = {}
        self._dismissed: set[object] = set()

    def clear(self) -> None:
        """A project was closed or opened: forget everything."""
        self._by_source.clear()
        self._dismissed.clear()

    def set(self, key: object, notices: Sequence[Any]) -> None:
        self._by_source[key] = tuple(notices)

    def get(self, key: object) -> tuple[Any, ...]:
        return self._by_source.get(key, ())

    def dismiss(self, key: object) -> None:
        self._dismissed.add(key)

    def banner(self, key: object, name: str) -> BannerText | None:
        """The banner to show for ``key`` now (None: none, or dismissed)."""
        if key in self._dismissed:
            return None
        return banner_for(name, self._by_source.get(key, ()))
