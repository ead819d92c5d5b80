"""A small image set of mixed sizes whose every image shows its own frame number, and a COCO
file labeling it, for the window's image-set and dataset tests.

Image ``i`` is drawn by :func:`tests.support.videos.draw_index_frame` (read it back from the
pixels the view shows) at its own size; names sort naturally (``img2`` before ``img10``) and one
sits in a sub-folder. The COCO file labels every image with one person whose keypoints lie
inside that image (so a label drawn on another image's picture would be out of place), and
has a second keypoint category (``hand``) that a COCO-17 project does not keep.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pose_studio.core.skeleton import COCO17

from .videos import draw_index_frame

#: (relative path, width, height) in frame order.
IMAGES = (
    ("img1.png", 96, 64),
    ("img2.png", 64, 96),
    ("img10.png", 128, 72),
    ("sub/img3.png", 80, 60),
)


def write_mixed_set(root: Path) -> Path:
    """The images under ``root`` (created); returns ``root``."""
    for i, (rel, w, h) in enumerate(IMAGES):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(p), draw_index_frame(i, (w, h)))
    return root


def person(i: int, w: int, h: int) -> list[float]:
    """17 keypoints inside a ``w`` x ``h`` image, different for each image ``i``."""
    rng = np.random.default_rng(100 + i)
    xy = np.column_stack([rng.uniform(4, w - 4, 17), rng.uniform(4, h - 4, 17)]).round(2)
    return [float(v) for row in np.column_stack([xy, np.full(17, 2)]) for v in row]


def write_coco(root: Path, name: str = "labels.json", hand: bool = True) -> Path:
    """``root/name`` labeling the images of :func:`write_mixed_set` (image ids 11, 12...)."""
    images, anns = [], []
    for i, (rel, w, h) in enumerate(IMAGES):
        images.append({"id": 11 + i, "file_name": rel, "width": w, "height": h})
        kps = person(i, w, h)
        anns.append({"id": 100 + i, "image_id": 11 + i, "category_id": 1, "keypoints": kps,
                     "num_keypoints": 17, "iscrowd": 0,
                     "bbox": [2.0, 2.0, float(w - 4), float(h - 4)],
                     "area": float((w - 4) * (h - 4))})
    cats: list[dict[str, Any]] = [{
        "id": 1, "name": "person", "supercategory": "person",
        "keypoints": list(COCO17.keypoints),
        "skeleton": [[a + 1, b + 1] for a, b in COCO17.edges]}]
    if hand:
        cats.append({"id": 2, "name": "hand", "keypoints": ["wrist", "thumb", "index"],
                     "skeleton": [[1, 2], [1, 3]]})
        anns.append({"id": 200, "image_id": 11, "category_id": 2,
                     "keypoints": [10.0, 10.0, 2, 12.0, 14.0, 2, 15.0, 9.0, 2],
                     "num_keypoints": 3, "iscrowd": 0, "bbox": [8.0, 8.0, 9.0, 8.0],
                     "area": 72.0})
    path = root / name
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return path
