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
