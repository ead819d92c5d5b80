"""The application layer: Qt-free state and verbs between the window and the store.

* :mod:`.session` -- :class:`~.session.Session`: the open project, current video and frame, the
  shown frame's pixels, selection, per-frame arrays; the only UI-side writer to the store; it
  publishes what changed by topic.
* :mod:`.editing` -- edit verbs (accept, add, delete, move, nudge, visibility, snap): plain
  functions from the session's state to a :class:`~pose_studio.core.edits.Edit`.
* :mod:`.history` -- undo/redo over the journal kept in the project.
* :mod:`.predictions` -- the one route for model output into the store.
* :mod:`.opening`, :mod:`.review`, :mod:`.fingerprint_check` -- opening bookkeeping, review
  scores and navigation, the background frame check.

Nothing here imports Qt (an import-linter contract): the window observes a session through a
thin adapter (``pose_studio.gui.session_qt``).
"""
