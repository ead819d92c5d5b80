"""The window's questions to the user about files (tests replace them on the window)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from pose_studio.app.opening import PROJECT_SUFFIX

VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.m4v *.ts *.mts *.webm *.mpg *.mpeg *.wmv *.gif)"
PROJECT_FILTER = "Pose Studio project (*.posestudio)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.jp2 *.pgm *.ppm)"
DATASET_FILTER = ("Dataset files (*.json *.slp *.yaml *.yml *.csv *.h5): COCO, SLEAP, "
                  "DeepLabCut, YOLO-pose, Label Studio (*.json *.slp *.yaml *.yml *.csv *.h5)")


def open_paths(parent: QWidget, start: str) -> list[str]:
    """Projects, videos, images and dataset files (a dataset offers a new project)."""
    files, _ = QFileDialog.getOpenFileNames(
        parent, "Open video, images, dataset or project", start,
        f"Everything Pose Studio opens (*{PROJECT_SUFFIX} {VIDEO_FILTER[8:-1]} "
        f"{IMAGE_FILTER[8:-1]} *.json *.slp *.yaml *.yml *.csv *.h5);;"
        f"{PROJECT_FILTER};;{VIDEO_FILTER};;{IMAGE_FILTER};;{DATASET_FILTER};;All files (*)")
    return list(files)


def add_images(parent: QWidget, start: str) -> list[Path]:
    files, _ = QFileDialog.getOpenFileNames(parent, "Add images (one image set)", start,
                                            f"{IMAGE_FILTER};;All files (*)")
    return [Path(f) for f in files]


def add_image_folder(parent: QWidget, start: str) -> Path | None:
    path = QFileDialog.getExistingDirectory(parent, "Add a folder of images (sub-folders "
                                            "included)", start)
    return Path(path) if path else None


def add_videos(parent: QWidget, start: str) -> list[Path]:
    files, _ = QFileDialog.getOpenFileNames(parent, "Add videos", start,
                                            f"{VIDEO_FILTER};;All files (*)")
    return [Path(f) for f in files]


def new_project_path(parent: QWidget, start: str) -> Path | None:
    path, _ = QFileDialog.getSaveFileName(parent, "New project",
                                          str(Path(start) / "untitled.posestudio"), PROJECT_FILTER)
    return Path(path) if path else None


def save_as_path(parent: QWidget, current: str) -> Path | None:
    path, _ = QFileDialog.getSaveFileName(parent, "Save project as", current, PROJECT_FILTER)
    return Path(path) if path else None


def open_read_only(parent: QWidget, reason: str) -> bool:
    ans = QMessageBox.question(
        parent, "Project in use", f"{reason}\n\nOpen it read-only (view, export, no edits)?")
    return ans == QMessageBox.StandardButton.Yes


def relink_path(parent: QWidget, video: Any) -> Path | None:
    name = Path(str(video.path)).name
    ans = QMessageBox.question(parent, "Video not found",
                               f"The video {name} is not at\n{video.path}\n\nLocate it now?")
    if ans != QMessageBox.StandardButton.Yes:
        return None
    path, _ = QFileDialog.getOpenFileName(parent, f"Locate {name}",
                                          str(Path(str(video.path)).parent), "All files (*)")
    return Path(path) if path else None


def video_target(parent: QWidget, videos: Sequence[Path], project_name: str) -> str | None:
    """``"add"`` (join the open project), ``"new"`` (a project of their own) or None."""
    names = ", ".join(p.name for p in videos[:3]) + ("…" if len(videos) > 3 else "")
    box = QMessageBox(QMessageBox.Icon.Question, "Open video",
                      f"Add {names} to the open project {project_name}, or open "
                      f"{'it' if len(videos) == 1 else 'them'} in a new project?", parent=parent)
    add = box.addButton("Add to project", QMessageBox.ButtonRole.AcceptRole)
    new = box.addButton("New project", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(add)
    box.exec()
    clicked = box.clickedButton()
    return "add" if clicked is add else "new" if clicked is new else None
