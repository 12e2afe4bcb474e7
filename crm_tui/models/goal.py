"""Sales goals: the amount a user is to win in one month or quarter, in one currency."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_tui.models.base import Versioned


class Goal(Versioned, table=True):
    __tablename__ = "goals"
    __table_args__ = (
        UniqueConstraint("user_id", "period_kind", "period_start", name="uq_goals_user_period"),
        Index("ix_goals_period", "period_kind", "period_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    # "month" or "quarter"; period_start is the first day of it
    period_kind: str = Field(sa_type=String(8))
    period_start: date
    # money is an integer count of the currency's minor unit (cents), never a float
    amount_minor: int = Field(default=0, sa_type=BigInteger)
    currency: str = Field(default="USD", sa_type=String(3))


class GoalRead(SQLModel):
    id: int
    user_id: int
    user_login: str | None = None
    period_kind: str
    period_start: date
    amount_minor: int
    currency: str
    version: int

