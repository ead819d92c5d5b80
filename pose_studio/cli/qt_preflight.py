"""Before the window starts on Linux: the X11 (xcb) libraries Qt needs, and a display.

Qt 6.5+ needs ``libxcb-cursor0`` (and ``libxcb-icccm4``, ``libxcb-keysyms1``...), which a fresh
Debian or Ubuntu install lacks. Without them Qt prints "could not load the Qt platform plugin
xcb" and aborts the process (SIGABRT, exit 134) before any of our code can say why. So, only
when Qt will use xcb (Linux, no ``QT_QPA_PLATFORM`` override, not a Wayland session), the
libraries PySide6's xcb plugin links are looked up first (``ldd`` on the plugin, else a list
of the usual ones), and a missing one ends the command with the one ``apt-get`` line that
installs them. PySide6 is not imported here (importing Qt is what would abort).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

__all__ = [
    "XCB_PACKAGES",
    "GuiPlatformCheck",
    "check_gui_platform",
    "expected_platform",
    "preflight_gui",
    "qt_plugin_dir",
]

#: Shared libraries of Qt's xcb platform plugin -> the Debian/Ubuntu package with them.
XCB_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
}

_LIB_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib")

Ldd = Callable[[Path], "str | None"]
Exists = Callable[[str], bool]


@dataclass(frozen=True)
class GuiPlatformCheck:
    """What :func:`check_gui_platform` found.

    Attributes:
        platform: the Qt platform plugin the window will use ("xcb", "wayland", "offscreen",
            "windows", "cocoa", or what ``QT_QPA_PLATFORM`` says).
        checked: whether the xcb libraries were looked up (only for xcb).
        missing: shared libraries that cannot be found.
        packages: the Debian/Ubuntu packages that provide them.
        no_display: xcb without ``DISPLAY``: no X server to show a window on.
        how: "ldd" (the plugin's own links) or "list" (the usual libraries) or "".
    """

    platform: str
    checked: bool = False
    missing: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    no_display: bool = False
    how: str = ""
    plugin: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.missing and not self.no_display

    def install_command(self) -> str:
        return "sudo apt-get install -y " + " ".join(self.packages) if self.packages else ""

    def message(self) -> str:
        """What to print when the window cannot start (empty when it can)."""
        if self.missing:
            names = ", ".join(self.missing)
            lines = [
                "error: the window cannot start: Qt's X11 (xcb) platform plugin needs "
                f"libraries this system lacks ({names}).",
            ]
            if self.packages:
                lines.append("Install them (Debian/Ubuntu) with:")
                lines.append(f"    {self.install_command()}")
                if len(self.packages) < len(self.missing):
                    lines.append("and the packages that provide the others listed above.")
            else:
                lines.append("Install the packages that provide them, then start it again.")
            lines.append("(Commands such as `pose-studio info` work without them; "
                         "`pose-studio doctor` shows what is installed.)")
            return "\n".join(lines)
        if self.no_display:
            return ("error: the window cannot start: no display (DISPLAY is not set). Run it "
                    "in a desktop session, or use the commands (`pose-studio --help`); "
                    "`pose-studio screenshot` renders the window offscreen.")
        return ""


def qt_plugin_dir() -> Path | None:
    """PySide6's Qt plugin folder, found without importing PySide6."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        for rel in ("Qt/plugins", "plugins"):
            p = Path(base) / rel
            if p.is_dir():
                return p
    return None


def expected_platform(env: Mapping[str, str], platform: str = sys.platform) -> str:
    """The platform plugin Qt will pick, as Qt decides it at start."""
    override = env.get("QT_QPA_PLATFORM", "").strip()
    if override:
        return override.split(";")[0].split(":")[0]
    if platform.startswith("win"):
        return "windows"
    if platform == "darwin":
        return "cocoa"
    if env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY"):
        return "wayland"  # Qt 6 prefers wayland in a Wayland session (xcb only as fallback)
    return "xcb"


def _run_ldd(path: Path) -> str | None:
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    try:
        r = subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout + r.stderr


def _lib_exists(soname: str) -> bool:
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    for base in _LIB_DIRS:
        dirs.append(base)
        p = Path(base)
        if p.is_dir():
            dirs.extend(str(x) for x in p.glob("*-linux-gnu*"))
    return any((Path(d) / soname).exists() for d in dirs)


_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.M)


def check_gui_platform(
    env: Mapping[str, str] | None = None,
    platform: str = sys.platform,
    *,
    plugin_dir: Path | None = None,
    ldd: Ldd | None = None,
    lib_exists: Exists | None = None,
) -> GuiPlatformCheck:
    """Whether the window can start on this platform (``ldd``/``lib_exists`` fake the library
    lookup in tests)."""
    env = os.environ if env is None else env
    name = expected_platform(env, platform)
    if name != "xcb" or not platform.startswith("linux"):
        return GuiPlatformCheck(platform=name)
    plugins = plugin_dir if plugin_dir is not None else qt_plugin_dir()
    plugin = plugins / "platforms" / "libqxcb.so" if plugins is not None else None
    missing: list[str] = []
    how = ""
    out = (ldd or _run_ldd)(plugin) if plugin is not None and plugin.exists() else None
    if out is not None:
        how = "ldd"
        missing = sorted(set(_NOT_FOUND.findall(out)))
    else:
        how = "list"
        exists = lib_exists or _lib_exists
        missing = [s for s in XCB_PACKAGES if not exists(s)]
    packages = sorted({XCB_PACKAGES[s] for s in missing if s in XCB_PACKAGES})
    no_display = not missing and not env.get("DISPLAY")
    return GuiPlatformCheck(platform=name, checked=True, missing=tuple(missing),
                            packages=tuple(packages), no_display=no_display, how=how,
                            plugin=str(plugin) if plugin is not None else None)


def preflight_gui(stream: TextIO | None = None, **kw: object) -> int | None:
    """Run before anything creates a QApplication: None when the window can start, else the
    exit code after printing why (and the command that fixes it)."""
    check = check_gui_platform(**kw)  # type: ignore[arg-type]
    if check.ok:
        return None
    print(check.message(), file=stream or sys.stderr)
    return 1
