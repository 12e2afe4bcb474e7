"""The import's set-based writes: a chunk's new rows, parents first, and its audit rows, in bulk."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import insert
from sqlalchemy.orm import Session

from crm_tui.models import AuditEvent
from crm_tui.services import bulk


def write_rows(session: Session, rows: Mapping[str, list[dict]]) -> None:
    """Insert each table's new rows ({table name: rows}), parents first (services.bulk)."""
    bulk.insert_tables(session, rows)


def write_audit(session: Session, rows: list[dict]) -> None:
    """Insert audit rows in bulk; on SQLite by the bulk fast path (ids left to SQLite)."""
    if rows and session.bind.dialect.name == "sqlite":
        bulk.insert_rows(session, AuditEvent.__table__, [{"id": None, **row} for row in rows])
    elif rows:
        session.execute(insert(AuditEvent.__table__), rows)
