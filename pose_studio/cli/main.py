"""The ``pose-studio`` command: bare (or with files) it opens the window; subcommands are the CLI.

Each subcommand lives in ``pose_studio/cli/cmd_<name>.py`` with ``register(subparsers)`` and
``run(args) -> int``; heavy imports stay inside ``run`` so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from pose_studio import __version__
from pose_studio.core.errors import PoseStudioError

# Subcommand name -> module (order is the order in --help).
COMMANDS: dict[str, str] = {
    "new": "cmd_new",
    "add-video": "cmd_add_video",
    "info": "cmd_info",
    "extract": "cmd_extract",
    "export": "cmd_export",
    "import": "cmd_import",
    "history": "cmd_history",
    "undo": "cmd_undo",
    "redo": "cmd_redo",
    "infer": "cmd_infer",
    "compare": "cmd_compare",
    "models": "cmd_models",
    "render": "cmd_render",
    "screenshot": "cmd_screenshot",
    "demo": "cmd_demo",
    "doctor": "cmd_doctor",
    "train": "cmd_train",
    "track": "cmd_track",
    "interpolate": "cmd_interpolate",
    "propagate": "cmd_propagate",
    "suggest": "cmd_suggest",
}

log = logging.getLogger("pose_studio")


def _log_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "pose-studio" / "pose-studio.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(tempfile.gettempdir()) / "pose-studio.log"
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pose-studio",
        description=(
            "Pose Studio: build and review pose datasets from video. Run without a command "
            "(optionally with videos or projects) to open the window."
        ),
    )
    parser.add_argument("--version", action="version", version=f"pose-studio {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        try:
            mod = importlib.import_module(f"pose_studio.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"pose_studio.cli.{module}":
                raise
            continue  # a command not built yet
        mod.register(sub)
    return parser


def _is_gui_invocation(argv: Sequence[str]) -> bool:
    if not argv:
        return True
    first = argv[0]
    return not (first in COMMANDS or first.startswith("-"))


def gui_main(argv: Sequence[str] | None = None) -> int:
    """Open the window on the given videos/projects."""
    args = list(sys.argv[1:] if argv is None else argv)
    _setup_logging(verbose=False)
    from pose_studio.cli.qt_preflight import preflight_gui

    stop = preflight_gui()  # Qt would abort (exit 134) without the xcb libraries or a display
    if stop is not None:
        return stop
    try:
        from pose_studio.gui.app import run_app
    except ImportError as exc:
        print(f"error: the window needs PySide6 and pyqtgraph ({exc})", file=sys.stderr)
        return 1
    return int(run_app(args))


def _setup_logging(verbose: bool) -> None:
    handlers: list[logging.Handler] = []
    with contextlib.suppress(OSError):
        handlers.append(logging.FileHandler(_log_file(), encoding="utf-8"))
    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handlers.append(stream)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if _is_gui_invocation(args_list):
        return gui_main(args_list)
    parser = build_parser()
    args = parser.parse_args(args_list)
    _setup_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except PoseStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug: keep the traceback in the log, one line on screen
        log.error("internal error in %s:\n%s", args.command, traceback.format_exc())
        print(
            f"internal error: {type(exc).__name__}: {exc} (details in {_log_file()})",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
