"""``models list`` / ``models get``: the catalogue, and downloads from a local HTTP server on
127.0.0.1 serving archives built here (no network): a complete one, a truncated transfer and
its resumption, a wrong archive, a server error, a changed file, a mirror."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pose_studio.cli import main as cli
from pose_studio.inference import PoseModel, load_model
from pose_studio.inference.catalogue import CatalogueEntry, find_entry, load_catalogue
from pose_studio.inference.download import RECORD, get_model
from pose_studio.inference.errors import DownloadCancelled, DownloadError, ModelError
from tests.support import onnx_models as om
from tests.support.http_server import LocalServer

_Server = LocalServer


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.close()


@pytest.fixture(scope="module")
def sdk_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An mmdeploy onnx_sdk archive: a top folder with end2end.onnx and pipeline.json."""
    d = tmp_path_factory.mktemp("sdk")
    om.make_simcc_model(d / "end2end.onnx", input_hw=(64, 48))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.write(d / "end2end.onnx", "rtmpose-x_simcc/end2end.onnx")
        z.writestr("rtmpose-x_simcc/pipeline.json", json.dumps({"pipeline": {"tasks": [
            {"type": "Task", "transforms": [
                {"type": "Normalize", "mean": [1, 2, 3], "std": [4, 5, 6], "to_rgb": True}]}]}}))
        z.writestr("rtmpose-x_simcc/deploy.json", json.dumps({"models": [{"net": "end2end.onnx"}]}))
    return buf.getvalue()


def entry(server: _Server, path: str = "mm/rtmpose-x.zip", **kw: Any) -> CatalogueEntry:
    return CatalogueEntry(name=kw.pop("name", "rtmpose-x"), kind="pose", purpose="test",
                          license="Apache-2.0", size_mb=0.1, base=server.base, path=path, **kw)


# --- the catalogue ------------------------------------------------------------------------------
def test_the_catalogue_lists_the_published_families() -> None:
    entries = load_catalogue()
    names = {e.name for e in entries}
    for want in ("rtmpose-t-body", "rtmpose-s-body", "rtmpose-m-body", "rtmpose-l-body",
                 "rtmo-s", "rtmw-m-wholebody", "dwpose-l-wholebody", "rtmpose-m-ap10k",
                 "rtmdet-nano-person", "yolox-s-coco"):
        assert want in names
    for e in entries:
        assert e.license and e.size_mb > 0 and e.purpose and e.url().startswith("https://")
    ap10k = find_entry("rtmpose-m-ap10k")
    assert ap10k.card["skeleton"]["keypoints"][4] == "root_of_tail"
    assert find_entry("RTMO-S").name == "rtmo-s"
    with pytest.raises(ModelError, match="did you mean rtmo-s"):
        find_entry("rtmo-ss")
    assert find_entry("rtmo-s").url("http://mirror.local/x/") == \
        "http://mirror.local/x/" + find_entry("rtmo-s").path


def test_models_list_prints_license_and_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["models", "list", "--kind", "detector"]) == 0
    out = capsys.readouterr().out
    assert "rtmdet-nano-person" in out and "Apache-2.0" in out and "MB" in out
    assert "rtmpose-m-body" not in out


# --- downloads ----------------------------------------------------------------------------------
def test_an_archive_is_unpacked_with_its_pipeline_and_recorded(server: _Server, sdk_zip: bytes,
                                                               tmp_path: Path) -> None:
    server.files["mm/rtmpose-x.zip"] = sdk_zip
    seen: list[tuple[int, int | None]] = []
    res = get_model(entry(server), tmp_path, progress=lambda d, t: seen.append((d, t)))
    assert res.path == tmp_path / "rtmpose-x" and res.model_file.name == "end2end.onnx"
    assert (res.path / "pipeline.json").is_file() and res.first_download
    assert seen[-1] == (len(sdk_zip), len(sdk_zip))
    assert "simcc" in res.description
    m = load_model(res.path, provider="cpu")
    assert isinstance(m, PoseModel) and m.mean == (1, 2, 3)  # the archive's pre-processing
    rec = json.loads((tmp_path / RECORD).read_text())["rtmpose-x"]
    assert rec["size"] == len(sdk_zip) and len(rec["sha256"]) == 64
    assert not (tmp_path / ".partial").exists()
    again = get_model(entry(server), tmp_path)  # there already: checked, not fetched
    assert again.already_there and len(server.ranges) == 1


def test_a_truncated_transfer_is_resumed(server: _Server, sdk_zip: bytes, tmp_path: Path) -> None:
    server.files["mm/rtmpose-x.zip"] = sdk_zip
    server.mode["mm/rtmpose-x.zip"] = "truncate"
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        get_model(entry(server), tmp_path)
    part = tmp_path / ".partial" / "rtmpose-x.zip.part"
    assert 0 < part.stat().st_size < len(sdk_zip)
    assert not (tmp_path / "rtmpose-x").exists()  # nothing half-done where it would load
    res = get_model(entry(server), tmp_path)
    assert res.resumed_from == len(sdk_zip) // 3 and server.ranges[-1] == f"bytes={len(sdk_zip) // 3}-"
    assert res.size == len(sdk_zip) and (res.path / "end2end.onnx").is_file()


def test_a_server_that_ignores_range_restarts_cleanly(server: _Server, sdk_zip: bytes,
                                                      tmp_path: Path) -> None:
    server.files["a.zip"] = sdk_zip
    part = tmp_path / ".partial" / "a.zip.part"
    part.parent.mkdir()
    part.write_bytes(b"junk from before")
    server.mode["a.zip"] = "no-range"
    res = get_model(entry(server, "a.zip", name="a"), tmp_path)
    assert res.resumed_from == 0 and res.size == len(sdk_zip)


def test_wrong_archives_and_server_errors_install_nothing(server: _Server, tmp_path: Path
                                                          ) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "no model here")
    server.files["wrong.zip"] = buf.getvalue()
    with pytest.raises(DownloadError, match=r"no \.onnx model \(found: readme\.txt\)"):
        get_model(entry(server, "wrong.zip", name="wrong"), tmp_path)
    server.files["html.zip"] = b"<html>not found</html>"
    with pytest.raises(DownloadError, match="not a zip archive"):
        get_model(entry(server, "html.zip", name="html"), tmp_path)
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../outside.onnx", b"x")
    server.files["evil.zip"] = evil.getvalue()
    with pytest.raises(DownloadError, match="outside its folder"):
        get_model(entry(server, "evil.zip", name="evil"), tmp_path)
    server.files["broken.zip"] = b""
    server.mode["broken.zip"] = "error"
    with pytest.raises(DownloadError, match="answered 500"):
        get_model(entry(server, "broken.zip", name="broken"), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []
    assert not (tmp_path / RECORD).exists()
    assert not any((tmp_path / ".partial").glob("*")) if (tmp_path / ".partial").exists() \
        else True


def test_a_changed_file_on_the_server_is_refused(server: _Server, sdk_zip: bytes,
                                                 tmp_path: Path) -> None:
    server.files["m.zip"] = sdk_zip
    get_model(entry(server, "m.zip", name="m"), tmp_path)
    import shutil

    shutil.rmtree(tmp_path / "m")  # the user deletes it and gets it again: other bytes now
    z = zipfile.ZipFile(io.BytesIO(sdk_zip))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for i in z.infolist():
            out.writestr(i.filename, z.read(i) + (b" " if i.filename.endswith(".json") else b""))
    server.files["m.zip"] = buf.getvalue()
    with pytest.raises(DownloadError, match="differs from the first download"):
        get_model(entry(server, "m.zip", name="m"), tmp_path)
    assert not (tmp_path / "m").exists()
    # a pinned digest in the catalogue is checked on the first download already
    with pytest.raises(DownloadError, match="pinned digest"):
        get_model(entry(server, "m.zip", name="other", sha256="0" * 64), tmp_path)


def test_an_installed_file_that_changed_is_reported(server: _Server, sdk_zip: bytes,
                                                    tmp_path: Path) -> None:
    server.files["m.zip"] = sdk_zip
    res = get_model(entry(server, "m.zip", name="m"), tmp_path)
    res.model_file.write_bytes(res.model_file.read_bytes() + b"\0")
    with pytest.raises(DownloadError, match="changed since it was downloaded"):
        get_model(entry(server, "m.zip", name="m"), tmp_path)


def test_cancel_keeps_what_arrived(server: _Server, sdk_zip: bytes, tmp_path: Path) -> None:
    server.files["m.zip"] = sdk_zip * 4  # bigger than one chunk
    stop = threading.Event()

    def progress(done: int, total: int | None) -> None:
        if done > 0:
            stop.set()

    with pytest.raises(DownloadCancelled, match="resume"):
        get_model(entry(server, "m.zip", name="m"), tmp_path, progress=progress, cancel=stop)
    assert (tmp_path / ".partial" / "m.zip.part").stat().st_size > 0


def test_models_get_with_a_mirror_and_a_card(server: _Server, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI on a catalogue entry through --mirror; a plain .onnx gets the entry's card."""
    src = om.make_heatmap_model(tmp_path / "src.onnx", input_hw=(64, 48))
    server.files["Megvii-BaseDetection/animal.onnx"] = src.read_bytes()
    fake = CatalogueEntry(name="animal-test", kind="pose", purpose="test", license="MIT",
                          size_mb=0.1, base="https://example.invalid",
                          path="Megvii-BaseDetection/animal.onnx",
                          card={"skeleton": {"name": "ap10k-like", "keypoints":
                                             [f"p{i}" for i in range(17)]}})
    monkeypatch.setattr("pose_studio.inference.catalogue.load_catalogue", lambda *a: [fake])
    out_dir = tmp_path / "models"
    assert cli.main(["models", "get", "animal-test", "--dir", str(out_dir), "--mirror",
                     server.base, "--quiet"]) == 0
    text = capsys.readouterr()
    assert "127.0.0.1" in text.err and "installed in" in text.out
    m = load_model(out_dir / "animal-test", provider="cpu")
    assert isinstance(m, PoseModel) and m.skeleton.name == "ap10k-like"
    server.mode["Megvii-BaseDetection/gone.onnx"] = "error"
    fake2 = CatalogueEntry(name="gone", kind="pose", purpose="", license="", size_mb=1,
                           base=server.base, path="Megvii-BaseDetection/gone.onnx")
    monkeypatch.setattr("pose_studio.inference.catalogue.load_catalogue", lambda *a: [fake2])
    assert cli.main(["models", "get", "gone", "--dir", str(out_dir), "--quiet"]) == 1
    assert "answered 500" in capsys.readouterr().err


def test_ctrl_c_during_models_get(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*a: Any, **k: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("pose_studio.inference.download.get_model", interrupted)
    assert cli.main(["models", "get", "rtmo-s", "--dir", str(tmp_path), "--quiet"]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
