"""The transport bar under the timeline: play/pause, frame number, time, speed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QStyle,
    QToolButton,
    QWidget,
)

#: Playback speeds offered ([ and ] step through them).
SPEEDS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0, 8.0)


class Transport(QWidget):
    """The widgets only; :class:`~pose_studio.gui.controllers.playback.PlaybackController`
    drives them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.play_button = QToolButton(self)
        self.play_button.setObjectName("play_button")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.play_button.setAutoRaise(True)
        self.frame_spin = QSpinBox(self)
        self.frame_spin.setObjectName("frame_spin")
        self.frame_spin.setRange(0, 0)
        self.frame_spin.setKeyboardTracking(False)
        self.frame_spin.setToolTip("Current frame (Ctrl+G to jump)")
        self.frame_total = QLabel("/ 0", self)
        self.frame_total.setMinimumWidth(60)
        self.time_label = QLabel("0:00.000", self)
        self.time_label.setObjectName("time_label")
        self.time_label.setMinimumWidth(120)
        self.speed_combo = QComboBox(self)
        self.speed_combo.setObjectName("speed_combo")
        self.speed_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for s in SPEEDS:
            self.speed_combo.addItem(f"{s:g}×", s)
        self.speed_combo.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_combo.setToolTip("Playback speed ([ slower, ] faster)")
        bar = QHBoxLayout(self)
        bar.setContentsMargins(6, 2, 6, 2)
        bar.setSpacing(8)
        for w in (self.play_button, self.frame_spin, self.frame_total, self.time_label):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(QLabel("speed", self))
        bar.addWidget(self.speed_combo)
        self.show_playing(False)

    def show_playing(self, playing: bool) -> None:
        """The style's media icons (a font glyph may be missing)."""
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else \
            QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setProperty("playing", playing)

    def set_frame(self, frame_idx: int, time_text: str) -> None:
        self.frame_spin.blockSignals(True)
        self.frame_spin.setValue(frame_idx)
        self.frame_spin.blockSignals(False)
        self.time_label.setText(time_text)

    def set_count(self, n: int) -> None:
        self.frame_spin.setRange(0, max(0, n - 1))
        self.frame_total.setText(f"/ {max(0, n - 1)}")

    def set_speed(self, speed: float) -> None:
        i = min(range(len(SPEEDS)), key=lambda j: abs(SPEEDS[j] - speed))
        self.speed_combo.blockSignals(True)
        self.speed_combo.setCurrentIndex(i)
        self.speed_combo.blockSignals(False)
