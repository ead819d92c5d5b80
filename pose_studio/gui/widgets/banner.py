"""A non-modal warning strip above the frame (labels that no longer match their pictures)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget


class Banner(QWidget):
    """``next_clicked`` / ``list_clicked``; the ✕ hides it."""

    next_clicked = Signal()
    list_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("warning_banner")
        self.setAutoFillBackground(True)
        self.setStyleSheet("#warning_banner { background: #fff3c4; }"
                           " QLabel { color: #5a4500; }")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.addWidget(self.label, 1)
        for text, sig, tip in (("Next", self.next_clicked, "Go to the next such frame"),
                               ("List…", self.list_clicked, "List every such frame"),
                               ("✕", None, "Hide this warning")):
            b = QToolButton(self)
            b.setText(text)
            b.setToolTip(tip)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            if sig is None:
                b.clicked.connect(self.hide)
            else:
                b.clicked.connect(sig.emit)
            lay.addWidget(b)
        self.hide()

    def show_text(self, text: str) -> None:
        self.label.setText(text)
        self.show()
