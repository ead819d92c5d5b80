"""The scripted annotator of ``labeling_effort.py`` and its three strategies.

What the annotator may know (what a person at the screen knows):

* the frame it is looking at, which stands for the truth of that frame: it sees where each
  body part is, and which person is which, **only on a frame it has navigated to**;
* what the tool shows on that frame: the model's predictions (and their confidences, which
  the window draws), proposals (interpolated / propagated / filled ghosts), its own labels.

It never reads the truth of a frame it is not on, never reads the proposals' internal sigmas,
and every frame it leaves behind as done it has looked at after that frame's last change.

What it pays (1 action each):

* navigation: ``→``/``←`` one frame, ``Shift+→``/``Shift+←`` ten frames, or ``Ctrl+G`` + the
  digits + ``Enter``, whichever is fewest keys;
* a drag: moving one keypoint to where it belongs (placed on a quarter-pixel grid, i.e. at
  the zoom a careful person uses); dragging an unlabeled keypoint places it;
* a click or a key: accept one prediction (double-click), accept all on the frame
  (``Shift+A``), add an instance (``N``), delete one (click + ``Delete``: 2), run a tool (1),
  mark and accept a range (2: its start and its end).

When is a frame done: every person whose visible area is at least ``MIN_AREA`` pixels has
exactly one label with OKS >= 0.95 against the truth, and nothing else is labeled. The
annotator fixes a pose by dragging its worst keypoints (smallest OKS term) one by one until
the pose reaches 0.95: a greedy person who fixes what is most visibly wrong first. The same
rule serves every strategy.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from pose_studio.app.carry import HISTORY_FRAMES
from pose_studio.core.annotation import Instance, InstanceKind, Provenance
from pose_studio.core.candidates import KeypointCandidates
from pose_studio.core.fusion import FusionParams, learn_offsets, person_scale
from pose_studio.core.interpolate import interpolate_track
from pose_studio.core.skeleton import COCO17
from pose_studio.labeling.fill import fill_track
from pose_studio.labeling.flow import FlowParams, propagate
from pose_studio.labeling.model_step import Redetect

TARGET = 0.95
MIN_AREA = 200.0
GRID = 0.25
#: Labeled frames behind the start that propagation reads (the window's number).
HISTORY = HISTORY_FRAMES
SIGMAS = np.asarray(COCO17.sigmas)


@dataclass(frozen=True, eq=False)
class Person:
    pid: int
    xy: np.ndarray  # (K, 2)
    vis: np.ndarray  # (K,)
    area: float


@dataclass(eq=False)
class Clip:
    name: str
    frames: list[np.ndarray]
    people: list[list[Person]]  # per frame, the people to label
    preds: list[list[Instance]]  # per frame, the model's predictions (tracked)
    truth_of_pred: list[list[int]]  # per frame, true person of each prediction (scoring only)
    cands: list[list[KeypointCandidates | None]] | None = None  # per prediction, heatmap peaks

    def __len__(self) -> int:
        return len(self.frames)


def oks_terms(xy: np.ndarray, labeled: np.ndarray, p: Person) -> np.ndarray:
    """Per keypoint OKS terms of a shown pose against the truth (unlabeled shown points
    count as (0, 0), as a COCO file stores them); 1 where the truth has no point."""
    pos = np.where(labeled[:, None], xy, 0.0)
    d2 = ((pos - p.xy) ** 2).sum(1)
    e = np.exp(-d2 / (2 * SIGMAS) ** 2 / max(p.area, 1.0) / 2)
    return np.where(p.vis > 0, e, 1.0)


def oks_value(xy: np.ndarray, labeled: np.ndarray, p: Person) -> float:
    m = p.vis > 0
    return float(oks_terms(xy, labeled, p)[m].mean()) if m.any() else 1.0


def nav_cost(a: int, b: int) -> int:
    d = abs(b - a)
    if d == 0:
        return 0
    arrows = min(d // 10 + d % 10, d // 10 + 1 + (10 - d % 10))
    return min(arrows, 2 + len(str(b)))


@dataclass
class Annotator:
    pos: int = 0
    actions: Counter = field(default_factory=Counter)

    def goto(self, f: int) -> None:
        self.actions["navigate"] += nav_cost(self.pos, f)
        self.pos = f

    def act(self, kind: str, n: int = 1) -> None:
        self.actions[kind] += n

    @property
    def total(self) -> int:
        """Actions a person makes (what the tool does by itself is listed, not counted)."""
        return int(sum(v for k, v in self.actions.items() if "(auto)" not in k))

    def fix(self, shown: Instance | None, p: Person, *, set_visibility: bool = False
            ) -> Instance:
        """Drag the worst keypoints of ``shown`` until it reaches the target; returns the
        corrected label (a user instance). With ``set_visibility`` it also marks each point
        hidden or visible as seen (``V``, 1 action per point it changes); otherwise points
        keep the visibility shown (the target does not ask for it)."""
        if shown is None:
            xy = np.zeros_like(p.xy)
            lab = np.zeros(len(p.xy), bool)
            track = None
        else:
            xy = np.array(shown.xy, dtype=np.float64)
            xy[~np.isfinite(xy)] = 0.0
            lab = shown.labeled.copy()
            track = shown.track_id
        placed = np.zeros(len(xy), bool)
        while oks_value(xy, lab, p) < TARGET:
            e = oks_terms(xy, lab, p)
            j = int(np.argmin(e))
            xy[j] = np.round(p.xy[j] / GRID) * GRID
            lab[j] = True
            placed[j] = True
            self.act("drag")
        if shown is not None and not set_visibility:
            vis = np.where(lab, np.where(shown.visibility > 0, shown.visibility, 2), 0)
        else:
            vis = np.where(lab, np.maximum(p.vis, 1), 0)
            if shown is not None:
                was = np.where(shown.labeled, shown.visibility, 2)
                self.act("visibility", int(((vis != was) & lab).sum()))
        # as the window stores it: a dragged point becomes the person's (provenance user),
        # the others keep where the tool's proposal took them from
        prov = None if shown is None else np.where(placed, int(Provenance.USER),
                                                   shown.provenance)
        return Instance(xy=xy, visibility=vis, kind=InstanceKind.USER, track_id=track,
                        provenance=prov)


def match(shown: Sequence[Instance | None], people: Sequence[Person], min_oks: float = 0.1
          ) -> dict[int, int]:
    """shown index -> person index, as a person sees who is who (the most similar pairs)."""
    idx = [i for i, s in enumerate(shown) if s is not None]
    if not idx or not people:
        return {}
    o = np.array([[oks_value(np.nan_to_num(shown[i].xy), np.isfinite(shown[i].xy).all(1),  # type: ignore[union-attr]
                             p) for p in people] for i in idx])
    rows, cols = linear_sum_assignment(-o)
    return {idx[r]: int(c) for r, c in zip(rows, cols) if o[r, c] >= min_oks}


def _check_done(clip: Clip, labels: list[dict[int, Instance]]) -> None:
    for f, people in enumerate(clip.people):
        got = labels[f]
        assert set(got) == {p.pid for p in people}, f"{clip.name} frame {f}: wrong people"
        for p in people:
            o = oks_value(got[p.pid].xy, got[p.pid].labeled, p)
            assert o >= TARGET - 1e-9, f"{clip.name} frame {f} person {p.pid}: OKS {o:.3f}"


def _start_frame(ann: Annotator, clip: Clip, f: int) -> dict[int, Instance]:
    """Label frame ``f`` from the model's predictions (the first frame of every strategy)."""
    people = clip.people[f]
    preds = clip.preds[f]
    m = match(preds, people)
    if len(m) == len(preds):
        ann.act("accept", 1 if preds else 0)  # Shift+A
    else:
        ann.act("accept", len(m))  # double-click each right one
    out = {}
    for i, j in m.items():
        out[people[j].pid] = ann.fix(preds[i], people[j])
    for p in people:
        if p.pid not in out:
            ann.act("add")
            out[p.pid] = ann.fix(None, p)
    return out


# --- (a) frame by frame ---------------------------------------------------------------------------
def frame_by_frame(clip: Clip) -> Annotator:
    ann = Annotator()
    labels: list[dict[int, Instance]] = []
    for f in range(len(clip)):
        ann.goto(f)
        labels.append(_start_frame(ann, clip, f))
    _check_done(clip, labels)
    return ann


# --- (b) keyframes + linear interpolation -----------------------------------------------------------
def keyframes_linear(clip: Clip, step: int = 10) -> Annotator:
    """CVAT's way: keyframes every ``step`` frames and where people appear or leave, linear
    interpolation between a person's keyframes; each stretch is scrubbed frame by frame and,
    where it fails, the worst frame becomes a keyframe and both halves are scrubbed again."""
    ann = Annotator()
    n = len(clip)
    keys: dict[int, dict[int, Instance]] = {}  # frame -> pid -> label

    def present(f: int) -> dict[int, Person]:
        return {p.pid: p for p in clip.people[f]}

    def shown_at(f: int) -> dict[int, Instance]:
        """What the tool shows on a non-key frame: each person's interpolation."""
        out = {}
        for pid in present(f):
            before = next((k for k in range(f - 1, -1, -1) if k in keys and pid in keys[k]), None)
            after = next((k for k in range(f + 1, n) if k in keys and pid in keys[k]), None)
            if before is None or after is None:
                continue
            if any(pid not in present(g) for g in range(before, after + 1)):
                continue
            got = interpolate_track({before: keys[before][pid], after: keys[after][pid]}, [f])
            if f in got:
                out[pid] = got[f]
        return out

    def label_key(f: int, carry: dict[int, Instance]) -> None:
        people = clip.people[f]
        if not carry:
            keys[f] = _start_frame(ann, clip, f)
            return
        out = {}
        for p in people:
            base = carry.get(p.pid)
            if base is None:
                m = match(clip.preds[f], [p])
                pred = next((clip.preds[f][i] for i in m), None)
                if pred is not None:
                    ann.act("accept")
                else:
                    ann.act("add")
                out[p.pid] = ann.fix(pred, p)
            else:
                out[p.pid] = ann.fix(base, p)
        keys[f] = out

    # initial keyframes: every `step` frames, the last frame, where someone appears or leaves
    init = set(range(0, n, step)) | {n - 1}
    for f in range(1, n):
        if present(f).keys() != present(f - 1).keys():
            init |= {f - 1, f}
    prev: dict[int, Instance] = {}
    for f in sorted(init):
        ann.goto(f)
        label_key(f, prev)  # the track carries its last shape to the new keyframe
        prev = keys[f]

    def fails(f: int) -> float:
        shown = shown_at(f)
        worst = 1.0
        for pid, p in present(f).items():
            s = shown.get(pid)
            worst = min(worst, -1.0 if s is None else oks_value(s.xy, s.labeled, p))
        return worst

    def segment(a: int, b: int) -> None:
        if b - a < 2:
            return
        worst, wf = 1.0, -1
        for f in range(a + 1, b):
            ann.goto(f)
            o = fails(f)
            if o < worst:
                worst, wf = o, f
        if worst >= TARGET:
            return
        ann.goto(wf)
        shown = shown_at(wf)
        label_key(wf, shown or prev_of(wf))
        segment(a, wf)
        segment(wf, b)

    def prev_of(f: int) -> dict[int, Instance]:
        k = max(k for k in keys if k < f)
        return keys[k]

    ks = sorted(keys)
    for a, b in itertools.pairwise(ks):
        segment(a, b)
    labels = [keys[f] if f in keys else shown_at(f) for f in range(n)]
    _check_done(clip, labels)
    return ann


# --- (c) Pose Studio -----------------------------------------------------------------------------
def pose_studio(clip: Clip, fusion: FusionParams | None = None, flow: FlowParams | None = None,
                *, step: int = 1, manual_propagate: bool = False, use_peaks: bool = True,
                redetect: Redetect | None = None, learn_offsets_from_fixes: bool = True
                ) -> Annotator:
    """Pose Studio's way, in two passes over the video.

    1. Every ``step``-th frame (and the last): the proposal is the previous pass-1 frame's
       labels propagated by optical flow and filled with the tracked model predictions by
       their confidence; the annotator fixes only the points that are off.
    2. The frames in between: the proposal fills each gap from both sides at once (flow from
       the label before and after, cubic interpolation through the labels around, the model;
       ``pose_studio.labeling.fill``); again only what is off is fixed.

    The model's word on each frame (``pose_studio.labeling.model_step``): its heatmap peaks
    picked by the flow (``use_peaks``), re-run on a crop around the propagated pose
    (``redetect``), and its offset on each person learned from the points the annotator
    dragged (``learn_offsets_from_fixes``: the tool compares the drags with the model's
    points it showed, nothing else). Propagation reads the labels of the ``HISTORY`` frames
    behind, for each point's path through the points the annotator placed
    (``pose_studio.core.motion``).

    Runs of frames accepted unchanged cost 2 actions each (mark the range, accept it). After
    a fix the window recomputes the proposals ahead by itself (listed as "(auto)", not
    counted; ``manual_propagate`` counts a key for it instead).
    """
    fu = fusion or FusionParams()
    ann = Annotator()
    n = len(clip)
    labels: list[dict[int, Instance]] = [{} for _ in range(n)]
    sig: list[dict[int, np.ndarray]] = [{} for _ in range(n)]
    preds = {f: clip.preds[f] for f in range(n)}
    cands = {f: clip.cands[f] for f in range(n)} if clip.cands is not None and use_peaks \
        else None
    flip = COCO17.flip_permutation()
    offsets: dict[int, np.ndarray] = {}  # per label, the model's offset learned from the drags
    run_open = False

    def frame(i: int) -> np.ndarray:
        return clip.frames[i]

    def review(f: int, shown: list[Instance | None], sigmas: list[np.ndarray],
               origin: list[int], model_xy: list[np.ndarray | None]) -> None:
        """The annotator on frame ``f`` with the proposals ``shown`` (each continuing the
        label ``origin[i]``, the model's points under it ``model_xy[i]``)."""
        nonlocal run_open
        people = clip.people[f]
        m = match(shown, people)
        fixed = False
        for i, s in enumerate(shown):
            if s is None:
                continue
            if i not in m:
                ann.act("delete", 2)  # a proposal for someone who is gone
                fixed = True
                continue
            p = people[m[i]]
            before = ann.total
            labels[f][p.pid] = ann.fix(s, p)
            fixed |= ann.total > before
            moved = np.any(labels[f][p.pid].xy != s.xy, axis=1)
            sig[f][p.pid] = np.where(moved, fu.user_sigma, sigmas[i])
            if learn_offsets_from_fixes and model_xy[i] is not None:
                # the tool learns the model's offset on this person from the points dragged
                offsets[origin[i]] = learn_offsets(
                    offsets.get(origin[i]), model_xy[i], labels[f][p.pid].xy,  # type: ignore[arg-type]
                    moved, person_scale(labels[f][p.pid]), fu)
        for p in people:
            if p.pid in labels[f]:
                continue
            mp = match(clip.preds[f], [p])
            pred = next((clip.preds[f][i] for i in mp), None)
            ann.act("accept" if pred is not None else "add")
            labels[f][p.pid] = ann.fix(pred, p)
            sig[f][p.pid] = np.full(len(SIGMAS), fu.user_sigma)
            fixed = True
        if fixed:
            if run_open:
                ann.act("accept range", 2)
                run_open = False
            ann.act("propagate" if manual_propagate else "propagate (auto)", 1)
        else:
            run_open = True

    def close_range() -> None:
        nonlocal run_open
        if run_open:
            ann.act("accept range", 2)
            run_open = False

    # pass 1: every step-th frame, propagated and filled from the one before
    first = sorted(set(range(0, n, step)) | {n - 1})
    ann.goto(0)
    labels[0] = _start_frame(ann, clip, 0)
    sig[0] = {pid: np.full(len(SIGMAS), fu.user_sigma) for pid in labels[0]}
    for prev, f in itertools.pairwise(first):
        ann.goto(f)
        pids = list(labels[prev])
        src = [labels[prev][pid].replace(track_id=_track_of(clip, prev, labels[prev][pid]))
               for pid in pids]
        history = []
        for pid in pids:
            # the motion just before prev, from the labels at hand (interpolated between
            # pass-1 labels where the frames just before have none yet)
            keys = {g: labels[g][pid] for g in first if g <= prev and pid in labels[g]}
            behind = [prev - b for b in range(1, HISTORY + 1)]
            got = interpolate_track(keys, behind) if len(keys) > 1 else {}
            history.append([labels[g].get(pid) if g >= 0 and pid in labels[g] else got.get(g)
                            for g in behind])
        res = propagate(frame, src, prev, f, predictions=preds, candidates=cands,
                        flip_perm=flip, redetect=redetect, sigmas=SIGMAS,
                        keypoint_names=COCO17.keypoints, params=flow,
                        # as the window does: the sigma each point was proposed with, a
                        # dragged one's a placed point's (``app.model_carry``)
                        fusion=fu, start_sigmas=[sig[prev][pid] for pid in pids],
                        history=history, model_offsets=[offsets.get(pid) for pid in pids])
        got_model = res.model.get(f)
        review(f, list(res.frames[f]), list(res.sigmas[f]), pids,
               [got_model[i] if got_model is not None else None for i in range(len(pids))])
    close_range()
    # pass 2: the frames in between, filled from both sides
    for f in range(n):
        if f in first:
            continue
        ann.goto(f)
        shown: list[Instance | None] = []
        sigmas: list[np.ndarray] = []
        origin: list[int] = []
        model_xy: list[np.ndarray | None] = []
        for p in clip.people[f]:
            keys = {g: labels[g][p.pid] for g in first
                    if abs(g - f) <= 2 * step and p.pid in labels[g]}
            if not keys or min(keys) > f or max(keys) < f:
                continue
            tid = _track_of(clip, min(keys), keys[min(keys)])
            keys = {g: i.replace(track_id=tid) for g, i in keys.items()}
            filled = fill_track(frame, keys, [f], predictions=preds, candidates=cands,
                                flip_perm=flip, redetect=redetect, sigmas=SIGMAS, flow=flow,
                                fusion=fu, key_sigmas={g: sig[g][p.pid] for g in keys},
                                model_offset=offsets.get(p.pid))
            if f in filled:
                shown.append(filled[f].instance)
                sigmas.append(filled[f].sigma)
                origin.append(p.pid)
                model_xy.append(filled[f].model)
        review(f, shown, sigmas, origin, model_xy)
    close_range()
    _check_done(clip, labels)
    return ann


def _track_of(clip: Clip, f: int, label: Instance) -> int | None:
    """The tracker's id of the prediction the annotator's label overlaps most (the window
    shows the prediction under the label; no truth involved)."""
    best, tid = 0.0, None
    for p in clip.preds[f]:
        if p.track_id is None:
            continue
        ok = label.labeled & np.isfinite(p.xy).all(1)
        if not ok.any():
            continue
        d = np.linalg.norm(p.xy[ok] - label.xy[ok], axis=1)
        score = float(np.mean(d < 10.0))
        if score > best:
            best, tid = score, p.track_id
    return tid
