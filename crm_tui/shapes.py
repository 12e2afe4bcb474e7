"""Plain shapes that need no ORM: the acting user, a page of a list and its cursor, the contact
list's row, the board's cards, totals and filter, a pipeline and its stages as the board reads them,
the Inbox's first tasks, a case list's row and the case statuses. The services hand them out (and re-export them where they always have); the app's first
frame uses them before SQLAlchemy and the models are loaded (services/start.py)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, Generic, TypeVar

from crm_tui.clock import get_zone
from crm_tui.errors import InvalidInput

T = TypeVar("T")
MAX_PAGE = 500
# `before=END` asks for the last page (the End key of a list).
END = "end"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user, or the system (workflow engine, import) with a label."""

    user_id: int | None
    login: str
    role: str = "admin"
    timezone: str | None = None
    locale: str | None = None  # how the user writes numbers (amounts); en_US when not set
    # who really acts, when an admin acts as this user (crm --user): their OS or database login
    via: str | None = None
    # the country of phone numbers typed without +code (config `phone_country`); None: kept as typed
    phone_country: str | None = None
    # the zone a calendar day (a close date, a report's month) is in: config.team_timezone; UTC when not set
    team_timezone: str | None = None
    date_order: str | None = None  # how the user writes 03/04/2027: "dmy", "mdy" or "ymd"; refused when not set

    @property
    def zone(self) -> tzinfo:
        """The zone this user's times are shown and typed in: theirs (which services.users.resolve_actor
        fills from the config file's when they set none), else the machine's."""
        return get_zone(self.timezone)

    @property
    def is_system(self) -> bool:
        return self.user_id is None

    @property
    def label(self) -> str:
        """ "bob", or "root (as bob)" when root acts as bob."""
        return f"{self.via} (as {self.login})" if self.via else self.login


def system_actor(name: str = "system") -> Actor:
    return Actor(user_id=None, login=f"system:{name}" if name != "system" else "system", role="admin")


@dataclass(frozen=True)
class Cursor:
    value: Any
    id: int

    def encode(self) -> str:
        value = self.value
        kind = None
        if isinstance(value, datetime):
            value, kind = value.isoformat(), "dt"
        elif isinstance(value, date):
            value, kind = value.isoformat(), "d"
        raw = json.dumps([value, kind, self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            value, kind, id_ = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if kind == "dt":
                value = datetime.fromisoformat(value)
            elif kind == "d":
                value = date.fromisoformat(value)
            return cls(value, int(id_))
        except (ValueError, TypeError, json.JSONDecodeError):
            raise InvalidInput(f"invalid page cursor {token!r}") from None


@dataclass
class Page(Generic[T]):
    items: list[T]
    # pass as `after` for the next page; None at the end of the list
    next_cursor: str | None = None
    # pass as `before` for the previous page; None at the start of the list
    prev_cursor: str | None = None
    total: int | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContactRow:
    """One line of the contact list."""

    id: int
    full_name: str
    company_name: str | None
    email: str | None
    phone: str | None
    lifecycle: str
    owner_login: str | None
    last_contacted_at: datetime | None
    created_at: datetime


# --- the pipeline board (services/board.py hands these out) ------------------------------------

CLOSE_PERIODS = {
    "any": "any time",
    "overdue": "overdue",
    "this_week": "this week",
    "this_month": "this month",
    "next_month": "next month",
    "this_quarter": "this quarter",
    "next_quarter": "next quarter",
    "none": "no close date",
}


@dataclass(frozen=True)
class BoardFilter:
    """What the board shows: an owner (None: everyone), a text in the title or company, an
    expected-close period (a key of CLOSE_PERIODS), and only the stale deals."""

    owner_id: int | None = None
    text: str = ""
    close: str = "any"
    stale_only: bool = False


# the board's owner choice as it is named on screen (beside a teammate's login)
EVERYONE, MINE = "everyone", "mine"


@dataclass(frozen=True, slots=True)
class Card:
    """One deal as the board draws it."""

    id: int
    title: str
    company_name: str | None
    owner_login: str | None
    amount_minor: int
    currency: str
    expected_close: date | None
    stage_id: int
    stage_entered_at: datetime
    status: str
    version: int
    next_task: str | None = None
    next_task_due: datetime | None = None


@dataclass(frozen=True, slots=True)
class Money:
    currency: str
    amount_minor: int


@dataclass(frozen=True)
class StageTotal:
    """A column header: how many deals, their amounts and weighted amounts, per currency."""

    stage_id: int
    count: int = 0
    amounts: tuple[Money, ...] = ()
    weighted: tuple[Money, ...] = ()


@dataclass(frozen=True)
class BoardTotals:
    stages: dict[int, StageTotal] = field(default_factory=dict)
    # the open stages added up: the pipeline and its weighted forecast, per currency
    open_count: int = 0
    open_amounts: tuple[Money, ...] = ()
    forecast: tuple[Money, ...] = ()
    # when converting (the board's $ key): the one currency every amount is in, and how many deals
    # had no rate on their day and are counted but not in the amounts
    converted_to: str | None = None
    unconverted: int = 0

    def stage(self, stage_id: int) -> StageTotal:
        return self.stages.get(stage_id, StageTotal(stage_id))


def days_in_stage(entered_at: datetime, now: datetime) -> int:
    return max(0, (now - entered_at).days)


def is_stale(entered_at: datetime, rotting_days: int | None, now: datetime) -> bool:
    """Stale: more whole days in the stage than the stage's rotting threshold."""
    return rotting_days is not None and days_in_stage(entered_at, now) > rotting_days


@dataclass(frozen=True, slots=True)
class StageRow:
    """A stage as the board reads it before the ORM has loaded: models.schemas.StageRead's fields."""

    id: int
    pipeline_id: int
    name: str
    position: int
    probability: int
    rotting_days: int | None
    kind: str
    version: int


@dataclass(frozen=True, slots=True)
class PipelineRow:
    """A pipeline and its stages in order, as the board reads it before the ORM has loaded:
    models.schemas.PipelineRead's fields."""

    id: int
    name: str
    position: int
    is_default: bool
    archived: bool
    version: int
    stages: list[StageRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A task as the Inbox's first page reads it before the ORM has loaded: models.schemas.TaskRead's
    fields (the Inbox's keys take either)."""

    id: int
    title: str
    notes: str | None
    due_at: datetime | None
    assignee_id: int | None
    assignee_login: str | None
    contact_id: int | None
    company_id: int | None
    deal_id: int | None
    related: str | None
    done_at: datetime | None
    snoozed_until: datetime | None
    recurrence: str | None
    origin: str
    rule_name: str | None
    version: int


# --- the service desk's cases (services/cases.py hands these out) -------------------------------

# Case.status (models/case.py names them too)
NEW, OPEN, WAITING, RESOLVED, CLOSED = "new", "open", "waiting", "resolved", "closed"
STATUSES = (NEW, OPEN, WAITING, RESOLVED, CLOSED)
OPEN_STATUSES = (NEW, OPEN, WAITING)  # the backlog: not yet resolved
STATUS_LABELS = {NEW: "New", OPEN: "Open", WAITING: "Waiting on customer", RESOLVED: "Resolved", CLOSED: "Closed"}


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One line of a case list (the Cases area's first page reads it before the ORM has loaded)."""

    id: int
    subject: str
    status: str
    priority: str
    contact_name: str | None
    company_name: str | None
    assignee_login: str | None
    team: str | None
    created_at: datetime
    sla_next_at: datetime | None
    version: int
    category: str | None = None
    channel: str | None = None
    contact_id: int | None = None
    company_id: int | None = None
    assignee_id: int | None = None

    @property
    def number(self) -> str:
        return f"#{self.id}"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)
