"""Pose Studio: a desktop workbench for building and reviewing pose-estimation datasets."""

__version__ = "0.1.0"
