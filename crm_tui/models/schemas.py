"""Shapes in and out of the service layer: what a create or update accepts, what a read returns.

Inputs hold raw values as people give them ("tomorrow 9am", "12,500.50"); the services
validate and normalise them. Outputs are plain data, safe to hand to another thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Field, SQLModel

from crm_tui.shapes import ContactRow  # noqa: F401 - here with the other shapes; needs no ORM


class UserCreate(SQLModel):
    login: str
    name: str | None = None
    email: str | None = None
    role: str = "sales"
    timezone: str | None = None
    os_login: str | None = None
    manager_id: int | None = None
    team: str | None = None


class UserUpdate(SQLModel):
    name: str | None = None
    email: str | None = None
    role: str | None = None
    active: bool | None = None
    timezone: str | None = None
    os_login: str | None = None
    manager_id: int | None = None  # None (when given) clears it
    team: str | None = None  # "" or None (when given) clears it


class UserRead(SQLModel):
    id: int
    login: str
    name: str
    email: str | None
    role: str
    active: bool
    timezone: str | None
    os_login: str | None = None
    version: int
    manager_id: int | None = None
    team: str | None = None


class CompanyCreate(SQLModel):
    name: str
    domain: str | None = None
    industry: str | None = None
    size: str | None = None
    address: str | None = None
    owner_id: int | None = None
    parent_id: int | None = None
    notes: str | None = None


class CompanyUpdate(SQLModel):
    name: str | None = None
    domain: str | None = None
    industry: str | None = None
    size: str | None = None
    address: str | None = None
    owner_id: int | None = None
    parent_id: int | None = None
    notes: str | None = None


class CompanyRead(SQLModel):
    id: int
    name: str
    domain: str | None
    industry: str | None
    size: str | None
    address: str | None
    owner_id: int | None
    owner_login: str | None = None
    parent_id: int | None = None
    parent_name: str | None = None
    notes: str | None
    archived: bool
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class CompanyRow:
    id: int
    name: str
    domain: str | None
    industry: str | None
    owner_login: str | None
    created_at: datetime


class ContactCreate(SQLModel):
    first_name: str = ""
    last_name: str = ""
    emails: list[str] = Field(default_factory=list)
    phones: list[str] = Field(default_factory=list)
    title: str | None = None
    company_id: int | None = None
    owner_id: int | None = None
    lifecycle: str = "lead"
    source: str | None = None
    tags: list[str] = Field(default_factory=list)
    custom: dict = Field(default_factory=dict)
    address: str | None = None
    birthday: date | str | None = None
    social_urls: list[str] = Field(default_factory=list)
    description: str | None = None
    # never sent sequence or bulk mail; a person may still write to them
    do_not_email: bool = False


class ContactUpdate(SQLModel):
    """Only the fields that are set change; lists replace the contact's whole list."""

    first_name: str | None = None
    last_name: str | None = None
    emails: list[str] | None = None
    phones: list[str] | None = None
    title: str | None = None
    company_id: int | None = None
    owner_id: int | None = None
    lifecycle: str | None = None
    source: str | None = None
    tags: list[str] | None = None
    custom: dict | None = None
    address: str | None = None
    birthday: date | str | None = None
    social_urls: list[str] | None = None
    description: str | None = None
    do_not_email: bool | None = None


class ContactRead(SQLModel):
    id: int
    first_name: str
    last_name: str
    full_name: str
    title: str | None
    emails: list[str]
    phones: list[str]
    company_id: int | None
    company_name: str | None = None
    owner_id: int | None
    owner_login: str | None = None
    lifecycle: str
    source: str | None
    tags: list[str]
    custom: dict
    address: str | None = None
    birthday: date | None = None
    social_urls: list[str] = Field(default_factory=list)
    description: str | None = None
    last_contacted_at: datetime | None
    archived: bool
    do_not_email: bool = False
    created_at: datetime
    updated_at: datetime
    version: int


class ContactFilter(SQLModel):
    """The filters of the contact list and of saved views. Unset means "any"."""

    lifecycle: list[str] | None = None
    owner_id: int | None = None
    unowned: bool = False
    tag: str | None = None
    source: str | None = None
    company_id: int | None = None
    archived: bool = False
    never_contacted: bool = False
    # only the contacts marked "do not email"
    do_not_email: bool = False
    not_contacted_days: int | None = None
    created_within_days: int | None = None
    # typed custom fields (services/fields.py): {"segment": "smb"} for equality, or filters such
    # as ["amount>=1000", "renewal<2027-01-01", "tags has vip", "segment set"]
    custom: dict[str, str] | list[str] | None = None


class StageRead(SQLModel):
    id: int
    pipeline_id: int
    name: str
    position: int
    probability: int
    rotting_days: int | None
    kind: str
    version: int


class PipelineRead(SQLModel):
    id: int
    name: str
    position: int
    is_default: bool
    archived: bool
    version: int
    stages: list[StageRead] = Field(default_factory=list)


class StageSpec(SQLModel):
    name: str
    probability: int = 0
    rotting_days: int | None = None
    kind: str = "open"


class DealCreate(SQLModel):
    title: str
    pipeline_id: int | None = None
    stage_id: int | None = None
    amount: str | int = 0
    currency: str | None = None
    company_id: int | None = None
    contact_id: int | None = None
    owner_id: int | None = None
    expected_close: date | str | None = None


class DealUpdate(SQLModel):
    title: str | None = None
    amount: str | int | None = None
    currency: str | None = None
    company_id: int | None = None
    contact_id: int | None = None
    owner_id: int | None = None
    expected_close: date | str | None = None


class DealRead(SQLModel):
    id: int
    title: str
    company_id: int | None
    company_name: str | None = None
    contact_id: int | None
    contact_name: str | None = None
    pipeline_id: int
    pipeline_name: str | None = None
    stage_id: int
    stage_name: str | None = None
    probability: int | None = None
    owner_id: int | None
    owner_login: str | None = None
    amount_minor: int
    currency: str
    expected_close: date | None
    status: str
    lost_reason: str | None
    stage_entered_at: datetime
    closed_at: datetime | None
    archived: bool
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class DealRow:
    id: int
    title: str
    company_name: str | None
    stage_name: str
    owner_login: str | None
    amount_minor: int
    currency: str
    status: str
    expected_close: date | None
    stage_entered_at: datetime


class DealFilter(SQLModel):
    """The filters of the deals list, of `crm deal list` and of saved deal lists. Unset means "any".
    Amounts are in minor units; close dates are the expected close, both ends included."""

    pipeline_id: int | None = None
    stage_ids: list[int] | None = None
    status: list[str] | None = None  # open, won, lost
    owner_id: int | None = None
    unowned: bool = False
    company_id: int | None = None
    contact_id: int | None = None
    tag: str | None = None  # deals have no tags: the deal's contact has this tag
    close_from: date | None = None
    close_to: date | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    archived: bool = False
    # custom fields: {"segment": "smb"} (equality), or ["segment=smb", "region"] (set)
    custom: dict[str, str] | list[str] | None = None


class ActivityCreate(SQLModel):
    kind: str
    subject: str | None = None
    body: str | None = None
    outcome: str | None = None
    direction: str | None = None
    duration_minutes: int | None = None
    occurred_at: datetime | str | None = None
    contact_id: int | None = None
    company_id: int | None = None
    deal_id: int | None = None


class ActivityRead(SQLModel):
    id: int
    kind: str
    direction: str | None
    occurred_at: datetime
    duration_minutes: int | None
    outcome: str | None
    subject: str | None
    body: str | None
    contact_id: int | None
    company_id: int | None
    deal_id: int | None
    user_id: int | None
    user_login: str | None = None
    contact_name: str | None = None
    version: int


class PlannedRead(SQLModel):
    """A call, email or meeting logged ahead of its time, as the Inbox's Planned section lists it:
    what, when, who logged it and what it is about (the deal, else the contact, else the company)."""

    id: int
    kind: str
    subject: str | None
    occurred_at: datetime
    duration_minutes: int | None
    contact_id: int | None
    company_id: int | None
    deal_id: int | None
    user_id: int | None
    user_login: str | None = None
    related: str | None = None
    version: int


class TaskCreate(SQLModel):
    title: str
    notes: str | None = None
    due_at: datetime | str | None = None
    assignee_id: int | None = None
    contact_id: int | None = None
    company_id: int | None = None
    deal_id: int | None = None
    recurrence: str | None = None
    origin: str = "manual"
    rule_name: str | None = None


class TaskRead(SQLModel):
    id: int
    title: str
    notes: str | None
    due_at: datetime | None
    assignee_id: int | None
    assignee_login: str | None = None
    contact_id: int | None
    company_id: int | None
    deal_id: int | None
    related: str | None = None
    done_at: datetime | None
    snoozed_until: datetime | None
    recurrence: str | None
    origin: str
    rule_name: str | None
    version: int


class SavedViewCreate(SQLModel):
    name: str
    entity: str = "contact"
    query: str = ""
    filters: dict = Field(default_factory=dict)
    sort: str = "name"
    shared: bool = True


class SavedViewRead(SQLModel):
    id: int
    name: str
    entity: str
    query: str
    filters: dict
    sort: str
    owner_id: int | None
    shared: bool
    position: int
    version: int


class AuditRead(SQLModel):
    id: int
    at: datetime
    actor: str
    via: str | None = None
    entity: str
    entity_id: int | None
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None

    @property
    def who(self) -> str:
        """The acting user, and who really acted when an admin acted as them: "root (as bob)"."""
        return f"{self.via} (as {self.actor})" if self.via else self.actor
