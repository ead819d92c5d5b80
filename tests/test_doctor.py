"""The window's start-up check for Qt's xcb libraries (faked lookups) and ``pose-studio doctor``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pose_studio.cli import qt_preflight
from pose_studio.cli.main import main
from pose_studio.cli.qt_preflight import check_gui_platform, expected_platform

LDD_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
\tlibxcb-cursor.so.0 => not found
"""


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    (tmp_path / "platforms").mkdir()
    (tmp_path / "platforms" / "libqxcb.so").write_bytes(b"\x7fELF")
    return tmp_path


def test_which_platform_qt_will_use() -> None:
    assert expected_platform({}, "linux") == "xcb"
    assert expected_platform({"QT_QPA_PLATFORM": "offscreen"}, "linux") == "offscreen"
    assert expected_platform({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux") == "wayland"
    assert expected_platform({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"},
                             "linux") == "wayland"
    assert expected_platform({"XDG_SESSION_TYPE": "x11"}, "linux") == "xcb"
    assert expected_platform({}, "darwin") == "cocoa"
    assert expected_platform({}, "win32") == "windows"


def test_missing_xcb_libraries_give_one_apt_line(plugins: Path) -> None:
    seen: list[Path] = []

    def ldd(p: Path) -> str:
        seen.append(p)
        return LDD_MISSING

    c = check_gui_platform({"DISPLAY": ":0"}, "linux", plugin_dir=plugins, ldd=ldd)
    assert seen == [plugins / "platforms" / "libqxcb.so"] and c.how == "ldd"
    assert c.missing == ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1")
    assert c.install_command() == (
        "sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1")
    msg = c.message()
    assert not c.ok and sum("apt-get" in x for x in msg.splitlines()) == 1


def test_without_ldd_the_usual_libraries_are_looked_up(plugins: Path) -> None:
    present = set(qt_preflight.XCB_PACKAGES) - {"libxcb-cursor.so.0"}
    c = check_gui_platform({"DISPLAY": ":0"}, "linux", plugin_dir=plugins,
                           ldd=lambda p: None, lib_exists=present.__contains__)
    assert c.how == "list" and c.missing == ("libxcb-cursor.so.0",)
    assert c.packages == ("libxcb-cursor0",)
    ok = check_gui_platform({"DISPLAY": ":0"}, "linux", plugin_dir=plugins,
                            ldd=lambda p: "\tlibxcb.so.1 => /lib/libxcb.so.1 (0x1)\n")
    assert ok.ok and ok.checked


def test_no_check_where_xcb_is_not_used(plugins: Path) -> None:
    def boom(p: Path) -> str:
        raise AssertionError("looked up libraries for a platform that does not need them")

    for env, plat in (({"QT_QPA_PLATFORM": "offscreen"}, "linux"),
                      ({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "w"}, "linux"),
                      ({}, "darwin"), ({}, "win32")):
        c = check_gui_platform(env, plat, plugin_dir=plugins, ldd=boom)
        assert c.ok and not c.checked
    headless = check_gui_platform({}, "linux", plugin_dir=plugins, ldd=lambda p: "")
    assert not headless.ok and headless.no_display and "DISPLAY" in headless.message()


def test_gui_launch_stops_before_qt(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str], plugins: Path) -> None:
    real = qt_preflight.check_gui_platform
    monkeypatch.setattr(qt_preflight, "check_gui_platform", lambda **kw: real(
        {"DISPLAY": ":0"}, "linux", plugin_dir=plugins, ldd=lambda p: LDD_MISSING))
    # Were the window's module imported, this would fail differently (ImportError message).
    monkeypatch.setitem(sys.modules, "pose_studio.gui.app", None)  # type: ignore[arg-type]
    assert main([]) == 1
    err = capsys.readouterr().err
    assert "sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in err
    assert "needs PySide6" not in err
    assert main(["demo", "--frames", "2"]) == 1  # before minutes of building the demo
    assert "apt-get" in capsys.readouterr().err


def test_doctor(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["doctor", "--json", "--no-torch"])
    report = json.loads(capsys.readouterr().out)
    assert rc == (1 if report["problems"] else 0) and report["ok"] is (rc == 0)
    for key in ("python", "qt", "opencv", "onnxruntime", "gpu", "video", "files"):
        assert key in report
    assert report["video"]["decoders"]["h264"] is True
    assert report["files"]["log"].endswith("pose-studio.log")
    assert report["qt"]["platform_plugin"] == "offscreen"  # the test environment's override

    import pose_studio.inference.providers as prov

    monkeypatch.setattr(prov, "installed_ort_distributions",
                        lambda: {"onnxruntime": "1.20.0", "onnxruntime-gpu": "1.20.0"})
    rc = main(["doctor", "--no-torch"])
    out = capsys.readouterr().out
    assert rc == 1 and "PROBLEM: several onnxruntime distributions" in out
    assert "pip uninstall -y onnxruntime onnxruntime-gpu" in out
