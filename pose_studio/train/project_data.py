"""Training crops from a project's labeled frames (the retraining loop)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from pose_studio.core.skeleton import COCO17
from pose_studio.train.data import Samples, extract_crop, stored_size

#: Group id = video_id * VIDEO_STRIDE + frame index (keeps videos apart in the block split).
VIDEO_STRIDE = 10_000_000


def _box_for(inst: object) -> tuple[float, float, float, float] | None:
    box = getattr(inst, "bbox", None)
    if box is not None and box[2] > 1 and box[3] > 1:
        return tuple(float(v) for v in box)  # type: ignore[return-value]
    kb = inst.keypoint_bbox()  # type: ignore[attr-defined]
    if kb is None:
        return None
    x, y, w, h = kb
    # keypoints lie inside the body outline: grow the keypoint box a little
    return (x - 0.1 * w, y - 0.12 * h, w * 1.2, h * 1.2)


def project_samples(project_path: str | Path, input_size: tuple[int, int], *,
                    source: str = "user") -> Samples:
    """Crops for every labeled COCO-17 instance in the project (read-only access)."""
    from pose_studio.store.project import Project
    from pose_studio.video import open_video

    ws, hs = stored_size(input_size)
    imgs, kps, viss, groups = [], [], [], []
    with Project.open(project_path, read_only=True) as proj:
        if proj.skeleton.num_keypoints != COCO17.num_keypoints:
            from pose_studio.train.errors import TrainError

            raise TrainError(f"{project_path}: the trainer supports COCO-17 skeletons; this "
                             f"project has {proj.skeleton.num_keypoints} keypoints")
        by_frame: dict[tuple[int, int], list[object]] = defaultdict(list)
        for vid, fidx, item in proj.iter_instances(source):  # type: ignore[arg-type]
            if (np.asarray(item.visibility) > 0).sum() >= 2:
                by_frame[(vid, fidx)].append(item)
        videos = sorted({v for v, _ in by_frame})
        for vid in videos:
            rec = proj.video(vid)
            frames = sorted(f for v, f in by_frame if v == vid)
            with open_video(rec.path, index=proj.video_index(vid)) as reader:
                for fidx in frames:
                    frame = reader.get(fidx)
                    for inst in by_frame[(vid, fidx)]:
                        box = _box_for(inst)
                        if box is None:
                            continue
                        xy = np.nan_to_num(np.asarray(inst.xy, np.float64))  # type: ignore[attr-defined]
                        vis = np.asarray(inst.visibility, np.uint8)  # type: ignore[attr-defined]
                        crop, cxy = extract_crop(frame, box, xy, vis, input_size)
                        imgs.append(crop)
                        kps.append(cxy)
                        viss.append(vis)
                        groups.append(vid * VIDEO_STRIDE + fidx)
    k = COCO17.num_keypoints
    return Samples(
        np.asarray(imgs, np.uint8).reshape(-1, hs, ws, 3),
        np.asarray(kps, np.float32).reshape(-1, k, 2),
        np.asarray(viss, np.uint8).reshape(-1, k),
        np.asarray(groups, np.int64),
    )
