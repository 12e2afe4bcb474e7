"""Deals: an amount in minor units, moving through the stages of one pipeline."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlmodel import Field

from crm_tui.models.base import UTCDateTime, Versioned


class Deal(Versioned, table=True):
    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_stage_status_id", "stage_id", "status", "id"),
        Index("ix_deals_pipeline_status", "pipeline_id", "status"),
        Index("ix_deals_stage_entered", "stage_id", "stage_entered_at"),
        Index("ix_deals_owner_status", "owner_id", "status"),
        Index("ix_deals_status_closed", "status", "closed_at"),
        Index("ix_deals_expected_close", "expected_close"),
        Index("ix_deals_company_id", "company_id"),
        Index("ix_deals_contact_id", "contact_id"),
        Index("ix_deals_title_key_id", "title_key", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_type=String(200))
    title_key: str = Field(default="", sa_type=String(200))
    company_id: int | None = Field(default=None, foreign_key="companies.id", ondelete="SET NULL")
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", ondelete="SET NULL")
    pipeline_id: int = Field(foreign_key="pipelines.id")
    stage_id: int = Field(foreign_key="stages.id")
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # money is an integer count of the currency's minor unit (cents), never a float
    amount_minor: int = Field(default=0, sa_type=BigInteger)
    currency: str = Field(default="USD", sa_type=String(3))
    expected_close: date | None = Field(default=None)
    status: str = Field(default="open", sa_type=String(8))
    lost_reason: str | None = Field(default=None, sa_type=Text)
    stage_entered_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    archived: bool = Field(default=False)
