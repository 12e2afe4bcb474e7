"""Pipelines and their ordered stages, each with a win probability and a rotting threshold."""

from __future__ import annotations

from sqlalchemy import Index, String, UniqueConstraint
from sqlmodel import Field

from crm_tui.models.base import Versioned


class Pipeline(Versioned, table=True):
    __tablename__ = "pipelines"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(100), unique=True)
    position: int = Field(default=0)
    is_default: bool = Field(default=False)
    archived: bool = Field(default=False)


class Stage(Versioned, table=True):
    __tablename__ = "stages"
    __table_args__ = (
        UniqueConstraint("pipeline_id", "name"),
        Index("ix_stages_pipeline_position", "pipeline_id", "position"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pipeline_id: int = Field(foreign_key="pipelines.id", ondelete="CASCADE")
    name: str = Field(sa_type=String(100))
    position: int = Field(default=0)
    # percent, 0 to 100
    probability: int = Field(default=0)
    # a deal in this stage longer than this many days is stale
    rotting_days: int | None = Field(default=None)
    kind: str = Field(default="open", sa_type=String(8))
