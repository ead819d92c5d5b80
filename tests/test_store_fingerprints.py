"""Fingerprints in the store: format 4 adds frame signatures (BLOB) beside old 64-bit hashes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pose_studio.store import SCHEMA_VERSION, Project
from tests.support.old_projects import old_project

OLD = -1234567890123456789  # a 64-bit hash as format 3 stored it (signed)


def _make_v3(path: Path) -> None:
    """A format-3 file (v1 DDL + the v2 and v3 steps) with a video and one old fingerprint."""
    with old_project(path, 3) as conn:
        conn.exec_driver_sql("INSERT INTO frames (video_id, frame_idx, fingerprint) "
                             "VALUES (1, 4, ?)", (OLD,))


def _columns(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[1] for r in con.execute("PRAGMA table_info(frames)")}
    finally:
        con.close()


def test_v3_file_is_migrated_and_keeps_old_fingerprints(tmp_path: Path) -> None:
    assert SCHEMA_VERSION >= 4  # this file is a v3 one, migrated to the current version
    path = tmp_path / "v3.posestudio"
    _make_v3(path)
    assert "signature" not in _columns(path)
    with Project.open(path) as p:
        assert p.fingerprints(1) == {4: OLD % (1 << 64)}  # old hash still readable, unsigned
        sig = b"\x01" + bytes(range(256)) * 4
        p.set_fingerprints(1, {5: sig})
        assert p.fingerprints(1) == {4: OLD % (1 << 64), 5: sig}
        p.set_fingerprints(1, {4: sig})  # a signature replaces the old hash
        assert p.fingerprints(1) == {4: sig, 5: sig}
        p.set_fingerprints(1, {5: 7})  # and an old hash a signature
        assert p.fingerprints(1) == {4: sig, 5: 7}
        with pytest.raises(ValueError):
            p.set_fingerprints(1, {6: b""})
        with p.import_transaction() as w:
            w.set_fingerprints(1, {6: sig, 7: 2**64 - 1})
        assert p.fingerprints(1)[6] == sig and p.fingerprints(1)[7] == 2**64 - 1
    assert "signature" in _columns(path)
    con = sqlite3.connect(path)
    assert con.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("SELECT fingerprint, signature IS NULL FROM frames WHERE frame_idx = 4"
                       ).fetchone() == (None, 0)
    con.close()


def test_v3_file_read_only_reads_old_fingerprints(tmp_path: Path) -> None:
    path = tmp_path / "v3.posestudio"
    _make_v3(path)
    with Project.open(path, read_only=True) as p:
        assert p.fingerprints(1) == {4: OLD % (1 << 64)}
    assert "signature" not in _columns(path)  # upgraded in memory only
