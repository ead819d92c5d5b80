"""A dialog whose work runs on a background thread: a form, progress, Cancel, a report.

Subclasses fill :attr:`TaskDialog.form`, and implement ``_make_job()`` (returns ``job(progress,
cancel)`` to run on a :class:`~pose_studio.gui.workers.task.BackgroundTask`, or None when
nothing is to run; a ValueError is shown as the reason) and ``_on_success(result)``. The job
may report what it is doing with :attr:`TaskDialog.stage` (callable from any thread). A job that
raises :class:`~pose_studio.app.dataset_import.Cancelled` is reported as cancelled; an error is
one line, in the window's words (never a traceback). After the work, :meth:`show_report` shows
every line of what it did in a read-only text the user can copy.

Closing the dialog while it works cancels (and joins) the work; nothing stays running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pose_studio.app.dataset_import import Cancelled, window_words
from pose_studio.gui.workers.task import BackgroundTask

Job = Callable[[Any, threading.Event], Any]

#: What a job returns when it saw the cancel (the dialog says nothing was written).
CANCELLED = object()


class _Relay(QObject):
    text = Signal(str)


def path_row(edit: QLineEdit, *buttons: tuple[str, Callable[[], None]]) -> QWidget:
    """A line edit with buttons after it (Browse...)."""
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(edit, 1)
    for text, fn in buttons:
        b = QPushButton(text)
        b.clicked.connect(fn)
        lay.addWidget(b)
    return w


def cancellable(fn: Callable[[Any, threading.Event], Any]) -> Job:
    """``fn`` as a job whose :class:`Cancelled` becomes :data:`CANCELLED`."""

    def job(progress: Any, cancel: threading.Event) -> Any:
        try:
            return fn(progress, cancel)
        except Cancelled:
            return CANCELLED

    return job


class TaskDialog(QDialog):
    """See the module docstring."""

    def __init__(self, parent: QWidget | None, title: str, run_text: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._task: BackgroundTask | None = None
        self._relay = _Relay(self)
        self._relay.text.connect(self._on_stage)
        self.form = QFormLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.message = QLabel()
        self.message.setObjectName("task_message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.report = QPlainTextEdit()
        self.report.setObjectName("task_report")
        self.report.setReadOnly(True)
        self.report.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.report.setVisible(False)
        self.copy_button = QPushButton("Copy report")
        self.copy_button.setVisible(False)
        self.copy_button.clicked.connect(self.copy_report)
        self.buttons = QDialogButtonBox()
        self.run_button = self.buttons.addButton(run_text, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setVisible(False)  # adding it showed it: only with a report
        self.run_button.setDefault(True)  # Return runs, never cancels
        self.cancel_button.setAutoDefault(False)
        self.copy_button.setAutoDefault(False)
        self.finished_ok = False  # a one-shot dialog keeps its run button off after success
        self.run_button.clicked.connect(self._start)
        self.cancel_button.clicked.connect(self._cancel_or_close)
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addWidget(self.progress_bar)
        lay.addWidget(self.message)
        lay.addWidget(self.report, 1)
        lay.addWidget(self.buttons)
        self.resize(620, self.sizeHint().height())

    # --- subclass hooks ----------------------------------------------------------------------
    def _make_job(self) -> Job | None:
        raise NotImplementedError

    def _on_success(self, result: object) -> None:
        raise NotImplementedError

    # --- for jobs ----------------------------------------------------------------------------
    @property
    def stage(self) -> Callable[[str], None]:
        """``stage(text)``: what the job does now (any thread)."""
        return self._relay.text.emit

    # --- running -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True from start until the task's end has been handled (its thread joined)."""
        return self._task is not None

    def _set_inputs_enabled(self, enabled: bool) -> None:
        for i in range(self.form.rowCount()):
            for role in (QFormLayout.ItemRole.FieldRole, QFormLayout.ItemRole.SpanningRole,
                         QFormLayout.ItemRole.LabelRole):
                item = self.form.itemAt(i, role)
                w = item.widget() if item is not None else None
                if w is not None and not isinstance(w, QLabel):
                    w.setEnabled(enabled)
        self.run_button.setEnabled(enabled)

    def _start(self) -> None:
        if self.running:
            return
        self.report.setVisible(False)  # what an earlier run said is not about this one
        self.copy_button.setVisible(False)
        try:
            job = self._make_job()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        if job is None:
            return
        self.report.setVisible(False)
        self.copy_button.setVisible(False)
        self.message.setText("Working…")
        self.message.setStyleSheet("")
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setVisible(True)
        self._set_inputs_enabled(False)
        task = BackgroundTask(cancellable(job), self)
        task.progress.connect(self._on_progress)
        task.succeeded.connect(self._succeeded)
        task.failed.connect(self.show_error)
        task.finished.connect(lambda t=task: self._on_finished(t))
        self._task = task
        task.start()

    def _on_stage(self, text: str) -> None:
        if self.running:
            self.message.setStyleSheet("")
            self.message.setText(text)

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(done)
            self.progress_bar.setFormat("%v / %m")

    def _succeeded(self, result: object) -> None:
        if result is CANCELLED:
            self.message.setStyleSheet("")
            self.message.setText("Cancelled: nothing was written.")
            return
        self._on_success(result)

    def show_error(self, message: str) -> None:
        """The reason, in one line (command-line words replaced by the dialog's)."""
        self.message.setStyleSheet("color: #c0392b;")
        self.message.setText(window_words(message))

    def show_report(self, text: str) -> None:
        """Every line of what the work did, selectable, with a Copy button."""
        self.report.setPlainText(text)
        self.report.setVisible(True)
        self.copy_button.setVisible(True)
        rows = sum(1 + len(line) // 90 for line in text.splitlines())  # wrapped lines too
        self.report.setMinimumHeight(min(320, 24 + 18 * rows))

    def copy_report(self) -> None:
        cb = QGuiApplication.clipboard()
        if cb is not None:
            cb.setText(self.report.toPlainText())

    def _on_finished(self, task: BackgroundTask) -> None:
        task.wait(1000)
        if task is not self._task:
            return
        self._task = None
        self.progress_bar.setVisible(False)
        self._set_inputs_enabled(True)
        if self.finished_ok:
            self.run_button.setEnabled(False)
        self.cancel_button.setText("Close")

    def _cancel_or_close(self) -> None:
        if self.running and self._task is not None:
            self._task.cancel()
            self.message.setText("Cancelling… (what was done so far is taken back)")
            return
        self.reject()

    def shutdown(self) -> None:
        """Cancel any running work and join its thread."""
        if self._task is not None:
            self._task.shutdown(30000)
            self._task = None

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)
