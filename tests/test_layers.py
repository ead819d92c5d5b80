"""The layering rule, made executable.

Every module of ``pose_studio`` is parsed (not imported) and each ``import`` is checked against
the table below: which sibling packages a layer may use and which third-party packages. Qt lives
only in ``gui`` (``app``, the application layer under it, is Qt-free); torch only in ``train``
and only inside functions (the app runs without it).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "pose_studio"

INTERNAL: dict[str, set[str]] = {
    "core": {"core"},
    "synth": {"core", "synth"},
    "video": {"core", "video"},
    "store": {"core", "store"},
    "formats": {"core", "video", "store", "formats"},
    "inference": {"core", "video", "store", "synth", "inference"},
    "labeling": {"core", "video", "store", "labeling"},
    "train": {"core", "synth", "video", "store", "formats", "inference", "labeling", "train"},
    "app": {"core", "synth", "video", "store", "formats", "inference", "labeling", "train", "app"},
    "gui": {"core", "synth", "video", "store", "formats", "inference", "labeling", "train", "app",
            "gui"},
    "cli": {"core", "synth", "video", "store", "formats", "inference", "labeling", "train", "app",
            "gui", "cli"},
    "": {"core", "cli"},  # pose_studio/__init__.py, __main__.py
}

THIRD_PARTY: dict[str, set[str]] = {
    "core": {"numpy"},
    "synth": {"numpy", "cv2"},
    "video": {"numpy", "cv2", "av"},
    "store": {"numpy", "sqlalchemy", "psycopg"},
    "formats": {"numpy", "cv2", "av", "yaml", "h5py", "pandas", "tables"},
    "inference": {"numpy", "cv2", "onnxruntime", "onnx", "ray"},
    "labeling": {"numpy", "cv2", "scipy"},
    "train": {"numpy", "cv2", "torch", "onnx", "onnxruntime", "pycocotools"},
    "app": {"numpy"},
    "gui": {"numpy", "cv2", "PySide6", "shiboken6", "pyqtgraph"},
    "cli": {"numpy", "cv2"},
    "": set(),
}

#: Optional packages (not runtime dependencies) that may only be imported inside functions.
LAZY_ONLY = {"torch", "onnx", "pycocotools", "h5py", "pandas", "tables", "psycopg", "ray"}
#: torch-only training modules may import torch at the top; the GUI and CLI import only these
#: entry modules of ``train``, which must work without torch.
TRAIN_ENTRY_MODULES = {"__init__.py", "api.py"}

STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def _layer(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else ""


def _imports(tree: ast.AST, package: tuple[str, ...]) -> list[tuple[str, int, bool]]:
    """(absolute module name, line, at module top level) for every import.

    ``package`` is the dotted package the module lives in (relative imports resolve from it).
    """
    top_level: set[int] = set()
    for node in getattr(tree, "body", []):
        # imports under a top-level `if` / `try` block still run at import time
        if isinstance(node, (ast.If, ast.Try, ast.Import, ast.ImportFrom)):
            top_level.update(id(sub) for sub in ast.walk(node))
    out: list[tuple[str, int, bool]] = []
    for node in ast.walk(tree):
        top = id(node) in top_level
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno, top) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                if node.module:
                    out.append((f"{base}.{node.module}", node.lineno, top))
                else:
                    out.extend((f"{base}.{a.name}", node.lineno, top) for a in node.names)
            else:
                out.append((node.module or "", node.lineno, top))
    return out


def _violations() -> list[str]:
    problems = []
    for path in sorted(PKG.rglob("*.py")):
        layer = _layer(path)
        if layer not in INTERNAL:
            problems.append(f"{path.relative_to(PKG.parent)}: unknown layer {layer!r}")
            continue
        package = path.parent.relative_to(PKG.parent).parts
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name, line, top in _imports(tree, package):
            root = name.split(".")[0]
            where = f"{path.relative_to(PKG.parent)}:{line}"
            if root == "pose_studio":
                sub = name.split(".")[1] if "." in name else ""
                if sub and sub != "__main__" and sub not in INTERNAL[layer]:
                    problems.append(f"{where}: layer {layer or 'pose_studio'} imports {name}")
            elif root in STDLIB:
                continue
            elif root not in THIRD_PARTY[layer]:
                problems.append(f"{where}: layer {layer or 'pose_studio'} imports {root}")
            elif root in LAZY_ONLY and top and not (
                layer == "train" and root == "torch" and path.name not in TRAIN_ENTRY_MODULES
            ):
                problems.append(f"{where}: {root} must be imported inside a function (optional)")
    return problems


def test_layers_point_one_way() -> None:
    problems = _violations()
    assert not problems, "layering violations:\n" + "\n".join(problems)


def test_checker_resolves_imports() -> None:
    tree = ast.parse("import PySide6\nfrom ..store import project\nfrom .. import video\n"
                     "def f():\n    import torch\n")
    got = _imports(tree, ("pose_studio", "core"))
    assert got == [
        ("PySide6", 1, True),
        ("pose_studio.store", 2, True),
        ("pose_studio.video", 3, True),
        ("torch", 5, False),
    ]


def test_core_imports_without_heavy_packages() -> None:
    """Importing core in a fresh interpreter must not pull in Qt, SQLAlchemy, ORT, cv2, av, torch."""
    code = (
        "import sys, pkgutil, importlib, pose_studio.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'pose_studio.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in ('PySide6','pyqtgraph','sqlalchemy','onnxruntime','cv2','av','torch')"
        " if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_import_linter_contracts() -> None:
    """The same rule as import-linter contracts in pyproject.toml (what IDE/CI users run)."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=PKG.parent)
    assert out.returncode == 0, out.stdout + out.stderr


def test_app_entry_points_import_without_torch() -> None:
    """The window and CLI import these; torch must stay optional."""
    code = (
        "import sys, pose_studio.train, pose_studio.train.api, pose_studio.cli.main as m\n"
        "m.build_parser()\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
