"""Fetching a catalogue model: progress, cancel, resume (HTTP Range), sha256, archives.

Layout under the models folder::

    <dir>/<name>/                   the model (end2end.onnx + pipeline.json for SDK archives)
    <dir>/.partial/<file>.part      an interrupted download (resumed by the next attempt)
    <dir>/downloads.json            per name: URL, sha256 of the download and of the model file

The sha256 of the first download is recorded; later downloads of the same name must match it
(or the catalogue's pinned digest), and ``get`` of a model already there checks its file.
Nothing half-done is left where the engine would load it: archives are unpacked into a
temporary folder and moved into place only once complete and loadable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pose_studio.inference.catalogue import CatalogueEntry
from pose_studio.inference.errors import DownloadCancelled, DownloadError

Progress = Callable[[int, int | None], None]

RECORD = "downloads.json"
#: an archive that unpacks to more than this is refused (a zip bomb, or not a model archive)
MAX_UNPACKED = 8 << 30
_CHUNK = 1 << 16


@dataclass(frozen=True)
class DownloadResult:
    """A model ready to load: ``path`` is what ``--model`` / ``load_model`` takes."""

    name: str
    path: Path
    model_file: Path
    sha256: str  # of the downloaded file (the archive for SDK zips)
    size: int
    resumed_from: int = 0  # bytes already there from an interrupted attempt
    already_there: bool = False  # nothing downloaded: the model was there and checked
    first_download: bool = False  # the sha256 was recorded now
    description: str = ""  # what the engine recognised


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_record(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    tmp = folder / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(folder / RECORD)


def _fetch(url: str, part: Path, *, progress: Progress | None, cancel: threading.Event | None,
           timeout: float) -> tuple[int, int]:
    """Download ``url`` into ``part``, resuming from its size. Returns (bytes resumed, total).

    Raises:
        DownloadError: the server refused, the connection failed or the transfer stopped
            early (``part`` keeps what arrived); DownloadCancelled when ``cancel`` is set.
    """
    have = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "pose-studio (models get)"}
    if have:
        headers["Range"] = f"bytes={have}-"
    host = urllib.parse.urlparse(url).netloc or url
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                      timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part is complete (or stale): start over once
            part.unlink()
            return _fetch(url, part, progress=progress, cancel=cancel, timeout=timeout)
        raise DownloadError(f"{url}: the server answered {exc.code} {exc.reason}; nothing was "
                            f"installed (try again later, or --mirror)") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot reach {host}: {reason} (no network? a proxy or offline "
                            f"mirror can be given with --mirror)") from None
    with resp:
        status = getattr(resp, "status", 200)
        resumed = have if status == 206 else 0
        length = resp.headers.get("Content-Length")
        total = resumed + int(length) if length and length.isdigit() else None
        done = resumed
        mode = "ab" if resumed else "wb"
        part.parent.mkdir(parents=True, exist_ok=True)
        with part.open(mode) as fh:
            if progress is not None:
                progress(done, total)
            while True:
                if cancel is not None and cancel.is_set():
                    raise DownloadCancelled(f"cancelled at {done / 1e6:.1f} MB; run the same "
                                            f"command again to resume")
                try:
                    chunk = resp.read(_CHUNK)
                except (TimeoutError, OSError) as exc:
                    raise DownloadError(f"{host}: the transfer stopped at {done / 1e6:.1f} MB "
                                        f"({exc}); run the same command again to resume") \
                        from None
                if not chunk:
                    break
                fh.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    if total is not None and done < total:
        raise DownloadError(f"{host}: the transfer stopped at {done / 1e6:.1f} of "
                            f"{total / 1e6:.1f} MB; run the same command again to resume")
    return resumed, done


def _members(zf: zipfile.ZipFile, where: str) -> list[zipfile.ZipInfo]:
    infos = [i for i in zf.infolist() if not i.is_dir()]
    total = 0
    for i in infos:
        p = PurePosixPath(i.filename)
        if p.is_absolute() or ".." in p.parts or "\\" in i.filename or ":" in i.filename:
            raise DownloadError(f"{where}: the archive holds a file outside its folder "
                                f"({i.filename!r}); refused")
        total += i.file_size
    if total > MAX_UNPACKED:
        raise DownloadError(f"{where}: the archive unpacks to {total / 1e9:.1f} GB; refused")
    return infos


def _unpack(archive: Path, dest: Path, where: str) -> Path:
    """Unpack into ``dest`` (a single top folder is flattened); returns the ``.onnx`` file."""
    if not zipfile.is_zipfile(archive):
        raise DownloadError(f"{where}: the download is not a zip archive (the server sent "
                            f"something else, e.g. an error page); nothing was installed")
    with zipfile.ZipFile(archive) as zf:
        infos = _members(zf, where)
        names = [PurePosixPath(i.filename) for i in infos]
        tops = {n.parts[0] for n in names if len(n.parts) > 1}
        strip = 1 if len(tops) == 1 and all(len(n.parts) > 1 for n in names) else 0
        models = [n for n in names if n.suffix.lower() == ".onnx"]
        if len(models) != 1:
            found = ", ".join(str(n) for n in names[:6]) or "nothing"
            what = "no .onnx model" if not models else f"{len(models)} .onnx models"
            raise DownloadError(f"{where}: the archive holds {what} (found: {found}); "
                                f"nothing was installed")
        dest.mkdir(parents=True)
        for info, name in zip(infos, names):
            target = dest.joinpath(*name.parts[strip:])
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
        return dest.joinpath(*models[0].parts[strip:])


def _install(entry: CatalogueEntry, download: Path, folder: Path, verify: bool
             ) -> tuple[Path, Path, str]:
    """Unpack/copy the download into ``folder/<name>`` (atomically replacing nothing);
    returns (model path for --model, model file, description)."""
    where = f"{entry.name} ({entry.file_name})"
    final = folder / entry.name
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=folder))
    try:
        target = staging / "model"
        if entry.is_archive:
            model_file = _unpack(download, target, where)
        else:
            target.mkdir()
            model_file = target / entry.file_name
            shutil.copyfile(download, model_file)
        if entry.card:  # what the file does not carry (e.g. an animal skeleton)
            card = {"format": "pose-studio-model-card/1", "name": entry.name, **entry.card}
            model_file.with_suffix(".json").write_text(json.dumps(card, indent=2),
                                                       encoding="utf-8")
        description = ""
        if verify:
            description = _describe(target, where)
        rel = model_file.relative_to(target)
        if final.exists():
            shutil.rmtree(final)
        target.replace(final)
        return final, final / rel, description
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _describe(path: Path, where: str) -> str:
    from pose_studio.inference.load import load_model
    from pose_studio.inference.model import PoseModel

    try:
        m = load_model(path, provider="cpu", threads=1)
    except Exception as exc:
        raise DownloadError(f"{where}: downloaded, but it is not a model Pose Studio can run "
                            f"({exc}); nothing was installed") from exc
    kp = f", {m.num_keypoints} keypoints ({m.skeleton.name})" if isinstance(m, PoseModel) else ""
    return f"{m.family}{kp}, input {m.input_size[0]}x{m.input_size[1]}"


def get_model(entry: CatalogueEntry, folder: str | Path, *, mirror: str | None = None,
              progress: Progress | None = None, cancel: threading.Event | None = None,
              timeout: float = 30.0, verify: bool = True) -> DownloadResult:
    """Download (or resume) ``entry`` into ``folder/<name>``, check its sha256 and install it.

    A model already installed is not fetched again: its file is checked against the recorded
    sha256 instead.

    Raises:
        DownloadError: network or server failure, truncated transfer (resumable), a digest
            that differs from the recorded/pinned one, a wrong archive.
        DownloadCancelled: ``cancel`` was set (resumable).
    """
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the models folder {folder}: {exc}") from None
    record = _read_record(folder)
    known = record.get(entry.name) or {}
    installed = folder / entry.name
    model_rel = known.get("model_file")
    if model_rel and (installed / model_rel).is_file() and known.get("model_sha256"):
        digest = _sha256(installed / model_rel)
        if digest != known["model_sha256"]:
            raise DownloadError(f"{installed / model_rel}: the file changed since it was "
                                f"downloaded (sha256 {digest[:12]}..., recorded "
                                f"{known['model_sha256'][:12]}...); delete {installed} to "
                                f"download it again")
        return DownloadResult(entry.name, installed, installed / model_rel,
                              str(known.get("sha256", "")), int(known.get("size", 0)),
                              already_there=True)
    part = folder / ".partial" / f"{entry.file_name}.part"
    url = entry.url(mirror)
    resumed, size = _fetch(url, part, progress=progress, cancel=cancel, timeout=timeout)
    digest = _sha256(part)
    expected = entry.sha256 or known.get("sha256")
    if expected and digest != expected:
        part.unlink()
        source = "the catalogue's pinned digest" if entry.sha256 else \
            f"the first download ({known.get('downloaded_at', 'earlier')})"
        raise DownloadError(f"{entry.name}: the download's sha256 {digest[:12]}... differs from "
                            f"{source} ({expected[:12]}...): the file on the server changed "
                            f"or the transfer is corrupt; nothing was installed")
    try:
        path, model_file, description = _install(entry, part, folder, verify)
    except DownloadError:
        part.unlink()  # a wrong file: the next attempt starts afresh, not "resumed"
        raise
    part.unlink()
    with contextlib.suppress(OSError):
        (folder / ".partial").rmdir()
    first = not expected
    record[entry.name] = {
        "url": url, "sha256": digest, "size": size,
        "model_file": str(model_file.relative_to(path)), "model_sha256": _sha256(model_file),
        "downloaded_at": known.get("downloaded_at") or time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    _write_record(folder, record)
    return DownloadResult(entry.name, path, model_file, digest, size, resumed_from=resumed,
                          first_download=first, description=description)


def installed(folder: str | Path) -> dict[str, Path]:
    """``{name: model file}`` of the catalogue models downloaded into ``folder`` (those whose
    file is still there)."""
    folder = Path(folder).expanduser()
    out: dict[str, Path] = {}
    for name, rec in sorted(_read_record(folder).items()):
        rel = rec.get("model_file") if isinstance(rec, dict) else None
        if isinstance(rel, str) and rel and (folder / name / rel).is_file():
            out[str(name)] = folder / name / rel
    return out
