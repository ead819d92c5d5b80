"""Errors the project store raises; every message names the file and the reason."""

from __future__ import annotations

from collections.abc import Sequence

from pose_studio.core.errors import PoseStudioError

__all__ = [
    "ProjectDamagedError",
    "ProjectError",
    "ProjectLockedError",
    "ProjectNotFoundError",
    "ProjectReadOnlyError",
    "ProjectSchemaError",
    "ProjectVersionError",
]


class ProjectError(PoseStudioError):
    """A project file that cannot be used as asked (not a project, damaged, bad edit)."""


class ProjectNotFoundError(ProjectError):
    """The project file does not exist."""


class ProjectLockedError(ProjectError):
    """Another process (or another window of this one) has the project open for writing."""


class ProjectVersionError(ProjectError):
    """The file was written by a newer Pose Studio (or needs an upgrade it cannot get)."""


class ProjectReadOnlyError(ProjectError):
    """A write to a project that is open read-only."""


class ProjectSchemaError(ProjectError):
    """The file holds tables, indexes, triggers or views this version did not create (or made
    differently), or misses some it needs; ``findings`` lists them
    (:class:`pose_studio.store.guard.Finding`)."""

    def __init__(self, message: str, findings: Sequence[object] | None = None) -> None:
        super().__init__(message)
        self.findings = list(findings or [])


class ProjectDamagedError(ProjectError):
    """A stored value that cannot be right (a keypoint blob of the wrong length, visibility 7,
    a NaN coordinate...): ``table``, ``row_id`` and ``problem`` say where and what."""

    def __init__(self, message: str, table: str = "", row_id: object = None,
                 problem: str = "") -> None:
        super().__init__(message)
        self.table = table
        self.row_id = row_id
        self.problem = problem
