"""Identity across frames, the numpy half: similarity matrices, a constant-velocity Kalman
filter, the plain IoU tracker (the benchmark's baseline) and identity-switch detection.

The assignment itself (``scipy.optimize.linear_sum_assignment``) lives in
``pose_studio.labeling.tracker``; everything here is numpy only.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pose_studio.core.annotation import Instance

#: A (frame, instance) list for one video, any order.
FrameItems = Sequence[tuple[int, Instance]]


# --- similarity ------------------------------------------------------------------------------------
def instance_box(inst: Instance) -> np.ndarray:
    """``(x, y, w, h)`` of an instance: its box, else its keypoints' extent, else zeros."""
    b = inst.box()
    return np.zeros(4) if b is None else np.asarray(b, dtype=np.float64)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, M)`` IoU of ``(N, 4)`` and ``(M, 4)`` boxes in ``x, y, w, h``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax1, ay1 = a[:, 0:1], a[:, 1:2]
    ax2, ay2 = ax1 + a[:, 2:3], ay1 + a[:, 3:4]
    bx1, by1 = b[:, 0], b[:, 1]
    bx2, by2 = bx1 + b[:, 2], by1 + b[:, 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
    inter = iw * ih
    union = a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / union, 0.0)
    return out


def pose_oks_matrix(
    a_xy: np.ndarray, a_mask: np.ndarray, a_area: np.ndarray,
    b_xy: np.ndarray, b_mask: np.ndarray, sigmas: np.ndarray,
) -> np.ndarray:
    """``(N, M)`` OKS between poses ``a`` (with their areas) and ``b``, over the keypoints
    present in both; pairs sharing fewer than 2 keypoints get 0."""
    a_xy = np.asarray(a_xy, dtype=np.float64).reshape(len(a_mask), -1, 2)
    b_xy = np.asarray(b_xy, dtype=np.float64).reshape(len(b_mask), -1, 2)
    if len(a_xy) == 0 or len(b_xy) == 0:
        return np.zeros((len(a_xy), len(b_xy)))
    d2 = ((a_xy[:, None] - b_xy[None]) ** 2).sum(-1)  # (N, M, K)
    var = (2 * np.asarray(sigmas)) ** 2
    area = np.maximum(np.asarray(a_area, dtype=np.float64), 1.0)[:, None, None]
    e = np.exp(-d2 / var / area / 2)
    both = np.asarray(a_mask, bool)[:, None] & np.asarray(b_mask, bool)[None]
    n = both.sum(-1)
    return np.where(n >= 2, (e * both).sum(-1) / np.maximum(n, 1), 0.0)


def box_area(box: np.ndarray) -> float:
    return float(max(box[2], 1.0) * max(box[3], 1.0))


# --- motion ----------------------------------------------------------------------------------------
@dataclass
class KalmanCV:
    """Independent constant-velocity Kalman filters for D coordinates (state: position and
    velocity per coordinate). ``q``: acceleration noise (px/frame²), ``r``: measurement noise (px).

    Missing coordinates (NaN in a measurement) are predicted only.
    """

    x: np.ndarray  # (D, 2) position, velocity
    p: np.ndarray  # (D, 2, 2)
    q: float = 1.0
    r: float = 2.0

    @classmethod
    def start(cls, z: np.ndarray, q: float = 1.0, r: float = 2.0) -> KalmanCV:
        z = np.asarray(z, dtype=np.float64).reshape(-1)
        x = np.stack([np.nan_to_num(z), np.zeros_like(z)], 1)
        p = np.tile(np.diag([r * r, 25.0 * r * r]), (len(z), 1, 1))
        p[np.isnan(z)] = np.diag([1e6, 1e6])
        return cls(x, p, q, r)

    def predicted(self, steps: int = 1) -> np.ndarray:
        """Position ``steps`` frames ahead (no state change)."""
        return self.x[:, 0] + steps * self.x[:, 1]

    def predict(self) -> None:
        f = np.array([[1.0, 1.0], [0.0, 1.0]])
        qm = self.q**2 * np.array([[0.25, 0.5], [0.5, 1.0]])
        self.x = self.x @ f.T
        self.p = f @ self.p @ f.T + qm

    def update(self, z: np.ndarray) -> None:
        z = np.asarray(z, dtype=np.float64).reshape(-1)
        ok = ~np.isnan(z)
        s = self.p[:, 0, 0] + self.r**2
        k = self.p[:, :, 0] / s[:, None]  # (D, 2)
        y = np.where(ok, z - self.x[:, 0], 0.0)
        self.x = self.x + np.where(ok[:, None], k * y[:, None], 0.0)
        eye = np.eye(2)
        h = np.array([1.0, 0.0])
        upd = (eye[None] - k[:, :, None] * h[None, None, :]) @ self.p
        self.p = np.where(ok[:, None, None], upd, self.p)


# --- the plain IoU tracker (baseline) -------------------------------------------------------------
def iou_tracker(frames: Mapping[int, Sequence[Instance]], threshold: float = 0.3
                ) -> dict[int, list[int]]:
    """Frame-to-frame greedy IoU matching, no motion model, no memory: ``{frame: [track
    number per instance]}``. A detection that matches nothing (IoU < ``threshold``) starts a
    new track; a track unmatched for one frame is gone."""
    out: dict[int, list[int]] = {}
    prev_boxes = np.zeros((0, 4))
    prev_ids: list[int] = []
    next_id = 0
    last_frame: int | None = None
    for f in sorted(frames):
        insts = frames[f]
        boxes = np.array([instance_box(i) for i in insts]).reshape(-1, 4)
        if last_frame is not None and f != last_frame + 1:
            prev_boxes, prev_ids = np.zeros((0, 4)), []
        ious = iou_matrix(prev_boxes, boxes)
        ids = [-1] * len(insts)
        used: set[int] = set()
        order = np.dstack(np.unravel_index(np.argsort(-ious, axis=None), ious.shape))[0] \
            if ious.size else []
        for a, b in order:
            if ious[a, b] < threshold:
                break
            if a in used or ids[b] != -1:
                continue
            used.add(int(a))
            ids[b] = prev_ids[a]
        for j in range(len(ids)):
            if ids[j] == -1:
                ids[j] = next_id
                next_id += 1
        out[f] = ids
        prev_boxes, prev_ids, last_frame = boxes, ids, f
    return out


# --- identity switches -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SwitchCandidate:
    """A likely identity switch: at ``frame``, the ``tracks`` involved, why, and how sure
    (``score`` in 0..1, higher first)."""

    frame: int
    tracks: tuple[int, ...]
    reason: str
    score: float


def _centre_scale(inst: Instance) -> tuple[np.ndarray, float]:
    b = instance_box(inst)
    return np.array([b[0] + b[2] / 2, b[1] + b[3] / 2]), float(np.sqrt(box_area(b)))


def identity_switch_candidates(
    items: FrameItems,
    sigmas: Sequence[float] | np.ndarray,
    *,
    jump: float = 0.6,
    oks_drop: float = 0.2,
    cross_iou: float = 0.3,
) -> list[SwitchCandidate]:
    """Places where a track probably changes person, from the tracked instances alone.

    * ``jump``: the box centre moves more than ``jump`` times the box scale between
      consecutive frames of a track, beyond what its previous velocity predicts.
    * ``oks drop``: the OKS between consecutive poses of a track (the earlier pose moved by
      its centre's velocity) falls under ``oks_drop``.
    * ``crossing``: two tracks' boxes overlap (IoU over ``cross_iou``) and their centres swap
      order along the axis they approach on within the overlap.

    Instances without a ``track_id`` are ignored. Sorted by score, highest first.
    """
    sig = np.asarray(sigmas, dtype=np.float64)
    by_track: dict[int, list[tuple[int, Instance]]] = {}
    by_frame: dict[int, list[Instance]] = {}
    for f, inst in items:
        if inst.track_id is None:
            continue
        by_track.setdefault(inst.track_id, []).append((f, inst))
        by_frame.setdefault(f, []).append(inst)
    out: list[SwitchCandidate] = []
    for tid, seq in by_track.items():
        seq.sort(key=lambda t: t[0])
        vel = np.zeros(2)
        for (f0, a), (f1, b) in itertools.pairwise(seq):
            if f1 != f0 + 1:
                vel = np.zeros(2)
                continue
            ca, sa = _centre_scale(a)
            cb, _ = _centre_scale(b)
            move = float(np.linalg.norm(cb - ca - vel)) / max(sa, 1.0)
            if move > jump:
                out.append(SwitchCandidate(f1, (tid,), "jump", min(1.0, move / (2 * jump))))
            else:
                shifted = a.xy + vel
                o = pose_oks_matrix(shifted[None], a.labeled[None], np.array([box_area(
                    instance_box(a))]), b.xy[None], b.labeled[None], sig)[0, 0]
                if o < oks_drop and a.labeled.sum() >= 2 and b.labeled.sum() >= 2:
                    out.append(SwitchCandidate(f1, (tid,), "oks drop",
                                               float(0.5 + 0.5 * (1 - o / oks_drop))))
            vel = cb - ca
    # crossing: pairs of tracks whose centres swap order while their boxes overlap
    prev: dict[int, np.ndarray] = {}
    prev_frame: int | None = None
    for f in sorted(by_frame):
        cur = {i.track_id: _centre_scale(i)[0] for i in by_frame[f]}
        boxes = {i.track_id: instance_box(i) for i in by_frame[f]}
        if prev_frame is not None and f == prev_frame + 1:
            ids = sorted(t for t in cur if t in prev)
            for x in range(len(ids)):
                for y in range(x + 1, len(ids)):
                    ta, tb = ids[x], ids[y]
                    iou = float(iou_matrix(boxes[ta], boxes[tb])[0, 0])  # type: ignore[index]
                    if iou < cross_iou:
                        continue
                    d0 = prev[ta] - prev[tb]
                    d1 = cur[ta] - cur[tb]  # type: ignore[operator]
                    axis = int(np.argmax(np.abs(d0)))
                    if np.sign(d0[axis]) != np.sign(d1[axis]) and d0[axis] != 0:
                        out.append(SwitchCandidate(f, (int(ta), int(tb)), "crossing",  # type: ignore[arg-type]
                                                   float(min(1.0, iou))))
        prev = cur  # type: ignore[assignment]
        prev_frame = f
    out.sort(key=lambda c: (-c.score, c.frame))
    return out


def count_id_switches(truth_ids: Mapping[int, Sequence[int]],
                      track_ids: Mapping[int, Sequence[int | None]]) -> int:
    """MOT-style identity switches: for every true identity, how often the track id it is
    matched to changes between the frames where it is matched (unmatched frames skipped).

    ``truth_ids[f][i]`` and ``track_ids[f][i]`` describe the same detection ``i`` of frame
    ``f`` (its true person, its assigned track; None for no track).
    """
    last: dict[int, int] = {}
    n = 0
    for f in sorted(truth_ids):
        for true_id, tid in zip(truth_ids[f], track_ids.get(f, ())):
            if tid is None:
                continue
            if true_id in last and last[true_id] != tid:
                n += 1
            last[true_id] = int(tid)
    return n
