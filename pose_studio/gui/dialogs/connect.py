"""File ▸ Connect to a Server…: the URL of a project database on a PostgreSQL server."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from pose_studio.store.server import is_url

EXAMPLE = "postgresql+psycopg://me@labserver:5432/mice2026"


class ConnectDialog(QDialog):
    """Asks for a database URL; :meth:`url` is what was typed (checked to be one)."""

    def __init__(self, parent: QWidget | None = None, last: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("connect_dialog")
        self.setWindowTitle("Connect to a Server")
        self.edit = QLineEdit(last, self)
        self.edit.setObjectName("connect_url")
        self.edit.setPlaceholderText(EXAMPLE)
        self.edit.setMinimumWidth(420)
        help_text = QLabel(
            "The project's database on a PostgreSQL server, shared by several annotators. "
            "Passwords come from ~/.pgpass or $PGPASSWORD (a password in the URL works too but "
            "is never stored or shown).", self)
        help_text.setWordWrap(True)
        self.problem = QLabel("", self)
        self.problem.setStyleSheet("color: #b00")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Connect")
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Project database URL:", self))
        lay.addWidget(self.edit)
        lay.addWidget(help_text)
        lay.addWidget(self.problem)
        lay.addWidget(buttons)

    def url(self) -> str:
        return self.edit.text().strip()

    def _check(self) -> None:
        if not is_url(self.url()):
            self.problem.setText(f"not a database URL; for example {EXAMPLE}")
            return
        self.accept()
