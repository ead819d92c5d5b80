"""Crash safety: a process making edits is killed with SIGKILL at random moments; every edit it
reported committed must be in the file, with the exact values, and the file must be intact."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pose_studio.core.annotation import Instance, InstanceKind
from pose_studio.core.skeleton import COCO17
from pose_studio.store import Project
from tests.support.store_crash_worker import make_instance

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "support" / "store_crash_worker.py"
ROUNDS = 4

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")


def _same(a: Instance, b: Instance) -> bool:
    return (np.array_equal(a.xy, b.xy) and np.array_equal(a.visibility, b.visibility)
            and a.kind is b.kind and a.score == b.score)


def _run_and_kill(path: Path, log: Path, round_no: int, rnd: random.Random) -> list[list[str]]:
    start = log.stat().st_size if log.exists() else 0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(WORKER), str(path), str(log), str(round_no)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if log.exists() and b"READY" in log.read_bytes()[start:]:
            break
        if proc.poll() is not None:
            raise AssertionError(f"worker died: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
        time.sleep(0.01)
    else:
        proc.kill()
        raise AssertionError("worker never got ready")
    time.sleep(rnd.uniform(0.05, 0.6))
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    text = log.read_bytes()[start:].decode()
    # a line cut by the kill has no newline: drop it (its edit counts as not reported)
    lines = text.split("\n")[:-1]
    return [ln.split() for ln in lines if ln != "READY"]


@pytest.mark.slow
def test_sigkill_never_loses_a_reported_edit(tmp_path: Path) -> None:
    path = tmp_path / "crash.posestudio"
    with Project.create(path, COCO17) as p:
        p.add_video(tmp_path / "v.mp4", width=640, height=480, frame_count=100_000, fps=30.0,
                    vfr=False, codec="h264", duration_s=3333.0, index=None)
    log = tmp_path / "log.txt"
    rnd = random.Random(1234)
    users: dict[int, tuple[int, int]] = {}  # id -> (frame, seed), the state the file must hold
    total_done = 0
    for round_no in range(ROUNDS):
        events = _run_and_kill(path, log, round_no, rnd)
        done = [e for e in events if e[0] == "DONE"]
        total_done += len(done)
        pending = events[-1] if events and events[-1][0] == "INTENT" else None
        predicted: dict[int, int] = {}  # frame -> seed of the prediction there
        for _, op, iid, frame, seed in done:
            if op == "add":
                users[int(iid)] = (int(frame), int(seed))
            elif op == "update":
                users[int(iid)] = (users[int(iid)][0], int(seed))
            elif op == "delete":
                del users[int(iid)]
            else:
                for j in range(10):
                    predicted[int(frame) + j] = int(seed) + j

        con = sqlite3.connect(path)  # before the project opens it: the file as the crash left it
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        with Project.open(path) as p:  # the dead worker's lock does not block
            stored = {i.id: (f, i) for _, f, i in p.iter_instances("user")}
            # the one edit in flight at the kill may or may not have committed
            if pending is not None and pending[1] in ("update", "delete"):
                pid = int(pending[2])
                got = stored.get(pid)
                if pending[1] == "delete" and got is None:
                    users.pop(pid)
                elif pending[1] == "update" and got is not None and _same(
                        got[1], make_instance(int(pending[4]))):
                    users[pid] = (users[pid][0], int(pending[4]))
            if pending is not None and pending[1] == "add":
                extra = set(stored) - set(users)
                assert len(extra) <= 1
                for eid in extra:
                    assert stored[eid][0] == int(pending[3])
                    assert _same(stored[eid][1], make_instance(int(pending[4])))
                    users[eid] = (int(pending[3]), int(pending[4]))
            assert set(stored) == set(users)
            for iid, (frame, seed) in users.items():
                assert stored[iid][0] == frame
                assert _same(stored[iid][1], make_instance(seed)), f"instance {iid} differs"
            for frame, seed in predicted.items():
                preds = p.instances(1, frame, "predicted")
                assert len(preds) == 1
                want = make_instance(seed, InstanceKind.PREDICTED)
                assert _same(preds[0], want)
                assert np.array_equal(preds[0].kp_scores, want.kp_scores)
            fa = p.frame_arrays(1)
            assert int(fa.n_user.sum()) == len(users)  # summaries stayed consistent too
    assert total_done >= ROUNDS  # the kills really landed among committed edits
