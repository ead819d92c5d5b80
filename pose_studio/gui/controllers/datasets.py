"""Datasets in the window: File ▸ Import and Export over the format registry, and Open (or a
drop) of a dataset file, which offers a new project made from it.

Opened paths are sorted by :func:`pose_studio.app.media.classify`: projects and videos go to the
opening controller, image folders and image files to the source controller (image sets), and
dataset files (a ``.slp``, a DeepLabCut project or ``config.yaml``, a COCO JSON, a YOLO
``data.yaml``...) here: with no project open the "new project from this dataset" dialog opens
(the skeleton is the file's own); with one open the user chooses between a new project and an
import into the open one.

Hooks (tests replace them): ``ask_dataset_target(path, label, project_name) -> "new" |
"import" | None`` and ``show_dialog(dialog)`` (default: modal ``exec``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QMessageBox

from pose_studio.app.media import classify
from pose_studio.core.errors import PoseStudioError

from .base import Shell

log = logging.getLogger(__name__)


def _ask_dataset_target(parent: Any, path: Path, label: str, project_name: str) -> str | None:
    box = QMessageBox(QMessageBox.Icon.Question, "Open dataset",
                      f"{path.name} is a {label} file.\n\nMake a new project from it (its "
                      f"skeleton and labels), or import it into the open project "
                      f"{project_name}?", parent=parent)
    new = box.addButton("New Project", QMessageBox.ButtonRole.AcceptRole)
    imp = box.addButton("Import into Open Project", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(new)
    box.exec()
    clicked = box.clickedButton()
    return "new" if clicked is new else "import" if clicked is imp else None


class DatasetController(QObject):
    """See the module docstring. ``sources``: the source controller (image sets)."""

    def __init__(self, shell: Shell, opening: Any, sources: Any) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.session = shell.session
        self.opening = opening
        self.sources = sources
        self.dialog: QDialog | None = None  # the last dialog shown (tests look at it)
        self.ask_dataset_target: Callable[[Path, str, str], str | None] = \
            lambda path, label, name: _ask_dataset_target(shell.window, path, label, name)
        self.show_dialog: Callable[[QDialog], Any] = lambda dlg: dlg.exec()

    # --- opening -------------------------------------------------------------------------------
    def open_paths(self, paths: Sequence[str | Path]) -> None:
        """Projects, videos, image sets and dataset files (File ▸ Open, drops, command line)."""
        opened = classify(paths)
        if opened.projects or opened.videos:
            self.opening.open_paths([*opened.projects, *opened.videos])
        if opened.image_folders or opened.image_files:
            s = self.session
            if s.project is not None and not opened.projects and not opened.videos:
                choice = self.opening.ask_video_target(
                    [*opened.image_folders, *opened.image_files], Path(str(s.project.path)).name)
                if choice is None:
                    return
                if choice == "new":
                    first = opened.image_folders[0] if opened.image_folders else \
                        opened.image_files[0].parent
                    from pose_studio.app.opening import default_project_path

                    self.opening.create_project(default_project_path(first))
            self.sources.add_image_sets(opened.image_folders, opened.image_files)
        if opened.datasets:
            path, name = opened.datasets[0]
            if len(opened.datasets) > 1:
                self.shell.status(f"opening {path.name}; import the other dataset files with "
                                  "File ▸ Import", 8000)
            self.open_dataset(path, name)

    def open_dataset(self, path: Path, format_name: str) -> None:
        from pose_studio.formats.registry import get_format

        label = get_format(format_name).label
        s = self.session
        if s.project is not None:
            choice = self.ask_dataset_target(path, label, Path(str(s.project.path)).name)
            if choice is None:
                return
            if choice == "import":
                self.import_dataset(path)
                return
        self.new_project_from(path)

    def new_project_from(self, path: Path) -> None:
        from ..dialogs.import_dialog import ImportDialog

        dlg = ImportDialog.for_new_project(path, self.shell.window, user=self.session.user)
        dlg.created.connect(self._created)
        self.dialog = dlg
        self.show_dialog(dlg)

    def _created(self, result: Any) -> None:
        self.opening.open_project(Path(result.path))
        n = result.summary.n_user + result.summary.n_predicted
        self.shell.status(f"created {Path(result.path).name} from "
                          f"{Path(result.summary.path).name}: {n} instances", 10000)

    # --- import / export -----------------------------------------------------------------------
    def import_dataset(self, path: str | Path | None = None) -> None:
        s = self.session
        if s.project is None:
            if path is not None:
                self.new_project_from(Path(path))
            return
        if s.read_only:
            raise PoseStudioError("the project is open read-only: nothing can be imported")
        from ..dialogs.import_dialog import ImportDialog

        dlg = ImportDialog(s.project, self.shell.window, path=path, user=s.user)
        dlg.imported.connect(self._imported)
        self.dialog = dlg
        self.show_dialog(dlg)

    def _imported(self, summary: Any) -> None:
        """An import is one step of the history: show it, and what it brought."""
        s = self.session
        s.refresh()
        added = [int(v) for v in getattr(summary, "sources_added", ())]
        if s.video_id is None and s.videos():
            self.opening.show_video(added[0] if added else int(s.videos()[0].id))
        n = summary.n_user + summary.n_predicted
        self.shell.status(f"imported {n} instances on {summary.n_images} frames (one step: "
                          "Ctrl+Z takes it back)", 8000)

    def export_dataset(self) -> None:
        s = self.session
        if s.project is None:
            return
        from ..dialogs.export_dialog import ExportDialog

        dlg = ExportDialog(s.project, self.shell.window)
        dlg.exported.connect(self._exported)
        self.dialog = dlg
        self.show_dialog(dlg)

    def _exported(self, result: Any) -> None:
        from pose_studio.app.dataset_export import export_message

        self.shell.status(export_message(result), 10000)
