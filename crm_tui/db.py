"""The database: engines from a URL, SQLite pragmas, sessions for reading and writing, migrations.

No engine is created at import time. Open one with `open_database(url)`.

Writes go through `Database.write()`, a unit of work: on SQLite it begins with BEGIN IMMEDIATE
so the write lock is taken before the first read of the transaction (several processes
sharing one file then queue on the busy timeout instead of failing with "database is locked"
half-way through); the whole block commits or rolls back as one.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import threading
from typing import TYPE_CHECKING

from crm_tui.errors import Conflict, CrmError, InvalidInput, NotFound, SchemaError, StorageError

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.exc import DBAPIError
    from sqlmodel import Session

# SQLAlchemy loads when a database's engine is first used: opening a current database (a revision
# check) and the app's first page (services/start.py) read through a plain DB-API connection
# (Database.quick_read), so the app can paint before the ORM has loaded.

# the newest migration (crm_tui/migrations/versions): opening a database compares its revision with
# this, in one query, without loading Alembic; tests/unit/test_migrations.py keeps the two equal
HEAD = "0027"

BUSY_TIMEOUT_S = 30
# One key for PostgreSQL's advisory lock around schema upgrades, so two processes opening a
# fresh database at once do not both run the migrations.
_MIGRATION_LOCK_KEY = 0x43524D  # "CRM"
# PostgreSQL: every write unit of work sends NOTIFY on this channel (payload: the writing
# Database's change_token), so open apps refresh (crm_tui/live.py listens).
CHANGES_CHANNEL = "crm_changes"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys, a busy timeout and explicit BEGINs."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _ensure_sqlite_file(parsed.database)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, echo=echo, pool_pre_ping=True)
    raise InvalidInput(f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql+psycopg://")


def _ensure_sqlite_file(database: str | None, *, shared: bool = False) -> None:
    """Create a new SQLite file before SQLite opens it: readable by its owner only (0600), or,
    `shared` (`crm init --shared`, for a team directory), by its group too (0660). SQLite gives
    the -wal and -shm files it makes beside it the same mode. A shared database's existing file is
    brought to 0660 (with its -wal and -shm), so `--shared` also turns a private file into a team's."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    mode = 0o660 if shared else 0o600
    if path.exists():
        for each in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")) if shared else ():
            try:
                if each.exists() and each.stat().st_mode & 0o777 != mode:
                    each.chmod(mode)
            except OSError as exc:
                raise StorageError(f"cannot make {each} group-writable: {exc.strerror} (are you its owner?)") from None
        return
    try:
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if shared:  # group-writable (SQLite makes -wal and -shm there), and setgid so files
                path.parent.chmod(0o2770)  # made in it belong to its group; chmod: the umask would cut it
    except OSError as exc:
        raise StorageError(f"cannot create database directory {path.parent}: {exc.strerror}") from None
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    except FileExistsError:
        return
    except OSError as exc:
        raise StorageError(f"cannot create database file {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, mode)  # the umask (often 022) would take the group's write bit away
    finally:
        os.close(fd)


def _require_existing_file(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return
    if not Path(path).exists():
        raise NotFound(f"no database at {path}: create it with `crm --db {path} init`, or check the path")


def _sqlite_on_connect(dbapi_conn, _record) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event below (pysqlite would otherwise
    # issue its own deferred BEGIN lazily, too late to take the write lock up front).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # The busy timeout goes first so every later statement on this connection waits its turn.
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    _refuse_foreign(cur)  # before WAL: switching to it would change another program's file
    _enter_wal(cur)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    # up to 64 MiB of page cache (SQLite's default is 2 MiB): taken only as pages are read, and it
    # halved the activity inserts of a 10,000-message mail sync into a 100k-contact file (bench_mail)
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def _refuse_foreign(cur) -> None:
    """A SQLite file with tables but no schema revision is another program's database: the CRM
    would add its tables to a file that is not its own. (A PostgreSQL database may well hold other
    schemas' tables beside the CRM's, so this is SQLite's check only.) A file that is not a
    database at all fails here too, with SQLite's "file is not a database" (see cannot_open)."""
    tables = [row[0] for row in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    if tables and "alembic_version" not in tables:
        file = cur.execute("SELECT file FROM pragma_database_list WHERE name = 'main'").fetchone()[0]
        shown = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
        raise StorageError(f"{file} is not a crm-tui database (it holds other tables: {shown})")


def _enter_wal(cur) -> None:
    """Switch the file to WAL. The switch needs the file to itself, and SQLite answers "database
    is locked" at once rather than calling the busy handler when another process is creating or
    migrating the same fresh file, so wait for it here, up to the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _sqlite_on_begin(conn) -> None:
    mode = "IMMEDIATE" if conn.get_execution_options().get("crm_write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One database: an engine plus read and write units of work. Safe to share across threads;
    each unit of work opens its own Session."""

    def __init__(self, url: str, *, echo: bool = False, _engine_later: bool = False) -> None:
        self.url = url
        self._echo = echo
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()
        # the plain DB-API connection of the start (quick_read), or False
        self._quick = False  # open_database(quick_reads=True) hands it one
        self._quick_lock = threading.Lock()
        self._quick_ending = False
        if not (_engine_later and _plain_backend(url)):
            self.engine  # noqa: B018 - made now: an unsupported URL fails here, as it always has
        # names this Database's writes in a change notice, so its own listener can skip them
        self.change_token = uuid.uuid4().hex
        self._commit_hooks: list = []  # objects with before_commit() and after_commit() (crm_tui/live.py)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, made (and SQLAlchemy loaded) on first use; any thread may ask."""
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    engine = make_engine(self.url, echo=self._echo)
                    self._write_engine = engine.execution_options(crm_write=True)
                    self._engine = engine
        return self._engine

    @property
    def dialect(self) -> str:
        if self._engine is None and (backend := _plain_backend(self.url)):
            return backend
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def local_reads(self) -> bool:
        """A short read is quicker done on the spot than handed to a thread: SQLite reads a file on
        this machine and, in WAL mode, never waits for a writer; a screen's first page there takes
        about a millisecond, less than starting a thread, handing the result over and sharing the
        interpreter lock with it. A server (PostgreSQL) is a round trip away, and may be slow to
        answer: its reads go to a thread, so the app can show itself meanwhile."""
        return self.is_sqlite

    def display_url(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def quick_read(self) -> Iterator:
        """The start's plain DB-API connection (sqlite3, or psycopg for postgresql+psycopg), for the
        reads before SQLAlchemy has loaded (services/start.py); None when there is none (another
        driver, or closed: `end_quick_reads`), and the caller goes the ORM's way. One user at a time."""
        with self._quick_lock:
            try:
                yield self._quick or None
            finally:
                if self._quick_ending:
                    self._close_quick()

    def end_quick_reads(self) -> None:
        """The start is over: close its plain connection; every read goes through the engine now.
        A read still running on it (a slow first page) closes it when it is done: no wait here."""
        self._quick_ending = True
        if self._quick_lock.acquire(blocking=False):
            try:
                self._close_quick()
            finally:
                self._quick_lock.release()

    def _close_quick(self) -> None:
        if self._quick:
            self._quick.close()
        self._quick = False

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading. Nothing it does is committed."""
        from sqlalchemy.exc import DBAPIError
        from sqlmodel import Session

        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
            except DBAPIError as exc:
                raise storage_error(exc) from None
            finally:
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work: everything in the block commits together, or nothing does."""
        from sqlalchemy.exc import DBAPIError, IntegrityError
        from sqlalchemy.orm.exc import StaleDataError
        from sqlmodel import Session

        self.engine  # noqa: B018 - made, with the write engine
        with Session(self._write_engine, expire_on_commit=False) as session:
            try:
                yield session
                hooks = self._before_commit(session)
                session.commit()
                for hook in hooks:
                    hook.after_commit()
            except CrmError:
                session.rollback()
                raise
            except StaleDataError:
                session.rollback()
                raise Conflict("the record was changed by someone else meanwhile; reload and try again") from None
            except IntegrityError as exc:
                session.rollback()
                raise InvalidInput(f"the change breaks a database rule: {_first_line(exc.orig)}") from None
            except DBAPIError as exc:
                session.rollback()
                raise storage_error(exc) from None
            except BaseException:
                session.rollback()
                raise

    def _before_commit(self, session: Session) -> list:
        """Tell others a change is coming (NOTIFY is delivered at commit, and only if it commits)
        and give the commit hooks their look while this unit still holds the write lock."""
        if not session.in_transaction():
            return []
        if not self.is_sqlite:
            from sqlalchemy import text

            session.execute(text("SELECT pg_notify(:channel, :token)"),
                            {"channel": CHANGES_CHANNEL, "token": self.change_token})
        hooks = list(self._commit_hooks)
        if hooks:
            session.flush()
            session.connection()  # on SQLite: BEGIN IMMEDIATE now, if nothing has begun yet
            for hook in hooks:
                hook.before_commit()
        return hooks

    def add_commit_hook(self, hook) -> None:
        self._commit_hooks.append(hook)

    def remove_commit_hook(self, hook) -> None:
        if hook in self._commit_hooks:
            self._commit_hooks.remove(hook)

    def dispose(self) -> None:
        self.end_quick_reads()
        if self._engine is not None:
            self._engine.dispose()


def storage_error(exc: DBAPIError) -> StorageError:
    message = _first_line(exc.orig)
    if "locked" in message or "busy" in message:
        return StorageError(f"the database stayed busy for {BUSY_TIMEOUT_S} s (another writer holds it); try again")
    return StorageError(f"database error: {message}")


def _first_line(exc: BaseException | None) -> str:
    text_ = str(exc or "").strip()
    return text_.splitlines()[0] if text_ else exc.__class__.__name__


# --- schema -------------------------------------------------------------------------------


def _alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def current_revision(db: Database) -> str | None:
    """The schema revision the database is at (None when it has none yet). A file that is not a
    database, or a database that cannot be reached, raises one StorageError that says so."""
    from sqlalchemy.exc import DBAPIError

    try:
        with db.engine.connect() as conn:
            return _current_revision(conn)
    except DBAPIError as exc:
        raise cannot_open(db, exc) from None


def cannot_open(db: Database, exc: DBAPIError) -> StorageError:
    message = _first_line(exc.orig)
    if _not_a_database(exc):
        return StorageError(f"{_where(db)} is not a crm-tui database (SQLite says: {message})")
    return StorageError(f"cannot open database {_where(db)}: {message}")


def _not_a_database(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_NOTADB


def _where(db: Database) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(db.url)
    if db.is_sqlite and parsed.database:
        return parsed.database
    return db.display_url()




def _current_revision(conn) -> str | None:
    """One query: the revision, or None when the database has no revision table yet (a new one)."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import DBAPIError

    if conn.in_transaction():  # upgrade's unit of work: on PostgreSQL a failed query would end it
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    try:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError as exc:
        if not _no_such_table(exc):
            raise
        return None


def _no_such_table(exc: DBAPIError) -> bool:
    # SQLite: "no such table: alembic_version"; PostgreSQL: undefined_table (SQLSTATE 42P01)
    return getattr(exc.orig, "sqlstate", None) == "42P01" or "no such table" in str(exc.orig)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def schema_state(revision: str | None) -> str:
    """"current", "older" (`crm db upgrade` brings it up) or "newer" (a revision this crm does not
    know: a later crm-tui wrote it, and only upgrading crm-tui helps)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(_alembic_config())
    if revision == script.get_current_head():
        return "current"
    if revision is None:
        return "older"
    try:
        return "older" if script.get_revision(revision) is not None else "newer"
    except CommandError:
        return "newer"


def upgrade(db: Database) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (before, after).

    Runs inside one write transaction (BEGIN IMMEDIATE on SQLite, an advisory lock on
    PostgreSQL) so processes starting together serialize here instead of racing.
    """
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    script = ScriptDirectory.from_config(_alembic_config())
    head = script.get_current_head()
    try:
        with db._write_engine.connect() as conn:
            with conn.begin():
                if not db.is_sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                before = _current_revision(conn)
                _refuse_newer(script, before, head)
                if before != head:
                    command.upgrade(_alembic_config(conn), "head")
    except DBAPIError as exc:
        raise (cannot_open(db, exc) if _not_a_database(exc) else storage_error(exc)) from None
    return before, head


def _refuse_newer(script, current: str | None, head: str) -> None:
    from alembic.util import CommandError

    if current is None or current == head:
        return
    try:
        known = script.get_revision(current)
    except CommandError:
        known = None
    if known is None:
        raise SchemaError(
            f"the database schema (revision {current}) is newer than this crm (revision {head}); "
            "upgrade crm-tui before opening it"
        )


def open_database(url: str, *, migrate: bool = True, echo: bool = False, create: bool = True,
                  quick_reads: bool = False) -> Database:
    """Open the database at `url`, upgrading its schema when it is older than the code. Without
    `create`, a SQLite file that does not exist yet is refused, naming the path (a mistyped --db
    must not become an empty CRM with its typist as admin).

    With `quick_reads` (the app's start), a current database is checked on a plain DB-API
    connection, which is kept for the start's other reads (Database.quick_read, services/start.py)
    until `end_quick_reads`; SQLAlchemy loads when the engine is first used. Otherwise, and for a
    database that is not current (or not reachable so), the engine opens it as always."""
    if quick_reads:
        revision, conn = _quick_revision(url)
        if revision == HEAD:  # current: one query, and no SQLAlchemy yet
            db = Database(url, echo=echo, _engine_later=True)
            db._quick = conn
            return db
        if conn is not None:
            conn.close()
    if not create:
        _require_existing_file(url)
    db = Database(url, echo=echo)
    try:
        current = current_revision(db)
    except StorageError:
        db.dispose()
        raise
    if current != HEAD:
        if not migrate:
            db.dispose()
            raise SchemaError(f"the database is at revision {current or 'none'}, not {HEAD}; run `crm db upgrade`")
        upgrade(db)
    return db


# --- the start's plain connection ------------------------------------------------------------


def _plain_backend(url: str) -> str | None:
    """"sqlite" for a plain file URL (sqlite:///path, no options), "postgresql" for
    postgresql+psycopg://...: the URLs a plain DB-API connection opens as SQLAlchemy would; None
    for any other (the engine opens those)."""
    if url.startswith("sqlite:///") and _sqlite_file(url) is not None:
        return "sqlite"
    if url.startswith("postgresql+psycopg://"):
        return "postgresql"
    return None


def _sqlite_file(url: str) -> str | None:
    path = url[len("sqlite:///"):]
    if not path or path == ":memory:" or path.startswith("file:") or "?" in path or "%" in path:
        return None
    return path


def _quick_connect(url: str):
    """A DB-API connection to `url` set up as the engine sets up its own (SQLite: the pragmas of
    _sqlite_on_connect), or None when there is no plain way (or the database is missing)."""
    backend = _plain_backend(url)
    if backend == "sqlite":
        path = _sqlite_file(url)
        if not Path(path).exists():  # a new file: `open_database` makes it, with its mode
            return None
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        try:
            _sqlite_on_connect(conn, None)
        except BaseException:
            conn.close()
            raise
        return conn
    if backend == "postgresql":
        import psycopg

        return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True)
    return None


def _quick_revision(url: str) -> tuple[str | None, object | None]:
    """The revision of the database at `url` read on a plain connection, and that connection; None
    when it cannot be read so (no plain way, no such file, no revision table, an error):
    `open_database` then goes the engine's way, which upgrades, or says what is wrong. A file that
    is another program's is refused here as there (_refuse_foreign)."""
    try:
        conn = _quick_connect(url)
    except StorageError:
        raise
    except Exception:  # noqa: BLE001 - the engine's way says it properly
        return None, None
    if conn is None:
        return None, None
    try:
        cur = conn.cursor()
        try:
            cur.execute("SELECT version_num FROM alembic_version")
            rows = cur.fetchall()
        finally:
            cur.close()
        return (rows[0][0] if rows else None), conn
    except Exception:  # noqa: BLE001 - no revision table yet, or another problem: the engine's way
        conn.close()
        return None, None
