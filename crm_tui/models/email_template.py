"""Email templates (issue 21): a subject and a body with merge fields, shared by the team or a
user's own."""

from __future__ import annotations

from sqlalchemy import Index, String, Text
from sqlmodel import Field

from crm_tui.models.base import Versioned


class EmailTemplate(Versioned, table=True):
    __tablename__ = "email_templates"
    __table_args__ = (Index("ix_email_templates_owner", "owner_id", "archived"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(100))
    # the name casefolded and its spaces squeezed: one template per name, in any spelling
    name_key: str = Field(sa_type=String(100), unique=True)
    subject: str = Field(default="", sa_type=String(300))
    body: str = Field(default="", sa_type=Text)
    # whose template it is; None: the team's (any seller may use it, only an editor of all may change it)
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    archived: bool = Field(default=False)
