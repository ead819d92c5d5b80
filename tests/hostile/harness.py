"""The hostile-input harness: run the command line on one bad input and check the contract.

For every case: the exit status, exactly the expected number of lines on stderr (one for a
failure) and never a traceback, and every watched project unchanged (a logical dump: schema,
rows, pragmas and side files, compared before and after).

Runners: ``inproc`` calls ``main()`` in this process (cheap; an alarm turns a hang into a
failure); ``subprocess`` for what could hang or crash a process; ``unprivileged`` drops the
file-permission capabilities in a forked child when running as root (so permission cases do
not silently pass), and runs in-process otherwise; ``fullfs`` runs in-process with the case's
folder on a small tmpfs filled up by the case.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.privileges import in_unprivileged_child

REPO = Path(__file__).resolve().parents[2]
SQLITE_MAGIC = b"SQLite format 3\x00"
HANG_S = 30


@dataclass
class Assets:
    """Inputs built once per session (see conftest.py)."""

    dir: Path
    project: Path  # a project with a video, labels, predictions, a track and a model run
    video: Path  # its video (12 frames, 64x48)
    video2: Path  # another small video
    coco: Path  # a COCO file that adds labels to the project
    model: Path  # a tiny heatmap ONNX model
    png: Path  # a small valid PNG


def build_assets(d: Path) -> Assets:
    """The shared inputs of the hostile suite, built in folder ``d`` (also used by
    ``bench/hostile_memory.py``)."""
    import cv2

    from pose_studio.core.annotation import Instance, InstanceKind
    from pose_studio.core.skeleton import COCO17
    from pose_studio.formats.coco import export_coco
    from pose_studio.store import Project
    from pose_studio.video import open_video
    from tests.support.onnx_models import make_heatmap_model
    from tests.support.videos import make_indexed_video

    video = make_indexed_video(d / "clip.mp4", 12, size=(64, 48), codec="mjpeg")
    video2 = make_indexed_video(d / "other.avi", 6, size=(64, 48), codec="mjpeg")
    k = COCO17.num_keypoints
    rng = np.random.default_rng(7)
    proj = d / "base.posestudio"
    with Project.create(proj, COCO17) as p, open_video(video) as r:
        m = r.meta
        vid = p.add_video(video, width=m.width, height=m.height, frame_count=m.frame_count,
                          fps=m.fps, index=r.index_bytes())
        track = p.create_track("a")
        for f in (1, 2):
            p.add_instance(vid, f, Instance(xy=rng.uniform(2, 40, (k, 2)),
                                            visibility=np.full(k, 2), track_id=track))
        run = p.create_model_run(model_path="m.onnx", model_hash="h", providers=["CPU"],
                                 params={"a": 1})
        p.add_predictions(vid, [(3, Instance(xy=rng.uniform(2, 40, (k, 2)),
                                             visibility=np.full(k, 2),
                                             kind=InstanceKind.PREDICTED,
                                             kp_scores=rng.random(k), score=0.8))], run)
        from pose_studio.video.fingerprint import frame_signature

        p.set_fingerprints(vid, {1: frame_signature(r.get(1))})
        coco = d / "labels.json"
        export_coco(p, coco, source="user")
    # the same labels moved by a pixel: importing them writes new instances
    data = json.loads(coco.read_text())
    for a in data["annotations"]:
        a["keypoints"] = [v + 1.0 if i % 3 != 2 else v for i, v in enumerate(a["keypoints"])]
    coco.write_text(json.dumps(data))
    model = make_heatmap_model(d / "pose.onnx", input_hw=(64, 48))
    png = d / "img.png"
    cv2.imwrite(str(png), np.full((48, 64, 3), 128, np.uint8))
    return Assets(d, proj, video, video2, coco, model, png)


@dataclass
class Ctx:
    """One case's folder and helpers."""

    dir: Path
    assets: Assets
    notes: dict[str, Any] = field(default_factory=dict)

    def project(self, name: str = "p.posestudio") -> Path:
        dst = self.dir / name
        dst.write_bytes(self.assets.project.read_bytes())
        return dst

    def write(self, name: str, data: bytes | str) -> Path:
        p = self.dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            p.write_text(data, encoding="utf-8")
        else:
            p.write_bytes(data)
        return p

    def sql(self, path: Path, *statements: str, params: Sequence[Sequence[Any]] = (),
            writable_schema: bool = False) -> Path:
        """Tamper with a project behind Pose Studio's back (CHECKs off, schema writable)."""
        con = sqlite3.connect(path, isolation_level=None)
        try:
            con.execute("PRAGMA ignore_check_constraints = ON")
            con.execute("PRAGMA foreign_keys = OFF")
            if writable_schema:
                con.execute("PRAGMA writable_schema = ON")
            for i, s in enumerate(statements):
                con.execute(s, tuple(params[i]) if i < len(params) else ())
        finally:
            con.close()
        return path

    def fill_disk(self, leave: int) -> None:
        """Fill the file system of ``dir`` until about ``leave`` bytes are free."""
        filler = self.dir / ".filler"
        with open(filler, "ab") as fh:
            chunk = b"\0" * 65536
            with contextlib.suppress(OSError):
                while True:
                    free = os.statvfs(self.dir).f_bavail * os.statvfs(self.dir).f_frsize
                    if free <= leave:
                        break
                    fh.write(chunk[: max(1, min(len(chunk), free - leave))])
                    fh.flush()


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Ctx], Sequence[str]]  # builds the inputs, returns the argv
    exit: int = 1
    match: str = ""  # regex the stderr must contain
    lines: int = 1  # stderr lines expected
    mode: str = "inproc"
    watch: tuple[str, ...] = ("p.posestudio",)  # files (in the case folder) that must not change
    stdout: str = ""  # regex stdout must contain
    check: Callable[[Ctx], None] | None = None  # more assertions afterwards
    xfail: str = ""  # a known failure in another engineer's area (strict)


def _open_files_under(folder: Path) -> list[str]:
    """Files under ``folder`` this process still has open (Linux; [] elsewhere)."""
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        return []
    prefix = str(folder.resolve()) + os.sep
    out = []
    for fd in os.listdir(fd_dir):
        with contextlib.suppress(OSError):
            target = os.readlink(fd_dir / fd)
            if target.startswith(prefix) and not target.endswith(".filler"):
                out.append(target)
    return out


def with_input(build: Callable[[Ctx], Path],
               argv: Callable[[Ctx, Path], Sequence[str]]) -> Callable[[Ctx], Sequence[str]]:
    """A case's ``make``: build the input, then the command line around it."""
    return lambda ctx: argv(ctx, build(ctx))


# --- logical dump ---------------------------------------------------------------------------------
def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "not a file"


def dump(path: Path) -> Any:
    """What a project file holds, logically (schema, rows, pragmas) plus which side files exist;
    the bytes' hash for a file that is not an SQLite database."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return ("not a file", stat.S_IFMT(st.st_mode))
    # (-shm is SQLite's rebuildable index of a -wal file: a reader may create it)
    sides = tuple((s, _digest(Path(str(path) + s))) for s in ("-wal", "-journal", ".lock")
                  if os.path.lexists(str(path) + s))
    data = path.read_bytes()
    if not data.startswith(SQLITE_MAGIC):
        return ("bytes", hashlib.sha256(data).hexdigest(), sides)
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        return ("bytes", hashlib.sha256(data).hexdigest(), sides)
    try:
        con.execute("PRAGMA trusted_schema = OFF")
        objects = sorted(r for r in con.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE "
            "'sqlite_stat%'"))
        tables = {}
        for typ, name, _, sql in objects:
            if typ == "table" and not str(sql or "").upper().startswith("CREATE VIRTUAL"):
                q = '"' + name.replace('"', '""') + '"'
                tables[name] = sorted(repr(r) for r in con.execute(f"SELECT * FROM {q}"))
        pragmas = tuple(con.execute(f"PRAGMA {p}").fetchone()[0]
                        for p in ("application_id", "user_version"))
        return ("db", objects, tables, pragmas, sides)
    except sqlite3.DatabaseError:
        return ("bytes", hashlib.sha256(data).hexdigest(), sides)
    finally:
        con.close()


# --- runners --------------------------------------------------------------------------------------
@contextlib.contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    def hang(_sig: int, _frame: Any) -> None:
        raise TimeoutError(f"hang: no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run_inproc(argv: Sequence[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from pose_studio.cli.main import main

    capfd.readouterr()
    with _alarm(HANG_S):
        try:
            rc = main(list(argv))
        except SystemExit as exc:  # argparse's usage errors
            rc = exc.code if isinstance(exc.code, int) else 1
    out, err = capfd.readouterr()
    return rc, out, err


def run_subprocess(argv: Sequence[str], env: dict[str, str]) -> tuple[int, str, str]:
    try:
        r = subprocess.run([sys.executable, "-m", "pose_studio", *argv], capture_output=True,
                           text=True, timeout=HANG_S, env=env, cwd=REPO)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hang: {argv} gave no answer within {HANG_S} s")
    return r.returncode, r.stdout, r.stderr




def run_unprivileged(argv: Sequence[str], ctx: Ctx,
                     capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """As an ordinary user: in-process when not root; as root, in a forked child that has
    dropped the capabilities that bypass file permissions (``tests.support.privileges``)."""
    if os.geteuid() != 0:
        return run_inproc(argv, capfd)
    from pose_studio.cli.main import main  # imported before the fork

    out_f, err_f = ctx.dir.parent / f".{ctx.dir.name}.out", ctx.dir.parent / f".{ctx.dir.name}.err"
    capfd.readouterr()

    def child() -> int:  # pragma: no cover - the child
        fo = os.open(out_f, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        fe = os.open(err_f, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fo, 1)
        os.dup2(fe, 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), write_through=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0), write_through=True)
        return int(main(list(argv)))

    rc = in_unprivileged_child(child, ctx.dir.parent, timeout=HANG_S, what=str(argv))
    out = out_f.read_text(errors="replace")
    err = err_f.read_text(errors="replace")
    out_f.unlink()
    err_f.unlink()
    return rc, out, err


# --- the contract ---------------------------------------------------------------------------------
def check_case(case: Case, ctx: Ctx, capfd: pytest.CaptureFixture[str],
               env: dict[str, str]) -> None:
    argv = [str(a) for a in case.make(ctx)]
    before = {w: dump(ctx.dir / w) for w in case.watch}
    if case.mode == "subprocess":
        rc, out, err = run_subprocess(argv, env)
    elif case.mode == "unprivileged":
        rc, out, err = run_unprivileged(argv, ctx, capfd)
    else:
        rc, out, err = run_inproc(argv, capfd)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    where = f"\nargv: {argv}\nexit: {rc}\nstderr:\n{err}\nstdout:\n{out[-2000:]}"
    if case.mode == "fullfs":
        st = os.statvfs(ctx.dir)
        where += f"\nfree now: {st.f_bavail * st.f_frsize} bytes; files: {os.listdir(ctx.dir)}"
    assert "Traceback" not in err and "Traceback" not in out, f"a traceback{where}"
    assert len(lines) == case.lines, f"expected {case.lines} stderr line(s){where}"
    assert rc == case.exit, f"expected exit {case.exit}{where}"
    if case.match:
        assert re.search(case.match, err), f"stderr does not match {case.match!r}{where}"
    if case.stdout:
        assert re.search(case.stdout, out), f"stdout does not match {case.stdout!r}{where}"
    for w in case.watch:
        assert dump(ctx.dir / w) == before[w], f"{w} changed{where}"
    if case.mode in ("inproc", "fullfs"):
        held = _open_files_under(ctx.dir)
        assert not held, f"files still open after the command: {held}{where}"
    if case.check is not None:
        case.check(ctx)
