"""Click-to-place labeling in the window: the mode, its state and its keys.

While the mode is on, a left click on the picture places the current body part
(:mod:`pose_studio.app.placing`: one history step per click) on the selected instance, or on a
new one when nothing is selected or the selected one is complete; the next unlabeled part comes
up. ``.`` and ``,`` pick the next or previous part instead of selecting keypoints, Escape
leaves the mode, Ctrl+Z takes the last point back. The Place panel lists the parts with the
unlabeled ones marked; a hint on the picture names the part the next click places.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QLabel

from pose_studio.app import placing
from pose_studio.app.session import Frames, Topic

from ..widgets.place_panel import PlacePanel
from .base import Shell
from .editing import EditController

__all__ = ["PlaceController"]

_HINT_STYLE = ("QLabel { background: rgba(20, 20, 24, 210); color: white; padding: 4px 8px; "
               "border-radius: 3px; }")


class PlaceController(QObject):
    """See the module docstring."""

    def __init__(self, shell: Shell, editing: EditController, panel: PlacePanel,
                 dock: QDockWidget, action: QAction) -> None:
        super().__init__(shell.window)
        self.shell = shell
        self.s = shell.session
        self.editing = editing
        self.panel = panel
        self.dock = dock
        self.action = action
        self.state = placing.PlaceState()
        self.on = False
        self._placing = False
        view = shell.view
        self.hint = QLabel(view.viewport())
        self.hint.setObjectName("place_hint")
        self.hint.setStyleSheet(_HINT_STYLE)
        self.hint.hide()
        view.place_requested.connect(self.place_at)
        shell.signals.changed.connect(self._on_changed)
        # Off and out of sight, the panel is brought up to date when it is shown, not on
        # every edit (it cost each drag a refresh of a panel nobody sees).
        self._stale = False
        dock.visibilityChanged.connect(self._on_shown)
        panel.part_picked.connect(self.pick)
        panel.auto_advance_toggled.connect(self.set_auto_advance)

    # --- the mode --------------------------------------------------------------------------------
    def set_on(self, on: bool) -> None:
        self.on = bool(on)
        self.shell.view.set_place_mode(self.on)
        if self.action.isChecked() != self.on:
            self.action.setChecked(self.on)
        if self.on:
            self.state.restart(self.s)
            if not self.dock.isVisible():
                self.dock.show()
                self.shell.window.resizeDocks([self.dock], [420], Qt.Orientation.Vertical)
            self.dock.raise_()
            self.shell.view.setFocus()
            self.shell.status("click-to-place: click where the highlighted part is "
                              "(Esc leaves)", 6000)
        self.refresh()

    def leave(self) -> None:
        self.set_on(False)

    def set_auto_advance(self, on: bool) -> None:
        self.state.auto_advance = bool(on)

    def pick(self, k: int) -> None:
        self.state.pick(k)
        self.refresh()

    def step(self, d: int) -> None:
        self.state.step(self.s, d)
        self.refresh()

    # --- placing ---------------------------------------------------------------------------------
    def place_at(self, x: float, y: float, occluded: bool = False) -> None:
        if not self.on:
            return
        if self.state.part is None:  # the selected instance is complete: start a new one
            self.s.select(None)
            self.state.follow(self.s)
        k = self.state.part if self.state.part is not None else 0
        target = self.s.selected_instance_id
        self._placing = True
        try:
            self.editing.run(placing.place(self.s, target, k, x, y, occluded))
        finally:
            self._placing = False
        inst = self.s.selected()
        if inst is not None and k < inst.num_keypoints and inst.visibility[k] > 0 \
                and tuple(inst.xy[k]) == (x, y):
            self.state.placed(self.s, k)
        self.refresh()

    def _on_shown(self, visible: bool) -> None:
        if visible and self._stale:
            self._stale = False
            self.state.restart(self.s)
            self.refresh()

    def _on_changed(self, topics: frozenset[Topic], _frames: Frames) -> None:
        if Topic.PROJECT in topics and self.s.project is None and self.on:
            self.set_on(False)
            return
        if not self.on and not self.dock.isVisible():
            self._stale = True
            return
        if Topic.SKELETON in topics:  # part numbers name other keypoints now
            self.state.restart(self.s)
            self.refresh()
        elif Topic.INSTANCES in topics and Topic.ARRAYS in topics and not self._placing \
                and not self.state.picked:
            # a write that is not a click (an undo, most often): the first unlabeled part again
            self.state.restart(self.s)
            self.refresh()
        elif topics & {Topic.SELECTION, Topic.INSTANCES, Topic.FRAME, Topic.PROJECT,
                       Topic.VIDEO}:
            self.state.follow(self.s)
            self.refresh()

    # --- showing the state -----------------------------------------------------------------------
    def refresh(self) -> None:
        sk = self.s.skeleton
        if sk is None:
            self.panel.show_state([], [], None, "nothing (open a video)", self.on)
            self.hint.hide()
            return
        inst = self.s.selected()
        labeled = [False] * sk.num_keypoints if inst is None else \
            [bool(v > 0) for v in inst.visibility[:sk.num_keypoints]]
        if inst is None:
            target = "a new instance"
        else:
            what = "prediction (a label is made from it)" if inst.is_prediction else "label"
            target = f"the selected {what}"
        part = self.state.part
        self.panel.show_state(sk.keypoints, labeled, part, target, self.on)
        if not self.on:
            self.hint.hide()
            return
        name = sk.keypoints[part] if part is not None and part < sk.num_keypoints else \
            f"{sk.keypoints[0]} of a new instance"
        self.hint.setText(f"Click: {name}   ·   Shift+click: occluded   ·   . , other part   ·   "
                          "Esc: done")
        self.hint.adjustSize()
        self.hint.move(8, max(8, self.shell.view.viewport().height() - self.hint.height() - 8))
        self.hint.show()
        self.hint.raise_()
