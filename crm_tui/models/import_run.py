"""Import runs: one row per committed `crm import` (what file, by whom, and what it did)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from crm_tui.models.base import UTCDateTime


class ImportRun(SQLModel, table=True):
    """Append-only, like the audit trail; a rolled-back import leaves no row here either."""

    __tablename__ = "import_runs"
    __table_args__ = (
        Index("ix_import_runs_at", "at"),
        Index("ix_import_runs_sha256", "file_sha256"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    actor_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    actor: str = Field(sa_type=String(100))
    # contacts, companies, deals, activities or tasks
    entity: str = Field(sa_type=String(16))
    file_name: str = Field(sa_type=String(500))
    # the file's content hash: "this file was imported before" is one index lookup
    file_sha256: str = Field(sa_type=String(64))
    on_duplicate: str = Field(sa_type=String(8))
    rows: int = Field(default=0)
    created: int = Field(default=0)
    updated: int = Field(default=0)
    unchanged: int = Field(default=0)
    skipped: int = Field(default=0)
    invalid: int = Field(default=0)
