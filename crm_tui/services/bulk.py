"""Bulk loading: many rows with pre-assigned ids inserted by Core executemany, for the demo and imports.

Rows are plain dicts in column names; parents go before children (`TABLES`), so foreign keys hold
at every insert. On SQLite the rows go straight through the driver, the search index is filled
once at the end and the page cache is enlarged while loading; on PostgreSQL the id sequences are
moved past the ids handed out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timezone
from operator import itemgetter

from sqlalchemy import JSON, Date, Table, insert, text
from sqlalchemy.orm import Session

from crm_tui.models import (
    Activity, Company, Contact, ContactEmail, ContactPhone, ContactTag, Deal, Product, ProductPrice, Tag, Task, User,
)
from crm_tui.models.base import UTCDateTime

# parents before children, so foreign keys hold at every insert
TABLES: tuple[Table, ...] = tuple(m.__table__ for m in (
    User, Tag, Company, Contact, ContactEmail, ContactPhone, ContactTag, Deal, Activity, Task))
ID_TABLES: tuple[Table, ...] = tuple(t for t in TABLES if "id" in t.c)
# what an import writes: those, and the product catalog (which the demo leaves empty)
IMPORT_TABLES: tuple[Table, ...] = TABLES + (Product.__table__, ProductPrice.__table__)
IMPORT_ID_TABLES: tuple[Table, ...] = tuple(t for t in IMPORT_TABLES if "id" in t.c)
# the tables SQLite indexes in FTS5, each with the columns its index holds
FTS_TABLES = {"contacts": ("search_text",), "companies": ("search_text",), "activities": ("subject", "body")}


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """Core executemany; on SQLite straight through the driver with the values already in the
    form SQLAlchemy stores them, because Core's per-value bind processing (UTC datetimes to
    text) costs more than SQLite's own insert work on a bulk load."""
    if session.bind.dialect.name != "sqlite":
        session.execute(insert(table), rows)
        return
    columns = [c for c in table.columns if c.name in rows[0]]  # as with Core: a column left out is NULL
    quote = session.bind.dialect.identifier_preparer.quote  # a column may be a keyword ("references")
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
           f"VALUES ({', '.join('?' * len(columns))})")
    session.connection().exec_driver_sql(sql, sqlite_tuples(table, rows, columns))


def insert_returning(session: Session, table: Table, rows: list[dict], returning: tuple[str, ...]) -> list[tuple]:
    """insert_rows that returns the `returning` columns of the rows made (in no set order). On
    SQLite the rows go in multi-row INSERT ... RETURNING statements, as many rows to a statement as
    Core's insertmanyvalues puts (its page size and the driver's parameter limit): a table with a
    full-text index writes the index's pending data at the end of every statement."""
    if not rows:
        return []
    if session.bind.dialect.name != "sqlite":
        return [tuple(r) for r in session.execute(insert(table).returning(*(table.c[n] for n in returning)), rows)]
    dialect = session.bind.dialect
    columns = [c for c in table.columns if c.name in rows[0]]
    quote = dialect.identifier_preparer.quote
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) VALUES "
    tail = f" RETURNING {', '.join(quote(n) for n in returning)}"
    one = f"({', '.join('?' * len(columns))})"
    per = max(1, min(dialect.insertmanyvalues_page_size, dialect.insertmanyvalues_max_parameters // len(columns)))
    values = sqlite_tuples(table, rows, columns)
    connection = session.connection()
    made: list[tuple] = []
    for start in range(0, len(values), per):
        chunk = values[start:start + per]
        params = tuple(value for row in chunk for value in row)
        made += [tuple(r) for r in connection.exec_driver_sql(head + ", ".join([one] * len(chunk)) + tail, params)]
    return made


def insert_tables(session: Session, rows: Mapping[str, list[dict]]) -> None:
    """Insert each table's rows ({table name: rows}), parents first."""
    for table in IMPORT_TABLES:
        if rows.get(table.name):
            insert_rows(session, table, rows[table.name])


def sqlite_tuples(table: Table, rows: list[dict], columns: list | None = None) -> list[tuple]:
    """Rows as tuples in column order (the table's, or `columns`), datetimes as naive UTC text,
    dates as ISO text, JSON as text: what SQLAlchemy's SQLite dialect writes for the same values."""
    columns = list(table.columns) if columns is None else columns
    get = itemgetter(*(c.name for c in columns))
    convert = [(i, to_text) for i, c in enumerate(columns) if (to_text := _sqlite_converter(c.type))]
    if not convert:
        return [get(row) for row in rows]
    out = []
    for row in rows:
        values = list(get(row))
        for i, to_text in convert:
            if values[i] is not None:
                values[i] = to_text(values[i])
        out.append(tuple(values))
    return out


def _utc_text(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} given; the CRM stores aware UTC times only")
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_converter(column_type) -> Callable | None:
    if isinstance(column_type, UTCDateTime):
        return _utc_text
    if isinstance(column_type, Date):
        return date.isoformat
    if isinstance(column_type, JSON):
        return json.dumps
    return None


@contextmanager
def large_page_cache(session: Session) -> Iterator[None]:
    """A 256 MiB page cache on SQLite while loading: the activity indexes are filled in random
    key order, and with the default 2 MiB cache most inserts miss."""
    if session.bind.dialect.name != "sqlite":
        yield
        return
    connection = session.connection()
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql("PRAGMA cache_size = -262144")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")


@contextmanager
def search_index_deferred(session: Session, first_ids: Mapping[str, int]) -> Iterator[None]:
    """On SQLite, index the loaded rows (each FTS table's rows from `first_ids[table]` on) in FTS5
    with one INSERT ... SELECT per table instead of the per-row insert trigger: FTS5 writes out its
    pending index data at the end of every statement, which makes the trigger path several times
    slower. All of it happens in the load's transaction (SQLite DDL is transactional), so a failed
    load leaves the triggers as they were; the migration's trigger SQL is put back verbatim from
    sqlite_master."""
    if session.bind.dialect.name != "sqlite":
        yield
        return
    connection = session.connection()
    triggers = [row for table in FTS_TABLES for row in connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (f"{table}_fts_ai",))]
    for name, _ in triggers:
        connection.exec_driver_sql(f"DROP TRIGGER {name}")
    yield
    for name, sql in triggers:
        table = name.removesuffix("_fts_ai")
        columns = ", ".join(FTS_TABLES[table])
        connection.exec_driver_sql(
            f"INSERT INTO {table}_fts(rowid, {columns}) SELECT id, {columns} FROM {table} WHERE id >= ?",
            (first_ids[table],))
        connection.exec_driver_sql(sql)


def reset_sequences(session: Session, tables: Iterable[Table] = ID_TABLES) -> None:
    """On PostgreSQL: rows came with explicit ids, so move each id sequence past them."""
    if session.bind.dialect.name != "postgresql":
        return
    for table in tables:
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                             f"(SELECT max(id) FROM {table.name}))"))
