"""Lost reasons: the team's list a seller picks from when a deal is lost (free text is allowed too)."""

from __future__ import annotations

from sqlalchemy import String
from sqlmodel import Field

from crm_tui.models.base import Versioned


class LostReason(Versioned, table=True):
    __tablename__ = "lost_reasons"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(200), unique=True)
    position: int = Field(default=0)
    archived: bool = Field(default=False)
