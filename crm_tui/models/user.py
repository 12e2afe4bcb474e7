"""Users: the people (and roles) who work in the CRM."""

from __future__ import annotations

from sqlalchemy import Index, String
from sqlmodel import Field

from crm_tui.models.base import Versioned


class User(Versioned, table=True):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_manager_id", "manager_id"), Index("ix_users_team", "team"))

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(sa_type=String(64), unique=True, index=True)
    name: str = Field(sa_type=String(200))
    email: str | None = Field(default=None, sa_type=String(320))
    role: str = Field(default="sales", sa_type=String(16))
    active: bool = Field(default=True)
    timezone: str | None = Field(default=None, sa_type=String(64))
    # who signs in as this user: the OS login (SQLite) or the database login (PostgreSQL), when it
    # is not the same as `login`; only an admin sets it (crm user edit LOGIN --os-login NAME)
    os_login: str | None = Field(default=None, sa_type=String(64), unique=True, index=True)
    # who they report to (never themselves, nor anyone who reports to them); kept when the manager
    # is deactivated, as users are never deleted
    manager_id: int | None = Field(default=None, foreign_key="users.id")
    # free text: a team ("EMEA", "Inside sales") or a region; reports can group by it
    team: str | None = Field(default=None, sa_type=String(100))
