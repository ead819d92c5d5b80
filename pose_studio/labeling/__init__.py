"""Labeling tools that need OpenCV or SciPy: the tracker, optical-flow propagation, propagate
and fill, image features for suggestions, and the store glue the CLI uses.

At the formats/inference layer: may import ``core``, ``video`` and ``store``; third party
numpy, cv2 and scipy. Every tool is a pure function (instances in, new instances out) except
:mod:`pose_studio.labeling.project_io`, which stores derived predictions as a new model run
(labels and tracks change through the edit journal, ``pose_studio.app``).
"""
