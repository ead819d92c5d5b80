"""A tool's progress in the status bar: what runs, how far, and a Stop button.

Shown while a labeling tool works in the background (propagation, tracking, finding frames);
hidden otherwise. ``stop_requested(str)`` carries the purpose of the job shown.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget


class TaskProgress(QWidget):
    """See the module docstring."""

    stop_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("task_progress")
        self.purpose = ""  # the job shown (its purpose)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("", self)
        self.bar = QProgressBar(self)
        self.bar.setMaximumWidth(160)
        self.bar.setTextVisible(True)
        self.stop = QToolButton(self)
        self.stop.setText("Stop")
        self.stop.setToolTip("Stop (Shift+Esc); propagation keeps the frames done")
        self.stop.clicked.connect(lambda: self.stop_requested.emit(self.purpose))
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        lay.addWidget(self.stop)
        self.hide()

    def start(self, purpose: str, text: str, total: int = 0) -> None:
        self.purpose = purpose
        self.label.setText(text)
        self.bar.setRange(0, max(0, total))
        self.bar.setValue(0)
        self.show()

    def set_progress(self, purpose: str, done: int, total: int) -> None:
        if purpose != self.purpose:
            return
        if self.bar.maximum() != total:
            self.bar.setRange(0, max(0, total))
        self.bar.setValue(done)

    def finish(self, purpose: str) -> None:
        if purpose == self.purpose:
            self.purpose = ""
            self.hide()


__all__ = ["TaskProgress"]
