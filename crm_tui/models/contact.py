"""Contacts: people, with several emails and phones, tags and custom fields."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_tui.models.base import UTCDateTime, Versioned


class Contact(Versioned, table=True):
    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_sort_name_id", "sort_name", "id"),
        Index("ix_contacts_company_key_id", "company_key", "id"),
        Index("ix_contacts_last_contacted_id", "last_contacted_at", "id"),
        Index("ix_contacts_created_id", "created_at", "id"),
        # reports: new contacts per source per month, and their conversion, from this index alone
        Index("ix_contacts_created_source", "created_at", "source", "lifecycle", "archived", "owner_id"),
        Index("ix_contacts_company_id", "company_id"),
        Index("ix_contacts_owner_sort", "owner_id", "sort_name", "id"),
        Index("ix_contacts_lifecycle_sort", "lifecycle", "sort_name", "id"),
        Index("ix_contacts_source", "source"),
        # emails, and a one- or two-letter search's email half: its matches in name order from
        # this index alone, without reading each row (services/search.contact_branches)
        Index("ix_contacts_email_sort", "email", "archived", "sort_name", "id"),
        Index("ix_contacts_phone", "phone"),
    )

    id: int | None = Field(default=None, primary_key=True)
    first_name: str = Field(default="", sa_type=String(100))
    last_name: str = Field(default="", sa_type=String(100))
    full_name: str = Field(default="", sa_type=String(201))
    # casefolded full name: the list's default order
    sort_name: str = Field(default="", sa_type=String(201))
    title: str | None = Field(default=None, sa_type=String(200))
    # the first of the contact's emails and phones, kept here for the list and for sorting
    email: str | None = Field(default=None, sa_type=String(320))
    phone: str | None = Field(default=None, sa_type=String(32))
    company_id: int | None = Field(default=None, foreign_key="companies.id", ondelete="SET NULL")
    # the company's name_key, so "sort by company" is an index scan, not a join and sort
    company_key: str | None = Field(default=None, sa_type=String(200))
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    lifecycle: str = Field(default="lead", sa_type=String(16))
    source: str | None = Field(default=None, sa_type=String(32))
    custom: dict = Field(default_factory=dict, sa_type=JSON)
    address: str | None = Field(default=None, sa_type=String(500))
    birthday: date | None = Field(default=None)
    # profile pages (LinkedIn, X, GitHub, …): http(s) URLs, in the order given
    social_urls: list | None = Field(default=None, sa_type=JSON)
    description: str | None = Field(default=None, sa_type=Text)
    last_contacted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    archived: bool = Field(default=False)
    # never sent sequence or bulk mail (they asked, or unsubscribed); a person may still write to them
    do_not_email: bool = Field(default=False)
    # names, emails, phones and title, casefolded; indexed by FTS5 (SQLite) or pg_trgm (PostgreSQL)
    search_text: str = Field(default="", sa_type=Text)


class ContactEmail(SQLModel, table=True):
    """Every email of a contact, lower-cased; position 0 is the primary one."""

    __tablename__ = "contact_emails"
    __table_args__ = (UniqueConstraint("contact_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contacts.id", ondelete="CASCADE")
    email: str = Field(sa_type=String(320), index=True)
    position: int = Field(default=0)


class ContactPhone(SQLModel, table=True):
    """Every phone of a contact, E.164 where parseable; position 0 is the primary one."""

    __tablename__ = "contact_phones"
    __table_args__ = (UniqueConstraint("contact_id", "phone"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contacts.id", ondelete="CASCADE")
    phone: str = Field(sa_type=String(32), index=True)
    position: int = Field(default=0)


class Tag(SQLModel, table=True):
    __tablename__ = "tags"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(64), unique=True)


class ContactTag(SQLModel, table=True):
    __tablename__ = "contact_tags"
    __table_args__ = (Index("ix_contact_tags_tag_contact", "tag_id", "contact_id"),)

    contact_id: int = Field(foreign_key="contacts.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tags.id", primary_key=True, ondelete="CASCADE")
