"""The window's structure, checked on the source (no Qt needed):

* no project mutator is called from ``pose_studio/gui``: the session is the one door to the
  store (the batch lane writes only through ``pose_studio.app.predictions``);
* only ``gui/session_qt.py`` emits the session's signal;
* no file under ``pose_studio/gui`` is over 600 lines, and the window composes (at most 600);
* no model family is named in the GUI, nor compared, nor read from a card (it reads
  ``ModelInfo.top_down`` / ``needs_boxes``);
* every module the window may import later is preloaded at start (a reinstall into the same
  environment cannot pull it away while the window is open).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUI = ROOT / "pose_studio" / "gui"

#: Methods of ``Project`` that write (their names; the session's own doors are allowed).
MUTATORS = frozenset({
    "add_instance", "update_instance", "delete_instance", "restore_instance", "add_predictions",
    "delete_predictions", "add_video", "relink_video", "set_video_index", "set_fingerprints",
    "create_model_run", "save_as", "import_transaction", "apply_edit", "remove_video",
    "create_track", "accept_video_file", "set_shown_runs", "apply_change", "change_skeleton",
})


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return _dotted(node.func) + "()"
    return "?"


def mutator_calls(source: str) -> list[tuple[int, str]]:
    """``(line, call)`` of calls to a store mutator on anything but a session."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in MUTATORS:
            receiver = _dotted(node.func.value)
            if not (receiver == "session" or receiver.endswith(".session")
                    or receiver == "s"):
                out.append((node.lineno, f"{receiver}.{node.func.attr}"))
    return out


def test_the_checker_finds_a_mutator_call() -> None:
    src = ("def f(self):\n    self.session.project.add_video(1)\n    self.session.add_video(2)\n"
           "    proj.set_fingerprints(1, {})\n")
    assert mutator_calls(src) == [(2, "self.session.project.add_video"),
                                  (4, "proj.set_fingerprints")]


def test_no_project_mutator_is_called_from_the_gui() -> None:
    problems = []
    for path in sorted(GUI.rglob("*.py")):
        for line, call in mutator_calls(path.read_text(encoding="utf-8")):
            problems.append(f"{path.relative_to(ROOT)}:{line}: {call}")
    assert problems == [], "the GUI writes the store outside the session:\n" + "\n".join(problems)


def test_only_the_adapter_emits_session_changes() -> None:
    bad = []
    for path in sorted(GUI.rglob("*.py")):
        if path.name == "session_qt.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "emit" and _dotted(node.func.value).endswith("changed") \
                    and "signals" in _dotted(node.func.value):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert bad == []


def test_gui_files_stay_small_and_the_window_composes() -> None:
    sizes = {p.relative_to(ROOT).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
             for p in GUI.rglob("*.py")}
    big = {p: n for p, n in sizes.items() if n > 600}
    assert big == {}, f"files over 600 lines: {big}"
    assert sizes["pose_studio/gui/main_window.py"] <= 600


def test_no_model_family_is_named_in_the_gui() -> None:
    """The GUI asks ``ModelInfo.top_down``; a new family must not need GUI edits."""
    families = ('"yolo_pose"', '"rtmo"', "'yolo_pose'", "'rtmo'")
    hits = [f"{p.relative_to(ROOT)}" for p in GUI.rglob("*.py")
            if any(f in p.read_text(encoding="utf-8") for f in families)]
    assert hits == []


def family_branches(source: str) -> list[int]:
    """Lines where code decides by a model family: compares it, tests its prefix, or reads it
    from a card (``data["family"]``, ``data.get("family")``)."""
    def names(node: ast.AST) -> set[str]:
        return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)} | \
            {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}

    fam = {"family", "fam"}
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and names(node) & fam:
            out.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            prefix = node.func.attr in ("startswith", "endswith") and names(node.func.value) & fam
            card = node.func.attr == "get" and any(
                isinstance(a, ast.Constant) and a.value == "family" for a in node.args)
            if prefix or card:
                out.append(node.lineno)
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and node.slice.value == "family":
            out.append(node.lineno)
    return sorted(set(out))


def test_the_family_checker_finds_branches() -> None:
    src = ("a = info.family == 'x'\nb = fam.startswith('detector')\nc = d.get('family', '')\n"
           "e = d['family']\nf = getattr(m, 'family', '?')\ng = info.top_down\n")
    assert family_branches(src) == [1, 2, 3, 4]


def test_the_gui_never_branches_on_a_model_family() -> None:
    """The Model panel tells pose models from detectors by ``app.models.model_kind`` and
    describes a loaded model by ``ModelInfo.top_down``/``needs_boxes``: a new family needs no
    GUI edit."""
    hits = [f"{p.relative_to(ROOT)}:{line}" for p in sorted(GUI.rglob("*.py"))
            for line in family_branches(p.read_text(encoding="utf-8"))]
    assert hits == []


def _lazy_imports() -> set[str]:
    """``pose_studio`` modules imported inside functions anywhere the window runs."""
    out: set[str] = set()
    for path in (ROOT / "pose_studio").rglob("*.py"):
        rel = path.relative_to(ROOT / "pose_studio").parts
        if rel[0] in ("cli", "train") or path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        pkg = ["pose_studio", *rel[:-1]]
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
                    if base.startswith("pose_studio"):
                        out.add(base)
                        out.update(f"{base}.{a.name}" for a in node.names)
                elif isinstance(node, ast.Import):
                    out.update(a.name for a in node.names if a.name.startswith("pose_studio"))
    return out


def test_everything_the_window_imports_later_is_preloaded() -> None:
    wanted = sorted(_lazy_imports())
    code = ("import sys, importlib.util\n"
            "import pose_studio.gui.main_window\n"
            "from pose_studio.gui.app import preload\n"
            "before = set(sys.modules)\n"
            "preload()\n"
            f"wanted = {wanted!r}\n"
            "def is_module(m):\n"
            "    try:\n"
            "        return importlib.util.find_spec(m) is not None\n"
            "    except ImportError:\n"
            "        return False\n"
            "missing = [m for m in wanted if m not in sys.modules and is_module(m)]\n"
            "print(','.join(missing))\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "", f"imported later, not preloaded: {out.stdout}"
