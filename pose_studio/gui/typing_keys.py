"""Keys that belong to a text field: typing in a dock's filter, the frame box or the threshold
must not trigger the window's one-letter and arrow shortcuts."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

_FIELD_KEYS = frozenset({
    Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_Left, Qt.Key.Key_Right,
    Qt.Key.Key_Backspace, Qt.Key.Key_Delete, Qt.Key.Key_Minus, Qt.Key.Key_Plus,
})


_SLIDER_KEYS = frozenset({
    Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End,
})


def is_typing(obj: QObject, event: QEvent, window: QWidget) -> bool:
    """The key of ``event`` (a ShortcutOverride) is for the text field ``obj`` of ``window``
    (or for the slider that has the focus: arrows and page keys move it)."""
    if isinstance(obj, QAbstractSlider) and isinstance(obj, QWidget) \
            and obj.window() is window:
        return event.key() in _SLIDER_KEYS and not (  # type: ignore[attr-defined]
            event.modifiers() & Qt.KeyboardModifier.ControlModifier)  # type: ignore[attr-defined]
    if not isinstance(obj, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)):
        return False
    if isinstance(obj, QLineEdit) and obj.isReadOnly():
        return False
    if not (isinstance(obj, QWidget) and obj.window() is window):
        return False
    key = event.key()  # type: ignore[attr-defined]
    mods = event.modifiers() & ~Qt.KeyboardModifier.ShiftModifier  # type: ignore[attr-defined]
    mods &= ~Qt.KeyboardModifier.KeypadModifier
    if key in _FIELD_KEYS and not (mods & Qt.KeyboardModifier.ControlModifier):
        return True
    text = event.text()  # type: ignore[attr-defined]
    return bool(text) and text.isprintable() and not (
        mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                | Qt.KeyboardModifier.MetaModifier))
