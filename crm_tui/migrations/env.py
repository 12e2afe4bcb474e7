"""Alembic environment: SQLModel.metadata, batch mode for SQLite, and a caller-given connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import crm_tui.models  # noqa: F401 - registers every table on SQLModel.metadata
from crm_tui.models.base import UTCDateTime

config = context.config
target_metadata = SQLModel.metadata

# Search-index objects are made by raw DDL in the migrations (FTS5 on SQLite, pg_trgm on
# PostgreSQL); they are not model tables, so autogenerate must leave them alone.
SEARCH_OBJECTS = ("contacts_fts", "companies_fts", "activities_fts", "ix_contacts_search_trgm", "ix_companies_search_trgm",
                  "ix_activities_search_trgm")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (name or "").startswith(SEARCH_OBJECTS)


def render_item(type_, obj, autogen_context):
    # Migrations store plain timestamptz; the UTC handling is the model's business at run time.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_object=include_object,
        render_item=render_item,
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from crm_tui.config import load_settings, resolve_database_url
    from crm_tui.db import make_engine

    # alembic run by hand (not by `crm db upgrade`, which passes the URL): the CLI's rule for the URL
    url = config.get_main_option("sqlalchemy.url") or resolve_database_url(None, load_settings())
    engine = make_engine(url) if url else create_engine(url)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `crm db upgrade`")
run_migrations_online()
