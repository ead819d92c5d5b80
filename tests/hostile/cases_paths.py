"""Bad paths (over-long names, non-regular files, missing or wrong folders), permissions (run
without root's file capabilities) and a full disk (a small tmpfs filled by the case)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

from pose_studio.store import Project
from tests.hostile.harness import Case, Ctx

LONG = "n" * 300


def _fifo(name: str) -> Callable[[Ctx], Path]:
    def build(ctx: Ctx) -> Path:
        p = ctx.dir / name
        os.mkfifo(p)
        return p
    return build


def _socket(ctx: Ctx) -> Path:
    p = ctx.dir / "p.posestudio"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(p))
    ctx.notes["socket"] = s  # kept open for the case
    return p


def _loop(ctx: Ctx) -> Path:
    a, b = ctx.dir / "p.posestudio", ctx.dir / "q.posestudio"
    a.symlink_to(b)
    b.symlink_to(a)
    return a


def _lock_is_folder(ctx: Ctx) -> Path:
    p = ctx.project()
    (ctx.dir / "p.posestudio.lock").mkdir()
    return p


def _parent_is_file(ctx: Ctx) -> Path:
    ctx.write("afile", b"x")
    return ctx.dir / "afile" / "p.posestudio"


PATHS: list[Case] = [
    Case("path-info-long-name", lambda ctx: ["info", str(ctx.dir / (LONG + ".posestudio"))],
         match="too long", watch=()),
    Case("path-info-long-path", lambda ctx: ["info", "/" + "/".join(["d" * 200] * 30)],
         match="too long|does not exist", watch=()),
    Case("path-new-long-name", lambda ctx: ["new", str(ctx.dir / LONG)], match="too long",
         watch=()),
    Case("path-import-long-coco", lambda ctx: ["import", str(ctx.project()),
                                               str(ctx.dir / (LONG + ".json"))],
         match="too long"),
    Case("path-add-video-long", lambda ctx: ["add-video", str(ctx.project()),
                                             str(ctx.dir / (LONG + ".mp4"))], match="too long"),
    Case("path-extract-long", lambda ctx: ["extract", str(ctx.dir / (LONG + ".mp4")), "--out",
                                           str(ctx.dir / "o")], match="too long", watch=()),
    Case("path-repair-long-out", lambda ctx: ["repair", str(ctx.project()), "--out",
                                              str(ctx.dir / LONG)], match="too long"),
    Case("path-models-long", lambda ctx: ["models", "check", str(ctx.dir / (LONG + ".onnx"))],
         match="too long", watch=()),
    Case("path-info-nul-byte", lambda ctx: ["info", str(ctx.dir / "a\x00b.posestudio")],
         match="not a usable path|null", watch=()),
    Case("path-new-nul-byte", lambda ctx: ["new", str(ctx.dir / "a\x00b")],
         match="not a usable path|null", watch=()),
    Case("path-project-fifo", lambda ctx: ["info", str(_fifo("p.posestudio")(ctx))],
         match="named pipe", mode="subprocess", watch=()),
    Case("path-project-fifo-import", lambda ctx: ["import", str(_fifo("p.posestudio")(ctx)),
                                                  str(ctx.assets.coco)],
         match="named pipe", watch=()),
    Case("path-project-socket", lambda ctx: ["info", str(_socket(ctx))], match="socket",
         watch=()),
    Case("path-project-dev-zero", lambda ctx: ["info", "/dev/zero"], match="character device",
         watch=()),
    Case("path-project-folder", lambda ctx: ["info", str(ctx.dir)], match="folder", watch=()),
    Case("path-project-loop", lambda ctx: ["info", str(_loop(ctx))], match="symbolic links",
         watch=()),
    Case("path-project-missing", lambda ctx: ["info", str(ctx.dir / "nope.posestudio")],
         match="does not exist", watch=()),
    Case("path-new-missing-folder", lambda ctx: ["new", str(ctx.dir / "no" / "p")],
         match="does not exist", watch=()),
    Case("path-new-parent-is-file", lambda ctx: ["new", str(_parent_is_file(ctx))],
         match="not a folder|is a file", watch=("afile",)),
    Case("path-new-exists", lambda ctx: ["new", str(ctx.project())], match="already exists"),
    Case("path-new-onto-folder", lambda ctx: [
        "new", str((ctx.dir / "d.posestudio").mkdir() or ctx.dir / "d.posestudio")],
        match="folder|exists", watch=()),
    Case("path-lock-is-folder", lambda ctx: ["import", str(_lock_is_folder(ctx)),
                                             str(ctx.assets.coco), "--no-fingerprints"],
         match="lock"),
    Case("path-skeleton-fifo", lambda ctx: ["new", str(ctx.dir / "s"), "--skeleton",
                                            str(_fifo("sk.json")(ctx))],
         match="named pipe", watch=()),
    Case("path-skeleton-dev-zero", lambda ctx: ["new", str(ctx.dir / "s"), "--skeleton",
                                                "/dev/zero"], match="character device",
         watch=()),
    Case("path-repair-onto-itself", lambda ctx: ["repair", str(ctx.project()), "--out",
                                                 str(ctx.dir / "p.posestudio")],
         match="already exists|another name"),
    Case("path-repair-not-a-project", lambda ctx: ["repair", str(ctx.write("p.posestudio",
                                                                           b"hello")),
                                                   "--out", str(ctx.dir / "c")],
         match="not a Pose Studio project"),
    Case("path-usage-error", lambda ctx: ["info"], exit=2, match="required", watch=()),
    Case("path-usage-unknown-option", lambda ctx: ["info", "--nope", "x"], exit=2,
         match="unrecognized", watch=()),
]


# --- permissions (as an ordinary user) --------------------------------------------------------------
def _chmod(build: Callable[[Ctx], Path], mode: int) -> Callable[[Ctx], Path]:
    def make(ctx: Ctx) -> Path:
        p = build(ctx)
        p.chmod(mode)
        return p
    return make


def _ro_folder_project(ctx: Ctx) -> Path:
    sub = ctx.dir / "ro"
    sub.mkdir()
    p = sub / "p.posestudio"
    p.write_bytes(ctx.assets.project.read_bytes())
    sub.chmod(0o555)
    return p


def _restore(ctx: Ctx) -> None:
    for p in (ctx.dir / "ro", ctx.dir / "p.posestudio", ctx.dir / "in.json"):
        if p.exists():
            p.chmod(0o755)


PERMISSIONS: list[Case] = [
    Case("perm-project-unreadable-info",
         lambda ctx: ["info", str(_chmod(lambda c: c.project(), 0)(ctx))],
         match="permission denied", mode="unprivileged", check=_restore),
    Case("perm-project-unreadable-import",
         lambda ctx: ["import", str(_chmod(lambda c: c.project(), 0)(ctx)),
                      str(ctx.assets.coco)], match="permission denied", mode="unprivileged",
         check=_restore),
    Case("perm-project-read-only-import",
         lambda ctx: ["import", str(_chmod(lambda c: c.project(), 0o444)(ctx)),
                      str(ctx.assets.coco), "--no-fingerprints"],
         match="read-only|not writable", mode="unprivileged", check=_restore),
    Case("perm-folder-read-only-import",
         lambda ctx: ["import", str(_ro_folder_project(ctx)), str(ctx.assets.coco),
                      "--no-fingerprints"],
         match="read-only|not writable|lock", mode="unprivileged", check=_restore,
         watch=("ro/p.posestudio",)),
    Case("perm-folder-read-only-new",
         lambda ctx: ["new", str(_ro_folder_project(ctx).parent / "n")],
         match="permission denied", mode="unprivileged", check=_restore, watch=()),
    Case("perm-coco-unreadable",
         lambda ctx: ["import", str(ctx.project()),
                      str(_chmod(lambda c: c.write("in.json", "{}"), 0)(ctx))],
         match="permission denied", mode="unprivileged", check=_restore),
    Case("perm-video-unreadable",
         lambda ctx: ["add-video", str(ctx.project()),
                      str(_chmod(lambda c: c.write("v.mp4", c.assets.video.read_bytes()),
                                 0)(ctx))],
         match="permission denied", mode="unprivileged"),
    Case("perm-model-unreadable",
         lambda ctx: ["models", "check",
                      str(_chmod(lambda c: c.write("m.onnx", c.assets.model.read_bytes()),
                                 0)(ctx))],
         match="permission denied", mode="unprivileged", watch=()),
    Case("perm-repair-out-read-only",
         lambda ctx: ["repair", str(ctx.project()), "--out",
                      str(_ro_folder_project(ctx).parent / "clean")],
         match="permission denied|cannot write", mode="unprivileged", check=_restore),
]


# --- a full disk --------------------------------------------------------------------------------------
def _on_full_disk(leave: int, build: Callable[[Ctx], list[str]]) -> Callable[[Ctx], list[str]]:
    def make(ctx: Ctx) -> list[str]:
        argv = build(ctx)
        ctx.fill_disk(leave)
        return argv
    return make


def _intact(ctx: Ctx) -> None:
    with Project.open(ctx.dir / "p.posestudio", read_only=True) as p:
        assert p.counts()["user_instances"] == 2
        assert p.check_health().ok
    assert not [f for f in os.listdir(ctx.dir) if f.startswith(".") and f != ".filler"], \
        "a temporary file was left behind"


def _no_new(name: str) -> Callable[[Ctx], None]:
    def check(ctx: Ctx) -> None:
        left = sorted(f for f in os.listdir(ctx.dir) if f != ".filler" and f != "p.posestudio")
        assert not left, f"left behind on a full disk: {left}"
    return check


FULL: list[Case] = [
    Case("full-new-no-space", _on_full_disk(0, lambda ctx: ["new", str(ctx.dir / "n")]),
         match="disk is full|no space", mode="fullfs", watch=(), check=_no_new("n")),
    Case("full-new-little-space", _on_full_disk(16384, lambda ctx: ["new", str(ctx.dir / "n")]),
         match="disk is full|no space", mode="fullfs", watch=(), check=_no_new("n")),
    Case("full-import", _on_full_disk(0, lambda ctx: [
        "import", str(ctx.project()), str(ctx.assets.coco), "--no-fingerprints"]),
        match="disk is full|no space", mode="fullfs", check=_intact),
    Case("full-add-video", _on_full_disk(0, lambda ctx: [
        "add-video", str(ctx.project()), str(ctx.assets.video2)]),
        match="disk is full|no space", mode="fullfs", check=_intact),
    Case("full-repair", _on_full_disk(0, lambda ctx: [
        "repair", str(ctx.project()), "--out", str(ctx.dir / "clean")]),
        match="disk is full|no space", mode="fullfs", check=_no_new("clean")),
    Case("full-info-still-works", _on_full_disk(0, lambda ctx: ["info", str(ctx.project())]),
         exit=0, lines=0, mode="fullfs", stdout="labeled 2 frames"),
]


def all_cases() -> list[Case]:
    return PATHS + PERMISSIONS + FULL
