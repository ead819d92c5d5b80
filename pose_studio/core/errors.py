"""The error every layer raises for bad input the user can act on.

The CLI prints ``str(error)`` as one line; the window shows it in a message box. Anything that is
not a :class:`PoseStudioError` is a bug and keeps its traceback (in the log, never in a dialog).
"""

from __future__ import annotations


class PoseStudioError(Exception):
    """A problem with the user's input (file, model, project), worded for the user."""
