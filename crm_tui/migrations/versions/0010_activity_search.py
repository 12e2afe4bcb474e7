"""Search covers what people write (issue 17 #19): the subject and notes of every activity are
indexed. SQLite: an external-content FTS5 table (trigram tokens, case-insensitive) kept in sync by
triggers. PostgreSQL: a pg_trgm GIN index on the same text, read by ILIKE.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The text PostgreSQL indexes; services/search.py's activity_text() builds the same expression.
PG_TEXT = "(coalesce(subject, '') || ' ' || coalesce(body, ''))"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE activities_fts USING fts5(subject, body, content='activities', "
                   "content_rowid='id', tokenize='trigram')")
        op.execute("INSERT INTO activities_fts(activities_fts) VALUES ('rebuild')")
        op.execute("CREATE TRIGGER activities_fts_ai AFTER INSERT ON activities BEGIN "
                   "INSERT INTO activities_fts(rowid, subject, body) VALUES (new.id, new.subject, new.body); END")
        op.execute("CREATE TRIGGER activities_fts_ad AFTER DELETE ON activities BEGIN "
                   "INSERT INTO activities_fts(activities_fts, rowid, subject, body) "
                   "VALUES ('delete', old.id, old.subject, old.body); END")
        op.execute("CREATE TRIGGER activities_fts_au AFTER UPDATE OF subject, body ON activities BEGIN "
                   "INSERT INTO activities_fts(activities_fts, rowid, subject, body) "
                   "VALUES ('delete', old.id, old.subject, old.body); "
                   "INSERT INTO activities_fts(rowid, subject, body) VALUES (new.id, new.subject, new.body); END")
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"CREATE INDEX ix_activities_search_trgm ON activities USING gin ({PG_TEXT} gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS activities_fts_{suffix}")
        op.execute("DROP TABLE IF EXISTS activities_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_activities_search_trgm")
