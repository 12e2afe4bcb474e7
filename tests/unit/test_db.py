"""The storage layer: SQLite file and pragmas, write locking, rollback, URL and login resolution,
unreachable servers, and the UTC timestamp type."""

from __future__ import annotations

import shutil
import sqlite3
import stat
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import StatementError

from crm_tui.config import LoginRequest, load_settings, login_request, resolve_database_url
from crm_tui.db import BUSY_TIMEOUT_S, open_database
from crm_tui.errors import InvalidInput, StorageError
from crm_tui.models import AuditEvent, Contact
from crm_tui.models.base import UTCDateTime
from crm_tui.services import contacts


@pytest.fixture
def sqlite_path(tmp_path, sqlite_template):
    path = tmp_path / "crm.db"
    shutil.copy(sqlite_template, path)
    return path


@pytest.fixture
def sqlite_db(sqlite_path):
    database = open_database(f"sqlite:///{sqlite_path}")
    yield database
    database.dispose()


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the SQLite file ----------------------------------------------------------------------


def test_new_sqlite_file_is_private_and_its_directory_is_made(tmp_path):
    path = tmp_path / "not" / "yet" / "crm.db"
    database = open_database(f"sqlite:///{path}")
    try:
        with database.write() as session:
            session.execute(text("UPDATE pipelines SET position = position"))  # makes the -wal file
        assert path.parent.is_dir()
        assert _mode(path.parent) & 0o077 == 0
        assert _mode(path) == 0o600
        # SQLite gives its side files the database file's mode
        assert _mode(path.with_name("crm.db-wal")) == 0o600
    finally:
        database.dispose()


def test_session_connection_has_wal_foreign_keys_and_busy_timeout(sqlite_db):
    with sqlite_db.read() as session:
        pragma = {name: session.execute(text(f"PRAGMA {name}")).scalar()
                  for name in ("journal_mode", "foreign_keys", "busy_timeout")}
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": BUSY_TIMEOUT_S * 1000}
    assert BUSY_TIMEOUT_S * 1000 == 30000


def _try_begin_immediate(path) -> str:
    """What a second connection gets when it asks for the write lock without waiting."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return "got the lock"
    except sqlite3.OperationalError as exc:
        return str(exc)
    finally:
        other.close()


def test_write_session_takes_the_write_lock_before_writing_anything(sqlite_db, sqlite_path):
    with sqlite_db.write() as session:
        session.execute(select(func.count()).select_from(Contact)).scalar()
        assert _try_begin_immediate(sqlite_path) == "database is locked"
    assert _try_begin_immediate(sqlite_path) == "got the lock"


def test_read_session_does_not_block_a_writer(sqlite_db, sqlite_path):
    with sqlite_db.read() as session:
        session.execute(select(func.count()).select_from(Contact)).scalar()
        assert _try_begin_immediate(sqlite_path) == "got the lock"


def test_error_inside_write_rolls_back_the_whole_block(db, actor, now):
    with db.read() as session:
        audits_before = session.scalar(select(func.count()).select_from(AuditEvent))

    with pytest.raises(RuntimeError, match="boom"):
        with db.write() as session:
            contacts.create_contact(session, data={"first_name": "Gone"}, actor=actor, now=now)
            contacts.create_contact(session, data={"first_name": "Also gone"}, actor=actor, now=now)
            assert session.scalar(select(func.count()).select_from(Contact)) == 2
            raise RuntimeError("boom")

    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == audits_before


# --- where the database is, and who is acting -----------------------------------------------


def _write_config(tmp_path, body: str):
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def test_database_url_defaults_to_crm_db_in_the_data_dir(tmp_path):
    assert resolve_database_url(None, load_settings()) == f"sqlite:///{tmp_path / 'data' / 'crm.db'}"


def test_database_url_order_is_flag_then_env_then_config(tmp_path, monkeypatch):
    _write_config(tmp_path, 'database_url = "postgresql+psycopg://cfg/crm"\n')
    assert resolve_database_url(None, load_settings()) == "postgresql+psycopg://cfg/crm"
    monkeypatch.setenv("CRM_DATABASE_URL", "postgresql+psycopg://env/crm")
    assert resolve_database_url(None, load_settings()) == "postgresql+psycopg://env/crm"
    assert resolve_database_url("postgresql+psycopg://flag/crm", load_settings()) == "postgresql+psycopg://flag/crm"


def test_bare_path_becomes_an_absolute_sqlite_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    here = tmp_path.resolve()
    assert resolve_database_url("sub/team.db", load_settings()) == f"sqlite:///{here / 'sub' / 'team.db'}"
    assert resolve_database_url("~/crm.db", load_settings()) == f"sqlite:///{(tmp_path / 'home' / 'crm.db').resolve()}"
    monkeypatch.setenv("CRM_DATABASE_URL", "env.db")
    assert resolve_database_url(None, load_settings()) == f"sqlite:///{here / 'env.db'}"
    monkeypatch.delenv("CRM_DATABASE_URL")
    _write_config(tmp_path, 'database_url = "cfg.db"\n')
    assert resolve_database_url(None, load_settings()) == f"sqlite:///{here / 'cfg.db'}"


def test_login_order_is_flag_then_env_then_config_then_os(tmp_path, monkeypatch):
    monkeypatch.setattr("crm_tui.config.os_login", lambda: "osuser")
    assert login_request(None, load_settings()) == LoginRequest("osuser")
    _write_config(tmp_path, 'user = "Cfg"\n')
    assert login_request(None, load_settings()) == LoginRequest("osuser", "cfg", "the config file")
    monkeypatch.setenv("CRM_USER", "Env")
    assert login_request(None, load_settings()) == LoginRequest("osuser", "env", "CRM_USER")
    assert login_request("Flag", load_settings()) == LoginRequest("osuser", "flag", "--user")


def test_broken_config_file_is_one_line_invalid_input(tmp_path):
    path = _write_config(tmp_path, 'database_url = "unterminated\nuser = \n')
    for load in (load_settings, lambda: resolve_database_url(None, load_settings()), lambda: login_request(None, load_settings())):
        with pytest.raises(InvalidInput) as info:
            load()
        assert str(path) in info.value.message
        assert "\n" not in info.value.message


def test_unreachable_postgres_is_one_line_storage_error():
    with pytest.raises(StorageError) as info:
        open_database("postgresql+psycopg://postgres@127.0.0.1:1/crm?connect_timeout=5")
    assert "cannot open database" in info.value.message
    assert "\n" not in info.value.message


# --- timestamps ---------------------------------------------------------------------------


def test_utc_type_refuses_naive_datetimes(db):
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1, 9, 0), db.engine.dialect)
    with pytest.raises(StatementError, match="naive"):
        with db.write() as session:
            session.execute(insert(AuditEvent).values(at=datetime(2026, 1, 1, 9, 0), actor="x", entity="contact",
                                                      action="create"))
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_utc_type_returns_aware_utc_on_every_backend(db):
    india = timezone(timedelta(hours=5, minutes=30))
    written = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=india)
    with db.write() as session:
        session.execute(insert(AuditEvent).values(at=written, actor="x", entity="contact", action="create"))
    with db.read() as session:
        read_core = session.scalar(select(AuditEvent.at))
        read_orm = session.scalars(select(AuditEvent)).one().at
    for value in (read_core, read_orm):
        assert value == written
        assert value.utcoffset() == timedelta(0)
        assert value.hour == 4 and value.minute == 30
    if db.is_sqlite:
        with db.read() as session:
            stored = session.execute(text("SELECT at FROM audit_events")).scalar()
        assert stored.startswith("2026-11-23 04:30:00")  # stored as UTC text, so text order is time order
