"""Where to look: ranked frame suggestions (as SLEAP and DeepLabCut offer them).

Each suggester returns :class:`Suggestion` values ``(video, frame, reason, score)``, score in
0..1 (higher: look sooner); :func:`rank` merges them (one entry per frame, its best reason
first) and sorts. Sources:

* ``uniform``: evenly spaced frames;
* ``diverse``: k-means on image features (small thumbnails, computed by
  ``pose_studio.labeling.features``): the frame nearest each cluster centre, for a varied
  first training set;
* ``low confidence``: the frames whose predictions have the lowest keypoint confidence;
* ``temporal jump``: a tracked keypoint that moves much farther than its neighbours in time;
* ``swap`` / ``identity switch``: from :mod:`pose_studio.core.swaps` and
  :mod:`pose_studio.core.tracking`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pose_studio.core.annotation import Instance
from pose_studio.core.skeleton import Skeleton
from pose_studio.core.swaps import detect_swaps
from pose_studio.core.tracking import identity_switch_candidates


@dataclass(frozen=True)
class Suggestion:
    video_id: int
    frame: int
    reason: str
    score: float


def uniform(video_id: int, n_frames: int, count: int) -> list[Suggestion]:
    if count <= 0 or n_frames <= 0:
        return []
    frames = np.unique(np.linspace(0, n_frames - 1, min(count, n_frames)).round().astype(int))
    return [Suggestion(video_id, int(f), "uniform", 0.1) for f in frames]


def kmeans(x: np.ndarray, k: int, *, seed: int = 0, iterations: int = 50
           ) -> tuple[np.ndarray, np.ndarray]:
    """k-means with k-means++ seeding: ``(centres (k, D), label per row)``."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    k = max(1, min(int(k), n))
    rng = np.random.default_rng(seed)
    centres = [x[int(rng.integers(n))]]
    for _ in range(1, k):
        d2 = np.min(((x[:, None] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        tot = d2.sum()
        idx = int(rng.choice(n, p=d2 / tot)) if tot > 0 else int(rng.integers(n))
        centres.append(x[idx])
    c = np.array(centres)
    labels = np.zeros(n, dtype=int)
    for it in range(iterations):
        d2 = ((x[:, None] - c[None]) ** 2).sum(-1)
        new = d2.argmin(axis=1)
        if it and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            if (labels == j).any():
                c[j] = x[labels == j].mean(axis=0)
    return c, labels


def diverse(video_id: int, frames: Sequence[int], features: np.ndarray, count: int, *,
            seed: int = 0) -> list[Suggestion]:
    """The frame nearest each of ``count`` k-means centres of ``features`` (one row per frame
    in ``frames``); bigger clusters rank first."""
    if len(frames) == 0 or count <= 0:
        return []
    c, labels = kmeans(features, count, seed=seed)
    out = []
    sizes = np.bincount(labels, minlength=len(c))
    for j in range(len(c)):
        members = np.flatnonzero(labels == j)
        if members.size == 0:
            continue
        d = ((features[members] - c[j]) ** 2).sum(1)
        f = int(frames[members[int(np.argmin(d))]])
        out.append(Suggestion(video_id, f, "diverse", float(0.2 + 0.3 * sizes[j] / len(frames))))
    return out


def low_confidence(video_id: int, items: Iterable[tuple[int, Instance]], count: int
                   ) -> list[Suggestion]:
    """Frames whose predictions have the lowest mean keypoint confidence (score 1 - it)."""
    worst: dict[int, float] = {}
    for f, inst in items:
        if not inst.is_prediction or inst.kp_scores is None:
            continue
        s = float(np.nanmean(inst.kp_scores))
        worst[f] = min(worst.get(f, 1.0), s)
    ranked = sorted(worst.items(), key=lambda t: (t[1], t[0]))[:count]
    return [Suggestion(video_id, f, "low confidence", float(np.clip(1 - s, 0, 1)))
            for f, s in ranked]


def _moves(a: Instance | None, b: Instance | None, k: int) -> np.ndarray:
    if a is None or b is None:
        return np.full(k, np.nan)
    return np.where(a.labeled & b.labeled, np.linalg.norm(b.xy - a.xy, axis=1), np.nan)


def temporal_jumps(video_id: int, items: Iterable[tuple[int, Instance]], *,
                   factor: float = 4.0, min_move: float = 0.15) -> list[Suggestion]:
    """Frames where a tracked keypoint jumps by more than ``min_move`` body scales, either

    * a step: its move into the frame is ``factor`` times its moves just before and after, or
    * a spike: it lies far off the line between the frames before and after (farther than
      half of what those two frames moved), i.e. one odd frame in smooth motion.
    """
    tracks: dict[int, dict[int, Instance]] = {}
    for f, inst in items:
        if inst.track_id is not None:
            tracks.setdefault(inst.track_id, {})[f] = inst
    best: dict[int, float] = {}
    for seq in tracks.values():
        for f, cur in seq.items():
            b = seq.get(f - 1)
            if b is None:
                continue
            a, c = seq.get(f - 2), seq.get(f + 1)
            k = cur.num_keypoints
            box = cur.box()
            scale = float(np.sqrt(max(box[2], 1) * max(box[3], 1))) if box else 1.0
            move = _moves(b, cur, k)
            around = np.fmax(_moves(a, b, k), _moves(cur, c, k))
            step = (move > min_move * scale) & (move > factor * np.nan_to_num(around))
            step &= ~(np.isnan(_moves(a, b, k)) & np.isnan(_moves(cur, c, k)))
            spike = np.zeros(k, bool)
            if c is not None:
                ok = b.labeled & cur.labeled & c.labeled
                dev = np.linalg.norm(cur.xy - (b.xy + c.xy) / 2, axis=1)
                span = np.linalg.norm(c.xy - b.xy, axis=1)
                spike = ok & (dev > min_move * scale) & (dev > 0.5 * span)
            hit = step | spike
            if hit.any():
                s = float(min(1.0, np.nanmax(np.where(hit, move, np.nan)) / scale))
                best[f] = max(best.get(f, 0.0), s)
    return [Suggestion(video_id, f, "temporal jump", s) for f, s in best.items()]


def swaps(video_id: int, items: Iterable[tuple[int, Instance]], skeleton: Skeleton
          ) -> list[Suggestion]:
    tracks: dict[int, list[tuple[int, Instance]]] = {}
    for f, inst in items:
        if inst.track_id is not None:
            tracks.setdefault(inst.track_id, []).append((f, inst))
    out = []
    for tid, seq in tracks.items():
        for c in detect_swaps(seq, skeleton, tid):
            names = f"{skeleton.keypoints[c.pair[0]]}/{skeleton.keypoints[c.pair[1]]}"
            out.append(Suggestion(video_id, c.frame, f"swap? {names} ({c.reason})",
                                  0.5 + 0.5 * c.score))
    return out


def identity_switches(video_id: int, items: Sequence[tuple[int, Instance]],
                      sigmas: Sequence[float] | np.ndarray) -> list[Suggestion]:
    return [Suggestion(video_id, c.frame,
                       f"identity switch? tracks {', '.join(map(str, c.tracks))} ({c.reason})",
                       0.5 + 0.5 * c.score)
            for c in identity_switch_candidates(items, sigmas)]


def rank(suggestions: Iterable[Suggestion], limit: int | None = None) -> list[Suggestion]:
    """One entry per (video, frame): the best-scoring reason, the others appended to it;
    sorted by score, then video and frame."""
    best: dict[tuple[int, int], list[Suggestion]] = {}
    for s in suggestions:
        best.setdefault((s.video_id, s.frame), []).append(s)
    out = []
    for (v, f), group in best.items():
        group.sort(key=lambda s: -s.score)
        reasons = []
        for s in group:
            if s.reason not in reasons:
                reasons.append(s.reason)
        out.append(Suggestion(v, f, "; ".join(reasons), group[0].score))
    out.sort(key=lambda s: (-s.score, s.video_id, s.frame))
    return out[:limit] if limit is not None else out
