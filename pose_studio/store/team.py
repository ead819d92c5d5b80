"""Several annotators on one project: work assigned to each (a video, or a frame range of it),
how far it is, and who labeled what (a mixin of :class:`~pose_studio.store.project.Project`).

An assignment is a row of ``assignments`` (format 8); its progress is read from the frame
summaries (labeled frames in its range), so asking costs a few milliseconds even for long
videos. Marking it done is the assignee's statement ("I checked every frame"), kept apart from
the progress, which only counts frames with a label.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from pose_studio.store import server
from pose_studio.store.errors import ProjectError
from pose_studio.store.journal_base import default_user
from pose_studio.store.project_base import ProjectBase

__all__ = ["Assignment", "TeamOps"]


@dataclass(frozen=True)
class Assignment:
    """Frames ``[first_frame, stop_frame)`` of a video given to ``assignee`` (the whole video
    when both are None), with how many of them have a label (``labeled`` of ``frames``)."""

    id: int
    video_id: int
    first_frame: int | None
    stop_frame: int | None
    assignee: str
    assigned_by: str
    assigned_at: float
    done_at: float | None
    note: str | None
    frames: int = 0
    labeled: int = 0

    @property
    def done(self) -> bool:
        return self.done_at is not None

    def where(self) -> str:
        if self.first_frame is None:
            return f"video {self.video_id} (all frames)"
        return f"video {self.video_id} frames {self.first_frame}-{int(self.stop_frame or 0) - 1}"


_COLUMNS = ("id, video_id, first_frame, stop_frame, assignee, assigned_by, assigned_at, "
            "done_at, note")


class TeamOps(ProjectBase):
    """Assignments and annotators."""

    def assign(self, video_id: int, assignee: str, frames: tuple[int, int] | None = None, *,
               note: str | None = None, by: str | None = None) -> int:
        """Give a video (or frames ``[a, b)`` of it) to ``assignee``; returns the assignment id.

        Raises:
            ProjectError: no such video, an empty or out-of-range frame range, no assignee.
        """
        who = (assignee or "").strip()
        if not who:
            raise ProjectError("an assignment needs someone to give it to")
        a, b = (None, None) if frames is None else (int(frames[0]), int(frames[1]))
        with self._write(user=by) as s:
            conn = s.connection()
            n = self._frame_count(conn, video_id)
            if a is not None and b is not None and not (0 <= a < b and (n <= 0 or b <= n)):
                raise ProjectError(f"frames {a}:{b} are not a range of video {video_id} "
                                   f"(0..{n}); nothing was assigned")
            server.note_change(conn, "assignments")
            return int(conn.exec_driver_sql(
                "INSERT INTO assignments (video_id, first_frame, stop_frame, assignee, "
                "assigned_by, assigned_at, note) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (video_id, a, b, who, by or default_user(), time.time(), note)).scalar_one())

    def mark_done(self, assignment_id: int, done: bool = True) -> None:
        """Mark an assignment done (or not done again)."""
        with self._write() as s:
            conn = s.connection()
            n = conn.exec_driver_sql(
                "UPDATE assignments SET done_at = ? WHERE id = ?",
                (time.time() if done else None, assignment_id)).rowcount
            if not n:
                raise ProjectError(f"project {self._path} has no assignment {assignment_id}")
            server.note_change(conn, "assignments")

    def remove_assignment(self, assignment_id: int) -> None:
        with self._write() as s:
            conn = s.connection()
            if not conn.exec_driver_sql("DELETE FROM assignments WHERE id = ?",
                                        (assignment_id,)).rowcount:
                raise ProjectError(f"project {self._path} has no assignment {assignment_id}")
            server.note_change(conn, "assignments")

    def assignments(self, user: str | None = None) -> list[Assignment]:
        """Every assignment (or ``user``'s), oldest first, with its progress."""
        where, params = (" WHERE assignee = ?", (user,)) if user is not None else ("", ())
        with self._read() as conn:
            rows = conn.exec_driver_sql(
                f"SELECT {_COLUMNS} FROM assignments{where} ORDER BY id", params).fetchall()
        out = []
        labeled: dict[int, np.ndarray] = {}
        for r in rows:
            vid = int(r[1])
            if vid not in labeled:
                labeled[vid] = self.frame_arrays(vid).labeled
            lab = labeled[vid]
            a = 0 if r[2] is None else max(0, int(r[2]))
            b = len(lab) if r[3] is None else min(len(lab), int(r[3]))
            out.append(Assignment(int(r[0]), vid, r[2], r[3], str(r[4]), str(r[5]),
                                  float(r[6]), None if r[7] is None else float(r[7]), r[8],
                                  frames=max(0, b - a), labeled=int(lab[a:b].sum())))
        return out

    def annotators(self) -> list[str]:
        """Everyone who made a step or wrote a label, and everyone with an assignment, sorted."""
        with self._read() as conn:
            names = {str(r[0]) for r in conn.exec_driver_sql(
                "SELECT DISTINCT made_by FROM edit_journal UNION SELECT DISTINCT edited_by "
                "FROM instances WHERE edited_by IS NOT NULL AND kind = 0 UNION SELECT DISTINCT "
                "assignee FROM assignments") if r[0] is not None}
        return sorted(names)
