"""The service desk (issue 23): cases and their threads, SLA policies over business hours, and
customer-satisfaction surveys (CSAT after a case, NPS to a list of customers).

- A `Case` is numbered by its id (`#1234`, and `[#1234]` in an email's subject). Its status is one of
  STATUSES; WAITING pauses its SLA clock. Its due times are stamped by `services/sla.py` when it is
  opened, when its priority changes and when it leaves WAITING (the pause is added on).
  `sla_next_at` is the earliest target still to meet (first response, else resolution), None while
  paused, met or closed: the "breaching soon" queue and the SLA scan are one range scan of it.
- `first_response_minutes` and `resolution_minutes` (migration 0027) are the wall-clock minutes the
  reports count, kept with the times by a mapper event on every ORM write (`_stamp_minutes`); bulk
  inserts of plain rows add `case_minutes(...)` themselves.
- A `CaseEntry` is one entry of a case's thread: public (to or from the customer, usually an email,
  `email_id`) or internal (a note the customer never sees).
- `SlaPolicy` sets, per priority, the first-response and resolution targets in business minutes on
  a `BusinessCalendar` (days, hours and zone) less its `Holiday` rows.
- A `Survey` is one survey sent to one contact: a CSAT after a resolved case, or an NPS of a run
  (`run_key`, e.g. "nps-2026-12"). Its token is signed (HMAC) and single-use: `token_hash` finds the
  survey and `responded_at` spends it. The answer (score, comment) is kept on the same row.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint, event, inspect, text
from sqlmodel import Field, SQLModel

from crm_tui import shapes
from crm_tui.models.base import UTCDateTime, Versioned

# Case.status (shapes.py holds them: the Cases area's first frame reads them before the ORM loads)
NEW, OPEN, WAITING, RESOLVED, CLOSED = shapes.NEW, shapes.OPEN, shapes.WAITING, shapes.RESOLVED, shapes.CLOSED
STATUSES, OPEN_STATUSES, STATUS_LABELS = shapes.STATUSES, shapes.OPEN_STATUSES, shapes.STATUS_LABELS

# Case.priority, lowest first
PRIORITIES = ("low", "normal", "high", "urgent")

# Case.channel
CHANNELS = ("email", "phone", "web", "chat", "in_person")

# CaseEntry.visibility
PUBLIC, INTERNAL = "public", "internal"

# Survey.kind
CSAT, NPS = "csat", "nps"


class Case(Versioned, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        # the queues: mine, unassigned, waiting, all open, per team; each ordered by id (keyset)
        Index("ix_cases_status_assignee", "status", "assignee_id", "id"),
        Index("ix_cases_assignee_status", "assignee_id", "status", "id"),
        Index("ix_cases_team_status", "team", "status", "id"),
        # the queues' live counts: breaching soon (a range per status) and per team, from the index alone
        Index("ix_cases_queue_counts", "status", "sla_next_at", "team"),
        # breaching soon and the SLA scan: open cases by their next target
        Index("ix_cases_sla_next", "sla_next_at", "id"),
        Index("ix_cases_contact", "contact_id", "id"),
        Index("ix_cases_company", "company_id", "id"),
        Index("ix_cases_deal", "deal_id"),
        # reports: opened and resolved per period
        Index("ix_cases_created", "created_at", "id"),
        Index("ix_cases_resolved", "resolved_at"),
        # reports: closed per period, and the backlog (open now: both NULL) from the index alone
        Index("ix_cases_closed", "closed_at", "resolved_at"),
        # the times and SLA reports (0027): the cases opened in a period, per agent, team, priority and
        # category, with their minutes and SLA times, from the index alone; with statistics SQLite
        # skip-scans it (a created_at range per cell), and the cells come grouped, with no sort
        Index("ix_cases_times", "assignee_id", "team", "priority", "category", "created_at", "merged_into_id",
              "first_response_minutes", "resolution_minutes", "first_response_due_at", "first_response_at",
              "resolution_due_at", "resolved_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(sa_type=String(300))
    description: str = Field(default="", sa_type=Text)
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", ondelete="SET NULL")
    company_id: int | None = Field(default=None, foreign_key="companies.id", ondelete="SET NULL")
    deal_id: int | None = Field(default=None, foreign_key="deals.id", ondelete="SET NULL")
    product_id: int | None = Field(default=None, foreign_key="products.id", ondelete="SET NULL")
    channel: str = Field(default="email", sa_type=String(10))
    category: str | None = Field(default=None, sa_type=String(60))
    priority: str = Field(default="normal", sa_type=String(8))
    status: str = Field(default=NEW, sa_type=String(10))
    assignee_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # the queue: a team's name as users.team spells it; None: no team
    team: str | None = Field(default=None, sa_type=String(100))
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # the customer's address the case came from (email to case), replies go there
    from_addr: str | None = Field(default=None, sa_type=String(320))
    first_response_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # the SLA (services/sla.py): the policy, both targets, the next one to meet, the pause
    sla_policy_id: int | None = Field(default=None, foreign_key="sla_policies.id", ondelete="SET NULL")
    first_response_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sla_next_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # when it began waiting
    # business minutes spent waiting on the customer so far: added to both targets
    paused_minutes: int = Field(default=0)
    # the case it was merged into (this one is then closed and its thread moved there)
    merged_into_id: int | None = Field(default=None, foreign_key="cases.id", ondelete="SET NULL")
    # wall-clock minutes from creation to the first response and to resolution (`elapsed_minutes`),
    # None while there is none; kept with the times by `_stamp_minutes` below, read by the reports
    first_response_minutes: int | None = Field(default=None)
    resolution_minutes: int | None = Field(default=None)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SECOND = timedelta(seconds=1)


def elapsed_minutes(later: datetime | None, earlier: datetime | None) -> int | None:
    """Whole minutes from `earlier` to `later`, as the reports count them: each time's epoch seconds
    floored, the difference floor-divided by 60 (None when either is missing or `later` comes first).
    Migration 0027 computes the same in SQL for the cases it found."""
    if later is None or earlier is None or later < earlier:
        return None
    return ((later - _EPOCH) // _SECOND - (earlier - _EPOCH) // _SECOND) // 60


def case_minutes(created_at: datetime | None, first_response_at: datetime | None,
                 resolved_at: datetime | None) -> dict[str, int | None]:
    """The case's stored minutes for these times (bulk inserts of plain rows use it too)."""
    return {"first_response_minutes": elapsed_minutes(first_response_at, created_at),
            "resolution_minutes": elapsed_minutes(resolved_at, created_at)}


_TIMES = ("created_at", "first_response_at", "resolved_at")


@event.listens_for(Case, "before_insert")
@event.listens_for(Case, "before_update")
def _stamp_minutes(_mapper, _connection, case: Case) -> None:
    """Every write of a case through the ORM (answered, resolved, reopened, merged, or made by
    hand) keeps its minutes with its times; plain-row inserts call `case_minutes` themselves."""
    state = inspect(case)
    if state.persistent and not any(state.attrs[name].history.has_changes() for name in _TIMES):
        return
    for name, value in case_minutes(case.created_at, case.first_response_at, case.resolved_at).items():
        if getattr(case, name) != value:
            setattr(case, name, value)


class CaseEntry(Versioned, table=True):
    __tablename__ = "case_entries"
    __table_args__ = (
        Index("ix_case_entries_case", "case_id", "created_at", "id"),
        Index("ix_case_entries_email", "email_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", ondelete="CASCADE")
    visibility: str = Field(default=PUBLIC, sa_type=String(8))  # "public" or "internal"
    direction: str = Field(default="out", sa_type=String(3))  # "in" (from the customer) or "out"
    author_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")  # a teammate
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", ondelete="SET NULL")  # the customer
    body: str = Field(default="", sa_type=Text)
    # the email it was sent as or received in (public entries by email)
    email_id: int | None = Field(default=None, foreign_key="email_messages.id", ondelete="SET NULL")


class BusinessCalendar(Versioned, table=True):
    __tablename__ = "business_calendars"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(100))
    name_key: str = Field(sa_type=String(100), unique=True)  # casefolded, spaces squeezed
    timezone: str = Field(default="UTC", sa_type=String(64))
    # the working hours per weekday: {"mon": [["09:00", "17:00"]], ..., "sun": []}
    hours: dict = Field(default_factory=dict, sa_type=JSON)


class Holiday(SQLModel, table=True):
    __tablename__ = "holidays"
    __table_args__ = (UniqueConstraint("calendar_id", "day", name="uq_holidays_day"),)

    id: int | None = Field(default=None, primary_key=True)
    calendar_id: int = Field(foreign_key="business_calendars.id", ondelete="CASCADE")
    day: date
    name: str = Field(default="", sa_type=String(200))


class SlaPolicy(Versioned, table=True):
    __tablename__ = "sla_policies"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(100))
    name_key: str = Field(sa_type=String(100), unique=True)
    calendar_id: int | None = Field(default=None, foreign_key="business_calendars.id", ondelete="SET NULL")
    # per priority, in business minutes: {"urgent": {"first": 60, "resolve": 480}, ...}
    targets: dict = Field(default_factory=dict, sa_type=JSON)
    # the policy new cases get (at most one; services/sla.py keeps it so)
    is_default: bool = Field(default=False)
    archived: bool = Field(default=False)


class Survey(SQLModel, table=True):
    __tablename__ = "surveys"
    __table_args__ = (
        # one CSAT per case, one survey per contact and NPS run: the exactly-once keys
        Index("uq_surveys_case", "kind", "case_id", unique=True,
              sqlite_where=text("case_id IS NOT NULL"), postgresql_where=text("case_id IS NOT NULL")),
        Index("uq_surveys_run_contact", "run_key", "contact_id", unique=True,
              sqlite_where=text("run_key IS NOT NULL"), postgresql_where=text("run_key IS NOT NULL")),
        Index("ix_surveys_kind_responded", "kind", "responded_at"),
        Index("ix_surveys_contact", "contact_id", "id"),
        # a reply to a survey's email finds the survey (services/surveys.score_from_reply)
        Index("ix_surveys_email", "email_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(4))  # "csat" or "nps"
    case_id: int | None = Field(default=None, foreign_key="cases.id", ondelete="CASCADE")
    run_key: str | None = Field(default=None, sa_type=String(64))
    contact_id: int | None = Field(default=None, foreign_key="contacts.id", ondelete="SET NULL")
    # whose work it rates (the case's assignee and team when the survey went out), for the reports
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    team: str | None = Field(default=None, sa_type=String(100))
    # sha256 of the signed token; the token itself is only ever in the email
    token_hash: str = Field(sa_type=String(64), unique=True)
    email_id: int | None = Field(default=None, foreign_key="email_messages.id", ondelete="SET NULL")
    sent_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    responded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    score: int | None = Field(default=None)  # CSAT 1-5, NPS 0-10
    comment: str | None = Field(default=None, sa_type=Text)
    via: str | None = Field(default=None, sa_type=String(8))  # "link" or "reply"
