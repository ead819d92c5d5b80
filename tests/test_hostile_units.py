"""The pieces the hostile-input suite rests on, one by one: path checks, memory checks, image
headers, frame specs, checkpoint loading, the ONNX pre-load check, and the command line's one
line per failure with the traceback in the log file."""

from __future__ import annotations

import logging
import os
import pickle
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from pose_studio.cli import main as cli
from pose_studio.cli.common import CliError, parse_frame_spec
from pose_studio.core.files import PathError, check_input_path, check_output_path, os_reason
from pose_studio.core.imagesize import check_image_file, image_size
from pose_studio.core.limits import (
    ResourceLimitError,
    available_memory,
    check_allocation,
    check_image_size,
    format_bytes,
)


# --- paths ------------------------------------------------------------------------------------
def test_non_regular_files_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "p.posestudio"
    os.mkfifo(fifo)
    with pytest.raises(PathError, match="named pipe"):
        check_input_path(fifo, "project")  # would block forever if opened
    with pytest.raises(PathError, match="character device"):
        check_input_path("/dev/zero", "video")
    with pytest.raises(PathError, match="is a folder"):
        check_input_path(tmp_path, "file")
    assert check_input_path(tmp_path, "video", folder_ok=True) == tmp_path
    with pytest.raises(PathError, match="does not exist"):
        check_input_path(tmp_path / "nope", "file")


def test_over_long_names_get_the_reason_in_words(tmp_path: Path) -> None:
    long = tmp_path / ("x" * 300)
    with pytest.raises(PathError, match=r"too long for the file system \(a name of 300 bytes"):
        check_input_path(long, "file")
    with pytest.raises(PathError, match="too long"):
        check_output_path(long, "out")
    with pytest.raises(PathError, match="does not exist"):
        check_output_path(tmp_path / "no" / "x", "out")
    with pytest.raises(PathError, match="null"):
        check_output_path(tmp_path / "a\x00b", "out")
    assert os_reason(PermissionError(13, "Permission denied")) == "permission denied"


# --- memory -----------------------------------------------------------------------------------
def test_allocations_are_checked_against_the_memory_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    assert available_memory() > 0
    monkeypatch.setenv("POSE_STUDIO_MEMORY_BUDGET", "100M")
    assert available_memory() == 100 << 20
    check_allocation(10 << 20, "small")
    with pytest.raises(ResourceLimitError, match=r"would need 80.0 MiB.*100.0 MiB available"):
        check_allocation(80 << 20, "big")
    with pytest.raises(ResourceLimitError, match="more than Pose Studio reads"):
        check_image_size(100_000, 100_000, "img")
    with pytest.raises(ResourceLimitError, match="would need"):
        check_image_size(5000, 5000, "img")  # 150 MB of pixels on a 100 MB machine
    assert format_bytes(1536) == "1.5 KiB"


def _png(w: int, h: int) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("ext", ["png", "jpg", "bmp", "tif", "webp", "ppm", "jp2"])
def test_image_sizes_come_from_headers(tmp_path: Path, ext: str) -> None:
    p = tmp_path / f"a.{ext}"
    assert cv2.imwrite(str(p), np.random.default_rng(0).integers(0, 255, (37, 53, 3), np.uint8))
    assert image_size(p) == (53, 37)
    check_image_file(p)


def test_an_image_claiming_more_than_its_bytes_hold_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "b.png"
    bomb.write_bytes(_png(30000, 30000))
    with pytest.raises(ResourceLimitError, match=r"only .* bytes: damaged or crafted"):
        check_image_file(bomb)
    bomb.write_bytes(_png(100000, 100000))
    with pytest.raises(ResourceLimitError, match="100000x100000"):
        check_image_file(bomb)
    black = tmp_path / "black.png"  # a real, very compressible image is fine
    cv2.imwrite(str(black), np.zeros((3000, 4000), np.uint8))
    check_image_file(black)


# --- frame specs ------------------------------------------------------------------------------
def test_frame_ranges_are_checked_before_they_are_expanded() -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CliError, match="frame 10 is out of range"):
        parse_frame_spec("0:3000000000", 10)
    with pytest.raises(CliError, match="3,000,000,000 frames"):
        parse_frame_spec("0:3000000000")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB
    assert parse_frame_spec("8:,0:10:4,3", 10) == [0, 3, 4, 8, 9]


# --- checkpoints --------------------------------------------------------------------------------
class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    import torch  # the test environment installs the train extra: no skip

    from pose_studio.core.paths import models_dir
    from pose_studio.train.checkpoint import CheckpointError, load

    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pt"
    torch.save({"model": {}, "x": _Evil(marker)}, evil)
    with pytest.raises(CheckpointError, match=r"refused.*asks for posix.system"):
        load(evil)
    (tmp_path / "plain.pt").write_bytes(pickle.dumps(_Evil(marker)))
    with pytest.raises(CheckpointError, match="refused"):
        load(tmp_path / "plain.pt")
    assert not marker.exists()
    bundled = next(models_dir().glob("*.pt"), None)
    if bundled is not None:  # our own checkpoints need nothing more than weights
        assert "model" in load(bundled)


# --- the ONNX pre-load check ------------------------------------------------------------------------
def test_model_inputs_are_checked_before_the_first_tensor(monkeypatch: pytest.MonkeyPatch) -> None:
    from pose_studio.inference.errors import ModelError
    from pose_studio.inference.limits import check_input

    check_input(Path("m.onnx"), 1, (192, 256))
    with pytest.raises(ModelError, match="100000x100000"):
        check_input(Path("m.onnx"), None, (100000, 100000))
    with pytest.raises(ModelError, match="fixed batch of 5000"):
        check_input(Path("m.onnx"), 5000, (64, 64))
    monkeypatch.setenv("POSE_STUDIO_MEMORY_BUDGET", "64M")
    with pytest.raises(ModelError, match="would need"):
        check_input(Path("m.onnx"), 8, (1024, 1024))


# --- the command line --------------------------------------------------------------------------------
def test_an_internal_error_is_one_line_and_the_traceback_goes_to_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def boom(_args: object) -> int:
        raise RuntimeError("the bug\nsecond line")

    import pose_studio.cli.cmd_info as info

    monkeypatch.setattr(info, "run", boom)
    rc = cli.main(["info", str(tmp_path / "x.posestudio")])
    _, err = capfd.readouterr()
    log_file = tmp_path / "pose-studio" / "pose-studio.log"
    assert rc == cli.EXIT_INTERNAL
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error: RuntimeError: the bug second line" in err and str(log_file) in err
    assert "Traceback" in log_file.read_text() and "boom" in log_file.read_text()
    logging.getLogger("pose_studio").warning("a warning\nwith two lines")
    _, err = capfd.readouterr()
    assert err == "warning: a warning with two lines\n"


def test_exit_codes_are_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "exit status:" in out and "internal error" in out and "130" in out
    with pytest.raises(SystemExit):
        cli.main(["info", "--help"])
    assert "exit status:" in capsys.readouterr().out


def test_a_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["extract", "v.mp4"])
    err = capsys.readouterr().err
    assert e.value.code == cli.EXIT_USAGE and err.count("\n") == 1
    assert err.startswith("error: the following arguments are required: --out")


def test_an_unworded_os_error_still_gives_the_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def full(_args: object) -> int:
        raise OSError(28, "No space left on device", str(tmp_path / "out.json"))

    import pose_studio.cli.cmd_info as info

    monkeypatch.setattr(info, "run", full)
    assert cli.main(["info", "x"]) == cli.EXIT_FAILED
    err = capfd.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'out.json'}: no space left on the device")
    assert err.count("\n") == 1
