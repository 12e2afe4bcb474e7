"""Bulk edits: one change applied to many records at once, kept so that it can be undone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlmodel import Field, SQLModel

from crm_tui.models.base import UTCDateTime


class BulkEdit(SQLModel, table=True):
    """One bulk change; its per-record audit events carry its id (`AuditEvent.bulk_id`)."""

    __tablename__ = "bulk_edits"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    actor_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    actor: str = Field(sa_type=String(100))
    entity: str = Field(sa_type=String(32))  # contact, company or deal
    change: str = Field(sa_type=String(32))  # owner, add_tag, remove_tag, set, stage, archive, task, undo
    summary: str = Field(default="", sa_type=Text)
    changed: int = Field(default=0)  # records changed
    refused: int = Field(default=0)  # records the actor may not change, left alone
    undoes_id: int | None = Field(default=None, foreign_key="bulk_edits.id")
    undone_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
