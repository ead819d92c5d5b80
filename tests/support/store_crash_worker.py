"""Random project edits for the SIGKILL test: ``python store_crash_worker.py PROJECT LOG ROUND``.

Appends one line to LOG before each edit (``INTENT ...``) and one after its commit returned
(``DONE ...``), flushed each time, so the killer knows what was reported committed. Keypoint
values come from a seed, which is all the log needs to carry.
"""

from __future__ import annotations

import random
import sys

import numpy as np

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.store import Project

K = 17
USER_FRAMES = 500
PRED_BASE = 1000  # predictions go to fresh frames: PRED_BASE + round * 20000 + 10 * batch


def make_instance(seed: int, kind: InstanceKind = InstanceKind.USER) -> Instance:
    rng = np.random.default_rng(seed)
    return Instance(
        xy=rng.random((K, 2)) * 500, visibility=rng.integers(0, 3, K).astype(np.uint8),
        kind=kind, kp_scores=rng.random(K).astype(np.float32) if kind is InstanceKind.PREDICTED
        else None, score=float(rng.random()) if kind is InstanceKind.PREDICTED else None,
    )


def main() -> None:
    path, log_path, round_no = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rnd = random.Random(round_no)
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives until the kill

    def emit(line: str) -> None:
        log.write(line + "\n")
        log.flush()

    # Odd rounds commit edits without fsync: WAL + NORMAL must survive SIGKILL as well.
    project = Project.open(path, edit_sync="normal" if round_no % 2 else "full")
    ids = [inst.id for _, _, inst in project.iter_instances("user")]
    emit("READY")
    batch = 0
    while True:
        seed = rnd.randrange(1 << 30)
        op = rnd.choice(["add", "add", "update", "delete", "predict"])
        if op in ("update", "delete") and not ids:
            op = "add"
        if op == "add":
            frame = rnd.randrange(USER_FRAMES)
            emit(f"INTENT add - {frame} {seed}")
            iid = project.add_instance(1, frame, make_instance(seed)).id
            ids.append(iid)
            emit(f"DONE add {iid} {frame} {seed}")
        elif op == "update":
            iid = rnd.choice(ids)
            emit(f"INTENT update {iid} - {seed}")
            project.update_instance(make_instance(seed).replace(id=iid))
            emit(f"DONE update {iid} - {seed}")
        elif op == "delete":
            iid = ids.pop(rnd.randrange(len(ids)))
            emit(f"INTENT delete {iid} - -")
            project.delete_instance(iid)
            emit(f"DONE delete {iid} - -")
        else:
            first = PRED_BASE + round_no * 20000 + 10 * batch
            batch += 1
            emit(f"INTENT predict - {first} {seed}")
            items = [(first + j, make_instance(seed + j, InstanceKind.PREDICTED))
                     for j in range(10)]
            project.add_predictions(1, items, None)
            emit(f"DONE predict - {first} {seed}")


if __name__ == "__main__":
    main()
