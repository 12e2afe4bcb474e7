"""Migrations: the migrated schema equals the models, revisions are checked on open, the search
index exists, SQLite downgrades and upgrades again, and concurrent first opens migrate once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import crm_tui.models  # noqa: F401 - registers every table on SQLModel.metadata
from crm_tui import db as crm_db
from crm_tui import migrations
from crm_tui.db import _alembic_config, current_revision, head_revision, open_database
from crm_tui.errors import SchemaError
from tests.unit import proc_workers


def _env_search_objects() -> tuple[str, ...]:
    """SEARCH_OBJECTS as migrations/env.py names them (env.py runs only inside Alembic, so read it)."""
    tree = ast.parse((Path(migrations.__file__).parent / "env.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SEARCH_OBJECTS" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise AssertionError("migrations/env.py no longer defines SEARCH_OBJECTS")


SEARCH_OBJECTS = _env_search_objects()


def _include_object(obj, name, type_, reflected, compare_to) -> bool:
    # the same rule as migrations/env.py: the search index is raw DDL, not a model table
    return not (name or "").startswith(SEARCH_OBJECTS)


def _schema_diff(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _include_object, "compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


@pytest.fixture
def empty_url(db_url, tmp_path):
    """A URL to a database with nothing in it: a new SQLite file, or a wiped PostgreSQL database."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'empty.db'}"
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))  # takes the pg_trgm extension with it
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return db_url


def test_upgrading_an_empty_database_gives_the_models_schema(empty_url):
    db = open_database(empty_url)
    try:
        assert current_revision(db) == head_revision()
        assert _schema_diff(db.engine) == []
    finally:
        db.dispose()


def test_head_constant_matches_the_migration_scripts():
    assert crm_db.HEAD == head_revision()


def test_opening_a_database_newer_than_the_code_is_refused(db_url):
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(SchemaError, match="newer") as info:
        open_database(db_url)
    assert "9999" in info.value.message


def test_opening_an_unmigrated_database_without_migrating_says_how_to_upgrade(empty_url):
    with pytest.raises(SchemaError, match="crm db upgrade"):
        open_database(empty_url, migrate=False)


def test_search_index_objects_exist(db):
    with db.engine.connect() as conn:
        if db.is_sqlite:
            names = set(conn.execute(sa.text("SELECT name FROM sqlite_master")).scalars())
            expected = {f"{table}_fts{suffix}" for table in ("contacts", "companies", "activities")
                        for suffix in ("", "_ai", "_ad", "_au")}
            assert expected <= names
            return
        assert conn.execute(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")).scalar() == 1
        indexes = dict(conn.execute(sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'ix_%_search_trgm'")).all())
    assert sorted(indexes) == ["ix_activities_search_trgm", "ix_companies_search_trgm", "ix_contacts_search_trgm"]
    assert all("USING gin" in d and "gin_trgm_ops" in d for d in indexes.values())


def test_sqlite_downgrades_to_nothing_and_upgrades_again(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'crm.db'}")
    try:
        with db.engine.connect() as conn, conn.begin():
            command.downgrade(_alembic_config(conn), "base")
        with db.engine.connect() as conn:
            left = set(conn.execute(sa.text("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")).scalars())
        assert left == {"alembic_version"}
        assert current_revision(db) is None

        with db.engine.connect() as conn, conn.begin():
            command.upgrade(_alembic_config(conn), "head")
        assert current_revision(db) == head_revision()
        assert _schema_diff(db.engine) == []
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM pipelines")).scalar() == 1
    finally:
        db.dispose()


@pytest.mark.slow
def test_two_processes_opening_a_fresh_database_migrate_it_once(empty_url):
    reports = proc_workers.run_in_processes(proc_workers.open_only, [(empty_url,), (empty_url,)])
    assert reports == ["ok", "ok"]
    engine = sa.create_engine(empty_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
        # the seeded default pipeline would be there twice had both processes run the migration
        assert conn.execute(sa.text("SELECT count(*) FROM pipelines")).scalar() == 1
    engine.dispose()
