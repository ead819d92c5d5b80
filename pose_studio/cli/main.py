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
from typing import NoReturn

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
    "smooth": "cmd_smooth",
    "repair": "cmd_repair",
    "copy": "cmd_copy",
    "assign": "cmd_assign",
}

#: Exit statuses (also printed by ``pose-studio --help``).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_CANCELLED = 130

EXIT_CODES_HELP = f"""\
exit status:
  {EXIT_OK}    success
  {EXIT_FAILED}    the command could not do what was asked with the files it was given (a
       missing, damaged, foreign or unreadable project, video, model or data file; a
       full disk; not enough memory), or a check it ran found problems; one line on
       stderr says which and why, and nothing of the project was changed
  {EXIT_USAGE}    wrong command-line usage (see COMMAND --help)
  {EXIT_INTERNAL}    an internal error (a bug): one line on stderr, the details in the log file
       it names
  {EXIT_CANCELLED}  cancelled (Ctrl-C); what was done so far is kept where the command says so"""

#: Arguments that name files the command reads, checked before it runs: a FIFO, a device, a
#: folder where a file is expected, a name the file system cannot hold or a path this process
#: may not read is refused at once with the OS's reason (a missing path is left to the command,
#: which knows what else the text may be). ``"file"``: a regular file; ``"path"``: a file or a
#: folder. Arguments a command does not have are ignored.
INPUT_PATHS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "new": (("skeleton", "file", "skeleton file"),),
    "add-video": (("project", "file", "project"), ("videos", "path", "video")),
    "info": (("project", "file", "project"),),
    "extract": (("video", "path", "video"),),
    "export": (("project", "file", "project"),),
    "import": (("project", "file", "project"), ("file", "file", "file"),
               ("images", "path", "image folder")),
    "infer": (("project", "file", "project"), ("model", "path", "model"),
              ("detector", "path", "detector")),
    "models": (("model", "path", "model"), ("calibrate", "path", "calibration input")),
    "render": (("project", "file", "project"),),
    "screenshot": (("path", "path", "input"), ("model", "path", "model")),
    "demo": (("model", "path", "model"),),
    "train": (("project", "file", "project"), ("synthetic_cache", "file", "cache"),
              ("val_cache", "file", "cache"), ("init", "file", "checkpoint")),
    "repair": (("project", "file", "project"),),
}

log = logging.getLogger("pose_studio")
_log_path: Path | None = None  # the log file actually open, if any
_log_problem = ""  # why there is none


def _log_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "pose-studio" / "pose-studio.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(tempfile.gettempdir()) / "pose-studio.log"
    return path


class _Formatter(argparse.HelpFormatter):
    """The usual help layout, with the exit-status table kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("exit status:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class _OneLineParser(argparse.ArgumentParser):
    """argparse with usage errors as one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {_one_line(message)} (see {self.prog} --help)\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="pose-studio",
        description=(
            "Pose Studio: build and review pose datasets from video. Run without a command "
            "(optionally with videos or projects) to open the window."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=_Formatter,
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
    for sp in sub.choices.values():
        # every command's --help ends with the exit statuses too
        if sp.epilog is None and sp.formatter_class is argparse.HelpFormatter:
            sp.epilog = EXIT_CODES_HELP
            sp.formatter_class = _Formatter
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


class _TerminalFilter(logging.Filter):
    """What reaches the terminal: no tracebacks (they go to the log file), no Python warnings
    from libraries, nothing marked ``file_only``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (getattr(record, "file_only", False) or record.name == "py.warnings")


class _TerminalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {_one_line(record.getMessage())}"


def _setup_logging(verbose: bool) -> None:
    global _log_path, _log_problem
    handlers: list[logging.Handler] = []
    _log_path, _log_problem = None, ""
    path = _log_file()
    try:
        fh = logging.FileHandler(path, encoding="utf-8", delay=False)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handlers.append(fh)
        _log_path = path
    except (OSError, ValueError) as exc:
        from pose_studio.core.files import os_reason

        _log_problem = f"no log file could be written at {path}: {os_reason(exc, path)}"
    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(logging.DEBUG if verbose else logging.WARNING)
    stream.addFilter(_TerminalFilter())
    stream.setFormatter(_TerminalFormatter())
    handlers.append(stream)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=handlers,
                        force=True)
    logging.captureWarnings(True)


def _one_line(text: object, limit: int = 2000) -> str:
    """``text`` as one line: line breaks become '; ', very long texts are cut."""
    s = " ".join(str(text).split("\n")).replace("\r", " ").strip()
    s = "".join(ch if ch.isprintable() else "?" for ch in s)
    return s if len(s) <= limit else s[:limit] + "..."


def _details() -> str:
    return f"details in {_log_path}" if _log_path is not None else _log_problem


def _log_traceback(command: str, level: int) -> None:
    log.log(level, "%s failed:\n%s", command, traceback.format_exc(), extra={"file_only": True})


def _check_inputs(args: argparse.Namespace) -> None:
    """Refuse non-regular files and unusable paths before the command opens them."""
    from pose_studio.core.files import PathError, check_input_path, os_reason

    for attr, kind, what in INPUT_PATHS.get(args.command, ()):
        value = getattr(args, attr, None)
        values = value if isinstance(value, list) else [value]
        for v in values:
            if not isinstance(v, str) or not v or (attr == "init" and v == "bundled"):
                continue
            p = os.path.expanduser(v)
            try:
                os.lstat(p)
            except FileNotFoundError:
                continue  # the command says what a missing path (or a name) means
            except (OSError, ValueError) as exc:
                raise PathError(f"{what} {_one_line(v, 200)}: {os_reason(exc, p)}") from None
            check_input_path(p, what, folder_ok=kind == "path")


def _quiet_libraries(verbose: bool) -> None:
    """Libraries that print to the terminal themselves (OpenCV's C++ log, FFmpeg through
    PyAV) stay quiet: what went wrong is said once, in our words. ``-v`` lets them talk."""
    if verbose:
        return
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")  # read when cv2 is first imported
    cv2 = sys.modules.get("cv2")
    if cv2 is not None:
        with contextlib.suppress(Exception):
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def _damage_warning(args: argparse.Namespace) -> None:
    """One line when the command met damaged rows in a project (and left them out); not after
    ``info --check``, which lists them itself."""
    validate = sys.modules.get("pose_studio.store.validate")
    if validate is None or (args.command == "info" and getattr(args, "check", False)):
        return
    found = validate.recent()  # type: ignore[attr-defined]
    if not found:
        return
    first = found[0]
    n = len(found)
    print(
        f"warning: project {first.path} is damaged: {n} row{'s' if n > 1 else ''} could not "
        f"be used and {'were' if n > 1 else 'was'} left out (first: {_one_line(first, 300)}); "
        f"`pose-studio info --check {first.path}` lists them, `pose-studio repair "
        f"{first.path} --out CLEAN.posestudio` writes a copy without them",
        file=sys.stderr,
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
        return EXIT_USAGE
    validate = sys.modules.get("pose_studio.store.validate")
    if validate is not None:
        validate.clear()  # type: ignore[attr-defined]
    _quiet_libraries(args.verbose)
    command = str(args.command)
    try:
        _check_inputs(args)
        rc = int(args.func(args) or 0)
        _damage_warning(args)
        return rc
    except PoseStudioError as exc:
        _log_traceback(command, logging.INFO)
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stderr.close()  # the reader went away: nothing more can be said
        return EXIT_FAILED
    except MemoryError:
        _log_traceback(command, logging.ERROR)
        print(f"error: not enough memory for {command} with these inputs ({_details()})",
              file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # a file problem no layer worded: still the OS's reason, one line
        from pose_studio.core.files import os_reason

        _log_traceback(command, logging.ERROR)
        where = f"{_one_line(exc.filename, 300)}: " if exc.filename else ""
        print(f"error: {where}{os_reason(exc)} ({_details()})", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a bug: the traceback in the log, one line on screen
        _log_traceback(command, logging.ERROR)
        print(f"internal error: {type(exc).__name__}: {_one_line(exc, 300)} (this is a bug in "
              f"Pose Studio; {_details()})", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
