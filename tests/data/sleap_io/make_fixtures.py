"""Made these fixtures with sleap-io 0.9.5 (not a Pose Studio dependency); kept for provenance.

Run in an environment with sleap-io:  python make_fixtures.py
Three synthetic 64x48 frames (a red square moving right on a blue-green gradient), a 3-node
skeleton with one symmetry, two tracks, a user instance with a "not visible" node and a
prediction with scores; saved plain (``labels.slp``, image list) and as a package
(``labels.pkg.slp``, embedded PNGs).
"""

from pathlib import Path

import numpy as np
import sleap_io as sio
from PIL import Image

HERE = Path(__file__).resolve().parent


def main() -> None:
    files = []
    for i in range(3):
        img = np.zeros((48, 64, 3), np.uint8)
        img[..., 1] = np.linspace(0, 255, 64, dtype=np.uint8)[None, :]
        img[..., 2] = 200
        img[10:20, 5 + 10 * i:15 + 10 * i] = (255, 0, 0)  # RGB red
        p = HERE / f"frame{i}.png"
        Image.fromarray(img).save(p)
        files.append(str(p))
    video = sio.Video.from_filename(files)
    skel = sio.Skeleton(["head", "left_ear", "right_ear"], edges=[("head", "left_ear"),
                                                                  ("head", "right_ear")],
                        symmetries=[("left_ear", "right_ear")])
    t1, t2 = sio.Track("mouse1"), sio.Track("mouse2")
    frames = []
    for i in range(3):
        user = sio.Instance.from_numpy(np.array([[10.0 + i, 12], [8, 20], [16, 20.5]]),
                                       skeleton=skel, track=t1)
        user.points["visible"][2] = False
        pred = sio.PredictedInstance.from_numpy(
            np.array([[40.0, 30], [np.nan, np.nan], [44, 36]]), skeleton=skel,
            point_scores=np.array([0.9, 0.1, 0.8]), score=0.75, track=t2)
        frames.append(sio.LabeledFrame(video=video, frame_idx=i, instances=[user, pred]))
    labels = sio.Labels(frames, videos=[video], skeletons=[skel], tracks=[t1, t2])
    labels.save(str(HERE / "labels.slp"))
    labels.save(str(HERE / "labels.pkg.slp"), embed="all")


if __name__ == "__main__":
    main()
