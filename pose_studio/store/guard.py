"""The schema check: a project file may only hold the tables, indexes, triggers and views that this
version of Pose Studio itself creates, so that nothing stored in a shared file can run.

SQL triggers fire when Pose Studio writes, views and expression indexes evaluate stored SQL, and
an altered table (an extra ``CHECK``, a ``DEFAULT`` expression, a generated column, a foreign key
that cascades, ``ON CONFLICT REPLACE``) changes what a write does. So :func:`check_schema` runs
on a read-only connection before any row is read (generated columns compute on read) and again
inside the write transaction that upgrades the file; any object the expected schema lacks, or
that differs from it, is refused by name (:class:`~pose_studio.store.errors.ProjectSchemaError`),
and ``pose-studio repair`` writes a clean copy.

The expected schema is not a list kept by hand: it is read from a project freshly created by
:meth:`Project._write_new_file` (whatever the ORM metadata and the creation code make today), and
from a version-1 file taken through every step of ``migrations.py`` (an older file upgraded by
this version). Objects are compared by structure, not by SQL text: columns (name, declared
type, NOT NULL, default, primary-key position, hidden/generated), foreign keys with their
actions, indexes (columns, expressions, collation, order, unique, partial), and for tables the
parts that pragmas do not show (CHECK expressions, COLLATE, ON CONFLICT, AUTOINCREMENT,
WITHOUT ROWID, STRICT) from their ``CREATE`` statement. Triggers and views, when a future version
creates some, must match its statement token for token.

SQLite's own defences are also set on every connection (``engine.harden``), but the check does
not rely on them.
"""

from __future__ import annotations

import functools
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pose_studio.store.errors import ProjectError, ProjectSchemaError
from pose_studio.store.sqltokens import balanced, canonical, tokens

__all__ = ["Finding", "Schema", "check_schema", "expected_schema", "foreign_objects", "read_schema"]

#: (object type, lower-case name) -> structure (hashable)
Schema = dict[tuple[str, str], Any]

#: Tables SQLite makes by itself (AUTOINCREMENT bookkeeping, ANALYZE/optimize statistics).
_SQLITE_INTERNAL = ("sqlite_sequence", "sqlite_stat1", "sqlite_stat2", "sqlite_stat3",
                    "sqlite_stat4")


@dataclass(frozen=True)
class Finding:
    """One object that is not as this version makes it."""

    kind: str  # table, index, trigger, view
    name: str
    table: str
    problem: str  # "not created by Pose Studio", "differs: ...", "missing"

    def describe(self) -> str:
        on = f" on table {_q(self.table)}" if self.kind in ("index", "trigger") and \
            self.table else ""
        return f"{self.kind} {_q(self.name)}{on} ({self.problem})"


def _q(name: str, limit: int = 60) -> str:
    """A name from the file, quoted and safe for one line of output."""
    s = "".join(ch if ch.isprintable() else "?" for ch in str(name))
    if len(s) > limit:
        s = s[:limit] + "..."
    return f"'{s}'"


# --- reading a schema -----------------------------------------------------------------------------
@functools.lru_cache(maxsize=512)  # the same statements come back on every open
def _table_extras(sql: str | None) -> tuple[Any, ...]:
    toks = tokens(sql or "")
    checks, collations, conflicts = [], [], []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t == "check" and i + 1 < len(toks) and toks[i + 1] == "(":
            inner, i = balanced(toks, i + 1)
            checks.append(" ".join(inner))
            continue
        if t == "collate" and i + 1 < len(toks):
            collations.append(toks[i + 1])
        if t == "on" and i + 2 < len(toks) and toks[i + 1] == "conflict":
            conflicts.append(toks[i + 2])
        i += 1
    # options after the column list: WITHOUT ROWID, STRICT
    tail: list[str] = []
    if "(" in toks:
        _, end = balanced(toks, toks.index("("))
        tail = toks[end:]
    return (
        "virtual" if len(toks) > 1 and toks[1] == "virtual" else "table",
        tuple(sorted(checks)), tuple(sorted(collations)), tuple(sorted(conflicts)),
        "autoincrement" in toks, "rowid" in tail, "strict" in tail,
        toks.count("deferrable"),
    )


def _table_shape(conn: sqlite3.Connection, name: str, sql: str | None) -> tuple[Any, ...]:
    try:
        cols = conn.execute(
            'SELECT lower(name), upper(type), "notnull", dflt_value, pk, hidden '
            "FROM pragma_table_xinfo(?)", (name,)).fetchall()
    except sqlite3.OperationalError:  # SQLite < 3.26: no hidden-column information
        cols = [(*r, 0) for r in conn.execute(
            'SELECT lower(name), upper(type), "notnull", dflt_value, pk FROM pragma_table_info(?)',
            (name,)).fetchall()]
    fks: dict[int, list[Any]] = {}
    for fid, seq, table, frm, to, on_update, on_delete, match in conn.execute(
            "SELECT id, seq, \"table\", \"from\", \"to\", on_update, on_delete, \"match\" "
            "FROM pragma_foreign_key_list(?)", (name,)):
        fks.setdefault(fid, []).append((seq, str(table).lower(), str(frm).lower(),
                                        None if to is None else str(to).lower(),
                                        on_update, on_delete, match))
    fk_shapes = frozenset(
        (rows[0][1], tuple((r[2], r[3]) for r in sorted(rows)), rows[0][4], rows[0][5], rows[0][6])
        for rows in fks.values()
    )
    return ("table", frozenset(cols), fk_shapes, _table_extras(sql))


def _index_shape(conn: sqlite3.Connection, name: str, table: str) -> tuple[Any, ...]:
    listing = {str(r[0]).lower(): (r[1], r[2], r[3]) for r in conn.execute(
        'SELECT name, "unique", origin, partial FROM pragma_index_list(?)', (table,))}
    unique, origin, partial = listing.get(name.lower(), (None, None, None))
    cols = tuple(
        (seqno, cid, None if cname is None else str(cname).lower(), desc,
         None if coll is None else str(coll).upper(), key)
        for seqno, cid, cname, desc, coll, key in conn.execute(
            "SELECT seqno, cid, name, \"desc\", coll, \"key\" FROM pragma_index_xinfo(?)",
            (name,))
    )
    return ("index", table.lower(), unique, origin, partial, cols)


def read_schema(conn: sqlite3.Connection) -> tuple[Schema, dict[tuple[str, str], tuple[str, str]]]:
    """Every object of the ``main`` database with its structure, and the names as stored
    (``(type, name) -> (name, table)``) for messages. Runs nothing stored in the file.

    Raises:
        sqlite3.DatabaseError: the schema itself cannot be read (damaged file).
    """
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM main.sqlite_master ORDER BY type, name"
    ).fetchall()
    schema: Schema = {}
    names: dict[tuple[str, str], tuple[str, str]] = {}
    for typ, name, table, sql in rows:
        key = (str(typ), str(name).lower())
        names[key] = (str(name), str(table))
        if typ == "table":
            shape: Any = _table_shape(conn, str(name), sql)
            extras = shape[3]
            if extras[0] == "virtual":
                shape = ("virtual table", canonical(sql))
        elif typ == "index":
            shape = _index_shape(conn, str(name), str(table))
        else:  # trigger, view (and anything a future SQLite adds)
            shape = (str(typ), str(table).lower(), canonical(sql))
        schema[key] = shape
    return schema, names


# --- the expected schema --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Known:
    by_version: dict[int, Schema]  # a version-1 file upgraded step by step, after each step
    fresh: Schema  # a file created by this version
    internal: Schema  # SQLite's own tables as this SQLite makes them


def _memory_conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _migrated_schemas() -> dict[int, Schema]:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    from pose_studio.store import migrations
    from pose_studio.store.schema import SCHEMA_VERSION

    raw = _memory_conn()
    engine = create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool)
    out: dict[int, Schema] = {}
    try:
        with engine.connect() as conn:
            migrations.create_v1(conn)
            out[1] = read_schema(raw)[0]
            for v in range(1, SCHEMA_VERSION):
                migrations.MIGRATIONS[v - 1](conn)
                conn.exec_driver_sql("UPDATE schema_version SET version = ?", (v + 1,))
                out[v + 1] = read_schema(raw)[0]
            conn.commit()
    finally:
        engine.dispose()
        raw.close()
    return out


def _fresh_schema() -> Schema:
    """The schema of a project created by this version, made the way ``Project.create`` makes
    one (in a temporary folder; in memory from the ORM metadata when no folder can be written)."""
    from pose_studio.core.skeleton import COCO17

    try:
        with tempfile.TemporaryDirectory(prefix="posestudio-schema-") as tmp:
            from pose_studio.store.engine import connect_raw
            from pose_studio.store.newfile import write_new_file

            path = Path(tmp) / "expected.posestudio"
            write_new_file(path, COCO17)
            conn = connect_raw(path, mode="ro")
            try:
                return read_schema(conn)[0]
            finally:
                conn.close()
    except (OSError, sqlite3.Error):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool

        from pose_studio.store.schema import Base

        raw = _memory_conn()
        engine = create_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool)
        try:
            with engine.begin() as sa_conn:
                Base.metadata.create_all(sa_conn)
            return read_schema(raw)[0]
        finally:
            engine.dispose()
            raw.close()


def _internal_schema() -> Schema:
    raw = _memory_conn()
    try:
        raw.execute("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v)")
        raw.execute("CREATE INDEX t_v ON t (v)")
        raw.execute("INSERT INTO t (v) VALUES (1)")
        raw.execute("ANALYZE")
        schema, _ = read_schema(raw)
        return {k: v for k, v in schema.items() if k[1] in _SQLITE_INTERNAL}
    finally:
        raw.close()


@functools.lru_cache(maxsize=1)
def _known() -> _Known:
    from pose_studio.store.schema import SCHEMA_VERSION

    by_version = _migrated_schemas()
    assert max(by_version) == SCHEMA_VERSION
    return _Known(by_version, _fresh_schema(), _internal_schema())


def expected_schema(version: int | None) -> tuple[dict[tuple[str, str], list[Any]], set[tuple[str, str]]]:
    """``(allowed, required)`` for a file of ``version`` (None: any known version).

    ``allowed`` maps each object to the structures it may have; ``required`` are the objects
    every file of that version has (SQLite's internal tables and auto-indexes excepted).
    """
    known = _known()
    from pose_studio.store.schema import SCHEMA_VERSION

    if version is None:
        sources = [*known.by_version.values(), known.fresh]
    elif version == SCHEMA_VERSION:
        sources = [known.by_version[version], known.fresh]
    else:
        sources = [known.by_version[version]]
    allowed: dict[tuple[str, str], list[Any]] = {}
    for src in (*sources, known.internal):
        for key, shape in src.items():
            shapes = allowed.setdefault(key, [])
            if shape not in shapes:
                shapes.append(shape)
    required = set.intersection(*(set(s) for s in sources)) if version is not None else set()
    required = {k for k in required
                if not k[1].startswith("sqlite_")}  # internal tables and auto-indexes
    return allowed, required


# --- comparing ------------------------------------------------------------------------------------
_WHY = {
    "trigger": "a trigger runs stored SQL whenever the project is written",
    "view": "a view runs stored SQL when it is read",
    "index": "an index can evaluate stored expressions on every write",
    "table": "Pose Studio does not use it",
}


def _table_difference(found: Any, expected: list[Any]) -> str:
    """What differs between a table's structure and the closest expected one, in words."""
    if not expected:
        return "differs"
    if found[0] != "table":
        return "it is a virtual table (runs a module's code)"
    best = expected[0]
    if best[0] != "table":
        return "differs"
    fcols = {c[0]: c for c in found[1]}
    ecols = {c[0]: c for c in best[1]}
    extra = sorted(set(fcols) - set(ecols))
    if extra:
        col = fcols[extra[0]]
        what = "a generated column" if col[5] else "a column"
        return f"{what} {_q(extra[0])} that Pose Studio does not create"
    missing = sorted(set(ecols) - set(fcols))
    if missing:
        return f"column {_q(missing[0])} is missing"
    for name in sorted(fcols):
        if fcols[name] != ecols[name]:
            f, e = fcols[name], ecols[name]
            if f[5] != e[5]:
                return f"column {_q(name)} is a generated column"
            if f[3] != e[3]:
                return f"column {_q(name)} has a default value expression"
            return f"column {_q(name)} is declared differently"
    if found[2] != best[2]:
        return "its foreign keys (and what they delete or change) differ"
    labels = ("kind", "CHECK constraints", "collations", "ON CONFLICT clauses", "AUTOINCREMENT",
              "WITHOUT ROWID", "STRICT", "DEFERRABLE clauses")
    for label, f, e in zip(labels, found[3], best[3]):
        if f != e:
            return f"its {label} differ"
    return "differs"


def foreign_objects(schema: Schema, names: dict[tuple[str, str], tuple[str, str]],
                    version: int | None) -> list[Finding]:
    """Objects of ``schema`` this version did not create (or made differently), and the ones it
    needs that are missing, for a file of ``version`` (None: any known version)."""
    allowed, required = expected_schema(version)
    out: list[Finding] = []
    for key, shape in schema.items():
        typ, _ = key
        name, table = names.get(key, (key[1], ""))
        if key not in allowed:
            if typ == "index" and key[1].startswith("sqlite_autoindex_") and \
                    ("table", table.lower()) in allowed:
                # a UNIQUE/PRIMARY KEY index of a table that itself is not as expected is
                # reported through that table
                continue
            why = _WHY.get(typ, "Pose Studio does not create it")
            out.append(Finding(typ, name, table, f"not created by Pose Studio: {why}"))
        elif shape not in allowed[key]:
            if typ == "table":
                problem = _table_difference(shape, allowed[key])
            elif typ == "index":
                problem = "its columns or expressions differ from the index Pose Studio creates"
            else:
                problem = "its statement differs from the one Pose Studio creates"
            out.append(Finding(typ, name, table, problem))
    for key in sorted(required - set(schema)):
        out.append(Finding(key[0], key[1], "", "missing"))
    return out


def check_schema(conn: sqlite3.Connection, path: Path, version: int | None) -> None:
    """Refuse the file when its schema is not what this version creates (see the module
    docstring). ``version``: the file's schema version, or None before it is known (then each
    object must match the same object of some known version).

    Raises:
        ProjectSchemaError: foreign or altered objects, or missing tables (named).
        ProjectError: the schema cannot be read (damaged file).
    """
    try:
        schema, names = read_schema(conn)
    except sqlite3.DatabaseError as exc:
        raise ProjectError(f"project {path} is damaged: its schema cannot be read ({exc})") \
            from exc
    findings = foreign_objects(schema, names, version)
    if not findings:
        return
    missing = [f for f in findings if f.problem == "missing"]
    # Objects this version never makes first (they are what could run), then altered ones.
    foreign = sorted((f for f in findings if f.problem != "missing"),
                     key=lambda f: not f.problem.startswith("not created"))
    repair = f"`pose-studio repair {path} --out CLEAN.posestudio` writes a copy without it"
    if foreign:
        shown = "; ".join(f.describe() for f in foreign[:3])
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise ProjectSchemaError(
            f"project {path} contains {shown}{more}. It was not opened, so nothing stored in it "
            f"ran; {repair if len(foreign) == 1 else repair.replace('without it', 'without them')}",
            findings=findings,
        )
    shown = ", ".join(f"{f.kind} {_q(f.name)}" for f in missing[:5])
    raise ProjectSchemaError(
        f"project {path} is damaged: {shown} {'is' if len(missing) == 1 else 'are'} missing; "
        f"`pose-studio repair {path} --out CLEAN.posestudio` writes a complete copy",
        findings=findings,
    )


def reset_cache() -> None:
    """Forget the expected schema (tests that change the ORM metadata)."""
    _known.cache_clear()

