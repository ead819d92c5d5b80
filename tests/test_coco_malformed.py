"""COCO files that are malformed or hostile: refused with the problem named, never a traceback
(the reader without a project; the well-formed cases are in test_coco_formats)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pose_studio.core.skeleton import COCO17, Skeleton
from pose_studio.formats.coco_read import CocoFormatError, parse_coco, read_coco
from tests.test_coco_formats import _mmpose_style


# --- malformed input -----------------------------------------------------------------------------
def _mut(fn: Any) -> dict[str, Any]:
    d = copy.deepcopy(_mmpose_style())
    fn(d)
    return d


MALFORMED: dict[str, tuple[Any, list[str]]] = {
    "top-level list": ([1, 2], ["results list"]),
    "top-level string": ("hello", ["not an object"]),
    "missing images": (_mut(lambda d: d.pop("images")), ["missing", "'images'"]),
    "annotations not a list": (_mut(lambda d: d.update(annotations={})), ["'annotations'", "list"]),
    "keypoints wrong length": (
        _mut(lambda d: d["annotations"][0].update(keypoints=[1.0] * 50)),
        ["annotation 442619", "'keypoints'", "50", "51"],
    ),
    "keypoints not numbers": (
        _mut(lambda d: d["annotations"][0]["keypoints"].__setitem__(4, "x")),
        ["annotation 442619", "'keypoints'"],
    ),
    "keypoints bool": (
        _mut(lambda d: d["annotations"][0]["keypoints"].__setitem__(0, True)),
        ["annotation 442619", "'keypoints'"],
    ),
    "visibility out of range": (
        _mut(lambda d: d["annotations"][0]["keypoints"].__setitem__(2, 3)),
        ["annotation 442619", "visibility"],
    ),
    "unknown category": (
        _mut(lambda d: d["annotations"][0].update(category_id=9)),
        ["annotation 442619", "unknown category 9"],
    ),
    "duplicate image id": (
        _mut(lambda d: d["images"].append(dict(d["images"][0]))),
        ["image 785", "duplicate"],
    ),
    "duplicate category id": (
        _mut(lambda d: d["categories"].append(dict(d["categories"][0]))),
        ["category 1", "duplicate"],
    ),
    "missing image": (
        _mut(lambda d: d["annotations"][0].update(image_id=4)),
        ["annotation 442619", "'image_id' 4", "missing image"],
    ),
    "object id": (
        _mut(lambda d: d["annotations"][0].update(id={"a": 1})),
        ["annotation #0", "'id'"],
    ),
    "image id missing": (_mut(lambda d: d["images"][0].pop("id")), ["image #0", "'id'"]),
    "bad width": (_mut(lambda d: d["images"][0].update(width=-3)), ["image 785", "'width'"]),
    "bad bbox": (
        _mut(lambda d: d["annotations"][0].update(bbox=[1, 2, 3])),
        ["annotation 442619", "'bbox'"],
    ),
    "keypoints missing": (
        _mut(lambda d: d["annotations"][0].pop("keypoints")),
        ["annotation 442619", "'keypoints' is missing"],
    ),
    "bad score": (
        _mut(lambda d: d["annotations"][0].update(score="high")),
        ["annotation 442619", "'score'"],
    ),
    "bad track": (
        _mut(lambda d: d["annotations"][0].update(track_id=[1])),
        ["annotation 442619", "'track_id'"],
    ),
    "duplicate annotation id": (
        _mut(lambda d: d["annotations"][1].update(id=442619)),
        ["annotation 442619", "duplicate annotation id"],
    ),
    # What a fuzzer found: each is the importer's own error, never a traceback.
    "integer too large for a float": (
        _mut(lambda d: d["annotations"][0]["keypoints"].__setitem__(0, 10**400)),
        ["annotation 442619", "'keypoints'", "too large"],
    ),
    "superscript digit id": (
        _mut(lambda d: d["annotations"][0].update(image_id="\u00b2")),
        ["annotation 442619", "missing image"],
    ),
    "huge coordinate": (
        _mut(lambda d: d["annotations"][0]["keypoints"].__setitem__(0, 1e308)),
        ["annotation 442619", "not a pixel position"],
    ),
    "huge box": (
        _mut(lambda d: d["annotations"][0].update(bbox=[0, 0, 1e308, 5])),
        ["annotation 442619", "'bbox'"],
    ),
    "huge integer score": (
        _mut(lambda d: d["annotations"][0].update(score=10**400)),
        ["annotation 442619", "'score'"],
    ),
    "category keypoints not names": (
        _mut(lambda d: d["categories"][0].update(keypoints=[1, 2])),
        ["category 1", "'keypoints'"],
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_are_refused_with_named_problem(case: str) -> None:
    data, words = MALFORMED[case]
    with pytest.raises(CocoFormatError) as err:
        parse_coco(copy.deepcopy(data), COCO17, "bad.json")
    msg = str(err.value)
    assert msg.startswith("bad.json: ")
    assert err.value.problems
    for w in words:
        assert w in msg, (w, msg)


def test_problems_are_capped_but_counted() -> None:
    d = _mmpose_style()
    base = d["annotations"][0]
    d["annotations"] = [dict(base, id=i, keypoints=[1.0] * 5) for i in range(25)]
    with pytest.raises(CocoFormatError) as err:
        parse_coco(d, COCO17, "x.json")
    assert len(err.value.problems) == 10
    assert err.value.total == 25
    assert "15 more" in str(err.value)
    assert "annotation 0:" in err.value.problems[0]


def test_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [}')
    with pytest.raises(CocoFormatError, match=r"not valid JSON.*line 1"):
        read_coco(bad, COCO17)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(CocoFormatError):
        read_coco(binary, COCO17)
    with pytest.raises(CocoFormatError, match="cannot read"):
        read_coco(tmp_path / "missing.json", COCO17)


# --- hostile text: the reader's own error, never a traceback ---------------------------------------
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"images": [{"id": ' + "9" * 5000 + '}], "annotations": [], "categories": []}',
         ["4300 digits"]),
        ('{"images": [], "annotations": [' + "[" * 5000 + "]" * 5000 + '], "categories": []}',
         ["nested too deeply"]),
        ('{"images": [], "annotations": [], "categories": []} trailing', ["extra data"]),
        ('{"images": [], "annotations": [], "info": {"tracks": [{"id": [1], "name": "x"}]}, '
         '"categories": [{"id": 1, "name": "p", "keypoints": ["a"]}]}', []),
    ],
    ids=["over-4300-digit int", "nested 5000 deep", "trailing data", "unhashable track id"],
)
def test_hostile_json_is_one_clear_error(tmp_path: Path, text: str, words: list[str]) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    if not words:  # read without error (nothing to import is not a traceback either)
        ds = read_coco(path, Skeleton(name="p", keypoints=("a",)))
        assert ds.num_annotations == 0
        return
    with pytest.raises(CocoFormatError) as err:
        read_coco(path, COCO17)
    for w in words:
        assert w in str(err.value)


def test_unhashable_track_ids_are_not_a_traceback() -> None:
    d = _mmpose_style()
    d["info"] = {"tracks": [{"id": [1], "name": "x"}, {"id": {"a": 1}, "name": "y"},
                            {"id": 7, "name": "mouse"}]}
    d["annotations"][0]["track_id"] = 7
    (a,) = [a for f in parse_coco(d, COCO17).frames for a in f.annotations]
    assert a.track == "mouse"


@pytest.mark.parametrize("chunk", [1, 7, 64])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_the_reading_window_does_not_change_what_is_read(
    tmp_path: Path, chunk: int, encoding: str
) -> None:
    from pose_studio.formats.json_stream import JsonFile

    data = _mmpose_style()
    data["images"][0]["file_name"] = "ünïcode/näme ✓.jpg"  # multi-byte characters
    data["annotations"] *= 3
    data["annotations"][1]["keypoints"][0] = 123456789.125  # a number across window ends
    text = json.dumps(data, indent=1)
    path = tmp_path / "x.json"
    path.write_bytes(text.encode(encoding))
    got: dict[str, list[Any]] = {"images": [], "annotations": []}
    with JsonFile(path, chunk=chunk) as f:
        members, streamed = f.scan_object({k: (lambda i, v, k=k: got[k].append(v))
                                           for k in got})
    assert streamed == {"images", "annotations"}
    assert got["images"] == data["images"] and got["annotations"] == data["annotations"]
    assert members == {k: v for k, v in data.items() if k not in got}
    path.write_bytes(text[:-40].encode(encoding))  # cut short: an error with its place
    with pytest.raises(ValueError, match=r"not valid JSON: .* at line \d+ column \d+"), \
            JsonFile(path, chunk=chunk) as f:
        f.scan_object({"annotations": lambda i, v: None})
