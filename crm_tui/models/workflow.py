"""The workflow engine's tables: firings (one per rule occurrence, the run log), the email outbox,
round-robin positions, and in-app notifications."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_tui.models.base import UTCDateTime


class WorkflowFiring(SQLModel, table=True):
    """One occurrence of one rule on one record, claimed by the engine that fires it.

    The unique key is what makes the engine idempotent: an engine claims an occurrence with an
    INSERT that ignores conflicts, in the same transaction as the firing's actions, so whoever
    commits first fires it and every other engine (another run, process or teammate) skips it.
    `occurrence_at` is the time that defines the occurrence (the deal entered its stage then, was
    won then, the task was due then); `occurrence_key` holds a date for date-field triggers, else ''.
    """

    __tablename__ = "workflow_firings"
    __table_args__ = (
        UniqueConstraint("rule", "entity", "entity_id", "occurrence_at", "occurrence_key",
                         name="uq_workflow_firings_occurrence"),
        Index("ix_workflow_firings_fired", "fired_at", "id"),
        Index("ix_workflow_firings_status", "status", "fired_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(sa_type=String(100))
    entity: str = Field(sa_type=String(16))
    entity_id: int
    occurrence_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    occurrence_key: str = Field(default="", sa_type=String(64))
    fired_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # done: the actions committed; error: they rolled back (retried until attempts runs out)
    status: str = Field(default="done", sa_type=String(8))
    attempts: int = Field(default=1)
    # what the actions did, one line each (JSON list); the error message when status is error
    actions: str | None = Field(default=None, sa_type=Text)
    error: str | None = Field(default=None, sa_type=Text)
    # the login of the user whose app ran the engine, or the host for `crm workflows run`
    runner: str | None = Field(default=None, sa_type=String(100))


class EmailOutbox(SQLModel, table=True):
    """An email a rule or a person sends: queued in the transaction that logs it (a rule's firing,
    or services/mail_send.py), sent after commit (the engine, or the command or app that queued it).

    States: queued -> sending -> sent, or back to queued (SMTP unreachable, retried later), or
    failed (the server refused it for good). An email is sent at most once: only the engine that
    moves it from queued to sending sends it.
    """

    __tablename__ = "email_outbox"
    __table_args__ = (
        Index("ix_email_outbox_status", "status", "id"),
        Index("ix_email_outbox_firing", "firing_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    firing_id: int | None = Field(default=None, foreign_key="workflow_firings.id", ondelete="SET NULL")
    rule: str = Field(sa_type=String(100))
    to_addr: str = Field(sa_type=String(320))  # the first recipient (lists show it)
    subject: str = Field(sa_type=String(300))
    body: str = Field(sa_type=Text)
    # issue 21: a person's email. None on a rule's email written before: the [smtp] sender, to_addr
    # alone, and a Message-ID made from the row's id
    from_addr: str | None = Field(default=None, sa_type=String(320))  # "Name <address>"
    to_addrs: list[str] | None = Field(default=None, sa_type=JSON)
    cc_addrs: list[str] | None = Field(default=None, sa_type=JSON)
    message_id: str | None = Field(default=None, sa_type=String(998))  # without the angle brackets
    in_reply_to: str | None = Field(default=None, sa_type=String(998))
    references: str | None = Field(default=None, sa_type=Text)  # space-separated Message-IDs
    # no ON DELETE: SQLite adds these columns in place, and its reflection does not read a
    # column-level ON DELETE (messages and users are not deleted)
    email_id: int | None = Field(default=None, foreign_key="email_messages.id")
    user_id: int | None = Field(default=None, foreign_key="users.id")
    # issue 22: a quote whose stored PDF goes as the attachment (built into the message when sent)
    quote_id: int | None = Field(default=None, foreign_key="quotes.id")
    status: str = Field(default="queued", sa_type=String(8))
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WorkflowCursor(SQLModel, table=True):
    """Where a round-robin over a role stands: the user who got the last assignment."""

    __tablename__ = "workflow_cursors"

    name: str = Field(sa_type=String(120), primary_key=True)
    last_user_id: int | None = Field(default=None)


class Notification(SQLModel, table=True):
    """An in-app message for one user, shown as a toast at their next start or timer tick."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_seen", "user_id", "seen_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    title: str = Field(sa_type=String(200))
    body: str | None = Field(default=None, sa_type=Text)
    entity: str | None = Field(default=None, sa_type=String(16))
    entity_id: int | None = Field(default=None)
    rule: str | None = Field(default=None, sa_type=String(100))
    firing_id: int | None = Field(default=None, foreign_key="workflow_firings.id", ondelete="SET NULL")
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WorkflowRuleset(SQLModel, table=True):
    """The team's rules as an admin published them: the TOML text every engine runs (each
    teammate's app and cron alike). Rows are only ever added; the newest is in force."""

    __tablename__ = "workflow_rulesets"

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_type=Text)
    digest: str = Field(sa_type=String(64))  # sha256 of the text
    rule_count: int = Field(default=0)
    published_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    published_by: str = Field(sa_type=String(100))
    published_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
