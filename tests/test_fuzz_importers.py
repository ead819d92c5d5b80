"""Fuzzing every importer: whatever bytes a file holds, an importer either reads it or raises a
``PoseStudioError`` (one clear line for the user); any other exception is a bug.

Table-driven: :data:`TARGETS` lists the importers (COCO's ``import_coco`` into a project
today). Every format of ``formats.registry`` with a reader is added automatically, seeded
with what its own writer makes of a small dataset; a format needs a line here only to add a
structure-aware generator of whole documents. Each target is fuzzed two ways: byte-level
mutations of valid seed files (flips, cuts, splices, insertions, number swaps), and, where
given, generated documents.

The CI run uses a few hundred examples per target and way; the count for a long run comes
from the environment (the 10,000-file run of the report)::

    POSE_STUDIO_FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest -q -p no:cacheprovider \\
        tests/test_fuzz_importers.py
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.errors import PoseStudioError
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")

EXAMPLES = int(os.environ.get("POSE_STUDIO_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
K = COCO17.num_keypoints


@dataclass(frozen=True)
class Target:
    """One importer: ``seeds`` writes valid inputs into a folder and returns them; ``run``
    imports one file (into ``project`` where it needs one)."""

    name: str
    seeds: Callable[[Path, Project], list[Path]]
    run: Callable[[Path, Project], object]
    suffix: str = ""
    documents: st.SearchStrategy[bytes] | None = None


# --- COCO ---------------------------------------------------------------------------------------
def _coco_seeds(folder: Path, project: Project) -> list[Path]:
    from pose_studio.formats.coco import export_coco

    out = []
    for source in ("user", "all"):
        p = folder / f"seed-{source}.json"
        export_coco(project, p, source=source)
        out.append(p)
    return out


def _coco_run(path: Path, project: Project) -> object:
    from pose_studio.formats.coco import import_coco

    return import_coco(project, path, fingerprints=False)


_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
_json_any = st.recursive(_scalars, lambda kids: st.lists(kids, max_size=4)
                         | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)


def _maybe(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything."""
    return st.one_of(good, good, good, _json_any)


def _coco_documents() -> st.SearchStrategy[bytes]:
    ids = st.integers(-2, 8)
    coord = st.floats(-50, 200) | st.sampled_from(
        [float("nan"), float("inf"), -float("inf"), 1e308, -0.0])
    keypoints = st.lists(st.one_of(coord, st.integers(0, 3)), min_size=0, max_size=3 * K + 3)
    image = st.fixed_dictionaries(
        {"id": _maybe(ids), "file_name": _maybe(st.sampled_from(
            ["clip/000001.png", "frame_000004.png", "x.png", "", "../../../etc/passwd"])),
         "width": _maybe(st.integers(-1, 200)), "height": _maybe(st.integers(-1, 200))},
        optional={"frame_index": _maybe(st.integers(-3, 20)), "video": _maybe(st.text(max_size=8))})
    ann = st.fixed_dictionaries(
        {"id": _maybe(ids), "image_id": _maybe(ids), "category_id": _maybe(st.integers(0, 3)),
         "keypoints": _maybe(keypoints)},
        optional={"bbox": _maybe(st.lists(coord, max_size=5)), "score": _maybe(coord),
                  "num_keypoints": _maybe(st.integers(-1, 20)),
                  "track_id": _maybe(st.integers(-1, 5)), "iscrowd": _maybe(st.integers(0, 1))})
    names = st.lists(st.sampled_from([*COCO17.keypoints, "tail", ""]), max_size=K + 2)
    cat = st.fixed_dictionaries({"id": _maybe(st.integers(0, 3)),
                                 "name": _maybe(st.sampled_from(["person", "x"]))},
                                optional={"keypoints": _maybe(names),
                                          "skeleton": _maybe(st.lists(st.lists(
                                              st.integers(-1, 20), max_size=3), max_size=4))})
    doc = st.fixed_dictionaries({}, optional={
        "images": _maybe(st.lists(image, max_size=4)),
        "annotations": _maybe(st.lists(ann, max_size=5)),
        "categories": _maybe(st.lists(cat, max_size=3)),
        "info": _json_any})
    return st.one_of(doc, _json_any).map(
        lambda d: json.dumps(d, allow_nan=True).encode())


TARGETS: list[Target] = [
    Target("coco", _coco_seeds, _coco_run, ".json", _coco_documents()),
]


def _registry_targets() -> list[Target]:
    """Every registered format with a reader, seeded by its own writer (when it has one)."""
    from pose_studio.formats.registry import ReadOptions, WriteOptions, all_formats

    out = []
    listed = {t.name for t in TARGETS}
    for fmt in all_formats():
        if fmt.read is None or fmt.name in listed:
            continue

        def seeds(folder: Path, project: Project, fmt: Any = fmt) -> list[Path]:
            if fmt.write is None:
                return []
            target = folder / f"seed{fmt.suffixes[0] if fmt.suffixes else ''}"
            fmt.write(_small_dataset(), target, WriteOptions())
            return [target]

        def run(path: Path, project: Project, fmt: Any = fmt) -> object:
            return fmt.read(path, ReadOptions(skeleton=COCO17))

        out.append(Target(fmt.name, seeds, run, fmt.suffixes[0] if fmt.suffixes else ""))
    return out


def _small_dataset() -> Any:
    from pose_studio.formats.dataset import Annotation, Dataset, Frame, Source

    rng = np.random.default_rng(3)
    pts = np.concatenate([rng.uniform(0, 60, (K, 2)), np.full((K, 1), 2.0)], axis=1)
    return Dataset(skeleton=COCO17, sources=[Source("clip", "video", "clip.mp4", width=64,
                                                    height=48)],
                   frames=[Frame("clip", i, (Annotation(pts + i),)) for i in range(3)])


ALL_TARGETS = TARGETS + _registry_targets()


# --- the harness ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    d = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(0)
    with Project.create(d / "f.posestudio", COCO17, edit_sync="normal") as p:
        vid = p.add_video(d / "clip.mp4", width=64, height=48, frame_count=30, fps=10.0)
        for f in (1, 4):
            p.add_instance(vid, f, Instance(xy=rng.uniform(2, 40, (K, 2)),
                                            visibility=np.full(K, 2)))
        run = p.create_model_run(model_path="m", model_hash="h", providers=[], params={})
        p.add_predictions(vid, [(6, Instance(xy=rng.uniform(2, 40, (K, 2)),
                                             visibility=np.full(K, 2), score=0.4,
                                             kind=InstanceKind.PREDICTED))], run)
        yield p


def _mutate(data: bytes, draw: Any) -> bytes:
    """A few byte-level edits of ``data``, chosen by hypothesis."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete", "splice", "number"]))
        n = len(out)
        i = draw(st.integers(0, max(0, n - 1)))
        if op == "flip" and n:
            out[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del out[i:]
        elif op == "insert":
            out[i:i] = draw(st.binary(min_size=1, max_size=16) | st.sampled_from(
                [b"[", b"{", b'"', b"null", b"NaN", b"-1", b"1e999", b"\x00", b"\xff"]))
        elif op == "delete" and n:
            del out[i:i + draw(st.integers(1, 64))]
        elif op == "splice" and n:
            j = draw(st.integers(0, n - 1))
            out[i:i] = out[j:j + draw(st.integers(1, 128))]
        elif op == "number":
            digits = [k for k in range(n) if 48 <= out[k] <= 57]
            if digits:
                k = draw(st.sampled_from(digits))
                out[k:k + 1] = draw(st.sampled_from([b"-9", b"99999999999999999999", b"0.5",
                                                     b"1e308", b"-0", b"7"]))
    return bytes(out)


def _expect_clean(target: Target, data: bytes, project: Project) -> None:
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target.name}-") as tmp:
        path = Path(tmp) / f"input{target.suffix}"
        path.write_bytes(data)
        try:
            target.run(path, project)
        except PoseStudioError as exc:
            assert str(exc).strip(), "an error without words"


@pytest.fixture(scope="module")
def seed_bytes(project: Project, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for t in ALL_TARGETS:
        folder = tmp_path_factory.mktemp(f"seeds-{t.name}")
        files = [p for p in t.seeds(folder, project) if p.is_file()]
        out[t.name] = [p.read_bytes() for p in files] or [b""]
    return out


def test_every_importer_has_a_fuzz_target() -> None:
    from pose_studio.formats.registry import all_formats

    readable = {f.name for f in all_formats() if f.read is not None}
    assert readable <= {t.name for t in ALL_TARGETS}
    assert "coco" in {t.name for t in ALL_TARGETS}


@pytest.mark.parametrize("target", ALL_TARGETS, ids=lambda t: t.name)
def test_seeds_import_cleanly(target: Target, project: Project,
                              seed_bytes: dict[str, list[bytes]]) -> None:
    """The seeds themselves are valid inputs (else the mutations test little)."""
    for data in seed_bytes[target.name]:
        if data:
            _expect_clean(target, data, project)


@pytest.mark.parametrize("target", ALL_TARGETS, ids=lambda t: t.name)
@FUZZ
@given(data=st.data())
def test_mutated_files(target: Target, project: Project, seed_bytes: dict[str, list[bytes]],
                       data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(seed_bytes[target.name]))
    _expect_clean(target, _mutate(seed, data.draw), project)


@pytest.mark.parametrize("target", [t for t in ALL_TARGETS if t.documents is not None],
                         ids=lambda t: t.name)
@FUZZ
@given(data=st.data())
def test_generated_documents(target: Target, project: Project, data: st.DataObject) -> None:
    assert target.documents is not None
    _expect_clean(target, data.draw(target.documents), project)


@pytest.mark.parametrize("target", ALL_TARGETS, ids=lambda t: t.name)
@FUZZ
@given(blob=st.binary(max_size=2048))
def test_random_bytes(target: Target, project: Project, blob: bytes) -> None:
    _expect_clean(target, blob, project)
