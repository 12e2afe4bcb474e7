"""Audit events: who changed which field of which record, from what to what, and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlmodel import Field, SQLModel

from crm_tui.models.base import UTCDateTime


class AuditEvent(SQLModel, table=True):
    """Append-only: nothing in the app or the CLI updates or deletes these rows."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_record", "entity", "entity_id", "at"),
        Index("ix_audit_actor", "actor_id", "at"),
        Index("ix_audit_at", "at"),
        Index("ix_audit_bulk", "bulk_id", "entity_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    actor_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # the login, or "system:<engine>" for automated changes; kept if the user is removed
    actor: str = Field(sa_type=String(100))
    # who really acted, when an admin acted as `actor` (crm --user): their OS or database login
    via: str | None = Field(default=None, sa_type=String(100))
    entity: str = Field(sa_type=String(32))
    entity_id: int | None = Field(default=None)
    action: str = Field(sa_type=String(32))
    field: str | None = Field(default=None, sa_type=String(64))
    old_value: str | None = Field(default=None, sa_type=Text)
    new_value: str | None = Field(default=None, sa_type=Text)
    # the bulk edit this event is one record's part of (models/bulk_edit.py), for its undo
    bulk_id: int | None = Field(default=None, foreign_key="bulk_edits.id")
