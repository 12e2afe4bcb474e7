"""Saved views (smart lists): a named search, filter and sort, shared with the team."""

from __future__ import annotations

from sqlalchemy import JSON, String, UniqueConstraint
from sqlmodel import Field

from crm_tui.models.base import Versioned


class SavedView(Versioned, table=True):
    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("entity", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(100))
    # what the view lists: "contact", "company" or "deal"
    entity: str = Field(sa_type=String(16))
    query: str = Field(default="", sa_type=String(200))
    filters: dict = Field(default_factory=dict, sa_type=JSON)
    sort: str = Field(default="name", sa_type=String(32))
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    shared: bool = Field(default=True)
    position: int = Field(default=0)
