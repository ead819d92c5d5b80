"""Rows are checked as they are read: a row that cannot be right (a keypoint blob of the wrong
length, visibility 7, a NaN coordinate, a video with a negative size, a model run whose JSON does
not parse) is reported as :class:`Damage` (table, id, what) and left out, so the rest of the
project stays usable; a request for that one row raises
:class:`~pose_studio.store.errors.ProjectDamagedError`.

Every damaged row seen is kept on its :class:`Project` (``project.damage``) and in a small
process-wide log (:func:`recent`), which the command line reads to print one warning after a
command. ``pose-studio info --check`` scans every row; ``pose-studio repair`` writes a copy
without them.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pose_studio.core.annotation import Instance
from pose_studio.core.limits import MAX_IMAGE_SIDE
from pose_studio.core.skeleton import Skeleton, SkeletonError
from pose_studio.store.codec import MAX_KEYPOINTS, instance_from_row, validate_rows
from pose_studio.store.errors import ProjectDamagedError, ProjectError

__all__ = [
    "MAX_FRAME_COUNT",
    "Damage",
    "clear",
    "damaged_error",
    "decode_instances",
    "fingerprint_problem",
    "load_skeleton",
    "model_run_problem",
    "recent",
    "record",
    "track_problem",
    "valid",
    "video_problem",
]

log = logging.getLogger(__name__)

#: Most frames a video row may claim (2**31: ~2.3 years at 30 fps).
MAX_FRAME_COUNT = 1 << 31
_LOG_LIMIT = 1000

#: Largest fingerprint signature the store accepts (a 32x32 thumbnail is 1025 bytes).
MAX_SIGNATURE_BYTES = 16384


@dataclass(frozen=True)
class Damage:
    """One damaged row: where it is and what is wrong with it."""

    path: Path
    table: str
    row_id: Any
    problem: str

    def __str__(self) -> str:
        return f"{self.table} row {self.row_id}: {self.problem}"


_lock = threading.Lock()
_log: list[Damage] = []
_seen: set[tuple[str, str, str]] = set()


def record(d: Damage) -> bool:
    """Add to the process log (once per row); True when it was new."""
    key = (str(d.path), d.table, repr(d.row_id))
    with _lock:
        if key in _seen:
            return False
        _seen.add(key)
        if len(_log) < _LOG_LIMIT:
            _log.append(d)
    log.info("project %s is damaged: %s (left out)", d.path, d)
    return True


def recent() -> list[Damage]:
    """Damaged rows seen since :func:`clear` (at most the first 1000)."""
    with _lock:
        return list(_log)


def clear() -> None:
    with _lock:
        _log.clear()
        _seen.clear()


def damaged_error(d: Damage) -> ProjectDamagedError:
    return ProjectDamagedError(
        f"project {d.path} is damaged: {d}; `pose-studio repair {d.path} --out CLEAN.posestudio` "
        "writes a copy without the damaged rows",
        table=d.table, row_id=d.row_id, problem=d.problem,
    )


def decode_instances(
    rows: Sequence[Sequence[Any]], num_keypoints: int, note: Callable[[str, Any, str], object],
    *, offset: int = 0,
) -> list[tuple[int, Instance]]:
    """``(index, instance)`` for the valid rows of ``codec.READ_COLUMNS`` (values start at
    ``offset`` in each row); the others are passed to ``note(table, id, problem)``."""
    body = [r[offset:] if offset else r for r in rows]
    bad = validate_rows(body, num_keypoints)
    out = []
    for i, r in enumerate(body):
        why = bad.get(i)
        if why is None and offset:
            frame = rows[i][offset - 1]
            if not isinstance(frame, int) or frame < 0:
                why = f"frame index {frame!r} is not a frame"
        if why is not None:
            note("instances", r[0], why)
            continue
        out.append((i, instance_from_row(r)))
    return out


def valid(rows: Iterable[Any], table: str, problem: Callable[[Any], str | None],
          note: Callable[[str, Any, str], object]) -> list[Any]:
    """The ORM rows ``problem`` finds nothing wrong with; the others go to ``note``."""
    out = []
    for r in rows:
        why = problem(r)
        if why is None:
            out.append(r)
        else:
            note(table, r.id, why)
    return out


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _int_in(v: Any, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def video_problem(row: Any) -> str | None:
    """What is wrong with a ``VideoRow`` (None: nothing)."""
    if not isinstance(row.abs_path, str) or not row.abs_path or "\x00" in row.abs_path:
        return "its path is empty or not text"
    if row.rel_path is not None and (not isinstance(row.rel_path, str) or "\x00" in row.rel_path):
        return "its relative path is not text"
    if not (_int_in(row.width, 0, MAX_IMAGE_SIDE) and _int_in(row.height, 0, MAX_IMAGE_SIDE)):
        return f"frame size {row.width!r}x{row.height!r} is not possible"
    if not _int_in(row.frame_count, 0, MAX_FRAME_COUNT):
        return f"frame count {row.frame_count!r} is not possible"
    if not _finite(row.fps) or row.fps < 0:
        return f"frame rate {row.fps!r} is not possible"
    if not _finite(row.duration_s) or row.duration_s < 0:
        return f"duration {row.duration_s!r} is not possible"
    if not isinstance(row.rotation, int) or not isinstance(row.codec, str) or \
            not isinstance(row.kind, str):
        return "its rotation, codec or kind has the wrong type"
    for v in (row.fps_num, row.fps_den):
        if v is not None and not _int_in(v, 0, 1 << 62):
            return f"frame rate fraction {row.fps_num!r}/{row.fps_den!r} is not possible"
    return None


def model_run_problem(row: Any) -> str | None:
    """What is wrong with a ``ModelRunRow``."""
    for label, text, kind in (("providers", row.providers_json, list),
                              ("parameters", row.params_json, dict)):
        try:
            value = json.loads(text)
        except (TypeError, ValueError, RecursionError):
            return f"its {label} are not valid JSON"
        if not isinstance(value, kind):
            return f"its {label} are not a JSON {kind.__name__}"
    if not _finite(row.created_at):
        return f"creation time {row.created_at!r} is not a time"
    return None


def track_problem(row: Any) -> str | None:
    if not isinstance(row.name, str):
        return f"its name {row.name!r} is not text"
    return None


def fingerprint_problem(frame: Any, fingerprint: Any, signature: Any, max_bytes: int) -> str | None:
    if not isinstance(frame, int) or frame < 0:
        return f"frame index {frame!r} is not a frame"
    if signature is not None:
        if not isinstance(signature, bytes) or not 0 < len(signature) <= max_bytes:
            return f"its frame signature is not a blob of 1..{max_bytes} bytes"
    elif not isinstance(fingerprint, int):
        return f"its fingerprint {fingerprint!r} is not an integer"
    return None


def load_skeleton(text: Any, path: Path) -> Skeleton:
    """The skeleton stored as ``text`` (the ``skeletons.json`` column), checked."""
    if text is None:
        raise ProjectError(f"project {path} is damaged: it has no skeleton")
    if not isinstance(text, str):
        raise ProjectError(f"project {path} is damaged: its skeleton is not text")
    try:
        sk = Skeleton.from_json(text)
    except (SkeletonError, ValueError, TypeError, RecursionError) as e:
        why = e if isinstance(e, SkeletonError) else "not a valid skeleton"
        raise ProjectError(f"project {path} has an unusable skeleton: {why}") from e
    if not 0 < sk.num_keypoints <= MAX_KEYPOINTS:
        raise ProjectError(f"project {path} has an unusable skeleton: {sk.num_keypoints} "
                           f"keypoints (1..{MAX_KEYPOINTS})")
    return sk
