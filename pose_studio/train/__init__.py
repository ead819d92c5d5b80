"""Training and fine-tuning the heatmap pose model (needs the ``train`` extra: PyTorch).

Only the modules that train import torch, and only inside functions, so importing
``pose_studio.train`` (and :mod:`pose_studio.train.api`, used by the window to launch training
as a subprocess) works without it.

Modules: ``api`` (subprocess command line + JSON progress format), ``trainer`` (the loop),
``net`` (the HRNet; imports torch), ``data`` (crops, targets, augmentation), ``cache``
(pre-rendered synthetic crops), ``project_data`` (crops from a project's labels), ``export``
(ONNX + model card), ``bundle`` (checkpoint -> model), ``evaluate`` (held-out OKS AP, speed),
``metrics`` (DARK decode, AP for validation).
"""
