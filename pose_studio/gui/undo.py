"""Undo commands over the store, through :class:`~pose_studio.gui.document.Document`.

Each command holds plain values (frozen :class:`Instance` objects and ids), never store rows.
The window performs an edit first (so a failing write never reaches the stack) and then pushes
the command with ``done=True``: its first ``redo()`` (called by ``QUndoStack.push``) does nothing.
Later undo/redo calls write the store again and bring the view back to the edited frame.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand, QUndoStack

from pose_studio.core.annotation import Instance
from pose_studio.core.errors import PoseStudioError

from .document import Document

#: Command ids for ``QUndoCommand.id()`` merging.
NUDGE_ID = 1001


class _FrameCommand(QUndoCommand):
    """A command on one frame; undo/redo first navigate there."""

    def __init__(self, doc: Document, video_id: int, frame_idx: int, text: str, done: bool) -> None:
        super().__init__(text)
        self.doc = doc
        self.video_id = video_id
        self.frame_idx = frame_idx
        self._skip_redo = done
        self.navigate: Callable[[int, int], None] | None = None
        self.on_error: Callable[[str], None] | None = None

    def _go(self) -> None:
        if self.navigate is not None:
            self.navigate(self.video_id, self.frame_idx)

    def _run(self, fn: Callable[[], None]) -> None:
        """Apply to the store; a refused write (e.g. the instance was replaced by a new model
        run, or the project is read-only) makes this step obsolete instead of raising into Qt."""
        try:
            fn()
        except PoseStudioError as exc:
            self.setObsolete(True)
            if self.on_error is not None:
                self.on_error(f"cannot {self.text()}: {exc}")

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self._go()
        self._run(self._redo)

    def undo(self) -> None:
        self._go()
        self._run(self._undo)

    def _redo(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _undo(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class UpdateInstanceCommand(_FrameCommand):
    """Replace an instance's values (move keypoint, visibility, move instance, nudge).

    Args:
        merge_key: When given (e.g. ``(instance_id, keypoint)`` for nudges), consecutive commands
            with the same key merge into one undo step.
    """

    def __init__(
        self,
        doc: Document,
        video_id: int,
        frame_idx: int,
        before: Instance,
        after: Instance,
        text: str,
        *,
        done: bool = True,
        merge_key: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__(doc, video_id, frame_idx, text, done)
        self.before = before
        self.after = after
        self.merge_key = merge_key

    def _redo(self) -> None:
        self.doc.update_instance(self.video_id, self.frame_idx, self.after)

    def _undo(self) -> None:
        self.doc.update_instance(self.video_id, self.frame_idx, self.before)

    def id(self) -> int:
        return NUDGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, UpdateInstanceCommand) or other.merge_key != self.merge_key:
            return False
        if (other.video_id, other.frame_idx) != (self.video_id, self.frame_idx):
            return False
        self.after = other.after
        return True


class AddInstanceCommand(_FrameCommand):
    """Add an instance (new label, accepted prediction). Redo after undo restores the same id."""

    def __init__(
        self, doc: Document, video_id: int, frame_idx: int, added: Instance, text: str,
        *, done: bool = True,
    ) -> None:
        super().__init__(doc, video_id, frame_idx, text, done)
        if added.id is None:
            raise ValueError("AddInstanceCommand needs the stored instance (with its id)")
        self.added = added

    def _redo(self) -> None:
        self.added = self.doc.restore_instance(self.video_id, self.frame_idx, self.added)

    def _undo(self) -> None:
        assert self.added.id is not None
        self.doc.delete_instance(self.video_id, self.frame_idx, self.added.id)


class DeleteInstanceCommand(_FrameCommand):
    """Delete an instance; undo re-inserts it with the same id and values."""

    def __init__(
        self, doc: Document, video_id: int, frame_idx: int, deleted: Instance, text: str,
        *, done: bool = True,
    ) -> None:
        super().__init__(doc, video_id, frame_idx, text, done)
        if deleted.id is None:
            raise ValueError("DeleteInstanceCommand needs the stored instance (with its id)")
        self.deleted = deleted

    def _redo(self) -> None:
        assert self.deleted.id is not None
        self.doc.delete_instance(self.video_id, self.frame_idx, self.deleted.id)

    def _undo(self) -> None:
        self.doc.restore_instance(self.video_id, self.frame_idx, self.deleted)


class Editor:
    """Performs edits on the document and records them on an undo stack.

    Every method writes the store first (raising on failure, leaving the stack untouched) and
    then pushes one command. ``navigate(video_id, frame_idx)`` is called before undo/redo so the
    user sees what changed.
    """

    def __init__(
        self,
        doc: Document,
        stack: QUndoStack,
        navigate: Callable[[int, int], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.doc = doc
        self.stack = stack
        self.navigate = navigate
        self.on_error = on_error

    def _push(self, cmd: _FrameCommand) -> None:
        cmd.navigate = self.navigate
        cmd.on_error = self.on_error
        self.stack.push(cmd)

    def _where(self) -> tuple[int, int]:
        if self.doc.video_id is None:
            raise RuntimeError("no video is open")
        return self.doc.video_id, self.doc.frame_idx

    def update(
        self, before: Instance, after: Instance, text: str,
        merge_key: tuple[int, ...] | None = None,
    ) -> Instance:
        vid, f = self._where()
        stored = self.doc.update_instance(vid, f, after)
        stored = stored if isinstance(stored, Instance) else after
        self._push(UpdateInstanceCommand(self.doc, vid, f, before, stored, text, merge_key=merge_key))
        return stored

    def add(self, inst: Instance, text: str) -> Instance:
        vid, f = self._where()
        stored = self.doc.add_instance(vid, f, inst)
        self._push(AddInstanceCommand(self.doc, vid, f, stored, text))
        return stored

    def delete(self, inst: Instance, text: str) -> None:
        vid, f = self._where()
        assert inst.id is not None
        self.doc.delete_instance(vid, f, inst.id)
        self._push(DeleteInstanceCommand(self.doc, vid, f, inst, text))

    def macro(self, text: str) -> _Macro:
        return _Macro(self.stack, text)


class _Macro:
    def __init__(self, stack: QUndoStack, text: str) -> None:
        self.stack = stack
        self.text = text

    def __enter__(self) -> _Macro:
        self.stack.beginMacro(self.text)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.endMacro()
