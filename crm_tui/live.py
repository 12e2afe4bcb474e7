"""Live refresh: notice what other processes commit to the database, so the app can show it.

SQLite: `PRAGMA data_version` on one dedicated, long-lived connection (the value is per
connection, and changes when any other connection commits), read by `SqliteChanges.check()`
from the app's timer. PostgreSQL: every write unit of work sends `NOTIFY crm_changes` in its
own transaction (crm_tui/db.py), and `PostgresChanges.run()` LISTENs on its own autocommit
connection, reconnecting with backoff; the app runs it in one of its thread workers, and no wait in
it lasts longer than IDLE_WAIT_S, so a cancelled worker (the app quitting) ends within that.

Both ignore the commits of their own Database object: the app refreshes after its own saves
already, and a second reload would be wasted. Nothing here imports Textual or starts a thread; the
app hands in a callback (it posts a message, which is safe from any thread).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import make_url

from crm_tui.db import CHANGES_CHANNEL, Database

log = logging.getLogger(__name__)

RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 30.0
IDLE_WAIT_S = 0.25  # the longest any wait of the listener lasts: a stop is noticed within it
CONNECT_TIMEOUT_S = 2  # psycopg's least


def watcher_for(db: Database, on_change: Callable[[], None], *,
                interval_s: float) -> SqliteChanges | PostgresChanges | None:
    """The watcher that suits `db`, or None where no other process can write (an in-memory SQLite)."""
    if db.is_sqlite:
        path = make_url(db.url).database
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        return SqliteChanges(db, path)
    return PostgresChanges(db, on_change, interval_s=interval_s)


class SqliteChanges:
    """`check()` says whether another connection committed since the last check.

    The connection is shared by the poller and by this process's writers (see before_commit /
    after_commit), so every use holds the lock."""

    polled = True  # the app calls check() from its timer

    def __init__(self, db: Database, path: str) -> None:
        self._db = db
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=1.0)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._seen = self._version()
        db.add_commit_hook(self)

    def _version(self) -> int:
        with self._lock:
            return self._conn.execute("PRAGMA data_version").fetchone()[0]

    def check(self) -> bool:
        """True when someone else committed since the last look (this process's own writes excepted)."""
        try:
            with self._lock:
                version = self._conn.execute("PRAGMA data_version").fetchone()[0]
                changed, self._seen = version != self._seen, version
        except sqlite3.Error as exc:  # a busy moment: look again on the next tick
            log.debug("data_version check failed: %s", exc)
            return False
        return changed

    # Called by Database.write() around the commit of a unit of work that holds the write lock
    # (BEGIN IMMEDIATE), so no other connection commits between the two: the version read after
    # our commit is ours alone, unless a foreign commit was still unseen before it (then the
    # poller must still see a change, and `_seen` is left alone).
    # A failure here must not fail the save: the worst it costs is one reload too many.
    def before_commit(self) -> None:
        try:
            self._local.before = self._version()
        except sqlite3.Error:
            self._local.before = None

    def after_commit(self) -> None:
        before, self._local.before = getattr(self._local, "before", None), None
        try:
            with self._lock:
                after = self._conn.execute("PRAGMA data_version").fetchone()[0]
                if before is not None and before == self._seen:
                    self._seen = after
        except sqlite3.Error as exc:
            log.debug("data_version after commit failed: %s", exc)

    def close(self) -> None:
        self._db.remove_commit_hook(self)
        with self._lock:
            self._conn.close()


class PostgresChanges:
    """`run()` LISTENs for crm_changes and calls `on_change` (at most once per interval, collapsing
    a burst into one call) until it is told to stop; it reconnects with backoff when the connection
    drops, and calls `on_change` after a reconnect, since notices sent while it was away are lost.
    It blocks: the caller runs it in a thread (the app: a thread worker, see CrmApp._listen)."""

    polled = False  # it calls on_change itself, from the thread that runs it

    def __init__(self, db: Database, on_change: Callable[[], None], *, interval_s: float) -> None:
        self._db = db
        self._on_change = on_change
        self._interval = max(interval_s, 0.05)
        self._stop = threading.Event()
        self._stopped: Callable[[], bool] = lambda: False  # run()'s caller's say
        self.listening = threading.Event()  # set while LISTEN is in place (tests wait on it)
        self.finished = threading.Event()  # set when run() has returned
        self.reconnects = 0
        self.skipped = 0  # notices of this Database's own writes, passed over
        self.backend_pid: int | None = None

    def close(self) -> None:
        """Stop: run() returns within IDLE_WAIT_S (it does not wait for that here)."""
        self._stop.set()

    def _stopping(self) -> bool:
        return self._stop.is_set() or self._stopped()

    def _pause(self, seconds: float) -> None:
        """Wait `seconds`, in slices short enough to notice a stop."""
        until = time.monotonic() + seconds
        while not self._stopping() and (left := until - time.monotonic()) > 0:
            self._stop.wait(min(left, IDLE_WAIT_S))

    def run(self, stopped: Callable[[], bool] | None = None) -> None:
        """Listen until close() is called or `stopped()` says so (a worker's is_cancelled)."""
        if stopped is not None:
            self._stopped = stopped
        try:
            self._run()
        finally:
            self.finished.set()

    def _connect(self):
        engine = self._db.engine
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        cparams.setdefault("connect_timeout", CONNECT_TIMEOUT_S)  # an unreachable server must not hold a stop up
        conn = engine.dialect.loaded_dbapi.connect(*cargs, **cparams)
        conn.autocommit = True
        conn.execute(f"LISTEN {CHANGES_CHANNEL}")
        return conn

    def _run(self) -> None:
        delay, first = RECONNECT_FIRST_S, True
        while not self._stopping():
            try:
                conn = self._connect()
            except Exception as exc:  # noqa: BLE001 - any failure: wait, then try again
                log.debug("LISTEN connect failed: %s", exc)
                self._pause(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
                continue
            delay = RECONNECT_FIRST_S
            try:
                with conn:
                    self.backend_pid = conn.info.backend_pid
                    self.listening.set()
                    if not first:
                        self.reconnects += 1
                        self._on_change()
                    first = False
                    self._listen(conn)
            except Exception as exc:  # noqa: BLE001 - the connection dropped: reconnect
                log.debug("LISTEN connection lost: %s", exc)
            finally:
                self.listening.clear()

    def _listen(self, conn) -> None:
        pending, last_call = False, float("-inf")
        while not self._stopping():
            # idle: wait a moment for the first notice (short, so a stop is noticed quickly; the
            # wait is a select() on the socket, no query); with one pending, gather the rest of
            # the burst until an interval has passed since the last call (never longer than idle)
            wait = IDLE_WAIT_S if not pending else last_call + self._interval - time.monotonic()
            for notice in conn.notifies(timeout=min(max(wait, 0.001), IDLE_WAIT_S),
                                        stop_after=None if pending else 1):
                if notice.payload != self._db.change_token:
                    pending = True
                else:
                    self.skipped += 1
            if pending and time.monotonic() - last_call >= self._interval and not self._stopping():
                pending, last_call = False, time.monotonic()
                self._on_change()
