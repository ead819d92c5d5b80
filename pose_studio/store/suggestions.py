"""Frame suggestions kept in the project, with per-item done marks (table ``suggestions``,
schema 8, migration ``_add_suggestions``).

Suggestions are recomputable review state, not labels: writing them, or marking one done, is
its own small transaction and not a step of the edit history (undo never brings a done mark
back, as it never brings back a fingerprint). Regenerating replaces the suggestions not yet done
of the videos it covers; done ones stay, with who marked them and when.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection

from pose_studio.store import server

__all__ = ["SuggestionRecord", "clear", "list_suggestions", "replace", "set_done"]


class _Host(Protocol):
    def _read(self) -> contextlib.AbstractContextManager[Connection]: ...
    def _write_conn(self, *, user: str | None = None
                    ) -> contextlib.AbstractContextManager[Connection]: ...


@dataclass(frozen=True)
class SuggestionRecord:
    """One suggested frame: ``kinds`` (``uniform``, ``diverse``...), the reason text, a score
    (0..1, higher: sooner) and its done mark."""

    video_id: int
    frame: int
    kinds: tuple[str, ...]
    reason: str
    score: float
    done: bool = False
    done_by: str | None = None


def list_suggestions(project: _Host) -> list[SuggestionRecord]:
    """Every suggestion, by video id and frame."""
    with project._read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT video_id, frame_idx, kinds, reason, score, done_at, done_by "
            "FROM suggestions ORDER BY video_id, frame_idx").fetchall()
    return [SuggestionRecord(int(r[0]), int(r[1]), tuple(k for k in str(r[2]).split(",") if k),
                             str(r[3]), float(r[4]), r[5] is not None, r[6]) for r in rows]


def replace(project: _Host, video_ids: Iterable[int],
            items: Sequence[SuggestionRecord]) -> int:
    """Drop the not-done suggestions of ``video_ids`` and store ``items`` (one transaction);
    a frame already marked done keeps its row. Returns how many were stored."""
    vids = sorted({int(v) for v in video_ids})
    now = time.time()
    with project._write_conn() as conn:
        server.note_change(conn, "suggestions")  # others' Suggestions panels re-read
        for v in vids:
            conn.exec_driver_sql(
                "DELETE FROM suggestions WHERE video_id = ? AND done_at IS NULL", (v,))
        rows = [(int(s.video_id), int(s.frame), ",".join(s.kinds), s.reason, float(s.score), now)
                for s in items]
        if not rows:
            return 0
        before = conn.exec_driver_sql("SELECT count(*) FROM suggestions").scalar_one()
        conn.exec_driver_sql(
            "INSERT INTO suggestions (video_id, frame_idx, kinds, reason, score, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)
        after = conn.exec_driver_sql("SELECT count(*) FROM suggestions").scalar_one()
    return int(after) - int(before)


def set_done(project: _Host, video_id: int, frame: int, done: bool, user: str) -> bool:
    """Mark (or unmark) a suggestion done; False when there is no such suggestion."""
    with project._write_conn(user=user) as conn:
        server.note_change(conn, "suggestions")
        cur = conn.exec_driver_sql(
            "UPDATE suggestions SET done_at = ?, done_by = ? WHERE video_id = ? AND frame_idx = ?",
            (time.time() if done else None, user if done else None, video_id, frame))
        return bool(cur.rowcount)


def clear(project: _Host, video_ids: Iterable[int] | None = None) -> None:
    """Forget suggestions (of ``video_ids``, else all), done ones included."""
    with project._write_conn() as conn:
        server.note_change(conn, "suggestions")
        if video_ids is None:
            conn.exec_driver_sql("DELETE FROM suggestions")
        else:
            for v in {int(v) for v in video_ids}:
                conn.exec_driver_sql("DELETE FROM suggestions WHERE video_id = ?", (v,))
