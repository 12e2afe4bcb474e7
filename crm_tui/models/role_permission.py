"""Role permissions: an admin's changes to the default role matrix (services/permissions.py)."""

from __future__ import annotations

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field

from crm_tui.models.base import Versioned


class RolePermission(Versioned, table=True):
    """One override: `role` may do `action` on every record ("all"), their own ("own"), or not ("none")."""

    __tablename__ = "role_permissions"
    __table_args__ = (UniqueConstraint("role", "action", name="uq_role_permissions_role_action"),)

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(sa_type=String(16))
    action: str = Field(sa_type=String(64))
    scope: str = Field(sa_type=String(8))
