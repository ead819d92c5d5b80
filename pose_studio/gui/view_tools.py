"""The window's viewing and labeling aids, installed on a built window by :func:`install`:

* pose trails (View ▸ Show Pose Trails, T; length Shift+T and the toolbar),
* the Display panel: brightness, contrast, gamma of the picture shown; keypoint radius and
  line width,
* click-to-place labeling (Edit ▸ Click-to-Place, K) with its Place panel,
* remappable shortcuts and the user's name (Edit ▸ Preferences),
* the skeleton editor (Edit ▸ Edit Skeleton).

The window keeps what this returns as ``window.view_tools``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSpinBox, QToolBar

from pose_studio.app.trails import MAX_LENGTH
from pose_studio.store.journal import default_user

from .controllers.placing import PlaceController
from .controllers.trails import TrailsController
from .keymap import Keymap
from .view.adjust import table
from .widgets.display_panel import DisplayPanel
from .widgets.place_panel import PlacePanel

__all__ = ["ViewTools", "install"]


@dataclass
class ViewTools:
    keymap: Keymap
    trails: TrailsController
    place: PlaceController
    display_panel: DisplayPanel
    place_panel: PlacePanel
    trail_spin: QSpinBox
    toolbar: QToolBar


def _rebind(window: Any, action_id: str, fn: Callable[[], Any]) -> None:
    """Give an action of the table another handler (its menu entry and keys stay)."""
    act = window.actions_by_id[action_id]
    with contextlib.suppress(RuntimeError, TypeError):  # nothing was connected
        act.triggered.disconnect()
    act.triggered.connect(lambda _c=False: window.guard(fn))


def _separate(window: Any, action_ids: tuple[str, ...]) -> None:
    """A separator above each of these actions in its menu."""
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        if menu is None:
            continue
        for aid in action_ids:
            act = window.actions_by_id[aid]
            if act in menu.actions():
                menu.insertSeparator(act)


def _connect_toggle(window: Any, action_id: str, fn: Callable[[bool], Any],
                    checked: bool) -> None:
    act = window.actions_by_id[action_id]
    act.blockSignals(True)
    act.setChecked(checked)
    act.blockSignals(False)
    act.toggled.connect(lambda on: window.guard(fn, bool(on)))


def install(window: Any) -> ViewTools:
    """Build the aids on ``window`` (a :class:`~pose_studio.gui.main_window.MainWindow` whose
    actions, controllers and docks exist); call before the saved layout is restored."""
    shell, actions = window.shell, window.actions_by_id
    keymap = Keymap(window.settings.qsettings)
    keymap.apply(actions)

    # --- display: picture adjustments and point size ---------------------------------------------
    display = DisplayPanel(window)
    st = window.settings
    display.set_values(display.adjust(), st.number("point_radius", 5.0),
                       st.number("line_width", 2.0))

    def display_changed() -> None:
        opts = window.options
        radius, width = display.radius.value(), display.width_spin.value()
        if (opts.point_radius, opts.line_width) != (radius, width):
            opts.point_radius, opts.line_width = radius, width
            st.set_number("point_radius", radius)
            st.set_number("line_width", width)
            window.view.set_options(opts)
            window.display.refresh_instances()
            trails.line_width = max(1.0, 0.75 * width)
            trails.update()
        lut = table(display.adjust())
        if (lut is None) != (window.view.lut is None) or (
                lut is not None and not (lut == window.view.lut).all()):
            window.view.set_lut(lut)

    display.changed.connect(display_changed)
    display_dock = window.add_panel("display", "Display", display,
                                    Qt.DockWidgetArea.RightDockWidgetArea)
    # A tab beside the Model panel (or History): another row in the right column would make
    # the window's minimum height larger than a laptop screen's.
    beside = window.docks.get("model") or window.docks.get("history")
    if beside is not None:
        window.tabifyDockWidget(beside, display_dock)
        beside.raise_()
    window.view.options.point_radius = display.radius.value()
    window.view.options.line_width = display.width_spin.value()

    # --- trails ------------------------------------------------------------------------------------
    trails = TrailsController(shell)
    trails.line_width = max(1.0, 0.75 * display.width_spin.value())
    _connect_toggle(window, "show_trails", trails.set_on, trails.on)
    _rebind(window, "trail_length", trails.cycle_length)
    _rebind(window, "reset_picture", display.reset_picture)
    bar = QToolBar("View", window)
    bar.setObjectName("view_tools_bar")  # not a main-window toolbar: no saved place
    bar.addAction(actions["show_trails"])
    spin = QSpinBox(bar)
    spin.setObjectName("trail_length")
    spin.setRange(1, MAX_LENGTH)
    spin.setValue(trails.length)
    spin.setSuffix(" frames")
    spin.setToolTip("Pose trail length: frames before and after the current one")
    bar.addWidget(QLabel(" ", bar))
    bar.addWidget(spin)
    spin.valueChanged.connect(trails.set_length)
    trails.listeners.append(lambda n: spin.setValue(n) if spin.value() != n else None)
    bar.addSeparator()
    bar.addAction(actions["place_mode"])
    bar.addSeparator()
    picture = bar.addAction("Display")
    picture.setToolTip("Show the Display panel: brightness, contrast, gamma of the picture; "
                       "point size")
    picture.triggered.connect(lambda: (display_dock.show(), display_dock.raise_()))
    # At the right end of the menu bar: a toolbar row of its own would add its height to the
    # window's minimum (laptop screens, the screenshot command's sizes).
    bar.setMovable(False)
    bar.setFloatable(False)
    bar.setStyleSheet("QToolBar { border: 0px; padding: 0px; spacing: 2px; }")
    window.menuBar().setCornerWidget(bar, Qt.Corner.TopRightCorner)

    # --- click to place ----------------------------------------------------------------------------
    panel = PlacePanel(window)
    dock = window.add_panel("place", "Place", panel, Qt.DockWidgetArea.LeftDockWidgetArea)
    dock.hide()
    place = PlaceController(shell, window.editing, panel, dock, actions["place_mode"])
    _connect_toggle(window, "place_mode", place.set_on, False)
    _connect_toggle(window, "place_auto_advance", place.set_auto_advance, True)
    panel.auto_advance_toggled.connect(
        lambda on: actions["place_auto_advance"].setChecked(bool(on)))
    actions["place_auto_advance"].toggled.connect(
        lambda on: panel.auto.setChecked(bool(on)) if panel.auto.isChecked() != on else None)
    editing, session = window.editing, window.session
    _rebind(window, "clear_selection",
            lambda: place.leave() if place.on else session.select(None))
    _rebind(window, "next_keypoint",
            lambda: place.step(1) if place.on else editing.step_keypoint(1))
    _rebind(window, "prev_keypoint",
            lambda: place.step(-1) if place.on else editing.step_keypoint(-1))

    # --- preferences and the skeleton editor ---------------------------------------------------
    def preferences() -> None:
        from .dialogs.preferences import PreferencesDialog

        dlg = PreferencesDialog(keymap, st.user_name(), window)
        if dlg.exec() != PreferencesDialog.DialogCode.Accepted:
            return
        keymap.replace(dlg.keymap.table())
        keymap.apply(actions)
        st.set_user_name(dlg.user_name())
        session.user = dlg.user_name() or default_user()
        n = len(keymap.changed())
        window.status(f"preferences saved: edits are recorded as {session.user}; "
                      f"{n} shortcut{'s' if n != 1 else ''} changed from the defaults", 6000)

    def edit_skeleton() -> None:
        from .dialogs.skeleton_editor import SkeletonEditor

        if session.project is None:
            window.status("open a project first", 4000)
            return
        if session.read_only:
            window.status("the project is open read-only", 4000)
            return
        dlg = SkeletonEditor(session, window)
        if dlg.exec() == SkeletonEditor.DialogCode.Accepted:
            window.status(f"{session.history.undo_text()} (Ctrl+Z takes it back)", 8000)

    _rebind(window, "preferences", preferences)
    _rebind(window, "edit_skeleton", edit_skeleton)
    _separate(window, ("place_mode", "edit_skeleton", "show_trails"))
    return ViewTools(keymap, trails, place, display, panel, spin, bar)
