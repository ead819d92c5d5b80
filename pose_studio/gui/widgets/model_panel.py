"""The Model panel: choose and load a pose model (+ optional detector), run it, show progress.

``ModelPanel(settings=None, settings_key="model/last", parent=None, *, models_dir=None)``

The pose-model list holds the bundled models (``*.onnx`` in
:func:`pose_studio.core.paths.models_dir`, detectors told apart by
:func:`pose_studio.app.models.model_kind`), the catalogue models downloaded with "Get a model…"
(:meth:`add_model` adds one just downloaded), the last model used (from ``settings``), and
anything picked with "…". The panel never loads a model itself: it asks, and the window
forwards to the :class:`~pose_studio.gui.workers.inference.InferenceController`.

A loaded model is described from ``ModelInfo.top_down`` / ``needs_boxes`` (never its family
name): a top-down model without a detector gets a warning that says what it will crop.

Signals (out):

* ``load_requested(str, object, str)``: ``(pose_path, detector_path or None, provider)`` with
  provider one of ``auto``, ``cpu``, ``cuda``, ``dml``, ``coreml``. The choice is saved in
  ``settings`` under ``<settings_key>/pose``, ``/detector`` and ``/provider``.
* ``live_toggled(bool)``: the "Run on frame (live)" toggle; while on, the window calls
  ``InferenceController.infer_frame`` on every frame shown.
* ``run_range_requested(int, int)``: ``(start, stop)`` half-open, after "Run on range…" and the
  range dialog (defaults from :meth:`set_video`).
* ``cancel_requested()``: Cancel pressed during a batch.
* ``status_message(str)``: a short line for the status bar (progress with frames/s, load state).

Slots (in): :meth:`set_model_info` (``InferenceController.model_loaded``),
:meth:`set_error` (``failed``), :meth:`set_batch_running` (``busy_changed``),
:meth:`set_progress` (``progress``), :meth:`batch_finished` (``batch_finished``),
:meth:`set_video` (frame count and current frame), :meth:`set_current_frame`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pose_studio.app.models import installed_models, model_kind, model_name
from pose_studio.app.predictions import NO_DETECTOR_WARNING

PROVIDER_LABELS: dict[str, str] = {
    "auto": "Auto (fastest available)",
    "cpu": "CPU",
    "cuda": "NVIDIA CUDA",
    "dml": "DirectML (Windows GPU)",
    "coreml": "CoreML (macOS)",
}
_ORT_TO_KEY = {"CPUExecutionProvider": "cpu", "CUDAExecutionProvider": "cuda",
               "DmlExecutionProvider": "dml", "CoreMLExecutionProvider": "coreml"}


def available_provider_keys() -> list[str]:
    """Provider keys this onnxruntime build offers (``cpu`` at least)."""
    try:
        from pose_studio.inference.providers import available_providers

        names = available_providers()
    except Exception:  # no onnxruntime, or a broken install: the load will say why
        return ["cpu"]
    keys = [_ORT_TO_KEY[n] for n in names if n in _ORT_TO_KEY]
    return keys or ["cpu"]


def bundled_models(folder: Path | None = None) -> tuple[list[Path], list[Path]]:
    """``(pose_models, detectors)`` among the ``*.onnx`` files of the bundled models folder."""
    if folder is None:
        from pose_studio.core.paths import models_dir

        folder = models_dir()
    pose: list[Path] = []
    det: list[Path] = []
    try:
        files = sorted(Path(folder).glob("*.onnx"))
    except OSError:
        return pose, det
    for f in files:
        (det if model_kind(f) == "detector" else pose).append(f)
    return pose, det


#: The Model panel's line for a top-down model loaded without a detector (short: the panel is
#: small), and its tooltip.
NO_DETECTOR_TEXT = ("No person detector: this top-down model crops the people already on the "
                    "frame, else the whole frame.")
NO_DETECTOR_TIP = ("A top-down model needs person boxes. Without a detector it crops the "
                   "people already on the frame (labels, predictions), else takes the whole "
                   "frame as one person, so new people are not found. Choose a detector above "
                   "(Model ▸ Get a Model… has person detectors) and load again.")


def describe_model(info: Any) -> tuple[list[str], list[str]]:
    """``(info lines, warnings)`` for a loaded model, from ``top_down``/``needs_boxes``."""
    name = model_name(getattr(info, "pose_path", "") or "model")
    kps = getattr(info, "keypoints", ()) or ()
    providers = ", ".join(p.replace("ExecutionProvider", "")
                          for p in getattr(info, "providers", ()) or ()) or "?"
    det = getattr(info, "detector_path", None)
    top_down = bool(getattr(info, "top_down", True))
    how = "top-down (crops each person)" if top_down else "one-stage (finds people itself)"
    lines = [f"<b>{name}</b> · {len(kps)} keypoints · {how}", f"Running on: {providers}"]
    if det:
        lines.append(f"Detector: {Path(det).name}" + ("" if top_down else
                                                      " (not used: this model finds people)"))
    warnings = [w for w in getattr(info, "warnings", ()) or () if w != NO_DETECTOR_WARNING]
    if getattr(info, "needs_boxes", False):
        warnings.insert(0, NO_DETECTOR_TEXT)
    return lines, warnings


def format_progress(done: int, total: int, fps: float) -> str:
    """``"120 / 1000 frames · 35.2 frames/s · 0:25 left"`` for the status bar."""
    text = f"{done} / {total} frames" if total else f"{done} frames"
    if fps > 0:
        text += f" · {fps:.1f} frames/s"
        if total and done < total:
            left = round((total - done) / fps)
            text += f" · {left // 60}:{left % 60:02d} left"
    return text


class RangeDialog(QDialog):
    """Pick the first and last frame to run on (both included, as frame numbers are shown);
    :meth:`value` gives the half-open ``[start, stop)``."""

    def __init__(self, frame_count: int, current: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run model on a frame range")
        n = max(1, int(frame_count))
        self.start = QSpinBox()
        self.start.setRange(0, n - 1)
        self.last = QSpinBox()
        self.last.setRange(0, n - 1)
        self.last.setValue(n - 1)
        self.start.setValue(0)
        buttons_row = QHBoxLayout()
        for text, fn in (("Whole video", lambda: self._set(0, n)),
                         ("From current frame", lambda: self._set(current, n)),
                         ("Next 1000", lambda: self._set(current, min(n, current + 1000)))):
            b = QPushButton(text)
            b.clicked.connect(fn)
            buttons_row.addWidget(b)
        form = QFormLayout()
        form.addRow("First frame", self.start)
        form.addRow("Last frame", self.last)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(buttons_row)
        lay.addLayout(form)
        lay.addWidget(box)

    def _set(self, a: int, b: int) -> None:
        self.start.setValue(a)
        self.last.setValue(max(a, b - 1))

    def value(self) -> tuple[int, int]:
        a, last = self.start.value(), self.last.value()
        return (a, last + 1) if last >= a else (a, a + 1)


class ModelPanel(QWidget):
    """See the module docstring."""

    load_requested = Signal(str, object, str)
    live_toggled = Signal(bool)
    run_range_requested = Signal(int, int)
    cancel_requested = Signal()
    status_message = Signal(str)

    def __init__(self, settings: QSettings | None = None, settings_key: str = "model/last",
                 parent: QWidget | None = None, *, models_dir: Path | None = None,
                 downloads_dir: Path | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._key = settings_key.rstrip("/")
        self._frame_count = 0
        self._current = 0
        self._loaded = False
        self._busy = False
        self._progress_text = ""

        self.pose_combo = QComboBox()
        self.pose_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.pose_combo.setMinimumContentsLength(16)
        self.det_combo = QComboBox()
        self.det_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.det_combo.setMinimumContentsLength(16)
        self.det_combo.addItem("None (whole frame / one-stage model)", None)
        self.provider_combo = QComboBox()
        avail = available_provider_keys()
        for key, label in PROVIDER_LABELS.items():
            if key == "auto" or key in avail:
                self.provider_combo.addItem(label, key)
        pose_browse = QToolButton()
        pose_browse.setText("…")
        pose_browse.setToolTip("Choose an ONNX pose model file")
        pose_browse.clicked.connect(self._browse_pose)
        det_browse = QToolButton()
        det_browse.setText("…")
        det_browse.setToolTip("Choose an ONNX person detector file")
        det_browse.clicked.connect(self._browse_detector)
        self.load_button = QPushButton("Load model")
        self.load_button.clicked.connect(self.request_load)

        self.info_label = QLabel("No model loaded.")
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #b9770e;")
        self.warning_label.setVisible(False)

        self.live_button = QPushButton("Run on frame (live)")
        self.live_button.setCheckable(True)
        self.live_button.toggled.connect(self._on_live)
        self.range_button = QPushButton("Run on range…")
        self.range_button.clicked.connect(self._on_range)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("")  # no "0 %" before anything ran
        self.progress_label = QLabel()

        grid = QGridLayout()
        grid.addWidget(QLabel("Pose model"), 0, 0)
        grid.addWidget(self.pose_combo, 0, 1)
        grid.addWidget(pose_browse, 0, 2)
        grid.addWidget(QLabel("Detector"), 1, 0)
        grid.addWidget(self.det_combo, 1, 1)
        grid.addWidget(det_browse, 1, 2)
        grid.addWidget(QLabel("Run on"), 2, 0)
        grid.addWidget(self.provider_combo, 2, 1, 1, 2)
        grid.setColumnStretch(1, 1)
        run_row = QHBoxLayout()
        run_row.addWidget(self.live_button)
        run_row.addWidget(self.range_button)
        run_row.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.addLayout(grid)
        lay.addWidget(self.load_button)
        lay.addWidget(self.info_label)
        lay.addWidget(self.warning_label)
        lay.addLayout(run_row)
        lay.addWidget(self.progress_bar)
        lay.addWidget(self.progress_label)
        lay.addStretch(1)

        pose, det = bundled_models(models_dir)
        for p in pose:
            self._add_path(self.pose_combo, p, bundled=True)
        for d in det:
            self._add_path(self.det_combo, d, bundled=True)
        try:
            for m in installed_models(downloads_dir):
                self._add_path(self.pose_combo if m.kind == "pose" else self.det_combo, m.path,
                               label=f"{m.name} (downloaded)")
        except Exception:  # an unreadable models folder must not stop the window
            pass
        self._restore()
        self._update_enabled()

    # --- choices -----------------------------------------------------------------------------
    @staticmethod
    def _add_path(combo: QComboBox, path: Path | str, *, bundled: bool = False,
                  label: str | None = None) -> int:
        p = str(Path(path))
        idx = combo.findData(p)
        if idx < 0:
            label = label or (Path(p).stem + (" (bundled)" if bundled else ""))
            combo.addItem(label, p)
            idx = combo.count() - 1
            combo.setItemData(idx, p, Qt.ItemDataRole.ToolTipRole)
        return idx

    def _restore(self) -> None:
        s = self._settings
        if s is None:
            return
        pose = str(s.value(f"{self._key}/pose", "", type=str) or "")
        det = str(s.value(f"{self._key}/detector", "", type=str) or "")
        prov = str(s.value(f"{self._key}/provider", "auto", type=str) or "auto")
        if pose:
            self.pose_combo.setCurrentIndex(self._add_path(self.pose_combo, pose))
        if det:
            self.det_combo.setCurrentIndex(self._add_path(self.det_combo, det))
        i = self.provider_combo.findData(prov)
        if i >= 0:
            self.provider_combo.setCurrentIndex(i)

    def _save(self) -> None:
        s = self._settings
        if s is None:
            return
        s.setValue(f"{self._key}/pose", self.pose_path() or "")
        s.setValue(f"{self._key}/detector", self.detector_path() or "")
        s.setValue(f"{self._key}/provider", self.provider())

    def _browse_pose(self) -> None:
        cur = self.pose_path()
        path, _ = QFileDialog.getOpenFileName(self, "Choose a pose model",
                                              str(Path(cur).parent) if cur else "",
                                              "ONNX models (*.onnx);;All files (*)")
        if path:
            self.set_pose_path(path)
            self.request_load()  # picking a file is the intent to use it

    def _browse_detector(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a person detector", "",
                                              "ONNX models (*.onnx);;All files (*)")
        if path:
            self.det_combo.setCurrentIndex(self._add_path(self.det_combo, path))

    def add_model(self, path: str | Path, kind: str, label: str | None = None) -> None:
        """List a model just made ready (downloaded) and select it: a pose model in the pose
        list, a detector in the detector list."""
        combo = self.det_combo if kind == "detector" else self.pose_combo
        combo.setCurrentIndex(self._add_path(combo, path, label=label))
        self._update_enabled()

    def set_pose_path(self, path: str | Path) -> None:
        """Select ``path`` in the pose list (adding it), e.g. a freshly trained model."""
        self.pose_combo.setCurrentIndex(self._add_path(self.pose_combo, path))
        self._update_enabled()

    def pose_path(self) -> str | None:
        d = self.pose_combo.currentData()
        return str(d) if d else None

    def detector_path(self) -> str | None:
        d = self.det_combo.currentData()
        return str(d) if d else None

    def provider(self) -> str:
        return str(self.provider_combo.currentData() or "auto")

    def request_load(self) -> None:
        """Ask the window to load the chosen model (emits ``load_requested``)."""
        pose = self.pose_path()
        if not pose:
            self.set_error("Choose a pose model first (the … button opens a file).")
            return
        self._save()
        self._loaded = False
        self.info_label.setText(f"Loading {model_name(pose)}…")
        self.warning_label.setVisible(False)
        self.status_message.emit(f"Loading model {model_name(pose)}…")
        self._update_enabled()
        self.load_requested.emit(pose, self.detector_path(), self.provider())

    # --- state from the controller -------------------------------------------------------------
    @property
    def model_loaded(self) -> bool:
        return self._loaded

    @property
    def live(self) -> bool:
        return self.live_button.isChecked()

    def set_model_info(self, info: Any) -> None:
        """Show a loaded model (an ``InferenceController`` ``ModelInfo``)."""
        self._loaded = True
        name = model_name(getattr(info, "pose_path", "") or "model")
        providers = ", ".join(p.replace("ExecutionProvider", "")
                              for p in getattr(info, "providers", ()) or ()) or "?"
        lines, warnings = describe_model(info)
        self.info_label.setText("<br>".join(lines))
        self.warning_label.setStyleSheet("color: #b9770e;")
        self.warning_label.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.warning_label.setToolTip(NO_DETECTOR_TIP if NO_DETECTOR_TEXT in warnings else "")
        self.warning_label.setVisible(bool(warnings))
        self.status_message.emit(f"Model {name} ready on {providers}")
        self._update_enabled()

    def set_error(self, message: str) -> None:
        self.warning_label.setText(message)
        self.warning_label.setStyleSheet("color: #c0392b;")
        self.warning_label.setVisible(True)
        if not self._loaded:
            self.info_label.setText("No model loaded.")
        self._update_enabled()

    def set_video(self, frame_count: int, current: int = 0) -> None:
        self._frame_count = max(0, int(frame_count))
        self._current = int(current)
        self._update_enabled()

    def set_current_frame(self, idx: int) -> None:
        self._current = int(idx)

    def set_batch_running(self, running: bool) -> None:
        self._busy = bool(running)
        if running:
            self.progress_bar.setFormat("%p%")
            self.progress_bar.setRange(0, 0)
            self.progress_label.setText("Starting…")
        self._update_enabled()

    def set_progress(self, done: int, total: int, fps: float) -> None:
        self.progress_bar.setFormat("%p%")
        self.progress_bar.setRange(0, max(1, total))
        self.progress_bar.setValue(min(done, max(1, total)))
        self._progress_text = format_progress(done, total, fps)
        self.progress_label.setText(self._progress_text)
        self.status_message.emit(f"Inference: {self._progress_text}")

    @property
    def progress_text(self) -> str:
        return self._progress_text

    def batch_finished(self, n_frames: int, cancelled: bool) -> None:
        self._busy = False
        what = "cancelled after" if cancelled else "finished:"
        self.progress_label.setText(f"Inference {what} {n_frames} frames written.")
        self.status_message.emit(self.progress_label.text())
        if not cancelled:
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(1)
        elif self.progress_bar.maximum() == 0:  # cancelled before any progress came
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)
        # (a cancelled run keeps the bar where it got to: the frames written stay)
        self._update_enabled()

    def reset_run_state(self) -> None:
        """Another project: no progress, no "cancelled" line from the last one."""
        self._progress_text = ""
        self.progress_label.setText("")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("")

    # --- actions -----------------------------------------------------------------------------
    def _update_enabled(self) -> None:
        has_model = self._loaded
        self.load_button.setEnabled(not self._busy and self.pose_combo.count() > 0)
        self.live_button.setEnabled(has_model)
        if not has_model and self.live_button.isChecked():
            self.live_button.setChecked(False)
        self.range_button.setEnabled(has_model and not self._busy and self._frame_count > 0)
        self.cancel_button.setEnabled(self._busy)
        for w in (self.pose_combo, self.det_combo, self.provider_combo):
            w.setEnabled(not self._busy)

    def _on_live(self, on: bool) -> None:
        self.live_toggled.emit(on)

    def choose_range(self) -> tuple[int, int] | None:
        """Ask for the frame range (a dialog); None when cancelled. Tests replace this."""
        dlg = RangeDialog(self._frame_count, self._current, self)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return None
        return dlg.value()

    def _on_range(self) -> None:
        if self._frame_count <= 0:
            return
        rng = self.choose_range()
        if rng is not None:
            self.run_range_requested.emit(int(rng[0]), int(rng[1]))
