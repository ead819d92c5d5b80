"""Errors the project store raises; every message names the file and the reason."""

from __future__ import annotations

from pose_studio.core.errors import PoseStudioError

__all__ = [
    "ProjectError",
    "ProjectLockedError",
    "ProjectNotFoundError",
    "ProjectReadOnlyError",
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
