"""One edit on a server in as few round trips as it can take: the store's raw SQL run on the
pooled psycopg connection in pipeline mode.

Through SQLAlchemy, every statement of an edit waits for its answer before the next is sent:
an edit of one instance was 13 round trips (begin, locks, its check, its update, the history
step, the notification, commit), and on a busy machine each one is a pair of context switches
and a chance to lose the CPU while holding the video's lock. In pipeline mode statements are
queued and sent at once; the client waits only where it reads an answer. :class:`PipeConn`
offers the part of :class:`sqlalchemy.Connection` the store's hot path uses
(``exec_driver_sql`` with ``?`` placeholders, ``dialect``, ``info``) with lazy results: a
statement whose rows nobody reads costs no round trip of its own, and a check that can wait
(an update's version, see :meth:`PipeConn.check_before_commit`) is read with the commit's.

An edit of one instance then waits three times at most, in two batches: begin, the locks,
the read of its before state and its update (queued behind the read by
``ConnStore.speculate``) go together, and the client waits for the read; the history step and
the notification follow; the update's answer (its new version) is checked, then COMMIT goes
with the Sync that ends the pipeline, and the client waits for it.
Errors are raised as SQLAlchemy's exception classes (what ``ProjectBase._convert`` words), and
a connection that broke is dropped from the pool.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, exc

from pose_studio.store import server, sqlport

__all__ = ["PipeConn", "PipeResult", "pipelined", "read_rows"]

# psycopg is optional (the server extra): imported inside the functions, which run only for a
# server project; cursors and connections are typed Any here for that reason.


class PipeResult:
    """The rows of one queued statement, fetched when first asked for (which sends whatever
    is queued and waits for the answers up to this one)."""

    __slots__ = ("_cur", "_owner", "_rows", "_sql")

    def __init__(self, owner: PipeConn, cur: Any, sql: str) -> None:
        self._owner = owner
        self._cur = cur
        self._sql = sql
        self._rows: list[tuple[Any, ...]] | None = None

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            with self._owner.translating(self._sql):
                self._rows = self._cur.fetchall()
            self._cur.close()
        return self._rows

    def first(self) -> tuple[Any, ...] | None:
        rows = self.fetchall()
        return rows[0] if rows else None

    def one(self) -> tuple[Any, ...]:
        rows = self.fetchall()
        if len(rows) != 1:
            raise exc.NoResultFound("no row") if not rows else exc.MultipleResultsFound("rows")
        return rows[0]

    def scalar(self) -> Any:
        row = self.first()
        return None if row is None else row[0]

    def scalar_one(self) -> Any:
        return self.one()[0]


class PipeConn:
    """A write transaction in pipeline mode (see the module docstring); made by
    :func:`pipelined`."""

    def __init__(self, conn: Connection, raw: Any) -> None:
        import psycopg

        self._pg = psycopg
        self._sa = conn
        self._raw = raw
        self.dialect = conn.dialect
        self.info: dict[str, Any] = {"ps_locked": set(), "ps_changes": {}}
        self._checks: list[Callable[[], None]] = []

    @contextlib.contextmanager
    def translating(self, sql: str, params: Any = None) -> Iterator[None]:
        """psycopg's errors as SQLAlchemy's (a broken connection leaves the pool)."""
        try:
            yield
        except self._pg.Error as e:
            if self._raw.broken or self._raw.closed:
                self._sa.invalidate(e)
            raise exc.DBAPIError.instance(sql, params, e, self._pg.Error) from e

    def exec_driver_sql(self, sql: str, params: Any = ()) -> PipeResult:
        """Queue ``sql`` (``?`` placeholders); a list of tuples runs it once for each."""
        text = sqlport.translate(sql)
        cur = self._raw.cursor()
        with self.translating(sql, params):
            if isinstance(params, list):
                cur.executemany(text, params)
            else:
                cur.execute(text, params or None)
        return PipeResult(self, cur, sql)

    def check_before_commit(self, check: Callable[[], None]) -> None:
        """Run ``check`` (reading a queued result; it raises to refuse the transaction) before
        the commit is sent: all of them cost one round trip together."""
        self._checks.append(check)

    def run_checks(self) -> None:
        for check in self._checks:
            check()
        self._checks.clear()


@contextlib.contextmanager
def pipelined(engine: Engine, *, videos: Iterable[int] = ()) -> Iterator[PipeConn]:
    """A write transaction on ``engine`` (a server's, with its ``ps_begin``/``ps_sync``
    options) as a :class:`PipeConn`: its locks (the project's, then ``videos`` in id order)
    are queued with its first statement; committed when the block ends, rolled back when it
    raises."""
    import psycopg

    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        pipe = PipeConn(conn, raw)
        opts = dict(engine.get_execution_options(), ps_videos=tuple(videos))
        sqls, locked = server.begin_sql(opts)
        done = False
        try:
            with pipe.translating("COMMIT"), raw.pipeline():
                for sql in sqls:
                    pipe.exec_driver_sql(sql)
                pipe.info["ps_locked"].update(locked)
                try:
                    yield pipe
                    pipe.run_checks()
                except Exception as e:
                    if not isinstance(e, psycopg.Error | exc.DBAPIError):
                        # Refused by a check here (a stale edit, a bad value): the server
                        # saw no error, so roll back in the pipeline's last round trip.
                        # (psycopg's rollback() would also forget every prepared statement,
                        # and they would be parsed again for the next edits.)
                        with contextlib.suppress(exc.DBAPIError):  # else: rollback() below
                            pipe.exec_driver_sql("ROLLBACK")
                    raise
                # COMMIT as a queued statement: the Sync that ends the pipeline carries it
                # (psycopg's commit() would sync once more).
                pipe.exec_driver_sql("COMMIT")
            done = True
        finally:
            if not done and not raw.closed:
                with contextlib.suppress(psycopg.Error):
                    raw.rollback()


def read_rows(engine: Engine, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The rows of one ``SELECT`` (``?`` placeholders) in one round trip: a single statement
    sees one snapshot by itself, so it runs in autocommit, without a BEGIN and a COMMIT of its
    own (two more round trips through SQLAlchemy)."""
    import psycopg

    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        raw.autocommit = True
        try:
            with raw.cursor() as cur:
                cur.execute(sqlport.translate(sql), params)
                return cur.fetchall()
        except psycopg.Error as e:
            if raw.broken or raw.closed:
                conn.invalidate(e)
            raise exc.DBAPIError.instance(sql, params, e, psycopg.Error) from e
        finally:
            if not raw.closed:
                raw.autocommit = False
