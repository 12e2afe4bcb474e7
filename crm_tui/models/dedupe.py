"""Pairs of records a person said are not duplicates: the duplicate scans leave them out, for everyone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_tui.models.base import UTCDateTime


class DedupeDismissal(SQLModel, table=True):
    """One pair, ids in order (a_id < b_id), of contacts or of companies (`kind`). No foreign key:
    the ids are of either table; a merge removes the pairs of the record it removes."""

    __tablename__ = "dedupe_dismissals"
    __table_args__ = (
        UniqueConstraint("kind", "a_id", "b_id", name="uq_dedupe_dismissals_pair"),
        CheckConstraint("a_id < b_id", name="ck_dedupe_dismissals_order"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(16))  # contact or company
    a_id: int
    b_id: int
    by: str = Field(sa_type=String(100))  # the login that said so
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
