"""Companies: the accounts that contacts belong to and deals are sold to."""

from __future__ import annotations

from sqlalchemy import JSON, Index, String, Text
from sqlmodel import Field

from crm_tui.models.base import Versioned


class Company(Versioned, table=True):
    __tablename__ = "companies"
    __table_args__ = (
        Index("ix_companies_name_key_id", "name_key", "id"),
        Index("ix_companies_owner_id", "owner_id"),
        Index("ix_companies_domain", "domain"),
        Index("ix_companies_parent_id", "parent_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(200))
    # casefolded name: sort order and duplicate matching
    name_key: str = Field(sa_type=String(200))
    domain: str | None = Field(default=None, sa_type=String(253))
    industry: str | None = Field(default=None, sa_type=String(100))
    size: str | None = Field(default=None, sa_type=String(32))
    address: str | None = Field(default=None, sa_type=Text)
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # the group it belongs to (a subsidiary's parent account); never its own ancestor. No ON DELETE:
    # a company is deleted only by a merge, which re-points its subsidiaries first
    parent_id: int | None = Field(default=None, foreign_key="companies.id")
    notes: str | None = Field(default=None, sa_type=Text)
    # fields a team brought along that have no column (set by `crm import --custom`)
    custom: dict = Field(default_factory=dict, sa_type=JSON)
    archived: bool = Field(default=False)
    # name and domain, casefolded; indexed by FTS5 (SQLite) or pg_trgm (PostgreSQL)
    search_text: str = Field(default="", sa_type=Text)
