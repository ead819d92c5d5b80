"""The edit journal: the undo history, kept in the project file.

Every user edit (:class:`~pose_studio.core.edits.Edit`) is applied and recorded in ONE
transaction (:func:`apply_edit`), so the history on disk is always exactly what the instances
went through: closing the window, a crash or a power cut loses neither. :func:`undo` and
:func:`redo` walk it, again one transaction per step, from the window or the command line
(``pose-studio history / undo / redo``). Each step records who made it and when (and who undid
it), which is what several annotators on one project will need.

The journal is a stack: ``done`` steps, then the ``undone`` ones (the redo list, newest undo
first in redo order). A new edit drops the redo list, as in every editor. Imports are steps too
(``journal_import.py``), and so are changes of the project's skeleton (``skeleton_change.py``).

Who: the ``user`` argument, else ``$POSE_STUDIO_USER``, else the OS login.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection

from pose_studio.core.edits import Edit, apply
from pose_studio.store import journal_import, server, skeleton_change
from pose_studio.store.edit_codec import decode_edit, encode_edit
from pose_studio.store.errors import ProjectError
from pose_studio.store.journal_base import (
    _ENTRY_COLUMNS,
    USER_ENV,
    Applied,
    ConnStore,
    JournalEntry,
    JournalHost,
    _entry,
    _span,
    default_user,
    last_done,
    queue_entry,
    read_entry,
)

__all__ = [
    "USER_ENV",
    "Applied",
    "JournalEntry",
    "JournalHost",
    "apply_edit",
    "count_done",
    "default_user",
    "drop_step",
    "entries",
    "entry_edit",
    "redo",
    "undo",
]


def _try_merge(conn: Connection, merge_into: int, applied: Edit, user: str) -> int | None:
    """Fold ``applied`` into step ``merge_into`` when it is still the user's newest step and
    done."""
    top = conn.exec_driver_sql(
        "SELECT seq, kind, undone, merge_key, payload FROM edit_journal WHERE made_by = ? "
        "ORDER BY seq DESC LIMIT 1", (user,)).first()
    if (top is None or int(top[0]) != merge_into or top[1] != "edit" or top[2]
            or top[3] is None or top[3] != applied.merge_key):
        return None
    merged = decode_edit(top[4]).merged(applied)
    if merged is None:
        return None
    vid, first, last, n = _span(merged.frames)
    conn.exec_driver_sql(
        "UPDATE edit_journal SET label = ?, made_at = ?, video_id = ?, first_frame = ?, "
        "last_frame = ?, n_frames = ?, n_instances = ?, payload = ? WHERE seq = ?",
        (merged.label, time.time(), vid, first, last, n, len(merged.changes),
         encode_edit(merged), merge_into))
    return merge_into


def apply_edit(host: JournalHost, edit: Edit, *, user: str | None = None,
               merge_into: int | None = None) -> Applied:
    """Apply ``edit`` and record it, in one transaction.

    ``merge_into``: the ``seq`` of the step this edit may fold into (its merge key must match
    and that step must still be the newest, done one); otherwise it is a new step.

    Raises:
        StaleEditError: the store no longer holds a ``before`` state (nothing is written).
        ProjectError: a bad value or a read-only project (nothing is written).
    """
    who = user or default_user()
    # on a server: the edited videos' locks as it begins, then the checks (see server.py)
    with host._edit_conn(user=who, videos={v for v, _ in edit.frames}) as conn:
        store = ConnStore(host, conn, who)
        store.speculate(edit)
        applied = apply(edit, store)
        store.finish()
        seq = _try_merge(conn, merge_into, applied, who) if merge_into is not None else None
        if seq is None:
            entry = queue_entry(conn, "edit", applied.label, who, applied.frames,
                                len(applied.changes), encode_edit(applied), applied.merge_key)
        else:
            merged = read_entry(conn, seq)
            entry = lambda: merged  # noqa: E731
    return Applied(entry(), store.frames(), applied)


def _next_seq(conn: Connection, undoing: bool, user: str) -> int | None:
    """The step undo (the user's newest done one) or redo (their oldest undone one) takes
    next."""
    top = last_done(conn, user)
    if undoing:
        return top or None
    nxt = conn.exec_driver_sql(
        "SELECT seq FROM edit_journal WHERE made_by = ? AND seq > ? ORDER BY seq LIMIT 1",
        (user, top)).scalar()
    return None if nxt is None else int(nxt)


class _NeedsExclusive(Exception):
    """An import step met in a shared-lock transaction (on a server it needs the whole project)."""


def _step(host: JournalHost, *, undoing: bool, user: str | None) -> Applied | None:
    who = user or default_user()
    try:
        return _step_in(host, undoing=undoing, who=who, exclusive=False)
    except _NeedsExclusive:
        return _step_in(host, undoing=undoing, who=who, exclusive=True)


def _step_in(host: JournalHost, *, undoing: bool, who: str, exclusive: bool) -> Applied | None:
    with host._write_conn(exclusive=exclusive, user=who) as conn:
        row = conn.exec_driver_sql(
            "SELECT seq, kind, label, payload FROM edit_journal WHERE seq = ?",
            (_next_seq(conn, undoing, who),)).first()
        if row is None:
            return None
        seq, kind, label = int(row[0]), str(row[1]), str(row[2])
        store = ConnStore(host, conn, who)
        done: Edit | None = None
        server.note_change(conn, "history")
        skeleton = None
        if kind in ("import", skeleton_change.KIND) and not exclusive \
                and conn.dialect.name == "postgresql":
            raise _NeedsExclusive  # both touch every video: the whole project's lock
        if kind == "import":
            journal_import.step(host, conn, store, seq, label, undoing=undoing)
        elif kind == skeleton_change.KIND:
            server.note_change(conn, "skeleton")
            skeleton = skeleton_change.step(conn, seq, row[3], undoing=undoing,
                                            where=f"step {seq} of the history of {host.path}")
        else:
            edit = decode_edit(row[3], f"step {seq} of the history of {host.path}")
            todo = edit.inverse() if undoing else edit
            server.lock_videos(conn, (v for v, _ in todo.frames))
            done = apply(todo, store, action=f"{'undo' if undoing else 'redo'} {label!r}")
        store.finish()
        if undoing:
            conn.exec_driver_sql(
                "UPDATE edit_journal SET undone = 1, undone_by = ?, undone_at = ? WHERE seq = ?",
                (who, time.time(), seq))
        else:
            conn.exec_driver_sql(
                "UPDATE edit_journal SET undone = 0, undone_by = NULL, undone_at = NULL "
                "WHERE seq = ?", (seq,))
        entry = read_entry(conn, seq)
    if skeleton is not None:  # committed: the open project works with it from now on
        skeleton_change.adopt(host, skeleton)
    return Applied(entry, store.frames(), done)


def undo(host: JournalHost, *, user: str | None = None) -> Applied | None:
    """Undo the newest done step (one transaction); None when there is nothing to undo.

    Raises:
        StaleEditError: the instances it touched were changed since by something outside the
            history (nothing is written; the step stays done).
    """
    return _step(host, undoing=True, user=user)


def redo(host: JournalHost, *, user: str | None = None) -> Applied | None:
    """Redo the oldest undone step (one transaction); None when there is nothing to redo."""
    return _step(host, undoing=False, user=user)


def entries(host: JournalHost, limit: int | None = None, *,
            user: str | None = None) -> list[JournalEntry]:
    """The history, oldest first: every step (of everyone, or of ``user``); with ``limit``,
    everyone's newest ``limit`` steps, or ``user``'s newest ``limit`` done steps and their
    whole redo list (what their undo walks)."""
    with host._read() as conn:
        if limit is None:
            where, params = ("WHERE made_by = ? ", (user,)) if user is not None else ("", ())
            rows = conn.exec_driver_sql(
                f"SELECT {_ENTRY_COLUMNS} FROM edit_journal {where}ORDER BY seq",
                params).fetchall()
        elif user is None:
            rows = conn.exec_driver_sql(
                f"SELECT * FROM (SELECT {_ENTRY_COLUMNS} FROM edit_journal ORDER BY seq DESC "
                "LIMIT ?) AS newest ORDER BY 1", (int(limit),)).fetchall()
        else:
            who = user
            top = last_done(conn, who)
            rows = conn.exec_driver_sql(
                f"SELECT * FROM (SELECT {_ENTRY_COLUMNS} FROM edit_journal WHERE made_by = ? "
                f"AND seq <= ? ORDER BY seq DESC LIMIT ?) AS done UNION ALL SELECT "
                f"{_ENTRY_COLUMNS} FROM edit_journal WHERE made_by = ? AND seq > ? ORDER BY 1",
                (who, top, int(limit), who, top)).fetchall()
    return [_entry(r) for r in rows]


def drop_step(host: JournalHost, *, undoing: bool, user: str | None = None) -> int | None:
    """Remove the step :func:`undo` (or :func:`redo`) would take next for ``user``, when it
    can no longer apply; returns its ``seq`` (None: there is none). The instances are not
    touched."""
    who = user or default_user()
    with host._write_conn(user=who) as conn:
        seq = _next_seq(conn, undoing, who)
        if seq is not None:
            conn.exec_driver_sql("DELETE FROM edit_journal WHERE seq = ?", (seq,))
            server.note_change(conn, "history")
    return None if seq is None else int(seq)


def count_done(host: JournalHost, user: str | None = None) -> int:
    """How many steps ``user`` (default: ``$POSE_STUDIO_USER`` or the login) can undo."""
    with host._read() as conn:
        return int(conn.exec_driver_sql(
            "SELECT count(*) FROM edit_journal WHERE made_by = ? AND undone = 0",
            (user or default_user(),)).scalar_one())


def entry_edit(host: JournalHost, seq: int) -> Edit:
    """The recorded edit of step ``seq`` (an ``edit`` step)."""
    with host._read() as conn:
        row = conn.exec_driver_sql(
            "SELECT kind, payload FROM edit_journal WHERE seq = ?", (seq,)).first()
    if row is None or row[0] != "edit":
        raise ProjectError(f"the history of {host.path} has no edit step {seq}")
    return decode_edit(row[1], f"step {seq} of the history of {host.path}")


def describe(entry: JournalEntry) -> str:
    """One line for ``pose-studio history``."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.made_at))
    state = "" if not entry.undone else f"  (undone by {entry.undone_by})"
    return f"{entry.seq:>6}  {when}  {entry.made_by:<12} {entry.label:<32} {entry.where()}{state}"
