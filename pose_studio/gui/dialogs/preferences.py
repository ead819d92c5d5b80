"""Edit ▸ Preferences: who you are (recorded with every edit) and the keyboard shortcuts.

The Shortcuts tab lists every action with its keys now. Choose a row, press the new keys in the
box below and Set (or Add a second one); a key another action already has is refused with a
message naming that action. Reset gives a row its default keys back, Reset All every row. Nothing
changes in the window until OK (the dialog edits a copy of the keymap).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pose_studio.gui.widgets.tables import row_table
from pose_studio.store.journal import default_user

from ..actions import ACTIONS, ACTIONS_BY_ID
from ..keymap import Keymap, ShortcutClash, native

__all__ = ["PreferencesDialog"]


class PreferencesDialog(QDialog):
    """See the module docstring. After ``exec()`` returns Accepted, :attr:`keymap` holds the
    keys and :meth:`user_name` the name."""

    def __init__(self, keymap: Keymap, user_name: str | None, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.setObjectName("preferences")
        self.setWindowTitle("Preferences")
        self.keymap = keymap.copy()
        self.messages: list[str] = []
        tabs = QTabWidget(self)
        tabs.addTab(self._general(user_name), "General")
        tabs.addTab(self._shortcuts(), "Shortcuts")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(tabs)
        lay.addWidget(buttons)
        self.tabs = tabs
        self.resize(760, 560)

    # --- general ---------------------------------------------------------------------------------
    def _general(self, user_name: str | None) -> QWidget:
        w = QWidget(self)
        form = QFormLayout(w)
        self.name_edit = QLineEdit(user_name or "", w)
        self.name_edit.setObjectName("user_name")
        self.name_edit.setPlaceholderText(default_user())
        form.addRow("Your name:", self.name_edit)
        note = QLabel("Recorded with every edit in the project's history (who made it, who "
                      "undid it). Empty: $POSE_STUDIO_USER, else your login name "
                      f"({default_user()}).", w)
        note.setWordWrap(True)
        form.addRow(note)
        outer = QWidget(self)
        lay = QVBoxLayout(outer)
        lay.addWidget(w)
        lay.addStretch(1)
        return outer

    def user_name(self) -> str | None:
        return self.name_edit.text().strip() or None

    # --- shortcuts -------------------------------------------------------------------------------
    def _shortcuts(self) -> QWidget:
        w = QWidget(self)
        self.filter = QLineEdit(w)
        self.filter.setPlaceholderText("Filter (action or key)")
        self.filter.setClearButtonEnabled(True)
        self.table = row_table(["Menu", "Action", "Shortcut"], w, rows=len(ACTIONS),
                               name="shortcut_table", compact=False)
        for r, spec in enumerate(ACTIONS):
            for c, text in enumerate((spec.menu.replace("&", ""), spec.label.rstrip("…"), "")):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, spec.id)
                item.setToolTip(spec.tip)
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.editor = QKeySequenceEdit(w)
        self.editor.setObjectName("key_editor")
        self.editor.setClearButtonEnabled(True)
        self.set_button = QPushButton("&Set", w)
        self.add_button = QPushButton("A&dd", w)
        clear = QPushButton("&No Shortcut", w)
        reset = QPushButton("&Reset", w)
        reset_all = QPushButton("Reset &All to Defaults", w)
        self.set_button.setToolTip("Replace this action's keys with the keys pressed")
        self.add_button.setToolTip("Give this action the keys pressed as well")
        self.set_button.clicked.connect(lambda: self._from_editor(add=False))
        self.add_button.clicked.connect(lambda: self._from_editor(add=True))
        clear.clicked.connect(lambda: self.set_keys(self.current(), ()))
        reset.clicked.connect(lambda: self.reset(self.current()))
        reset_all.clicked.connect(self.reset_all)
        self.note = QLabel("", w)
        self.note.setObjectName("shortcut_note")
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("New keys:", w))
        row.addWidget(self.editor, 1)
        for b in (self.set_button, self.add_button, clear, reset):
            row.addWidget(b)
        lay = QVBoxLayout(w)
        lay.addWidget(self.filter)
        lay.addWidget(self.table, 1)
        lay.addLayout(row)
        bottom = QHBoxLayout()
        bottom.addWidget(self.note, 1)
        bottom.addWidget(reset_all)
        lay.addLayout(bottom)
        self.filter.textChanged.connect(self._apply_filter)
        self.table.currentCellChanged.connect(lambda *_: self._row_changed())
        self._refresh()
        self.table.selectRow(0)
        return w

    def _row_of(self, action_id: str) -> int:
        return next(r for r, spec in enumerate(ACTIONS) if spec.id == action_id)

    def current(self) -> str:
        r = max(0, self.table.currentRow())
        return ACTIONS[r].id

    def select(self, action_id: str) -> None:
        self.table.selectRow(self._row_of(action_id))

    def _refresh(self) -> None:
        changed = set(self.keymap.changed())
        for r, spec in enumerate(ACTIONS):
            item = self.table.item(r, 2)
            assert item is not None
            item.setText(native(self.keymap.keys(spec.id)))
            f = item.font()
            f.setBold(spec.id in changed)  # bold: not the default
            item.setFont(f)

    def _row_changed(self) -> None:
        aid = self.current()
        keys = self.keymap.keys(aid)
        self.editor.setKeySequence(QKeySequence(keys[0]) if keys else QKeySequence())
        default = native(self.keymap.default(aid)) or "none"
        self.note.setText(f"{ACTIONS_BY_ID[aid].tip}. Default: {default}.")

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for r, spec in enumerate(ACTIONS):
            hay = f"{spec.menu} {spec.label} {native(self.keymap.keys(spec.id))}".lower()
            self.table.setRowHidden(r, bool(needle) and needle not in hay)

    def _from_editor(self, add: bool) -> None:
        seq = self.editor.keySequence().toString(QKeySequence.SequenceFormat.PortableText)
        aid = self.current()
        if not seq:
            self.set_keys(aid, () if not add else self.keymap.keys(aid))
            return
        keys = (*self.keymap.keys(aid), seq) if add else (seq,)
        self.set_keys(aid, keys)

    def _refuse(self, text: str) -> None:
        self.messages.append(text)
        self.note.setText(text)
        QMessageBox.warning(self, "Shortcut not changed", text)

    def set_keys(self, action_id: str, keys: tuple[str, ...] | list[str]) -> bool:
        """Bind ``keys`` to the action in the dialog's copy; False (and a message naming the
        other action) when a key is taken."""
        try:
            self.keymap.set(action_id, keys)
        except ShortcutClash as exc:
            self._refuse(str(exc))
            return False
        self._refresh()
        self.note.setText(f"{ACTIONS_BY_ID[action_id].label.rstrip('…')}: "
                          f"{native(self.keymap.keys(action_id)) or 'no shortcut'}")
        return True

    def reset(self, action_id: str) -> None:
        try:
            self.keymap.reset(action_id)
        except ShortcutClash as exc:
            self._refuse(str(exc))
        self._refresh()
        self._row_changed()

    def reset_all(self) -> None:
        self.keymap.reset_all()
        self._refresh()
        self._row_changed()
        self.note.setText("every shortcut is back to its default")
