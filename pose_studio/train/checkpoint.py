"""Loading ``.pt`` checkpoints without running anything stored in them.

``torch.load`` unpickles: with ``weights_only=False`` a checkpoint from someone else can run any
code it likes the moment it is opened. Every checkpoint Pose Studio reads (``train --init``,
resuming from ``<out>/last.pt``, the bundled weights, ``bundle``) goes through :func:`load`,
which only accepts tensors and plain values (``weights_only=True``) and refuses the rest with a
message. Checkpoints written by Pose Studio hold nothing else.
"""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

from pose_studio.core.errors import PoseStudioError
from pose_studio.core.files import PathError, check_input_path
from pose_studio.core.limits import check_allocation

__all__ = ["CheckpointError", "load"]


class CheckpointError(PoseStudioError):
    """A checkpoint that cannot be loaded safely (or at all); the message names the file."""


def _first_line(exc: BaseException, limit: int = 200) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def _unsupported_global(exc: BaseException) -> str | None:
    """The global a refused checkpoint asked for (``'posix.system'``), from torch's message."""
    m = re.search(r"GLOBAL\s+([\w.]+)", str(exc))
    return m.group(1) if m else None


def load(path: str | Path, *, need_model: bool = True) -> dict[str, Any]:
    """The checkpoint dictionary at ``path`` (tensors on the CPU).

    Raises:
        CheckpointError: not a regular readable file, larger than memory allows, a pickle that
            needs more than tensors and plain values (it could run code: refused), not a
            checkpoint, or damaged.
    """
    import torch

    p = Path(path)
    try:
        check_input_path(p, "checkpoint")
    except PathError as exc:
        raise CheckpointError(str(exc)) from None
    # torch.load reads everything into memory (and may briefly hold it twice)
    check_allocation(p.stat().st_size * 2, f"checkpoint {p}")
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols are not for users
            warnings.simplefilter("ignore", UserWarning)
            ck = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        wanted = _unsupported_global(exc)
        what = f" (it asks for {wanted})" if wanted else ""
        raise CheckpointError(
            f"{p}: refused: this checkpoint holds Python objects beyond weights and plain "
            f"values{what}, and loading it could run code stored in it. Pose Studio loads "
            "only plain weights; save the state_dict (torch.save({'model': model.state_dict()"
            "}, path)) and use that file") from None
    except (RuntimeError, OSError, EOFError, ValueError, KeyError, IndexError, TypeError,
            AttributeError, zipfile.BadZipFile, MemoryError) as exc:
        raise CheckpointError(f"{p}: cannot read the checkpoint (damaged or not a PyTorch "
                              f"file): {_first_line(exc)}") from None
    if not isinstance(ck, dict):
        raise CheckpointError(f"{p}: not a Pose Studio checkpoint (it holds a "
                              f"{type(ck).__name__}, not a dictionary)")
    if need_model and not isinstance(ck.get("model"), dict):
        raise CheckpointError(f"{p}: not a Pose Studio checkpoint (no 'model' weights)")
    return ck
