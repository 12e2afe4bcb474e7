"""Activities: the interaction log (calls, emails, meetings, notes) and system events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, text
from sqlmodel import Field

from crm_tui.models.base import UTCDateTime, Versioned


class Activity(Versioned, table=True):
    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_contact_time", "contact_id", "occurred_at", "id"),
        Index("ix_activities_company_time", "company_id", "occurred_at", "id"),
        Index("ix_activities_deal_time", "deal_id", "occurred_at", "id"),
        Index("ix_activities_user_time", "user_id", "occurred_at"),
        Index("ix_activities_time", "occurred_at", "id"),
        # reports: team activity counts each (user, kind, week) from this index alone
        Index("ix_activities_user_kind_time", "user_id", "kind", "occurred_at"),
        # reports: the stages a lost deal went through (its stage-change log), without the other activities
        Index("ix_activities_stage_changes", "deal_id", "subject", sqlite_where=text("kind = 'stage_change'"),
              postgresql_where=text("kind = 'stage_change'")),
        # calls and meetings logged ahead of their time: the few the engine turns into contact
        # when their time comes (services/activities.arrive_planned)
        # an email's timeline entries (one per linked contact); one entry per contact and message
        Index("uq_activities_email_contact", "email_id", "contact_id", unique=True),
        Index("ix_activities_planned", "occurred_at", "contact_id", sqlite_where=text("occurred_at > created_at"),
              postgresql_where=text("occurred_at > created_at")),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(16))
    direction: str | None = Field(default=None, sa_type=String(8))
    occurred_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    duration_minutes: int | None = Field(default=None)
    outcome: str | None = Field(default=None, sa_type=String(100))
    subject: str | None = Field(default=None, sa_type=String(300))
    body: str | None = Field(default=None, sa_type=Text)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", ondelete="CASCADE")
    # set from the contact's company when logged, so an account's timeline is one index scan
    company_id: int | None = Field(default=None, foreign_key="companies.id", ondelete="SET NULL")
    deal_id: int | None = Field(default=None, foreign_key="deals.id", ondelete="SET NULL")
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # an email activity's message (models/email.py); None for every other kind. No ON DELETE: SQLite
    # adds this column in place, and its reflection does not read a column-level ON DELETE
    email_id: int | None = Field(default=None, foreign_key="email_messages.id")
