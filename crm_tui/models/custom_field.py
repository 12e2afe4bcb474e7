"""Typed custom fields: an admin's definition of a field that contacts, companies or deals carry.

The values stay in each record's `custom` JSON column (untyped values keep working); a definition
gives one key a type, a label, whether it is required, a default and its choices. Defining a field
creates an expression index on that key (services/fields.py), so a filter on it is an index scan.
"""

from __future__ import annotations

from sqlalchemy import JSON, String, UniqueConstraint
from sqlmodel import Field

from crm_tui.models.base import Versioned


class CustomField(Versioned, table=True):
    __tablename__ = "custom_fields"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_custom_fields_kind_key"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(16))          # contact, company or deal
    key: str = Field(sa_type=String(64))           # the key in the record's `custom`
    label: str = Field(default="", sa_type=String(100))
    type: str = Field(sa_type=String(16))          # text, number, money, date, choice, multi, yesno, url
    required: bool = Field(default=False)
    # the value a new record gets when none is given (already in the stored form of the type)
    default: object | None = Field(default=None, sa_type=JSON)
    # choice and multi-choice: the choices offered, in order, and those retired (kept on records,
    # no longer offered)
    options: list = Field(default_factory=list, sa_type=JSON)
    retired: list = Field(default_factory=list, sa_type=JSON)
    position: int = Field(default=0)
    archived: bool = Field(default=False)
