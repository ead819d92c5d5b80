"""Skeletons: built-in presets (COCO-17, Halpe-26, COCO-WholeBody-133) and custom JSON skeletons."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pose_studio.core.skeleton import COCO17, Skeleton, SkeletonError
from pose_studio.core.skeleton_presets import (
    BLAZEPOSE33,
    BUILTIN_SKELETONS,
    HALPE26,
    HALPE136,
    PRESETS,
    WHOLEBODY133,
    get_skeleton,
)


# --- presets -------------------------------------------------------------------------------------
def test_presets_registered_by_name_and_alias() -> None:
    assert PRESETS == (HALPE26, WHOLEBODY133, HALPE136, BLAZEPOSE33)
    assert BUILTIN_SKELETONS["halpe26"] is HALPE26
    assert BUILTIN_SKELETONS["halpe136"] is HALPE136
    assert BUILTIN_SKELETONS["wholebody133"] is WHOLEBODY133
    assert get_skeleton("halpe") is HALPE26
    assert get_skeleton("coco_wholebody") is WHOLEBODY133
    assert get_skeleton("WholeBody") is WHOLEBODY133


def test_the_skeleton_type_does_not_import_the_presets() -> None:
    """The type module stands alone (no import cycle); the presets module lists them all."""
    assert sorted(BUILTIN_SKELETONS) == ["blazepose33", "coco17", "halpe136", "halpe26",
                                         "wholebody133"]
    assert BUILTIN_SKELETONS["coco17"] is COCO17
    code = ("import sys, pose_studio.core.skeleton\n"
            "print('pose_studio.core.skeleton_presets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_halpe26_definition() -> None:
    sk = HALPE26
    assert sk.num_keypoints == 26
    assert sk.keypoints[:17] == COCO17.keypoints
    assert sk.keypoints[17:] == ("head", "neck", "hip", "left_big_toe", "right_big_toe",
                                 "left_small_toe", "right_small_toe", "left_heel", "right_heel")
    assert len(sk.edges) == 27
    assert (sk.index("neck"), sk.index("hip")) in sk.edges
    assert sk.sigmas[:17] == COCO17.sigmas
    assert sk.sigmas[17:] == (0.026, 0.026, 0.066, 0.079, 0.079, 0.079, 0.079, 0.079, 0.079)
    assert len(sk.flip_pairs) == 11
    for a, b in sk.flip_pairs:
        assert sk.keypoints[a].replace("left", "right") == sk.keypoints[b]
    assert sk.side(sk.index("head")) == "center"


def test_wholebody133_definition() -> None:
    sk = WHOLEBODY133
    assert sk.num_keypoints == 133
    assert sk.keypoints[:17] == COCO17.keypoints
    assert sk.keypoints[17:23] == ("left_big_toe", "left_small_toe", "left_heel",
                                   "right_big_toe", "right_small_toe", "right_heel")
    assert sk.keypoints[23] == "face-0" and sk.keypoints[90] == "face-67"
    assert sk.keypoints[91] == "left_hand_root" and sk.keypoints[112] == "right_hand_root"
    assert sk.keypoints[132] == "right_pinky_finger4"
    assert len(sk.edges) == 65
    assert (sk.index("left_wrist"), sk.index("left_thumb1")) in sk.edges
    assert len(sk.sigmas) == 133
    assert sk.sigmas[17:23] == (0.068, 0.066, 0.066, 0.092, 0.094, 0.094)
    assert sk.sigmas[91:112] == sk.sigmas[112:133]  # both hands share sigmas
    assert sk.sigmas[23] == 0.042 and sk.sigmas[90] == 0.008
    # flips: 8 body + 3 feet + 21 hand + 29 face pairs, an involution
    assert len(sk.flip_pairs) == 61
    perm = sk.flip_permutation()
    np.testing.assert_array_equal(perm[perm], np.arange(133))
    assert perm[sk.index("face-0")] == sk.index("face-16")
    assert perm[sk.index("face-36")] == sk.index("face-45")
    assert perm[sk.index("face-30")] == sk.index("face-30")  # nose ridge stays
    # iBUG face points 0..7 lie on the subject's right
    assert sk.side(sk.index("face-0")) == "right"
    assert sk.side(sk.index("face-16")) == "left"


@pytest.mark.parametrize("sk", [COCO17, HALPE26, WHOLEBODY133, HALPE136, BLAZEPOSE33],
                         ids=lambda s: s.name)
def test_presets_roundtrip_and_coco_category(sk: Skeleton) -> None:
    assert Skeleton.from_dict(sk.to_dict()) == sk
    assert Skeleton.from_json(sk.to_json()) == sk
    cat = sk.coco_category()
    assert min(min(e) for e in cat["skeleton"]) >= 1
    assert max(max(e) for e in cat["skeleton"]) <= sk.num_keypoints
    assert Skeleton.from_coco_category(cat) is sk  # a known layout keeps its sigmas
    assert Skeleton.from_coco_category(cat, known=BUILTIN_SKELETONS.values()) is sk


# --- custom skeletons ----------------------------------------------------------------------------
MOUSE = {
    "name": "mouse",
    "keypoints": ["snout", "left_ear", "right_ear", "neck", "left_hip", "right_hip", "tail_base",
                  "tail_tip"],
    "edges": [["snout", "neck"], ["left_ear", "neck"], ["right_ear", "neck"],
              ["neck", "tail_base"], ["tail_base", "tail_tip"], [4, 6], [5, 6]],
}


def test_custom_animal_skeleton_from_json_file(tmp_path: Path) -> None:
    path = tmp_path / "mouse.json"
    path.write_text(json.dumps(MOUSE))
    sk = get_skeleton(path)
    assert sk.name == "mouse" and sk.num_keypoints == 8
    assert (0, 3) in sk.edges and (4, 6) in sk.edges  # names and indices both work
    # flip pairs found from left_/right_ names
    assert set(sk.flip_pairs) == {(1, 2), (4, 5)}
    assert sk.side(1) == "left" and sk.side(2) == "right" and sk.side(0) == "center"
    assert sk.edge_side((4, 6)) == "center"
    # no sigmas given: the COCO mean is used, and there is one per keypoint
    assert len(sk.sigmas) == 8 and all(s == pytest.approx(0.072) for s in sk.sigmas)
    assert len(sk.colors) == 8


def test_custom_skeleton_short_prefixes_and_explicit_flips() -> None:
    sk = Skeleton.from_dict({"keypoints": ["head", "l_paw", "r_paw", "LeftEye", "RightEye"]})
    assert set(sk.flip_pairs) == {(1, 2), (3, 4)}
    explicit = Skeleton.from_dict({"keypoints": ["a", "b", "c"], "flip_pairs": [["a", "c"]]})
    assert explicit.flip_pairs == ((0, 2),)
    assert explicit.flip_permutation().tolist() == [2, 1, 0]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"keypoints": []}, "no keypoints"),
        ({"keypoints": ["a", "a"]}, "duplicate"),
        ({"keypoints": ["a", "b"], "edges": [[0, 5]]}, "out of range"),
        ({"keypoints": ["a", "b"], "edges": [["a", "zzz"]]}, "not a valid skeleton"),
        ({"keypoints": ["a", "b"], "edges": [[1, 1]]}, "out of range"),
        ({"keypoints": ["a", "b", "c"], "flip_pairs": [[0, 1], [1, 2]]}, "two flip pairs"),
        ({"keypoints": ["a", "b"], "sigmas": [0.1]}, "sigmas"),
        ({"keypoints": ["a", "b"], "sigmas": [0.1, -1]}, "sigmas"),
        ({"keypoints": ["a"], "colors": [[1, 2]]}, "colour"),
        ({"name": "x"}, "not a valid skeleton"),
    ],
)
def test_bad_skeletons_raise_skeleton_error(data: dict, match: str) -> None:
    with pytest.raises(SkeletonError, match=match):
        Skeleton.from_dict(data)


def test_skeleton_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(SkeletonError, match="malformed"):
        get_skeleton(bad)
    arr = tmp_path / "arr.json"
    arr.write_text("[1, 2]")
    with pytest.raises(SkeletonError, match="object"):
        get_skeleton(arr)
    with pytest.raises(SkeletonError, match="cannot read"):
        get_skeleton(tmp_path / "missing.json")
    with pytest.raises(SkeletonError, match="unknown skeleton 'giraffe'"):
        get_skeleton("giraffe")


def test_from_coco_category_custom_layout() -> None:
    cat = {"name": "fly", "keypoints": ["head", "thorax", "left_wing", "right_wing"],
           "skeleton": [[1, 2], [2, 3], [2, 4]]}
    sk = Skeleton.from_coco_category(cat)
    assert sk.name == "fly"
    assert sk.edges == ((0, 1), (1, 2), (1, 3))
    assert sk.flip_pairs == ((2, 3),)
    assert sk.coco_skeleton() == cat["skeleton"]
