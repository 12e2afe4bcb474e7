"""Tasks: reminders with a due time, snoozing and an optional RFC 5545 recurrence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlmodel import Field

from crm_tui.models.base import UTCDateTime, Versioned


class Task(Versioned, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_assignee_open_due", "assignee_id", "done_at", "due_at"),
        Index("ix_tasks_due", "due_at"),
        Index("ix_tasks_done", "done_at"),
        Index("ix_tasks_contact_id", "contact_id"),
        Index("ix_tasks_company_id", "company_id"),
        Index("ix_tasks_deal_id", "deal_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_type=String(300))
    notes: str | None = Field(default=None, sa_type=Text)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    assignee_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", ondelete="CASCADE")
    company_id: int | None = Field(default=None, foreign_key="companies.id", ondelete="CASCADE")
    deal_id: int | None = Field(default=None, foreign_key="deals.id", ondelete="CASCADE")
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    snoozed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # an RFC 5545 RRULE; the series is anchored at recurrence_start so COUNT and UNTIL hold
    recurrence: str | None = Field(default=None, sa_type=String(300))
    recurrence_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    origin: str = Field(default="manual", sa_type=String(8))
    rule_name: str | None = Field(default=None, sa_type=String(100))
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
