"""Mail capture's own state (issue 21): how far each IMAP folder was read, the run log of messages
that could not be read, and Triage (addresses that matched no contact) with its ignore list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_tui.models.base import UTCDateTime


class MailFolder(SQLModel, table=True):
    """One IMAP folder of one mailbox: its UIDVALIDITY and the last UID read. A new UIDVALIDITY
    means the server renumbered the folder: it is read again from the start (the Message-IDs keep
    what was stored from being stored twice)."""

    __tablename__ = "mail_folders"
    __table_args__ = (UniqueConstraint("account", "folder", name="uq_mail_folders_account_folder"),)

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(sa_type=String(400))  # user@host[:port], never a password
    folder: str = Field(sa_type=String(200))
    uidvalidity: int = Field(sa_type=BigInteger)
    last_uid: int = Field(default=0, sa_type=BigInteger)
    synced_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class MailSyncLog(SQLModel, table=True):
    """A message a sync or an ingest could not read whole (or at all), and why: the run went on."""

    __tablename__ = "mail_sync_log"
    __table_args__ = (Index("ix_mail_sync_log_at", "at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    source: str = Field(sa_type=String(16))  # sync or ingest
    account: str | None = Field(default=None, sa_type=String(400))
    folder: str | None = Field(default=None, sa_type=String(200))  # or the file ingested
    uid: int | None = Field(default=None, sa_type=BigInteger)
    message_id: str | None = Field(default=None, sa_type=String(998))
    level: str = Field(sa_type=String(8))  # error: not stored; warning: stored, with this caveat
    error: str = Field(sa_type=Text)


class MailTriage(SQLModel, table=True):
    """An address of a message that matched no contact, one row per address and message, until
    someone makes it a contact, links it to one, or ignores it."""

    __tablename__ = "mail_triage"
    __table_args__ = (
        UniqueConstraint("address", "email_id", name="uq_mail_triage_address_email"),
        Index("ix_mail_triage_domain", "domain"),
        Index("ix_mail_triage_email", "email_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(sa_type=String(320))
    domain: str = Field(sa_type=String(255))
    name: str = Field(default="", sa_type=String(200))  # the display name the mail gave
    role: str = Field(sa_type=String(8))  # from, to or cc
    email_id: int = Field(foreign_key="email_messages.id", ondelete="CASCADE")
    seen_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class MailIgnore(SQLModel, table=True):
    """An address, or a whole domain, whose mail never goes to Triage (newsletters, notifications)."""

    __tablename__ = "mail_ignores"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_mail_ignores_kind_value"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(8))  # address or domain
    value: str = Field(sa_type=String(320))
    by: str = Field(sa_type=String(100))
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
