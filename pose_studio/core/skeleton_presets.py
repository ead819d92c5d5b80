"""The built-in skeletons (COCO-17, Halpe-26, COCO-WholeBody-133, Halpe-136, BlazePose-33) and
:func:`get_skeleton`.

Keypoint names, limbs, flip pairs and OKS sigmas follow the dataset definitions used by mmpose
(``configs/_base_/datasets/halpe26.py`` and ``coco_wholebody.py``); the sigmas are the ones the
datasets' own evaluators use (Halpe ``halpecocotools``, COCO-WholeBody ``myeval_wholebody.py``).
BlazePose-33 is MediaPipe's landmark order (``POSE_CONNECTIONS`` for the limbs); it has no
published OKS sigmas: its 17 COCO points keep COCO's, the others borrow their neighbours'.

``pose_studio.core.skeleton`` holds the type and the COCO-17 constants and imports nothing from
here, so the two modules no longer import each other.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from pose_studio.core.skeleton import (
    _KNOWN_LAYOUTS,
    COCO17,
    COCO17_KEYPOINTS,
    COCO17_SIGMAS,
    COCO17_SKELETON_1BASED,
    Skeleton,
    SkeletonError,
)


def _pairs_by_name(names: tuple[str, ...], pairs: list[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    index = {n: i for i, n in enumerate(names)}
    return tuple((index[a], index[b]) for a, b in pairs)


def _left_right_pairs(names: tuple[str, ...]) -> list[tuple[str, str]]:
    """``left_x``/``right_x`` name pairs, in keypoint order of the left member."""
    present = set(names)
    return [(n, "right_" + n[5:]) for n in names
            if n.startswith("left_") and "right_" + n[5:] in present]


_COCO17_EDGES = [(COCO17_KEYPOINTS[a - 1], COCO17_KEYPOINTS[b - 1]) for a, b in COCO17_SKELETON_1BASED]

# --- Halpe-26 (Halpe-FullBody body + feet) --------------------------------------------------------
HALPE26_KEYPOINTS: tuple[str, ...] = (
    *COCO17_KEYPOINTS,
    "head", "neck", "hip",
    "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel", "right_heel",
)  # fmt: skip

_HALPE26_EDGES = [
    ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("left_hip", "hip"),
    ("right_ankle", "right_knee"), ("right_knee", "right_hip"), ("right_hip", "hip"),
    ("head", "neck"), ("neck", "hip"),
    ("neck", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("neck", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_eye", "right_eye"), ("nose", "left_eye"), ("nose", "right_eye"),
    ("left_eye", "left_ear"), ("right_eye", "right_ear"),
    ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
    ("left_ankle", "left_big_toe"), ("left_ankle", "left_small_toe"), ("left_ankle", "left_heel"),
    ("right_ankle", "right_big_toe"), ("right_ankle", "right_small_toe"),
    ("right_ankle", "right_heel"),
]  # fmt: skip

HALPE26_SIGMAS: tuple[float, ...] = (
    *COCO17_SIGMAS,
    0.026, 0.026, 0.066, 0.079, 0.079, 0.079, 0.079, 0.079, 0.079,
)  # fmt: skip

HALPE26 = Skeleton(
    name="halpe26",
    keypoints=HALPE26_KEYPOINTS,
    edges=_pairs_by_name(HALPE26_KEYPOINTS, _HALPE26_EDGES),
    flip_pairs=_pairs_by_name(HALPE26_KEYPOINTS, _left_right_pairs(HALPE26_KEYPOINTS)),
    sigmas=HALPE26_SIGMAS,
)

# --- COCO-WholeBody-133 ---------------------------------------------------------------------------
_FEET = ("left_big_toe", "left_small_toe", "left_heel",
         "right_big_toe", "right_small_toe", "right_heel")  # fmt: skip
_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")


def _hand(side: str) -> tuple[str, ...]:
    return (f"{side}_hand_root",
            *(f"{side}_{finger}{j}" for finger in _FINGERS for j in range(1, 5)))


WHOLEBODY133_KEYPOINTS: tuple[str, ...] = (
    *COCO17_KEYPOINTS,
    *_FEET,
    *(f"face-{i}" for i in range(68)),
    *_hand("left"),
    *_hand("right"),
)


def _hand_edges(side: str) -> list[tuple[str, str]]:
    # Each finger hangs off the wrist (not the hand root), as in the dataset definition.
    edges = []
    for finger in _FINGERS:
        chain = [f"{side}_wrist", *(f"{side}_{finger}{j}" for j in range(1, 5))]
        edges += list(pairwise(chain))
    return edges


_WHOLEBODY_EDGES = [
    *_COCO17_EDGES,
    ("left_ankle", "left_big_toe"), ("left_ankle", "left_small_toe"), ("left_ankle", "left_heel"),
    ("right_ankle", "right_big_toe"), ("right_ankle", "right_small_toe"),
    ("right_ankle", "right_heel"),
    *_hand_edges("left"),
    *_hand_edges("right"),
]  # fmt: skip

# 68-point face (iBUG order): low indices lie on the subject's right, so the subject-left member
# of each mirrored pair comes first here (the side colouring reads the first member as "left").
_FACE_PAIRS_RIGHT_LEFT = [
    *((i, 16 - i) for i in range(8)),  # jaw line
    *((17 + i, 26 - i) for i in range(5)),  # eyebrows
    (31, 35), (32, 34),  # nostrils
    (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),  # eyes
    (48, 54), (49, 53), (50, 52), (55, 59), (56, 58),  # outer lips
    (60, 64), (61, 63), (65, 67),  # inner lips
]  # fmt: skip

WHOLEBODY133_SIGMAS: tuple[float, ...] = (
    *COCO17_SIGMAS,
    # feet
    0.068, 0.066, 0.066, 0.092, 0.094, 0.094,
    # face (68)
    0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031, 0.025, 0.020, 0.023, 0.029, 0.032, 0.037,
    0.038, 0.043, 0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011, 0.011, 0.013,
    0.015, 0.009, 0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010, 0.017, 0.011, 0.009,
    0.011, 0.009, 0.007, 0.013, 0.008, 0.011, 0.012, 0.010, 0.034, 0.008, 0.008, 0.009, 0.008,
    0.008, 0.007, 0.010, 0.008, 0.009, 0.009, 0.009, 0.007, 0.007, 0.008, 0.011, 0.008, 0.008,
    0.008, 0.010, 0.008,
    # left hand (21)
    0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022, 0.026,
    0.017, 0.021, 0.021, 0.032, 0.020, 0.019, 0.022, 0.031,
    # right hand (21)
    0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022, 0.026,
    0.017, 0.021, 0.021, 0.032, 0.020, 0.019, 0.022, 0.031,
)  # fmt: skip

WHOLEBODY133 = Skeleton(
    name="wholebody133",
    keypoints=WHOLEBODY133_KEYPOINTS,
    edges=_pairs_by_name(WHOLEBODY133_KEYPOINTS, _WHOLEBODY_EDGES),
    flip_pairs=(
        *_pairs_by_name(WHOLEBODY133_KEYPOINTS, _left_right_pairs(WHOLEBODY133_KEYPOINTS)),
        *_pairs_by_name(
            WHOLEBODY133_KEYPOINTS,
            [(f"face-{r}", f"face-{q}") for q, r in _FACE_PAIRS_RIGHT_LEFT],
        ),
    ),
    sigmas=WHOLEBODY133_SIGMAS,
)

# --- BlazePose-33 (MediaPipe pose landmarks) --------------------------------------------------------
BLAZEPOSE33_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip

_BLAZEPOSE33_EDGES_IDX = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12),
    (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18),
    (16, 20), (16, 22), (18, 20), (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27),
    (26, 28), (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)  # fmt: skip

_COCO_SIGMA = dict(zip(COCO17_KEYPOINTS, COCO17_SIGMAS))
_BLAZEPOSE_BORROWED = {"eye": 0.025, "mouth": 0.025, "pinky": 0.062, "index": 0.062,
                       "thumb": 0.062, "heel": 0.079, "foot": 0.079}
BLAZEPOSE33_SIGMAS: tuple[float, ...] = tuple(
    _COCO_SIGMA.get(n) or next(v for k, v in _BLAZEPOSE_BORROWED.items() if k in n)
    for n in BLAZEPOSE33_KEYPOINTS)

BLAZEPOSE33 = Skeleton(
    name="blazepose33",
    keypoints=BLAZEPOSE33_KEYPOINTS,
    edges=_BLAZEPOSE33_EDGES_IDX,
    flip_pairs=(*_pairs_by_name(BLAZEPOSE33_KEYPOINTS, _left_right_pairs(BLAZEPOSE33_KEYPOINTS)),
                (9, 10)),
    sigmas=BLAZEPOSE33_SIGMAS,
)
#: BlazePose-33 index of each COCO-17 keypoint (same names), e.g. to store BlazePose
#: predictions in a COCO-17 project.
BLAZEPOSE33_TO_COCO17: tuple[int, ...] = tuple(BLAZEPOSE33_KEYPOINTS.index(n)
                                               for n in COCO17_KEYPOINTS)


# --- Halpe-136 (Halpe-FullBody: body 26, face 68, hands 2 x 21) -----------------------------------
# Order and sigmas as Halpe's own evaluator (halpecocotools) and mmpose's halpe.py. Halpe names
# each hand's first point "left_wrist"/"right_wrist" again; here it is "<side>_hand_root" (as in
# COCO-WholeBody) so names stay unique, and the fingers hang off the body's wrists.
HALPE136_KEYPOINTS: tuple[str, ...] = (
    *HALPE26_KEYPOINTS[:20],
    "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel",
    "right_heel",
    *(f"face-{i}" for i in range(68)),
    *_hand("left"),
    *_hand("right"),
)  # fmt: skip

HALPE136_SIGMAS: tuple[float, ...] = (
    *COCO17_SIGMAS, 0.08, 0.08, 0.08, *([0.089] * 6), *([0.015] * 110),
)

HALPE136 = Skeleton(
    name="halpe136",
    keypoints=HALPE136_KEYPOINTS,
    edges=_pairs_by_name(HALPE136_KEYPOINTS, [*_HALPE26_EDGES, *_hand_edges("left"),
                                              *_hand_edges("right")]),
    flip_pairs=(
        *_pairs_by_name(HALPE136_KEYPOINTS, _left_right_pairs(HALPE136_KEYPOINTS)),
        *_pairs_by_name(
            HALPE136_KEYPOINTS,
            [(f"face-{r}", f"face-{q}") for q, r in _FACE_PAIRS_RIGHT_LEFT],
        ),
    ),
    sigmas=HALPE136_SIGMAS,
)

PRESETS: tuple[Skeleton, ...] = (HALPE26, WHOLEBODY133, HALPE136, BLAZEPOSE33)

BUILTIN_SKELETONS: dict[str, Skeleton] = {sk.name: sk for sk in (COCO17, *PRESETS)}
_KNOWN_LAYOUTS.extend(sk for sk in PRESETS if sk not in _KNOWN_LAYOUTS)


def get_skeleton(name_or_path: str | Path) -> Skeleton:
    """A built-in skeleton by name (``coco17``, ``halpe26``, ``wholebody133``, ``halpe136``,
    ``blazepose33``) or a JSON file (Pose Studio's skeleton JSON, a COCO category, or a COCO file
    with one keypoint category: its ``skeleton`` is read 1-based)."""
    key = str(name_or_path)
    aliases = {"coco": "coco17", "halpe": "halpe26", "wholebody": "wholebody133",
               "coco_wholebody": "wholebody133", "halpe_136": "halpe136"}
    key_l = aliases.get(key.lower(), key.lower())
    if key_l in BUILTIN_SKELETONS:
        return BUILTIN_SKELETONS[key_l]
    path = Path(name_or_path)
    if path.suffix.lower() == ".json" or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SkeletonError(f"cannot read skeleton file {path}: {exc.strerror}") from exc
        return Skeleton.from_json(text)
    known = ", ".join(sorted(BUILTIN_SKELETONS))
    raise SkeletonError(f"unknown skeleton {key!r}: use one of {known} or a JSON file")
