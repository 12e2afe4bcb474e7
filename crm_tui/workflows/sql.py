"""The one dialect-specific statement the engine needs: INSERT ... ON CONFLICT DO NOTHING."""

from __future__ import annotations

from sqlalchemy.orm import Session


def insert_ignore(session: Session, model, values: dict, index_elements: list[str], *, returning=None):
    """Insert a row unless one with the same unique key exists (committed, or being inserted by a
    concurrent transaction, which PostgreSQL waits for). With `returning`, the new row's column,
    or None when the row was already there (use it to learn which: rowcount after a conflict is
    not reliable on every driver)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(model).values(**values).on_conflict_do_nothing(index_elements=index_elements)
    if returning is not None:
        return session.execute(stmt.returning(returning)).scalar()
    return session.execute(stmt).rowcount
