"""Email messages (issue 21): every mail the CRM sent, synced or ingested, stored once.

A message is one row, keyed by its Message-ID, however many people sent, received or synced it.
It reaches the timeline through activities: one email activity per linked contact
(`activities.email_id`), so a message between a seller and three contacts is one row here and three
timeline entries. A message that matches no contact has no activity yet: it waits in Triage.
Threads: `thread_key` is the Message-ID of the thread's first message (the first of References,
else In-Reply-To, else its own), so a thread is one index scan.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, Text
from sqlmodel import Field, SQLModel

from crm_tui.clock import utcnow
from crm_tui.models.base import UTCDateTime


class EmailMessage(SQLModel, table=True):
    __tablename__ = "email_messages"
    __table_args__ = (
        Index("ix_email_messages_thread", "thread_key", "sent_at"),
        Index("ix_email_messages_in_reply_to", "in_reply_to"),
        Index("ix_email_messages_sent_at", "sent_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # without the angle brackets; RFC 5322 allows up to 998 characters on a line
    message_id: str = Field(sa_type=String(998), unique=True)
    in_reply_to: str | None = Field(default=None, sa_type=String(998))
    references: str | None = Field(default=None, sa_type=Text)  # space-separated Message-IDs
    thread_key: str = Field(sa_type=String(998))
    direction: str = Field(sa_type=String(8))  # "in" or "out", as seen by the team
    subject: str = Field(default="", sa_type=String(300))
    from_addr: str = Field(default="", sa_type=String(320))
    to_addrs: list[str] = Field(default_factory=list, sa_type=JSON)
    cc_addrs: list[str] = Field(default_factory=list, sa_type=JSON)
    sent_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    body: str | None = Field(default=None, sa_type=Text)  # plain text (HTML converted)
    attachments: list[dict] = Field(default_factory=list, sa_type=JSON)  # [{"name": ..., "size": ...}]
    size: int = Field(default=0)
    # how it reached the CRM: sent (from the app or CLI), workflow, sync (IMAP), ingest (a file or a pipe)
    source: str = Field(sa_type=String(16))
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
