"""Shared fixtures: a clean database per test on a SQLite file and on PostgreSQL, a frozen clock,
an acting user, and an environment that never touches the real config or data dirs."""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import queue
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

# The suite writes bytecode caches (__pycache__, ignored by git) even when PYTHONDONTWRITEBYTECODE
# is set, as it is in some shells: each xdist worker otherwise compiles crm_tui anew and pytest
# rewrites the asserts of every test module anew (some 15 s of CPU per worker at collection), and
# each `crm` process a test starts compiles crm_tui again (1.4 s of CPU instead of 0.7 s). A cache
# is only read while its source's mtime and size match, so it never serves a stale module. Set
# before any crm_tui or test module is imported; the processes the tests start inherit the
# environment without the switch, so they write the caches of what only they import.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

from crm_tui.db import open_database  # noqa: E402 - after the bytecode switch above

FROZEN_NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)  # a Monday
PG_URL = os.environ.get("CRM_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _pg_admin_engine():
    base = sa.engine.make_url(PG_URL)
    return sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")


@functools.cache
def _pg_unavailable_reason() -> str | None:
    if not PG_URL:
        return "CRM_TEST_POSTGRES_URL is not set, so the PostgreSQL variant is skipped (.ci/run sets it)"
    try:
        with _pg_admin_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "skip, and say why"
        return f"PostgreSQL at CRM_TEST_POSTGRES_URL is unreachable ({exc.__class__.__name__}); start it to run these"
    return None


_PG_POOL_IDS = itertools.count()  # a worker's pools (the template's, each seeded module's) name their databases apart


class _PgPool:
    """The PostgreSQL databases of one xdist worker, each a copy of the migrated template.

    CREATE DATABASE ... TEMPLATE costs a few tenths of a second and DROP DATABASE a checkpoint (a
    second or more when the server is busy), so a test does not pay for either: a database it
    used is brought back to the template's exact state, which takes milliseconds. Its other
    connections are ended (as DROP ... WITH (FORCE) did), every row goes, the template's rows
    (the seeded pipeline, stages and lost reasons, the schema revision) come back byte for byte
    through COPY, and every sequence gets the template's value. A test that changed the schema
    itself (a migration test) is caught by a catalogue fingerprint, and its database is dropped
    and made anew from the template. The databases go at the end of the session.

    A database handed back waits behind another before its next use, so a straggling thread of
    the test that used it (a worker that outlives its app by a moment) cannot write into the
    next test's data: that test has a different database."""

    FINGERPRINT = """
        SELECT md5(coalesce(string_agg(x, ',' ORDER BY x), '')) FROM (
            SELECT 'rel:' || n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || c.relnatts::text
                   || ':' || coalesce(c.relacl::text, '') AS x
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
            UNION ALL
            SELECT 'col:' || a.attrelid::regclass::text || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod)
                   || ':' || a.attnotnull::text || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
              FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            UNION ALL
            SELECT 'idx:' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg_toast%'
            UNION ALL
            SELECT 'con:' || conrelid::regclass::text || '.' || conname || ':' || pg_get_constraintdef(oid)
              FROM pg_constraint WHERE connamespace NOT IN (SELECT oid FROM pg_namespace
                                                             WHERE nspname IN ('pg_catalog', 'information_schema'))
            UNION ALL
            SELECT 'trg:' || tgrelid::regclass::text || '.' || tgname || ':' || tgenabled::text || ':' || tgfoid::regproc::text
              FROM pg_trigger WHERE NOT tgisinternal
            UNION ALL
            SELECT 'fn:' || n.nspname || '.' || p.proname || ':' || md5(p.prosrc)
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
            UNION ALL
            SELECT 'type:' || n.nspname || '.' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
            UNION ALL
            SELECT 'ext:' || extname || ':' || extversion FROM pg_extension
            UNION ALL
            SELECT 'nsp:' || nspname FROM pg_namespace
        ) AS catalogue
    """

    # What a test's DDL cannot leave unchanged, cheaply: each catalogue the fingerprint reads, its
    # row count and newest row version (xmin). A database copied from the template has the
    # template's catalogue rows byte for byte, xmin included, and any DDL since writes a row with a
    # newer transaction id (or only deletes rows, which the count shows). While this matches the
    # template's, the fingerprint (tens of milliseconds of server time on each reset) cannot differ,
    # and is not computed; when it differs (DDL, a TRUNCATE, a temporary table's leftovers) the
    # fingerprint decides as before.
    CATALOGUES = ("pg_class", "pg_attribute", "pg_attrdef", "pg_index", "pg_constraint", "pg_trigger",
                  "pg_proc", "pg_type", "pg_extension", "pg_namespace")
    SIGNATURE = "SELECT " + ", ".join(
        f"(SELECT count(*) || ':' || coalesce(max(xmin::text::bigint), 0) FROM pg_catalog.{c})" for c in CATALOGUES)

    def __init__(self, template: str, drops_with: _PgPool | None = None) -> None:
        self.template = template
        self._drops_with = drops_with  # a pool whose thread drops this one's databases too
        self.admin = _pg_admin_engine()
        self._made = 0
        self._id = next(_PG_POOL_IDS)
        self.free: list[str] = []
        self.names: list[str] = []
        self._doomed: queue.Queue = queue.Queue()
        self._dropper: threading.Thread | None = None
        self._conns: dict = {}  # name -> the pool's own psycopg connection to it, kept between resets
        url = sa.engine.make_url(PG_URL).set(database=template)
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                self.fingerprint = conn.execute(sa.text(self.FINGERPRINT)).scalar_one()
                self.signature = tuple(conn.execute(sa.text(self.SIGNATURE)).one())
                self.tables = conn.execute(sa.text(
                    "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")).scalars().all()
                sequences = conn.execute(sa.text(
                    "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences "
                    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")).scalars().all()
                self.sequences = {seq: tuple(conn.execute(sa.text(f"SELECT last_value, is_called FROM {seq}")).one())
                                  for seq in sequences}
                self.counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in self.tables}
                self.rows: dict[str, bytes] = {}
                cursor = conn.connection.driver_connection.cursor()
                for table, count in self.counts.items():
                    if count:
                        with cursor.copy(f"COPY {table} TO STDOUT") as copy:
                            self.rows[table] = b"".join(bytes(chunk) for chunk in copy)
                conn.rollback()
        finally:
            engine.dispose()
        self.count_sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in self.tables)

    def url(self, name: str) -> str:
        return str(sa.engine.make_url(PG_URL).set(database=name))

    def _create(self) -> str:
        self._made += 1
        name = f"crm_t_{os.getpid()}_{self._id}_{self._made}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
            # a crash of the test server may lose the last commits; the tests never crash it
            conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        self.names.append(name)
        return name

    def _drop(self, name: str) -> None:
        self._disconnect(name)
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.names.remove(name)

    def acquire(self) -> str:
        """A database in the template's state: a used one brought back, or a new copy. A seeded
        module's pool (see seeded_databases) first brings back one of its worker pool's: their
        schema is the same unless the seeding changed it, and a DROP costs more than a reset."""
        while len(self.free) >= 2:  # the last one handed back waits a turn (see above)
            name = self.free.pop(0)
            if self._reset(name):
                return name
            self._drop_later(name)
        parent = self._drops_with
        while parent is not None and len(parent.free) >= 2:
            name = parent.free.pop(0)
            parent._disconnect(name)
            parent.names.remove(name)
            self.names.append(name)
            if self._reset(name):
                return name
            self._drop_later(name)
        return self._create()

    def hand_back(self) -> None:
        """A seeded module's pool, at the module's end: its databases go to its worker pool, which
        brings them back to the template's state before their next use (or drops them)."""
        for name in list(self.names):
            self._disconnect(name)
            self.names.remove(name)
            self._drops_with.names.append(name)
            self._drops_with.free.append(name)
        self.admin.dispose()

    def release(self, name: str) -> None:
        self.free.append(name)

    def _connection(self, name: str):
        """The pool's own connection to `name`, opened at its first reset and kept (a new backend
        for every reset cost a connection's start each time)."""
        import psycopg

        raw = self._conns.get(name)
        if raw is None or raw.closed:
            url = sa.engine.make_url(self.url(name))
            raw = self._conns[name] = psycopg.connect(
                host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database)
        return raw

    def _disconnect(self, name: str) -> None:
        raw = self._conns.pop(name, None)
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.close()

    def _reset(self, name: str) -> bool:
        """Bring `name` back to the template's state; False when only a new copy will do."""
        import psycopg

        try:
            raw = self._connection(name)
            cursor = raw.cursor()
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            if (tuple(cursor.execute(self.SIGNATURE).fetchone()) != self.signature
                    and cursor.execute(self.FINGERPRINT).fetchone()[0] != self.fingerprint):
                raw.rollback()
                self._disconnect(name)
                return False
            # as the replica role, DELETE fires no foreign-key or other triggers: any order will do
            cursor.execute("SET LOCAL session_replication_role = replica; "
                           + "; ".join(f"DELETE FROM {t}" for t in self.tables))
            for table, data in self.rows.items():
                with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                    copy.write(data)
            cursor.execute("SELECT " + ", ".join(f"setval('{seq}', {value}, {called})"
                                                 for seq, (value, called) in self.sequences.items()))
            counts = dict(zip(self.tables, cursor.execute(self.count_sql).fetchone()))
            raw.commit()
            return counts == self.counts
        except psycopg.Error:
            self._disconnect(name)
            return False

    def _drop_later(self, name: str) -> None:
        """DROP DATABASE waits for a checkpoint, seconds on a busy server, and a test that changes the
        schema (the typed-fields tests add indexes) leaves a database only a new copy replaces: a
        thread of the pool drops it while the tests go on."""
        if self._drops_with is not None:
            self._disconnect(name)
            self.names.remove(name)
            self._drops_with.names.append(name)
            self._drops_with._drop_later(name)
            return
        if self._dropper is None:
            self._dropper = threading.Thread(target=self._drop_queued, name="pg-pool-drop", daemon=True)
            self._dropper.start()
        self._doomed.put(name)

    def _drop_queued(self) -> None:
        stop = False
        while not stop:
            batch = [self._doomed.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._doomed.get_nowait())
            stop = None in batch
            self._drop_all([name for name in batch if name is not None])

    def _drop_all(self, names: list[str]) -> None:
        """Drop `names` at once: their checkpoint requests are served together. One that fails
        stays in self.names, for close() to try again."""
        def drop(name):
            try:
                self._drop(name)
            except sa.exc.DBAPIError:
                pass
        with ThreadPoolExecutor(max(1, min(len(names), 8))) as drops:
            list(drops.map(drop, names))

    def close(self) -> None:
        for name in list(self._conns):
            self._disconnect(name)
        if self._dropper is not None:
            with contextlib.suppress(queue.Empty):  # the ones not begun yet go with the rest below
                while True:
                    self._doomed.get_nowait()
            self._doomed.put(None)
            self._dropper.join()
        if self.names:
            self._drop_all(list(self.names))
            for name in list(self.names):
                self._drop(name)  # a second try; an error now is reported
        self.admin.dispose()


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto`: two workers a core. The suite's time is mostly waiting (an app's first frame, a
    worker's read, a subprocess, PostgreSQL), not computing: on 2 cores, 4 workers finish the TUI
    files in about three quarters of the time 2 take, and 6 gain nothing more."""
    return 2 * (os.cpu_count() or 1)


def pytest_collection_modifyitems(config, items):
    """The tests marked slow (OS processes, large databases) go first, in their files' order, so
    that with xdist's work stealing (pyproject's addopts) no worker spends the end of the run on one
    long test while the others sit idle. Every worker sorts the same way, as xdist requires."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True, scope="session")
def cli_command_built_once():
    """typer's CliRunner turns the `crm` Typer app into its click command on every invoke: a walk of
    every command's signature, a sixth of a second that the suite paid some two thousand times. The
    command is the same each time (the commands look their services up when they run, so a test's
    monkeypatch still reaches them): build it once per app."""
    import typer.testing

    built: dict[int, tuple] = {}
    build = typer.testing._get_command

    def get_command(app):
        if id(app) not in built:
            built[id(app)] = (app, build(app))  # the app is kept, so its id is not reused
        return built[id(app)][1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.testing, "_get_command", get_command)
        yield


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Config and data dirs inside the test's tmp dir; no inherited database URL or user."""
    _isolate(tmp_path, monkeypatch)


def _isolate(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CRM_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    monkeypatch.delenv("CRM_USER", raising=False)
    monkeypatch.delenv("CRM_SMTP_PASSWORD", raising=False)
    # never a developer's real keyring: the tests that use one set their own backend
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture(autouse=True)
def count_at_once(monkeypatch):
    """A list that replaced another's rows counts after a short pause in the app (so a count for
    text typed over never runs); tests count at once, with no timer to wait on.
    tests/tui/test_contacts_screen.py checks the pause itself."""
    from crm_tui.widgets.keyset_table import KeysetTable

    monkeypatch.setattr(KeysetTable, "COUNT_DELAY_S", 0.0)


@pytest.fixture(autouse=True)
def toasts_stay(monkeypatch):
    """A toast without a timeout of its own stays a minute in the tests, not five seconds: a test
    reads the toasts after the work behind them settles, and on a loaded machine (two xdist workers
    on two cores, with subprocesses) that took longer than five seconds and the toast was gone.
    No test waits for a toast to go."""
    from textual.app import App

    monkeypatch.setattr(App, "NOTIFICATION_TIMEOUT", 60)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file, made once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    open_database(f"sqlite:///{path}").dispose()
    return path


DEMO_CONTACTS, DEMO_SEED = 60, 7


@pytest.fixture(scope="session")
def sqlite_demo_template(tmp_path_factory, sqlite_template):
    """A SQLite file holding what the screen tests' `demo.load_demo(contacts=60, seed=7)` by 'ann'
    at FROZEN_NOW leaves, made once per worker: a test copies the file (sqlite_demo_db), some
    hundred times cheaper than loading the demo again. Loaded in an environment isolated as
    `isolated_env` isolates a test's."""
    from crm_tui.services import demo, users

    tmp_path = tmp_path_factory.mktemp("demo")
    path = tmp_path / "demo.db"
    shutil.copy(sqlite_template, path)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _isolate(tmp_path, monkeypatch)
        database = open_database(sqlite_url(path))
        try:
            with database.write() as session:
                actor = users.actor_for(session, login="ann", now=FROZEN_NOW)
            with database.write() as session:
                demo.load_demo(session, contacts=DEMO_CONTACTS, seed=DEMO_SEED, actor=actor, now=FROZEN_NOW)
        finally:
            database.dispose()  # the last connection's close checkpoints the WAL into the file
    time.tzset()
    return path


@pytest.fixture
def sqlite_demo_db(tmp_path, sqlite_demo_template):
    """A SQLite database of its own with the demo data in it (see sqlite_demo_template), for the
    screen tests that open the app on the demo; 'ann', an admin, loaded it."""
    path = tmp_path / "crm.db"
    shutil.copy(sqlite_demo_template, path)
    database = open_database(sqlite_url(path))
    yield database
    database.dispose()


@pytest.fixture
def sqlite_demo_actor(sqlite_demo_db, now):
    """'ann', who loaded the demo into sqlite_demo_db."""
    from crm_tui.services import users

    with sqlite_demo_db.write() as session:
        return users.actor_for(session, login="ann", now=now)


@pytest.fixture(scope="session")
def pg_template():
    """A migrated PostgreSQL database, made once; each test gets CREATE DATABASE ... TEMPLATE."""
    if _pg_unavailable_reason():
        yield None
        return
    name = f"crm_tmpl_{os.getpid()}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    open_database(str(sa.engine.make_url(PG_URL).set(database=name))).dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_pool(pg_template):
    """This worker's PostgreSQL test databases (see _PgPool), dropped at the end."""
    if pg_template is None:
        yield None
        return
    pool = _PgPool(pg_template)
    yield pool
    pool.close()


def sqlite_url(path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path, sqlite_template):
    """A URL to a clean, migrated database: a SQLite file copied from the template, or a
    PostgreSQL database in the template's state (see _PgPool)."""
    if request.param == "sqlite":
        path = tmp_path / "crm.db"
        shutil.copy(sqlite_template, path)
        yield sqlite_url(path)
        return
    reason = _pg_unavailable_reason()
    if reason:
        pytest.skip(reason)
    pool = request.getfixturevalue("pg_pool")
    name = pool.acquire()
    yield pool.url(name)
    pool.release(name)


def _clean_database(request, tmp_path):
    """A clean, migrated database of the backend `request.param` names, for a fixture wider than a
    test: (its URL, the SQLite file or None, the worker's PostgreSQL pool and the database's name
    there or None, None). PostgreSQL's is the caller's to hand back (`pool.release(name)`)."""
    if request.param == "sqlite":
        path = tmp_path / "crm.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return sqlite_url(path), path, None, None
    reason = _pg_unavailable_reason()
    if reason:
        pytest.skip(reason)
    pool = request.getfixturevalue("pg_pool")
    name = pool.acquire()
    return pool.url(name), None, pool, name


@contextlib.contextmanager
def shared_database(request):
    """A clean, migrated database of the backend `request.param` names (one of BACKENDS) for a
    fixture wider than a test: a module's tests that only read the same seeded rows share one
    database instead of seeding one each. The seeding runs in an environment isolated as
    `isolated_env` isolates a test's, so it cannot depend on the machine's."""
    tmp_path = request.getfixturevalue("tmp_path_factory").mktemp("shared")
    url, _, pool, name = _clean_database(request, tmp_path)
    release = None if pool is None else functools.partial(pool.release, name)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _isolate(tmp_path, monkeypatch)
        database = open_database(url)
        try:
            yield database
        finally:
            database.dispose()
            if release is not None:
                release()
    time.tzset()


def seeded_fixtures(seed, value_name: str, *, only_when_asked: bool = False):
    """The fixtures of a module whose tests each get their own copy of rows seeded once per
    backend (`seeded_databases`): `seeded_rows` (module scope, parametrized with BACKENDS),
    `db_url` (the test's copy) and `value_name` (what `seed` returned). With `only_when_asked`, a
    test that does not ask for `value_name` gets a clean database instead. A module assigns them:
    `seeded_rows, db_url, team = seeded_fixtures(_team, "team")`."""
    @pytest.fixture(name="seeded_rows", scope="module", params=BACKENDS)
    def seeded_rows(request):
        with seeded_databases(request, seed) as made:
            yield made

    @pytest.fixture(name="db_url")
    def db_url(seeded_rows, tmp_path, request):
        with seeded_rows.copy(tmp_path, seeded=not only_when_asked or value_name in request.fixturenames) as url:
            yield url

    @pytest.fixture(name=value_name)
    def value(seeded_rows, db):
        return seeded_rows.value

    return seeded_rows, db_url, value


class SeededDatabases:
    """A module's seeded database (see `seeded_databases`): `copy` gives a test its own database
    in the seeded state, and `value` is what the seeding returned (ids, actors)."""

    def __init__(self, value, clean, path=None, pool: _PgPool | None = None) -> None:
        self.value, self._clean, self._path, self._pool = value, clean, path, pool

    @contextlib.contextmanager
    def copy(self, tmp_path, *, seeded: bool = True):
        """A database of the test's own in the seeded state; without `seeded`, a clean one (as
        `db_url` gives), for a module's test that needs none of the seeded rows."""
        path, pool = (self._path, self._pool) if seeded else self._clean
        if pool is None:
            copied = tmp_path / "crm.db"
            shutil.copy(path, copied)
            yield sqlite_url(copied)
            return
        name = pool.acquire()
        try:
            yield pool.url(name)
        finally:
            pool.release(name)


@contextlib.contextmanager
def seeded_databases(request, seed):
    """For a module-scoped fixture parametrized with BACKENDS, whose tests each write to the same
    seeded rows: `seed(db, actor, now)` runs once on a clean database of the backend (`actor` is
    ann, made as the `actor` fixture makes her, `now` is FROZEN_NOW), and each test gets a copy
    of the result (SQLite: the file; PostgreSQL: a pool of databases brought back to the seeded
    state, as _PgPool brings its to the template's) instead of seeding one itself. A module
    takes its fixtures from `seeded_fixtures`."""
    from crm_tui.services import users

    tmp_path = request.getfixturevalue("tmp_path_factory").mktemp("seeded")
    url, path, worker_pool, name = _clean_database(request, tmp_path)
    if worker_pool is not None:
        worker_pool._disconnect(name)  # a template has no other sessions
    pool = None
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            _isolate(tmp_path, monkeypatch)
            database = open_database(url)
            try:
                with database.write() as session:
                    actor = users.actor_for(session, login="ann", now=FROZEN_NOW)
                value = seed(database, actor, FROZEN_NOW)
            finally:
                database.dispose()
        time.tzset()
        if name is None:
            yield SeededDatabases(value, (request.getfixturevalue("sqlite_template"), None), path=path)
            return
        pool = _PgPool(name, drops_with=worker_pool)
        yield SeededDatabases(value, (None, worker_pool), pool=pool)
    finally:
        if pool is not None:
            pool.hand_back()
        if name is not None:
            worker_pool.release(name)


@pytest.fixture
def db(db_url):
    database = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def now():
    return FROZEN_NOW


@pytest.fixture
def actor(db, now):
    """The first user of the database: 'ann', an admin."""
    from crm_tui.services import users

    with db.write() as session:
        return users.actor_for(session, login="ann", now=now)
