"""A strip above the frame with what was found in the shown source (a video's notices).

Warnings (frames missing or numbered differently) are amber, information is blue-grey. The
headline shows the first notice; "Details" unfolds every line; ✕ dismisses it for this source
(``dismissed`` is emitted so the controller remembers).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

_STYLES = {
    "warning": ("#fff3c4", "#5a4500"),
    "info": ("#e3ecf5", "#1f3a55"),
}


class NoticeBanner(QWidget):
    """See the module docstring. ``show_banner(severity, headline, lines)``."""

    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notice_banner")
        self.setAutoFillBackground(True)
        self.severity = ""
        self.label = QLabel(self)
        self.label.setObjectName("notice_headline")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QLabel(self)
        self.details.setObjectName("notice_details")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.hide()
        self.more = QToolButton(self)
        self.more.setText("Details")
        self.more.setToolTip("Show every notice about this video")
        self.more.setCheckable(True)
        self.more.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.more.toggled.connect(self.details.setVisible)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setToolTip("Hide this notice for this video")
        self.close_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.close_button.clicked.connect(self._dismiss)
        text = QVBoxLayout()
        text.setContentsMargins(0, 0, 0, 0)
        text.addWidget(self.label)
        text.addWidget(self.details)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.addLayout(text, 1)
        lay.addWidget(self.more, 0, Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_banner(self, severity: str, headline: str, lines: tuple[str, ...]) -> None:
        bg, fg = _STYLES.get(severity, _STYLES["info"])
        self.severity = severity
        self.setStyleSheet(f"#notice_banner {{ background: {bg}; }} QLabel {{ color: {fg}; }}")
        self.label.setText(headline)
        self.details.setText("\n".join(f"• {line}" for line in lines))
        self.more.setVisible(len(lines) > 1 or len(headline) > 160)
        self.more.setChecked(False)
        self.show()

    def clear(self) -> None:
        self.severity = ""
        self.hide()

    def _dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()
