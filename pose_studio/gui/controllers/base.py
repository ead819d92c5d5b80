"""What every controller gets from the window: the session and a few window services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QMainWindow

from pose_studio.app.session import Session

from ..session_qt import SessionSignals
from ..settings import Settings
from ..view.frame_view import FrameView
from ..workers.jobs import Jobs


@dataclass
class Shell:
    """The window's shared services.

    Attributes:
        status: ``status(text, ms)``: a status-bar line.
        error: ``error(title, text)``: a message box with the reason (never a traceback).
    """

    window: QMainWindow
    session: Session
    signals: SessionSignals
    view: FrameView
    settings: Settings
    jobs: Jobs
    status: Callable[[str, int], None]
    error: Callable[[str, str], None]
