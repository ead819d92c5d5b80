"""Remappable shortcuts: the action table's keys (``actions.py``) with the user's changes.

The user's keys live in QSettings under ``shortcuts/<action id>`` (key sequences in Qt's portable
text, tab-separated; an empty value: no shortcut). Actions the user never changed follow the
table, so a new version's defaults reach them. A key already bound to another action is refused
with a message naming that action; :meth:`Keymap.reset` / :meth:`Keymap.reset_all` go back to
the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence

from pose_studio.core.errors import PoseStudioError

from .actions import ACTIONS, ACTIONS_BY_ID

__all__ = ["Keymap", "ShortcutClash", "normalise"]

_GROUP = "shortcuts"


class ShortcutClash(PoseStudioError):
    """A key sequence already bound to another action."""


def normalise(keys: Iterable[str]) -> tuple[str, ...]:
    """Portable text of each non-empty sequence, duplicates dropped, order kept."""
    out: list[str] = []
    for k in keys:
        text = QKeySequence(k).toString(QKeySequence.SequenceFormat.PortableText) if k else ""
        if text and text not in out:
            out.append(text)
    return tuple(out)


def native(keys: Iterable[str]) -> str:
    """The keys as the platform writes them (``⌘Z`` on macOS), comma-separated."""
    return ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText)
                     for k in keys)


class Keymap:
    """See the module docstring. ``qsettings`` None: changes are kept in memory only."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._s = qsettings
        self._user: dict[str, tuple[str, ...]] = {}
        if qsettings is not None:
            qsettings.beginGroup(_GROUP)
            try:
                for aid in qsettings.childKeys():
                    if aid in ACTIONS_BY_ID:
                        raw = qsettings.value(aid, "")
                        self._user[aid] = normalise(str(raw or "").split("\t"))
            finally:
                qsettings.endGroup()

    # --- reading ---------------------------------------------------------------------------------
    @staticmethod
    def default(action_id: str) -> tuple[str, ...]:
        return normalise(ACTIONS_BY_ID[action_id].shortcuts)

    def keys(self, action_id: str) -> tuple[str, ...]:
        """The keys of an action now (the user's, else the table's)."""
        if action_id in self._user:
            return self._user[action_id]
        return self.default(action_id)

    def table(self) -> dict[str, tuple[str, ...]]:
        """Every action's keys now, in table order."""
        return {spec.id: self.keys(spec.id) for spec in ACTIONS}

    def changed(self) -> list[str]:
        """Actions whose keys differ from the table's."""
        return [aid for aid in self._user if self._user[aid] != self.default(aid)]

    def owner(self, key: str, but: str | None = None) -> str | None:
        """The action ``key`` is bound to (other than ``but``), if any."""
        (norm,) = normalise([key]) or ("",)
        for aid, keys in self.table().items():
            if aid != but and norm in keys:
                return aid
        return None

    # --- changing ----------------------------------------------------------------------------
    def set(self, action_id: str, keys: Iterable[str]) -> tuple[str, ...]:
        """Bind ``keys`` to an action (replacing its keys); returns them normalised.

        Raises:
            ShortcutClash: a key is another action's (nothing is changed).
        """
        if action_id not in ACTIONS_BY_ID:
            raise PoseStudioError(f"there is no action {action_id!r}")
        new = normalise(keys)
        for k in new:
            other = self.owner(k, but=action_id)
            if other is not None:
                spec = ACTIONS_BY_ID[other]
                raise ShortcutClash(
                    f"{native([k])} is already the shortcut of “{spec.label.rstrip('…')}” "
                    f"({spec.menu.replace('&', '')} menu): change or clear that one first")
        self._user[action_id] = new
        self._save(action_id)
        return new

    def reset(self, action_id: str) -> tuple[str, ...]:
        """Back to the table's keys (refused when another action took one of them since)."""
        self._user.pop(action_id, None)
        for k in self.default(action_id):
            other = self.owner(k, but=action_id)
            if other is not None:
                self._user[action_id] = ()  # no key rather than a clash
                self._save(action_id)
                spec = ACTIONS_BY_ID[other]
                raise ShortcutClash(
                    f"{native([k])} is now the shortcut of “{spec.label.rstrip('…')}”: "
                    f"{ACTIONS_BY_ID[action_id].label.rstrip('…')} is left without a key")
        self._save(action_id)
        return self.keys(action_id)

    def reset_all(self) -> None:
        self._user.clear()
        if self._s is not None:
            self._s.remove(_GROUP)

    def _save(self, action_id: str) -> None:
        if self._s is None:
            return
        key = f"{_GROUP}/{action_id}"
        if action_id in self._user and self._user[action_id] != self.default(action_id):
            self._s.setValue(key, "\t".join(self._user[action_id]))
        else:
            self._user.pop(action_id, None)
            self._s.remove(key)

    def replace(self, table: Mapping[str, Iterable[str]]) -> None:
        """Take a whole table (the preferences dialog's copy, checked as it was edited)."""
        self.reset_all()
        for aid, keys in table.items():
            if aid in ACTIONS_BY_ID and normalise(keys) != self.default(aid):
                self._user[aid] = normalise(keys)
                self._save(aid)

    def copy(self) -> Keymap:
        """An in-memory copy (the preferences dialog edits one; OK takes it)."""
        other = Keymap(None)
        other._user = dict(self._user)
        return other

    # --- the window --------------------------------------------------------------------------
    def apply(self, actions: Mapping[str, QAction]) -> None:
        """Give each action its keys now."""
        for aid, keys in self.table().items():
            act = actions.get(aid)
            if act is not None:
                act.setShortcuts([QKeySequence(k) for k in keys])
