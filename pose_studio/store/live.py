"""Others' changes as they happen: a background listener per open project.

* **PostgreSQL**: ``LISTEN pose_studio`` on a connection of its own. Every write transaction
  sends one notification with what it changed (``server.send_changes``); PostgreSQL delivers it
  when that transaction commits, in commit order, to every listener (a few milliseconds on a
  local network). Our own notifications (same project object) are skipped.
* **SQLite**: a file has one writer (the file lock), so others' changes only reach a window
  that opened the file read-only while another process writes. It polls ``PRAGMA
  data_version`` (a counter SQLite bumps when another connection commits; reading it costs a
  few microseconds) every :data:`POLL_S` and reports "something changed" when it moves.

Only frozen values cross the thread: :meth:`ChangeFeed.poll` (called on the GUI thread, e.g. by
a timer) drains them. The listener never writes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["POLL_S", "Change", "ChangeFeed"]

log = logging.getLogger(__name__)

#: How often the file poller looks, and the longest a listener waits before checking its stop
#: flag (seconds).
POLL_S = 0.25


@dataclass(frozen=True)
class Change:
    """What another writer changed: ``topics`` (instances, runs, history, videos,
    assignments...) and per video the frames (None: the whole video). ``everything``: only
    that something changed (a file's poll), re-read what is shown."""

    user: str | None = None
    topics: frozenset[str] = frozenset()
    frames: Mapping[int, tuple[int, ...] | None] = field(default_factory=dict)
    everything: bool = False

    @classmethod
    def from_payload(cls, payload: str) -> Change | None:
        try:
            d = json.loads(payload)
            frames = {int(v): None if fs is None else tuple(int(f) for f in fs)
                      for v, fs in dict(d.get("v") or {}).items()}
            return cls(d.get("u"), frozenset(str(t) for t in d.get("t") or ()), frames)
        except (ValueError, TypeError, AttributeError):
            return None


class ChangeFeed:
    """Listens for others' changes to ``project`` (see the module docstring)."""

    def __init__(self, project: Any) -> None:
        self._project = project
        self._queue: queue.Queue[Change] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.problem: str | None = None  # why listening stopped (shown by the window)

    @property
    def active(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Start listening; False when there is nothing to listen for (a file open for
        writing: nobody else can write it)."""
        p = self._project
        if p.is_server:
            target = self._listen_server
        elif p.read_only and getattr(p, "_keeper", None) is None:  # not a copy in memory
            target = self._poll_file
        else:
            return False
        self._thread = threading.Thread(target=target, name="pose-studio-changes", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        t, self._thread = self._thread, None
        if t is not None:
            t.join(timeout=2 * POLL_S + 1.0)

    def poll(self) -> list[Change]:
        """The changes that arrived since the last call (oldest first)."""
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    # --- the threads ---------------------------------------------------------------------------
    def _listen_server(self) -> None:
        import psycopg

        from pose_studio.store.server import CHANNEL

        url = self._project._url
        token = self._project._token
        params = {"host": url.host, "port": url.port, "user": url.username,
                  "password": url.password, "dbname": url.database,
                  "application_name": "pose-studio-listener", "connect_timeout": 10}
        params = {k: v for k, v in params.items() if v is not None}
        backoff = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(autocommit=True, **params) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    backoff = 0.5
                    self.problem = None
                    while not self._stop.is_set():
                        for n in conn.notifies(timeout=POLL_S):
                            self._take(n.payload, token)
            except psycopg.Error as e:  # the server went away: retry, say why meanwhile
                self.problem = f"live updates paused: {str(e).strip().splitlines()[0]}"
                log.info("%s", self.problem)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                self._queue.put(Change(everything=True))  # missed notes: re-read on return

    def _take(self, payload: str, token: str) -> None:
        with contextlib.suppress(ValueError, TypeError):
            if json.loads(payload).get("s") == token:
                return  # our own write: the session already knows
        ch = Change.from_payload(payload)
        if ch is not None:
            self._queue.put(ch)

    def _poll_file(self) -> None:
        from pose_studio.store.engine import connect_raw

        path = Path(self._project.path)
        try:
            conn = connect_raw(path, mode="ro")
        except Exception as e:  # a file we cannot watch: no live updates, say why
            self.problem = f"live updates off: {e}"
            return
        try:
            last = conn.execute("PRAGMA data_version").fetchone()[0]
            while not self._stop.wait(POLL_S):
                now = conn.execute("PRAGMA data_version").fetchone()[0]
                if now != last:
                    last = now
                    self._queue.put(Change(everything=True))
        except Exception as e:
            self.problem = f"live updates stopped: {e}"
        finally:
            conn.close()
