from __future__ import annotations

import subprocess
import sys

import pytest

from pose_studio.cli import main as cli
from pose_studio.cli.common import CliError, ProgressBar, parse_frame_spec, parse_range


def test_gui_invocation_detection() -> None:
    assert cli._is_gui_invocation([])
    assert cli._is_gui_invocation(["clip.mp4"])
    assert not cli._is_gui_invocation(["info", "x.posestudio"])
    assert not cli._is_gui_invocation(["--help"])


def test_every_command_has_help() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = set(sub.choices)  # type: ignore[arg-type]
    missing = set(cli.COMMANDS) - names
    assert not missing, f"commands not registered: {missing}"
    for name in names:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([name, "--help"])
        assert exc.value.code == 0


def test_user_error_is_one_line_and_exit_1() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pose_studio", "info", "/nonexistent/nowhere.posestudio"],
        capture_output=True, text=True,
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), out.stderr
    assert "Traceback" not in out.stderr


def test_frame_spec() -> None:
    assert parse_frame_spec("10,20,5:8,0:10:5") == [0, 5, 6, 7, 10, 20]
    assert parse_frame_spec("3:", n_frames=5) == [3, 4]
    with pytest.raises(CliError, match="out of range"):
        parse_frame_spec("1,99", n_frames=50)
    with pytest.raises(CliError, match="bad frame spec"):
        parse_frame_spec("a:b")


def test_range() -> None:
    assert parse_range(None, 10) == (0, 10)
    assert parse_range("2:", 10) == (2, 10)
    assert parse_range(":50", 10) == (0, 10)
    with pytest.raises(CliError):
        parse_range("20:30", 10)


def test_progress_bar_reports_rate(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    buf = io.StringIO()
    with ProgressBar(10, "work", stream=buf) as bar:
        for _ in range(10):
            bar.update()
    text = buf.getvalue()
    assert "10/10" in text and "frames/s" in text
