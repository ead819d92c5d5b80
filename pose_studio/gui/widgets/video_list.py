"""The project's sources (videos and image sets); missing files are marked and can be
relinked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QMenu, QStyle, QWidget

from pose_studio.app.frame_info import source_details, source_name

Sizes = Mapping[int, Mapping[tuple[int, int], int]]


def details(video: Any, sizes: Mapping[tuple[int, int], int] | None = None) -> str:
    """Size, frames and fps of a :class:`VideoRecord`; an image set: its images and sizes."""
    return source_details(video, dict(sizes) if sizes is not None else None)


def describe(video: Any) -> str:
    """One line for a :class:`VideoRecord`: name, size, frames, fps."""
    return f"{source_name(video)}  ({details(video)})"


class VideoList(QListWidget):
    """``video_activated(id)`` when the user picks a video; ``relink_requested(id)``."""

    video_activated = Signal(int)
    relink_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("video_list")
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.itemActivated.connect(self._activated)
        self.itemClicked.connect(self._activated)
        self._ids: list[int] = []
        self._current: int | None = None
        # A narrow dock: name over details, elided in the middle, never a sideways scrollbar.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setUniformItemSizes(True)

    def set_videos(self, videos: Sequence[Any], current: int | None,
                   sizes: Sizes | None = None) -> None:
        """``sizes``: ``{image set id: {(w, h): images}}`` (``Project.image_sizes``)."""
        self.blockSignals(True)
        try:
            self.clear()
            self._ids = []
            for v in videos:
                missing = not Path(str(v.path)).exists()
                info = details(v, (sizes or {}).get(int(v.id)))
                second = "missing: right-click to relink" if missing else info
                item = QListWidgetItem(f"{source_name(v)}\n{second}")
                item.setToolTip(f"{v.path}\n{info}")
                if missing:
                    item.setForeground(QBrush(QColor(230, 90, 80)))
                self.addItem(item)
                self._ids.append(int(v.id))
            self.set_current(current)
        finally:
            self.blockSignals(False)

    def set_current(self, video_id: int | None) -> None:
        """Mark the shown video with the play icon (bold text would no longer fit and be cut
        short: "180…rames")."""
        self._current = video_id
        play = self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay)
        self.blockSignals(True)
        try:
            for row, vid in enumerate(self._ids):
                item = self.item(row)
                item.setIcon(play if vid == video_id else QIcon())
                if vid == video_id:
                    self.setCurrentRow(row)
        finally:
            self.blockSignals(False)

    def video_ids(self) -> list[int]:
        return list(self._ids)

    def _activated(self, item: QListWidgetItem) -> None:
        row = self.row(item)
        if 0 <= row < len(self._ids) and self._ids[row] != self._current:
            self.video_activated.emit(self._ids[row])

    def _menu(self, pos: QPoint) -> None:
        item = self.itemAt(pos)
        if item is None:
            return
        vid = self._ids[self.row(item)]
        menu = QMenu(self)
        menu.addAction("Show", lambda: self.video_activated.emit(vid))
        menu.addAction("Relink…", lambda: self.relink_requested.emit(vid))
        menu.exec(self.mapToGlobal(pos))
