"""Sequences (issue 21): named steps — an email from a template, or a task — each after a delay in
business days, sent within a window and under a daily cap per sender; contacts enrol in them, and
an enrolment stops when the contact replies, a deal of theirs is won or lost, they unsubscribe or a
person stops it.

- `Sequence` and `SequenceStep` are editable (versioned) settings.
- `SequenceEnrollment` is one contact's way through one sequence. A contact has at most one active
  enrolment in a sequence (a partial unique index), so at most one active step.
- `SequenceSend` is one step done for one enrolment: its unique key (enrolment, step) is the
  exactly-once key that lets any number of engines run the steps, and (sender, day) counts the cap.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from crm_tui.models.base import UTCDateTime, Versioned

ACTIVE = "active"  # SequenceEnrollment.status: the next step will run when it is due
FINISHED = "finished"  # every step ran
STOPPED = "stopped"  # stopped before its end: stop_reason says why

# SequenceEnrollment.stop_reason
STOP_REASONS = ("replied", "deal_won", "deal_lost", "unsubscribed", "do_not_email", "manual", "archived",
                "no_email", "failed", "merged")  # no_email: no address to send to; failed: its template could not be
# filled; merged: its contact was merged into one already in that sequence

STEP_KINDS = ("email", "task")


class Sequence(Versioned, table=True):
    __tablename__ = "sequences"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(100))
    # the name casefolded and its spaces squeezed: one sequence per name, in any spelling
    name_key: str = Field(sa_type=String(100), unique=True)
    description: str = Field(default="", sa_type=Text)
    # whose it is; None: the team's
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # the sending window, in minutes after midnight in the team's time zone, on business days
    window_start: int = Field(default=9 * 60)
    window_end: int = Field(default=17 * 60)
    # at most this many emails of this sequence per sender per day
    daily_cap: int = Field(default=50)
    archived: bool = Field(default=False)


class SequenceStep(Versioned, table=True):
    __tablename__ = "sequence_steps"
    __table_args__ = (UniqueConstraint("sequence_id", "position", name="uq_sequence_steps_position"),)

    id: int | None = Field(default=None, primary_key=True)
    sequence_id: int = Field(foreign_key="sequences.id", ondelete="CASCADE")
    # 1, 2, 3…: the order of the steps
    position: int
    kind: str = Field(default="email", sa_type=String(8))  # "email" or "task"
    # business days after the previous step (or after enrolment, for the first)
    delay_days: int = Field(default=0)
    template_id: int | None = Field(default=None, foreign_key="email_templates.id", ondelete="RESTRICT")
    task_title: str | None = Field(default=None, sa_type=String(200))


class SequenceEnrollment(Versioned, table=True):
    __tablename__ = "sequence_enrollments"
    __table_args__ = (
        # a contact is in at most one active enrolment of a sequence (so in one active step)
        Index("uq_sequence_enrollments_active", "sequence_id", "contact_id", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
        # the engine's work: active enrolments whose next step is due
        Index("ix_sequence_enrollments_due", "status", "next_due_at", "id"),
        Index("ix_sequence_enrollments_contact", "contact_id", "status"),
        Index("ix_sequence_enrollments_sequence", "sequence_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sequence_id: int = Field(foreign_key="sequences.id", ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contacts.id", ondelete="CASCADE")
    status: str = Field(default=ACTIVE, sa_type=String(10))
    stop_reason: str | None = Field(default=None, sa_type=String(16))
    # the position of the next step to run (1-based); after the last, the enrolment is finished
    next_position: int = Field(default=1)
    next_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # who sends its emails (the person who enrolled the contact, unless given)
    sender_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    enrolled_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    enrolled_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_step_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    stopped_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class SequenceSend(SQLModel, table=True):
    """One step done for one enrolment (an email queued, or a task made)."""

    __tablename__ = "sequence_sends"
    __table_args__ = (
        # the exactly-once key: whoever commits first did the step; every other engine skips it
        UniqueConstraint("enrollment_id", "step_id", name="uq_sequence_sends_step"),
        # the daily cap: a sender's sends on a day
        Index("ix_sequence_sends_sender_day", "sender_id", "sent_on"),
        Index("ix_sequence_sends_email", "email_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key="sequence_enrollments.id", ondelete="CASCADE")
    step_id: int = Field(foreign_key="sequence_steps.id", ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contacts.id", ondelete="CASCADE")
    sender_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    kind: str = Field(sa_type=String(8))
    # the email it sent (its Message-ID is how a reply is seen), or the task it made
    email_id: int | None = Field(default=None, foreign_key="email_messages.id", ondelete="SET NULL")
    task_id: int | None = Field(default=None, foreign_key="tasks.id", ondelete="SET NULL")
    sent_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    sent_on: date  # the sender's day (team time zone), for the daily cap
