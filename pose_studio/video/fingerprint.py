"""Frame fingerprints: tell whether a stored label still sits on the same picture.

Two kinds, told apart by their Python type (the store keeps both):

* ``bytes``: the **signature** (:func:`frame_signature`, what is stored now). A 32x32 grey
  thumbnail of the frame (``cv2.INTER_AREA``, so every source pixel counts; 1 version byte +
  1024 bytes). :func:`signature_distance` normalises both thumbnails for brightness and contrast
  (zero mean, unit standard deviation), takes the absolute difference, averages it over 4x4-cell
  blocks and returns the mean of the :data:`TOP_BLOCKS` largest block differences, so one small
  person who moved counts fully while re-encoding noise (spread thinly over the whole picture)
  does not. Measured (``bench/fingerprint.py``; 40-frame static-camera clips, the labeled
  video H.264 CRF 20, transcoded to H.264 CRF 18/35, yuv444, MPEG-4 ~0.5 bpp, MJPEG ~1 bpp and
  0.75x): the same frame after re-encoding is at most 0.21 (160x120 CRF 35; <= 0.11 at
  320x240), :data:`SIGNATURE_MAX_DISTANCE` is 0.3. The neighbouring frame is 0.14-0.25 away for
  the synthetic people, but only 0.07-0.10 for a figure drifting 0.7 px per frame, so no single
  threshold separates every shift from every re-encode. The check therefore also compares
  each label's signature with the frames around it
  (``pose_studio.formats.frame_check.compare_with_video``): a neighbour matching clearly better
  than the frame itself means the label moved. That rule: 0 false alarms over all re-encodes,
  95-100 % of labels shifted by 1 and 100 % shifted by 2 caught per frame (the old hash: 0 %).
* ``int``: the old 64-bit difference hash (:func:`fingerprint`) of projects written before
  format 4. Still checked with its own distance (:func:`fingerprint_distance`); it cannot tell
  neighbouring frames of a static-camera video apart, only different pictures.

Compare a frame with either kind: ``mismatch(fingerprint_like(frame, stored), stored) <= 1``;
:func:`where_is_label` adds the neighbour rule (what every check uses).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Union

import cv2
import numpy as np

if TYPE_CHECKING:
    from pose_studio.video.base import VideoReader

#: A stored fingerprint: ``bytes`` (signature, current) or ``int`` (64-bit hash, old projects).
Fingerprint = Union[int, bytes]  # noqa: UP007 - a runtime alias usable in isinstance-free code

DEFAULT_MAX_DISTANCE = 10
_MASK = (1 << 64) - 1
_WEIGHTS = (1 << np.arange(64, dtype=np.uint64)).astype(np.uint64)

SIGNATURE_VERSION = 1
SIGNATURE_SIDE = 32
BLOCK = 4
TOP_BLOCKS = 4
_MIN_STD = 4.0  # grey levels: a near-uniform frame is not blown up to full contrast
#: Largest :func:`signature_distance` still counted as the same picture. Measured in
#: ``bench/fingerprint.py``: re-encodes <= 0.21 (the worst: 160x120 at CRF 35); see module doc.
SIGNATURE_MAX_DISTANCE = 0.3
#: A neighbour this many frames away or closer may be the labeled picture.
NEIGHBOURS = 2
#: A neighbour matching with at most this fraction of the frame's own distance means the label
#: moved (bench/fingerprint.py: no false alarm on re-encodes; 1-2 frame shifts caught).
NEIGHBOUR_RATIO = 0.8


# --- the old 64-bit hash (kept to check projects written before format 4) ----------------------
def _grey(frame: np.ndarray) -> np.ndarray:
    a = np.asarray(frame)
    if a.ndim == 3:
        a = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY) if a.shape[2] == 3 else a[..., 0]
    return a


def fingerprint(frame: np.ndarray) -> int:
    """Old 64-bit difference hash of a BGR (or grey) frame, as a signed int64 value.

    Only for comparing with ``int`` fingerprints of old projects; new ones are
    :func:`frame_signature`.
    """
    small = cv2.resize(_grey(frame), (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).reshape(-1).astype(np.uint64)
    value = int(np.sum(bits * _WEIGHTS, dtype=np.uint64))
    return value - (1 << 64) if value >= 1 << 63 else value


def fingerprint_distance(a: int, b: int) -> int:
    """Number of differing bits of two old hashes (0 = same picture, ~32 = unrelated)."""
    return ((int(a) ^ int(b)) & _MASK).bit_count()


# --- the signature ------------------------------------------------------------------------------
def frame_signature(frame: np.ndarray) -> bytes:
    """The fingerprint stored for a frame: version byte + 32x32 grey thumbnail (1025 bytes)."""
    small = cv2.resize(_grey(frame), (SIGNATURE_SIDE, SIGNATURE_SIDE),
                       interpolation=cv2.INTER_AREA)
    return bytes([SIGNATURE_VERSION]) + np.ascontiguousarray(small, dtype=np.uint8).tobytes()


def _normalised(sig: bytes) -> np.ndarray:
    n = SIGNATURE_SIDE * SIGNATURE_SIDE
    if len(sig) != n + 1 or sig[0] != SIGNATURE_VERSION:
        raise ValueError(f"not a version-{SIGNATURE_VERSION} frame signature ({len(sig)} bytes)")
    a = np.frombuffer(sig, dtype=np.uint8, count=n, offset=1).astype(np.float32)
    a = a.reshape(SIGNATURE_SIDE, SIGNATURE_SIDE)
    a -= a.mean()
    a /= max(float(a.std()), _MIN_STD)
    return a


def signature_distance(a: bytes, b: bytes, *, block: int = BLOCK, top: int = TOP_BLOCKS) -> float:
    """How different two signatures' pictures are, in units of the picture's contrast.

    The mean absolute difference of the normalised thumbnails over each ``block`` x ``block``
    block, averaged over the ``top`` largest blocks. 0 = same picture.

    Raises:
        ValueError: either value is not a signature.
    """
    d = np.abs(_normalised(a) - _normalised(b))
    k = SIGNATURE_SIDE // block
    blocks = d.reshape(k, block, k, block).mean(axis=(1, 3)).ravel()
    return float(np.sort(blocks)[-top:].mean())


# --- either kind ---------------------------------------------------------------------------------
def fingerprint_like(frame: np.ndarray, stored: Fingerprint) -> Fingerprint:
    """The frame's fingerprint of the same kind as ``stored`` (to compare with it)."""
    return frame_signature(frame) if isinstance(stored, bytes | bytearray) else fingerprint(frame)


def mismatch(
    now: Fingerprint,
    stored: Fingerprint,
    *,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    max_signature_distance: float = SIGNATURE_MAX_DISTANCE,
) -> float:
    """Distance of two fingerprints of the same kind divided by that kind's threshold:
    <= 1 is the same picture. Comparable across kinds (used to rank candidate shifts).

    Raises:
        ValueError: the two are of different kinds, or a signature is malformed.
    """
    if isinstance(stored, bytes | bytearray):
        if not isinstance(now, bytes | bytearray):
            raise ValueError("cannot compare a frame signature with an old 64-bit fingerprint")
        return signature_distance(bytes(now), bytes(stored)) / max_signature_distance
    if isinstance(now, bytes | bytearray):
        raise ValueError("cannot compare an old 64-bit fingerprint with a frame signature")
    return fingerprint_distance(now, stored) / max(max_distance, 1)


def fingerprint_problem(stored: object) -> str | None:
    """Why a stored value is not a fingerprint this module can compare (a damaged or tampered
    project row), or None when it is one."""
    if isinstance(stored, bytes | bytearray):
        n = SIGNATURE_SIDE * SIGNATURE_SIDE + 1
        if len(stored) != n or stored[0] != SIGNATURE_VERSION:
            return (f"its stored signature is damaged ({len(stored)} bytes, not a "
                    f"version-{SIGNATURE_VERSION} signature of {n})")
        return None
    if (isinstance(stored, int | np.integer) and not isinstance(stored, bool)
            and -(1 << 63) <= int(stored) <= _MASK):  # stored signed; unsigned in old files
        return None
    return "its stored fingerprint is damaged (not a 64-bit hash)"


def describe_mismatch(now: Fingerprint, stored: Fingerprint) -> str:
    """A short human phrase for how far apart two fingerprints are."""
    if isinstance(stored, bytes | bytearray) and isinstance(now, bytes | bytearray):
        d = signature_distance(bytes(now), bytes(stored))
        return f"picture distance {d:.2f} (same picture <= {SIGNATURE_MAX_DISTANCE})"
    if isinstance(stored, int) and isinstance(now, int):
        return f"{fingerprint_distance(now, stored)} of 64 fingerprint bits differ"
    return "fingerprints of different kinds"


def where_is_label(
    stored: Fingerprint, here: Fingerprint, near: Mapping[int, Fingerprint]
) -> int | None:
    """Where the labeled picture is now, relative to its frame.

    Args:
        stored: The fingerprint stored for the labeled frame.
        here: The frame's fingerprint now (same kind as ``stored``).
        near: ``{offset: fingerprint}`` of frames around it (``0 < |offset| <= NEIGHBOURS``);
            ignored for old ``int`` hashes, which cannot tell neighbours apart.

    Returns:
        None: the label still sits on its picture. 0: the frame shows another picture (not one
        of the neighbours either). ``d``: frame ``f + d`` matches clearly better (frames were
        added or dropped before it).
    """
    own = mismatch(here, stored)
    ranked: dict[int, float] = {}
    if isinstance(stored, bytes | bytearray):
        ranked = {d: mismatch(fp, stored) for d, fp in near.items() if d}
    best = min(ranked, key=lambda d: (ranked[d], abs(d))) if ranked else None
    if best is not None and ranked[best] < NEIGHBOUR_RATIO * own and ranked[best] <= 1.0:
        return best
    return 0 if own > 1.0 else None


def check_fingerprints(
    reader: VideoReader,
    stored: Mapping[int, Fingerprint],
    max_distance: int = DEFAULT_MAX_DISTANCE,
    *,
    max_signature_distance: float = SIGNATURE_MAX_DISTANCE,
) -> list[int]:
    """Frames whose stored fingerprint no longer matches the video (or that no longer exist).

    ``stored`` may mix signatures (``bytes``) and old hashes (``int``); each is compared with
    the frame's fingerprint of its own kind, signatures also with the frames up to
    :data:`NEIGHBOURS` away (:func:`where_is_label`). ``max_distance`` is the old hashes' bit
    threshold, ``max_signature_distance`` the signatures'.
    """
    bad: list[int] = []
    n = len(reader)
    for i in sorted(stored):
        if not 0 <= i < n or fingerprint_problem(stored[i]) is not None:
            bad.append(i)  # gone, or a damaged fingerprint that cannot vouch for the frame
            continue
        ref = stored[i]
        here = fingerprint_like(reader.get(i), ref)
        if mismatch(here, ref, max_distance=max_distance,
                    max_signature_distance=max_signature_distance) > 1.0:
            bad.append(i)
            continue
        near: dict[int, Fingerprint] = {}
        if isinstance(ref, bytes | bytearray):
            near = {d: frame_signature(reader.get(i + d))
                    for d in range(-NEIGHBOURS, NEIGHBOURS + 1) if d and 0 <= i + d < n}
        if where_is_label(ref, here, near) is not None:
            bad.append(i)
    return bad
