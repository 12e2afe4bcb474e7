"""Shared fixtures: a clean database per test on a SQLite file and on PostgreSQL, a frozen clock,
an acting user, and an environment that never touches the real config or data dirs."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from crm_tui.db import open_database

FROZEN_NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)  # a Monday
PG_URL = os.environ.get("CRM_TEST_POSTGRES_URL")


def _pg_admin_engine():
    base = sa.engine.make_url(PG_URL)
    return sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")


def _pg_unavailable_reason() -> str | None:
    if not PG_URL:
        return "CRM_TEST_POSTGRES_URL is not set, so the PostgreSQL variant is skipped (.ci/run sets it)"
    try:
        with _pg_admin_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "skip, and say why"
        return f"PostgreSQL at CRM_TEST_POSTGRES_URL is unreachable ({exc.__class__.__name__}); start it to run these"
    return None


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Config and data dirs inside the test's tmp dir; no inherited database URL or user."""
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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file, made once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    open_database(f"sqlite:///{path}").dispose()
    return path


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


def sqlite_url(path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path, sqlite_template):
    """A URL to a clean, migrated database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "crm.db"
        shutil.copy(sqlite_template, path)
        yield sqlite_url(path)
        return
    reason = _pg_unavailable_reason()
    if reason:
        pytest.skip(reason)
    template = request.getfixturevalue("pg_template")
    name = f"crm_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield str(sa.engine.make_url(PG_URL).set(database=name))
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
