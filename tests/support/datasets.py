"""Synthetic datasets and the round-trip check the format tests share.

``roundtrip`` is the test-only helper: dataset -> a format's writer -> its reader -> dataset,
then :func:`assert_same` compares what the format can carry.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from pose_studio.core.annotation import InstanceKind
from pose_studio.core.skeleton import Skeleton
from pose_studio.core.skeleton_presets import get_skeleton
from pose_studio.formats.dataset import Annotation, Dataset, Frame, ImageEntry, Source
from pose_studio.formats.registry import (
    FrameSource,
    ReadOptions,
    WriteOptions,
    WriteSummary,
    detect,
    get_format,
)

ANIMAL = Skeleton(
    name="mouse",
    keypoints=("snout", "left_ear", "right_ear", "tail_base", "tail_tip"),
    edges=((0, 1), (0, 2), (0, 3), (3, 4)),
    flip_pairs=((1, 2),),
)


def frame_pixels(key: str, index: int, size: tuple[int, int] = (96, 64)) -> np.ndarray:
    """A deterministic BGR picture per (source, frame): a gradient plus a square at the index."""
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    img[..., 1] = (index * 37) % 256
    img[..., 2] = (sum(map(ord, key)) * 11) % 256
    x = (index * 7) % (w - 8)
    img[4:12, x:x + 8] = 255
    return img


def frames_for(ds: Dataset) -> FrameSource:
    sizes = {}
    for s in ds.sources:
        for i, im in enumerate(s.images):
            if im.width and im.height:
                sizes[(s.key, i)] = (im.width, im.height)
        if s.width and s.height:
            sizes[(s.key, -1)] = (s.width, s.height)

    def get(key: str, index: int) -> np.ndarray:
        size = sizes.get((key, index)) or sizes.get((key, -1)) or (96, 64)
        return frame_pixels(key, index, size)

    return get


def points(rng: np.random.Generator, k: int, w: int, h: int, *, vis: Iterable[int] | None = None
           ) -> np.ndarray:
    p = np.zeros((k, 3))
    p[:, 0] = np.round(rng.uniform(1, w - 2, k), 3)
    p[:, 1] = np.round(rng.uniform(1, h - 2, k), 3)
    p[:, 2] = list(vis) if vis is not None else 2
    p[p[:, 2] == 0, :2] = np.nan
    return p


def make_dataset(
    *,
    skeleton: Skeleton = ANIMAL,
    video: bool = True,
    images: bool = True,
    predictions: bool = True,
    tracks: bool = True,
    occluded: bool = True,
    seed: int = 0,
) -> Dataset:
    """Two sources (a video and an image set of mixed sizes), users, predictions, tracks."""
    rng = np.random.default_rng(seed)
    k = skeleton.num_keypoints
    sources: list[Source] = []
    frames: list[Frame] = []
    track_names = ["mouse A", "mouse B"] if tracks else []
    runs = {"run1": {"model": "m.onnx"}} if predictions else {}
    if video:
        sources.append(Source("clip", "video", "/data/clip.mp4", width=96, height=64))
        for i, fi in enumerate((0, 3, 7)):
            vis = [2] * k
            if occluded:
                vis[1] = 1
            if i == 1:
                vis[-1] = 0
            anns = [Annotation(points(rng, k, 96, 64, vis=vis),
                               track=track_names[0] if tracks else None)]
            if i != 2:
                anns.append(Annotation(points(rng, k, 96, 64),
                                       track=track_names[1] if tracks else None))
            if predictions:
                anns.append(Annotation(points(rng, k, 96, 64), kind=InstanceKind.PREDICTED,
                                       kp_scores=np.round(rng.uniform(0.1, 1, k), 3),
                                       score=0.75, run="run1",
                                       track=track_names[0] if tracks else None))
            frames.append(Frame("clip", fi, tuple(anns)))
    if images:
        entries = (ImageEntry("a/img1.png", 80, 60), ImageEntry("a/img2.png", 64, 96),
                   ImageEntry("b/img10.png", 100, 50))
        sources.append(Source("stills", "images", "/data/stills", entries))
        for i, im in enumerate(entries):
            if i == 1:
                continue  # an image without labels
            frames.append(Frame("stills", i, (
                Annotation(points(rng, k, im.width or 0, im.height or 0)),)))
    return Dataset(skeleton=skeleton, sources=sources, frames=frames, tracks=track_names,
                   runs=runs, info={"format": "test"})


def roundtrip(fmt: str, ds: Dataset, target: Path, *, frames: bool = True,
              read: ReadOptions | None = None) -> tuple[Dataset, WriteSummary]:
    """``ds`` through format ``fmt``'s writer and reader (detected by content)."""
    f = get_format(fmt)
    assert f.write is not None and f.read is not None
    summary = f.write(ds, target, WriteOptions(frames=frames_for(ds) if frames else None))
    assert detect(target).name == fmt
    back = f.read(target, read or ReadOptions())
    back.validate()
    return back, summary


def anns_by_frame(ds: Dataset, key_of: dict[str, str] | None = None
                  ) -> list[tuple[str, int, list[Annotation]]]:
    return [((key_of or {}).get(f.source, f.source), f.index, list(f.annotations))
            for f in sorted(ds.frames, key=lambda f: (f.source, f.index))]


def assert_points_equal(a: Annotation, b: Annotation, atol: float = 0.0, *,
                        occluded: bool = True) -> None:
    """Same labeled points; ``occluded=False``: the format has no v=1 (it reads back as 2)."""
    pa, pb = a.points.copy(), b.points.copy()
    for p in (pa, pb):
        p[p[:, 2] == 0, :2] = np.nan  # coordinates of v=0 points are format-dependent
        if not occluded:
            p[p[:, 2] == 1, 2] = 2
    np.testing.assert_allclose(pa, pb, atol=atol, rtol=0, equal_nan=True)


def write_png(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    path.write_bytes(bytes(buf))


def coco17() -> Skeleton:
    return get_skeleton("coco17")
