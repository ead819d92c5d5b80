""""Train from labels": fine-tune a model on the project's labels in a separate process.

``TrainDialog(project_path, parent=None, *, out_dir=None, command_fn=None)``

Runs ``pose_studio.train.api.train_command(...)`` with :class:`QProcess` (training never runs in
the GUI process: a crash or a CUDA hang cannot take the window down), reads its JSON progress
lines (``parse_progress_line``), and plots the training loss per step and the validation AP
per epoch live with pyqtgraph. Cancel terminates the process (killed if it has not stopped
after a few seconds); running the same output folder again resumes from its checkpoint.
Without PyTorch the dialog says how to install it (``pip install "pose-studio[train]"``) and
cannot start.

Signals:

* ``model_ready(str)``: the exported ``.onnx`` path, when the user presses "Use this model"
  after training finished (the window selects it in the Model panel and loads it).
* ``training_finished(bool, str)``: ``(ok, message)`` when the process ends.

``command_fn(project_path, out_dir, **options) -> list[str]`` defaults to ``train_command``;
tests pass a stand-in script.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

KILL_AFTER_MS = 4000


class TrainDialog(QDialog):
    """See the module docstring."""

    model_ready = Signal(str)
    training_finished = Signal(bool, str)

    def __init__(self, project_path: str | Path, parent: QWidget | None = None, *,
                 out_dir: str | Path | None = None,
                 command_fn: Callable[..., list[str]] | None = None,
                 torch_available: bool | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train a model from your labels")
        self.resize(720, 560)
        from pose_studio.train import api

        self._api = api
        self._project_path = Path(project_path)
        self._command_fn = command_fn or api.train_command
        self._torch = api.torch_available() if torch_available is None else torch_available
        self._proc: QProcess | None = None
        self._buf = ""
        self._stderr_tail: list[str] = []
        self._events: list[dict[str, Any]] = []
        self._onnx: str | None = None
        self._error: str | None = None
        self._cancelled = False
        self._t0 = 0.0
        self.loss_x: list[float] = []
        self.loss_y: list[float] = []
        self.val_x: list[float] = []
        self.val_y: list[float] = []

        # options
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(20)
        self.time_budget = QDoubleSpinBox()
        self.time_budget.setRange(0, 24 * 60)
        self.time_budget.setDecimals(0)
        self.time_budget.setSuffix(" min")
        self.time_budget.setSpecialValueText("no limit")
        self.synthetic = QSpinBox()
        self.synthetic.setRange(0, 100000)
        self.synthetic.setValue(300)
        self.init = QComboBox()
        self.init.addItem("Bundled model (fine-tune)", "bundled")
        self.init.addItem("From scratch", None)
        if api.bundled_weights() is None:
            # Nothing to fine-tune from in this install: say so rather than fail at start.
            self.init.setItemText(0, "Bundled model (not installed)")
            item = self.init.model().item(0)  # type: ignore[attr-defined]
            if item is not None:
                item.setEnabled(False)
            self.init.setCurrentIndex(1)
        self.device = QComboBox()
        for label, key in (("Auto", "auto"), ("CPU", "cpu"), ("CUDA GPU", "cuda")):
            self.device.addItem(label, key)
        if out_dir is None:
            stamp = time.strftime("%Y%m%d-%H%M")
            out_dir = self._project_path.parent / "models" / f"retrained-{stamp}"
        self.out_dir = QLineEdit(str(out_dir))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_out)
        out_row = QWidget()
        orl = QHBoxLayout(out_row)
        orl.setContentsMargins(0, 0, 0, 0)
        orl.addWidget(self.out_dir, 1)
        orl.addWidget(browse)
        self.form = QFormLayout()
        self.form.addRow("Epochs", self.epochs)
        self.form.addRow("Time budget", self.time_budget)
        self.form.addRow("Synthetic scenes mixed in", self.synthetic)
        self.form.addRow("Start from", self.init)
        self.form.addRow("Device", self.device)
        self.form.addRow("Output folder", out_row)

        # live plots
        self.loss_plot = pg.PlotWidget(title="training loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setBackground(None)
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen((90, 150, 255), width=1.5))
        self.val_plot = pg.PlotWidget(title="validation AP")
        self.val_plot.setLabel("bottom", "epoch")
        self.val_plot.setBackground(None)
        self.val_plot.setYRange(0, 1)
        self.val_curve = self.val_plot.plot([], [], pen=pg.mkPen((60, 200, 110), width=2),
                                            symbol="o", symbolSize=6,
                                            symbolBrush=pg.mkBrush(60, 200, 110))
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.val_plot)

        self.progress_bar = QProgressBar()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton("Start training",
                                                   QDialogButtonBox.ButtonRole.AcceptRole)
        self.use_button = self.buttons.addButton("Use this model",
                                                 QDialogButtonBox.ButtonRole.ApplyRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.use_button.setVisible(False)
        self.start_button.clicked.connect(self.start)
        self.use_button.clicked.connect(self._use_model)
        self.cancel_button.clicked.connect(self._cancel_or_close)

        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addLayout(plots, 1)
        lay.addWidget(self.progress_bar)
        lay.addWidget(self.status)
        lay.addWidget(self.buttons)

        if not self._torch:
            self.status.setText(
                "Training needs PyTorch, which is not installed. Install the training extra:\n"
                '    pip install "pose-studio[train]"\nthen reopen this dialog.'
            )
            self.status.setStyleSheet("color: #b9770e;")
            self.start_button.setEnabled(False)

    # --- state -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.state() != QProcess.ProcessState.NotRunning

    @property
    def exported_model(self) -> str | None:
        return self._onnx

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self._events)

    def _browse_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Output folder", self.out_dir.text())
        if path:
            self.out_dir.setText(path)

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "epochs": self.epochs.value(),
            "synthetic_scenes": self.synthetic.value(),
            "device": self.device.currentData(),
            "init": self.init.currentData(),
        }
        if self.time_budget.value() > 0:
            opts["time_budget_min"] = float(self.time_budget.value())
        return opts

    # --- process -----------------------------------------------------------------------------
    def start(self) -> None:
        if self.running or not self._torch:
            return
        out = self.out_dir.text().strip()
        if not out:
            self._set_error("choose an output folder")
            return
        try:
            Path(out).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._set_error(f"cannot create {out}: {exc.strerror}")
            return
        cmd = self._command_fn(self._project_path, out, **self.options())
        self._reset_run()
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        root = str(Path(__file__).resolve().parents[3])  # so `-m pose_studio...` imports
        old = env.value("PYTHONPATH", "")
        env.insert("PYTHONPATH", root + (os.pathsep + old if old else ""))
        env.insert("PYTHONUNBUFFERED", "1")
        proc.setProcessEnvironment(env)
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_error)
        self._proc = proc
        self._t0 = time.monotonic()
        self.status.setStyleSheet("")
        self.status.setText("Starting the trainer…")
        self.progress_bar.setRange(0, 0)
        self._set_inputs_enabled(False)
        self.cancel_button.setText("Cancel")
        proc.start(cmd[0], cmd[1:])

    def _reset_run(self) -> None:
        self._buf = ""
        self._stderr_tail = []
        self._events = []
        self._onnx = None
        self._error = None
        self._cancelled = False
        self.loss_x, self.loss_y, self.val_x, self.val_y = [], [], [], []
        self.loss_curve.setData([], [])
        self.val_curve.setData([], [])
        self.use_button.setVisible(False)

    def _set_inputs_enabled(self, on: bool) -> None:
        for i in range(self.form.rowCount()):
            item = self.form.itemAt(i, QFormLayout.ItemRole.FieldRole)
            w = item.widget() if item is not None else None
            if w is not None:
                w.setEnabled(on)
        self.start_button.setEnabled(on and self._torch)

    def _read_stdout(self) -> None:
        if self._proc is None:
            return
        self._buf += bytes(self._proc.readAllStandardOutput().data()).decode("utf-8", "replace")
        *lines, self._buf = self._buf.split("\n")
        for line in lines:
            self.feed_line(line)

    def _read_stderr(self) -> None:
        if self._proc is None:
            return
        text = bytes(self._proc.readAllStandardError().data()).decode("utf-8", "replace")
        self._stderr_tail = (self._stderr_tail + text.splitlines())[-20:]

    def feed_line(self, line: str) -> None:
        """Handle one stdout line of the trainer (public for tests and replays)."""
        ev = self._api.parse_progress_line(line)
        if ev is None:
            return
        self._events.append(ev)
        kind = ev["event"]
        if kind == "step":
            total = int(ev.get("total_steps") or 0)
            step = int(ev.get("step") or 0)
            if total > 0:
                self.progress_bar.setRange(0, total)
                self.progress_bar.setValue(min(step, total))
            if ev.get("loss") is not None:
                self.loss_x.append(float(step))
                self.loss_y.append(float(ev["loss"]))
                self.loss_curve.setData(self.loss_x, self.loss_y)
            self.status.setText(f"Epoch {ev.get('epoch', '?')} · step {step}/{total or '?'} · "
                                f"loss {float(ev.get('loss', float('nan'))):.4f}")
        elif kind == "epoch":
            if ev.get("val_ap") is not None:
                self.val_x.append(float(ev.get("epoch", len(self.val_x) + 1)))
                self.val_y.append(float(ev["val_ap"]))
                self.val_curve.setData(self.val_x, self.val_y)
            self.status.setText(
                f"Epoch {ev.get('epoch')}/{ev.get('epochs', '?')} · val AP "
                f"{float(ev.get('val_ap', float('nan'))):.3f} (best "
                f"{float(ev.get('best_ap', float('nan'))):.3f})")
        elif kind == "data":
            self.status.setText(f"{ev.get('train', '?')} training / {ev.get('val', '?')} "
                                f"validation instances on {ev.get('device', '?')}")
        elif kind == "status":
            self.status.setText(str(ev.get("message", "")))
        elif kind == "resume":
            self.status.setText(f"Resuming from epoch {ev.get('epoch')}, step {ev.get('step')}")
        elif kind == "exported":
            self._onnx = str(ev.get("onnx")) if ev.get("onnx") else self._onnx
        elif kind == "done":
            if ev.get("onnx"):
                self._onnx = str(ev["onnx"])
        elif kind == "error":
            self._error = str(ev.get("message", "training failed"))
            self._set_error(self._error)

    def _on_error(self, err: QProcess.ProcessError) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            self._set_error("cannot start the trainer process (is Python available?)")
            self._finish(False, "cannot start the trainer")

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read_stdout()
        if self._buf.strip():
            self.feed_line(self._buf)
            self._buf = ""
        self._read_stderr()
        if self._cancelled:
            self._finish(False, "Training cancelled; start again with the same folder to resume.")
        elif code == 0 and status == QProcess.ExitStatus.NormalExit and self._error is None:
            best = next((e.get("best_ap") for e in reversed(self._events)
                         if e["event"] == "done"), None)
            msg = "Training finished"
            if best is not None:
                msg += f" · best validation AP {float(best):.3f}"
            if self._onnx:
                msg += f"\nModel: {self._onnx}"
                self.use_button.setVisible(True)
            self._finish(True, msg)
        else:
            msg = self._error or ("the trainer stopped (exit status "
                                  f"{code}): " + " / ".join(self._stderr_tail[-3:]))
            self._set_error(msg)
            self._finish(False, msg)

    def _finish(self, ok: bool, message: str) -> None:
        if ok:
            self.status.setStyleSheet("")
            self.status.setText(message)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1 if ok else 0)
        self._set_inputs_enabled(True)
        self.cancel_button.setText("Close")
        self.training_finished.emit(ok, message)

    def _set_error(self, message: str) -> None:
        self.status.setStyleSheet("color: #c0392b;")
        self.status.setText(message)

    def _use_model(self) -> None:
        if self._onnx:
            self.model_ready.emit(self._onnx)
            self.accept()

    # --- stop --------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Terminate the trainer (then kill it if it does not stop)."""
        if not self.running or self._proc is None:
            return
        self._cancelled = True
        self.status.setText("Stopping the trainer…")
        self._proc.terminate()
        if not self._proc.waitForFinished(KILL_AFTER_MS):
            self._proc.kill()
            self._proc.waitForFinished(2000)

    def _cancel_or_close(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.reject()

    def shutdown(self) -> None:
        self.cancel()
        if self._proc is not None:
            with contextlib.suppress(RuntimeError):
                self._proc.finished.disconnect(self._on_finished)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)
