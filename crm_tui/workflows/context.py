"""The record a rule fires on, with its deal, contact, company and owner, and the templates
("Follow up with {contact.name} on {deal.title}") filled in from them."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import SimpleNamespace
from typing import Any

from sqlalchemy.orm import Session

from crm_tui.clock import in_zone
from crm_tui.models import Company, Contact, Deal, Pipeline, Stage, Task, User
from crm_tui.models.case import Case
from crm_tui.services import sla
from crm_tui.services.validation import format_money
from crm_tui.workflows.triggers import Trigger

# the objects a template can name, and their fields (an empty tuple: the object is a plain value)
FIELDS: dict[str, tuple[str, ...]] = {
    "deal": ("id", "title", "amount", "currency", "stage", "pipeline", "status", "expected_close", "lost_reason",
             "days_in_stage", "owner", "custom"),
    "contact": ("id", "name", "first_name", "last_name", "email", "phone", "lifecycle", "source", "title", "owner",
                "custom"),
    "company": ("id", "name", "domain", "industry", "custom"),
    "owner": ("login", "name", "email"),
    "task": ("id", "title", "due", "days_overdue", "assignee"),
    # target: "first response" or "resolution"; due: its due time (the firing's); sla: sla.describe
    "case": ("id", "subject", "status", "priority", "channel", "category", "team", "assignee", "target", "due",
             "sla"),
    "rule": (),
    "today": (),
    "date": (),
}
_BY_ENTITY = {"deal": ("deal", "contact", "company", "owner"), "contact": ("contact", "company", "owner"),
              "task": ("task", "deal", "contact", "company", "owner"), "company": ("company", "owner"),
              "case": ("case", "contact", "company", "owner")}


def objects_for(trigger: Trigger) -> tuple[str, ...]:
    extra = ("date",) if trigger.type == "date_field" else ()
    return (*_BY_ENTITY[trigger.entity], "rule", "today", *extra)


class _Blank:
    """A missing related record: every field of it is empty text."""

    def __getattr__(self, name: str) -> _Blank:
        return self

    def __getitem__(self, key: Any) -> _Blank:
        return self

    def __format__(self, spec: str) -> str:
        return ""

    def __str__(self) -> str:
        return ""


class _Custom(dict):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass
class Firing:
    """One occurrence being fired (or previewed): the records it is about."""

    rule: str
    trigger: Trigger
    entity_id: int
    occurrence_at: datetime
    occurrence_key: str
    now: datetime
    zone: tzinfo
    deal: Deal | None = None
    contact: Contact | None = None
    company: Company | None = None
    task: Task | None = None
    case: Case | None = None
    owner: User | None = None
    values: dict | None = None

    @property
    def record(self):
        return {"deal": self.deal, "contact": self.contact, "company": self.company, "task": self.task,
                "case": self.case}[self.trigger.entity]

    @property
    def label(self) -> str:
        record = self.record
        name = {"deal": lambda r: r.title, "contact": lambda r: r.full_name, "company": lambda r: r.name,
                "task": lambda r: r.title, "case": lambda r: r.subject}[self.trigger.entity](record) \
            if record is not None else "?"
        return f"{self.trigger.entity} #{self.entity_id} {name!r}"

    def set_owner(self, user: User) -> None:
        self.owner = user
        self.values["owner"] = SimpleNamespace(login=user.login, name=user.name, email=user.email or "")

    def render(self, template: str) -> str:
        return string.Formatter().vformat(template, (), self.values)


def load(session: Session, *, rule: str, trigger: Trigger, entity_id: int, occurrence_at: datetime,
         occurrence_key: str, now: datetime, zone: tzinfo) -> Firing | None:
    """The firing's records, or None if the record is gone."""
    f = Firing(rule, trigger, entity_id, occurrence_at, occurrence_key, now, zone)
    entity = trigger.entity
    if entity == "deal":
        f.deal = session.get(Deal, entity_id)
        if f.deal is None:
            return None
        f.contact = session.get(Contact, f.deal.contact_id) if f.deal.contact_id else None
        f.company = session.get(Company, f.deal.company_id) if f.deal.company_id else None
        owner_id = f.deal.owner_id
    elif entity == "contact":
        f.contact = session.get(Contact, entity_id)
        if f.contact is None:
            return None
        f.company = session.get(Company, f.contact.company_id) if f.contact.company_id else None
        owner_id = f.contact.owner_id
    elif entity == "company":
        f.company = session.get(Company, entity_id)
        if f.company is None:
            return None
        owner_id = f.company.owner_id
    elif entity == "case":
        f.case = session.get(Case, entity_id)
        if f.case is None:
            return None
        f.contact = session.get(Contact, f.case.contact_id) if f.case.contact_id else None
        f.company = session.get(Company, f.case.company_id) if f.case.company_id else None
        owner_id = f.case.assignee_id
    else:
        f.task = session.get(Task, entity_id)
        if f.task is None:
            return None
        f.deal = session.get(Deal, f.task.deal_id) if f.task.deal_id else None
        contact_id = f.task.contact_id or (f.deal.contact_id if f.deal else None)
        f.contact = session.get(Contact, contact_id) if contact_id else None
        company_id = f.task.company_id or (f.deal.company_id if f.deal else None) or (
            f.contact.company_id if f.contact else None)
        f.company = session.get(Company, company_id) if company_id else None
        owner_id = f.task.assignee_id
    f.owner = session.get(User, owner_id) if owner_id else None
    f.values = _values(session, f)
    return f


def _login(session: Session, user_id: int | None) -> str:
    user = session.get(User, user_id) if user_id else None
    return user.login if user else ""


def _local(value: datetime | None, zone: tzinfo) -> str:
    return in_zone(value, zone).strftime("%Y-%m-%d %H:%M") if value else ""


def _values(session: Session, f: Firing) -> dict:
    blank = _Blank()
    values: dict[str, Any] = {"rule": f.rule, "today": f.now.astimezone(f.zone).date().isoformat(),
                              "date": f.occurrence_key, "deal": blank, "contact": blank, "company": blank,
                              "task": blank, "case": blank, "owner": blank}
    if f.deal is not None:
        d = f.deal
        stage, pipeline = session.get(Stage, d.stage_id), session.get(Pipeline, d.pipeline_id)
        values["deal"] = SimpleNamespace(
            id=d.id, title=d.title, amount=format_money(d.amount_minor, d.currency), currency=d.currency,
            stage=stage.name if stage else "", pipeline=pipeline.name if pipeline else "", status=d.status,
            expected_close=d.expected_close.isoformat() if d.expected_close else "", lost_reason=d.lost_reason or "",
            days_in_stage=max(0, (f.now - d.stage_entered_at).days), owner=_login(session, d.owner_id),
            custom=_Custom(getattr(d, "custom", None) or {}))
    if f.contact is not None:
        c = f.contact
        values["contact"] = SimpleNamespace(
            id=c.id, name=c.full_name, first_name=c.first_name or c.full_name, last_name=c.last_name,
            email=c.email or "", phone=c.phone or "", lifecycle=c.lifecycle, source=c.source or "",
            title=c.title or "", owner=_login(session, c.owner_id), custom=_Custom(c.custom or {}))
    if f.company is not None:
        co = f.company
        values["company"] = SimpleNamespace(id=co.id, name=co.name, domain=co.domain or "",
                                            industry=co.industry or "", custom=_Custom(getattr(co, "custom", None) or {}))
    if f.task is not None:
        t = f.task
        values["task"] = SimpleNamespace(
            id=t.id, title=t.title, due=_local(t.due_at, f.zone),
            days_overdue=max(0, (f.now - t.due_at).days) if t.due_at else 0, assignee=_login(session, t.assignee_id))
    if f.case is not None:
        k = f.case
        values["case"] = SimpleNamespace(
            id=k.id, subject=k.subject, status=k.status, priority=k.priority, channel=k.channel,
            category=k.category or "", team=k.team or "", assignee=_login(session, k.assignee_id),
            target=("first response" if f.occurrence_key == "first" else "resolution") if f.occurrence_key else "",
            due=_local(f.occurrence_at, f.zone) if f.occurrence_key else "", sla=sla.describe(k, now=f.now))
    if f.owner is not None:
        values["owner"] = SimpleNamespace(login=f.owner.login, name=f.owner.name, email=f.owner.email or "")
    return values
