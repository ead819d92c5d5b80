"""Errors of the inference layer."""

from __future__ import annotations

from pose_studio.core.errors import PoseStudioError


class InferenceError(PoseStudioError):
    """A problem running inference (bad frame range, bad boxes) worded for the user."""


class ModelError(InferenceError):
    """A model file that cannot be loaded or run; the message names the file and the reason."""


class DownloadError(InferenceError):
    """A catalogue model could not be fetched or installed; the message says what to do."""


class DownloadCancelled(DownloadError):
    """The user cancelled a download; what arrived is kept and the next attempt resumes."""
