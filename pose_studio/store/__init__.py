"""The project store: one crash-safe SQLite file per project (see ``project.py``)."""

from __future__ import annotations

from pose_studio.store.errors import (
    ProjectError,
    ProjectLockedError,
    ProjectNotFoundError,
    ProjectReadOnlyError,
    ProjectVersionError,
)
from pose_studio.store.identity import VideoFileStatus
from pose_studio.store.project import SUFFIX, ImportWriter, Project
from pose_studio.store.records import FrameArrays, ModelRunRecord, TrackRecord, VideoRecord
from pose_studio.store.runs import RunInfo, RunKeypoints, ShownRuns
from pose_studio.store.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "SUFFIX",
    "FrameArrays",
    "ImportWriter",
    "ModelRunRecord",
    "Project",
    "ProjectError",
    "ProjectLockedError",
    "ProjectNotFoundError",
    "ProjectReadOnlyError",
    "ProjectVersionError",
    "RunInfo",
    "RunKeypoints",
    "ShownRuns",
    "TrackRecord",
    "VideoFileStatus",
    "VideoRecord",
]
