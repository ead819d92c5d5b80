"""Several annotators in the window: File ▸ Connect to a Server…, others' edits live (a timer
drains ``app.live.LiveUpdates``), and the Team panel (annotator filter, my assignments).

The work is in the Qt-free layers (``app/live.py``, ``store/team.py``); this module only
wires it to widgets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction

from pose_studio.app.live import LiveUpdates
from pose_studio.app.session import Topic
from pose_studio.core.errors import PoseStudioError
from pose_studio.store import server

from .widgets.team_panel import TeamPanel

log = logging.getLogger(__name__)

#: How often the window looks for others' changes (ms): well within the second they must
#: take to appear.
POLL_MS = 250
REFRESH_AFTER_EDIT_MS = 200


class TeamTools:
    def __init__(self, window: Any) -> None:
        self.window = window
        self.session = window.session
        self.live = LiveUpdates(self.session)
        self.panel = TeamPanel(window)
        self.dock = window.add_panel("team", "Team", self.panel)
        # A tab beside Model, Tracks and Display: one person on a file needs no Team row taking
        # a third of the right column (connecting to a server raises it).
        beside = window.docks.get("model") or window.docks.get("history")
        if beside is not None:
            window.tabifyDockWidget(beside, self.dock)
            beside.raise_()
        self.panel.annotator_changed.connect(self._filter)
        self.panel.goto.connect(self._goto)
        self.panel.mark_done.connect(self._mark_done)
        self.timer = QTimer(window)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        # An edit changes who labeled what and how far assignments are: re-read once the
        # edits of a burst are in, not inside each edit's commit (two queries per drag).
        self.later = QTimer(window)
        self.later.setSingleShot(True)
        self.later.setInterval(REFRESH_AFTER_EDIT_MS)
        self.later.timeout.connect(self.refresh)
        self.session.subscribe(self._on_topics)
        self.connect_action = QAction("Connect to a &Server…", window)
        self.connect_action.setObjectName("action_connect_server")
        self.connect_action.setStatusTip("Open a project shared on a PostgreSQL server")
        self.connect_action.triggered.connect(self.connect_dialog)
        self._add_to_file_menu()
        self.refresh()

    def _add_to_file_menu(self) -> None:
        opener = self.window.actions_by_id.get("open")
        for menu_action in self.window.menuBar().actions():
            menu = menu_action.menu()
            if menu is not None and opener in menu.actions():
                acts = menu.actions()
                after = acts[acts.index(opener) + 1] if acts.index(opener) + 1 < len(acts) \
                    else None
                menu.insertAction(after, self.connect_action)
                return

    def stop(self) -> None:
        self.later.stop()
        self.timer.stop()
        self.live.stop()

    # --- connecting ---------------------------------------------------------------------------
    def connect_dialog(self) -> None:
        from .dialogs.connect import ConnectDialog

        dlg = ConnectDialog(self.window, str(self.window.settings.qsettings.value(
            "team/last_url", "") or ""))
        if dlg.exec():
            self.open_url(dlg.url())

    def open_urls_in(self, paths: Sequence[str | Path]) -> list[str | Path]:
        """Open the first database URL among ``paths`` (command line, recent files); the rest,
        files, are returned for the usual opening."""
        urls = [str(p) for p in paths if server.is_url(str(p))]
        if urls:
            self.open_url(urls[0])
        return [p for p in paths if not server.is_url(str(p))]

    def open_url(self, url: str) -> bool:
        """Open the project at ``url``; a refusal is one message, nothing else changes."""
        from pose_studio.store import Project

        try:
            project = Project.open(url)
        except PoseStudioError as e:
            self.window.show_error("Cannot connect", str(e))
            return False
        opening = self.window.opening
        opening.stop_all()
        self.session.open(project)
        # remembered without its password
        self.window.settings.qsettings.setValue(
            "team/last_url", server.display_url(server.parse_url(url)).replace(":***@", "@"))
        videos = self.session.videos()
        if videos:
            opening.show_video(int(videos[0].id))
        self.dock.show()
        self.dock.raise_()
        self.window.status(f"connected to {project.location} as {self.session.user}", 6000)
        self.refresh()
        return True

    # --- live ---------------------------------------------------------------------------------
    def poll(self) -> None:
        try:
            got = self.live.poll()
        except PoseStudioError as e:  # a re-read failed: say so, keep going
            self.window.status(str(e), 6000)
            return
        except Exception:
            log.exception("applying others' changes failed")
            return
        if got:
            who = {c.user for c in got if c.user}
            if who:
                self.window.status(f"updated: changes by {', '.join(sorted(who))}", 3000)
        self._show_live()

    def _show_live(self) -> None:
        p = self.session.project
        if p is None:
            text = "live updates: no project open"
        elif self.live.problem:
            text = self.live.problem
        elif self.live.listening:
            text = ("live: others' edits appear as they are made" if p.is_server else
                    "live: following the writer of this read-only file")
        else:
            text = "live updates: off (a project file open for writing has no other writer)"
        self.panel.set_live(text)

    # --- the panel ----------------------------------------------------------------------------
    def _on_topics(self, topics: frozenset[Topic], frames: Any) -> None:
        if topics & {Topic.ASSIGNMENTS, Topic.VIDEOS, Topic.PROJECT}:
            self.later.stop()
            self.refresh()
        elif Topic.HISTORY in topics and self.session.project is not None:
            self.later.start()

    def refresh(self) -> None:
        p = self.session.project
        self._show_live()
        if p is None:
            self.panel.set_annotators([])
            self.panel.set_assignments([])
            return
        try:
            self.panel.set_annotators(p.annotators())
            self.panel.set_assignments(p.assignments(self.session.user))
        except PoseStudioError as e:
            self.window.status(str(e), 6000)

    def _filter(self, name: str) -> None:
        self.window.view.annotator = name
        self.window.display.refresh_instances()

    def _goto(self, video_id: int, frame: int) -> None:
        self.window.runs.go_to_frame(video_id, frame)

    def _mark_done(self, assignment_id: int, done: bool) -> None:
        p = self.session.project
        if p is None:
            return
        try:
            p.mark_done(assignment_id, done)
        except PoseStudioError as e:
            self.window.show_error("Assignment", str(e))
        self.refresh()


def install(window: Any) -> TeamTools:
    return TeamTools(window)
