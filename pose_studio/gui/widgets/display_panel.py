"""The Display panel: brightness, contrast and gamma of the picture shown (for dark footage),
and how big keypoints and limbs are drawn.

The panel only holds values and says when they change (``changed``); the window applies them
to the view (``gui/controllers/display_options.py``). The picture's adjustments never touch the
session's pixels: the model, fingerprints and exports see the frame as decoded.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ..view.adjust import Adjust

__all__ = ["DisplayPanel"]


class _Slider(QWidget):
    """A slider with its value written beside it."""

    def __init__(self, lo: int, hi: int, value: int, fmt: str, scale: float,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scale = scale
        self.fmt = fmt
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(lo, hi)
        self.slider.setValue(value)
        self.slider.setPageStep(max(1, (hi - lo) // 20))
        self.label = QLabel(self)
        self.label.setMinimumWidth(40)
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.label)
        self.slider.valueChanged.connect(self._show)
        self._show(value)

    def _show(self, v: int) -> None:
        self.label.setText(self.fmt.format(v * self.scale))

    def value(self) -> float:
        return self.slider.value() * self.scale

    def set_value(self, v: float) -> None:
        self.slider.setValue(round(v / self.scale))


class DisplayPanel(QWidget):
    """See the module docstring. ``changed`` fires on every change (sliders while dragged)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("display_panel")
        self.brightness = _Slider(-100, 100, 0, "{:+.0f}", 1.0, self)
        self.contrast = _Slider(20, 300, 100, "{:.2f}×", 0.01, self)
        self.gamma = _Slider(20, 300, 100, "{:.2f}", 0.01, self)
        self.brightness.setToolTip("Levels added to every pixel (shown picture only)")
        self.contrast.setToolTip("Contrast about mid-grey (shown picture only)")
        self.gamma.setToolTip("Above 1 lifts dark areas without washing out bright ones")
        self.reset_button = QPushButton("Reset Picture", self)
        self.reset_button.setToolTip("Show the frame as decoded")
        self.radius = QDoubleSpinBox(self)
        self.radius.setRange(1.0, 20.0)
        self.radius.setSingleStep(0.5)
        self.radius.setValue(5.0)
        self.radius.setSuffix(" px")
        self.radius.setToolTip("Keypoint radius on screen (predictions are drawn a little smaller)")
        self.width_spin = QDoubleSpinBox(self)
        self.width_spin.setRange(0.5, 10.0)
        self.width_spin.setSingleStep(0.5)
        self.width_spin.setValue(2.0)
        self.width_spin.setSuffix(" px")
        self.width_spin.setToolTip("Limb line width on screen")
        form = QFormLayout()
        form.addRow("Brightness", self.brightness)
        form.addRow("Contrast", self.contrast)
        form.addRow("Gamma", self.gamma)
        form.addRow("", self.reset_button)
        form.addRow("Point radius", self.radius)
        form.addRow("Line width", self.width_spin)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addStretch(1)
        for s in (self.brightness, self.contrast, self.gamma):
            s.slider.valueChanged.connect(lambda _v: self.changed.emit())
        self.radius.valueChanged.connect(lambda _v: self.changed.emit())
        self.width_spin.valueChanged.connect(lambda _v: self.changed.emit())
        self.reset_button.clicked.connect(self.reset_picture)

    def adjust(self) -> Adjust:
        return Adjust(self.brightness.value(), round(self.contrast.value(), 2),
                      round(self.gamma.value(), 2))

    def set_values(self, adjust: Adjust, radius: float, width: float) -> None:
        """Show these values (one ``changed`` at the end)."""
        self.blockSignals(True)
        try:
            self.brightness.set_value(adjust.brightness)
            self.contrast.set_value(adjust.contrast)
            self.gamma.set_value(adjust.gamma)
            self.radius.setValue(radius)
            self.width_spin.setValue(width)
        finally:
            self.blockSignals(False)
        self.changed.emit()

    def reset_picture(self) -> None:
        self.set_values(Adjust(), self.radius.value(), self.width_spin.value())
