"""Deals: an amount in minor units, moving through the stages of one pipeline."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Index, String, Text
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
        # reports: win rate and days to win of the deals closed in a period, from this index alone
        Index("ix_deals_closed_report", "status", "closed_at", "owner_id", "contact_id", "created_at", "archived",
              "pipeline_id", "currency"),
        # reports: "has a won deal" probes for a contact
        Index("ix_deals_contact_status", "contact_id", "status"),
        Index("ix_deals_expected_close", "expected_close"),
        Index("ix_deals_company_id", "company_id"),
        Index("ix_deals_contact_id", "contact_id"),
        Index("ix_deals_title_key_id", "title_key", "id"),
        # the deals list's sorts (services/deal_list.py): one (column, id) index each
        Index("ix_deals_amount_id", "amount_minor", "id"),
        Index("ix_deals_close_id", "expected_close", "id"),
        Index("ix_deals_created_id", "created_at", "id"),
        Index("ix_deals_updated_id", "updated_at", "id"),
        Index("ix_deals_entered_id", "stage_entered_at", "id"),
        Index("ix_deals_closed_id", "closed_at", "id"),
        # covers the pipeline board's header totals: one index-only scan, already in GROUP BY order
        Index("ix_deals_board_totals", "pipeline_id", "archived", "stage_id", "currency", "amount_minor"),
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
    # fields a team brought along that have no column (set by `crm import --custom`)
    custom: dict = Field(default_factory=dict, sa_type=JSON)
    archived: bool = Field(default=False)
