"""Exports: contacts, companies, deals, activities and tasks as CSV or JSON, contacts as vCard,
tasks and meetings as iCalendar. Rows stream by keyset pages on the id, so a table of any size
costs one page of memory. Column names are the import's field names (services/importing/fields.py):
an exported CSV imports back into an empty database as the same records."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, aliased

from crm_tui.errors import InvalidInput
from crm_tui.models import (
    Activity, ActivityKind, Company, Contact, ContactEmail, ContactPhone, ContactTag, Deal, Pipeline, Product,
    ProductPrice, Stage, Tag, Task, User,
)
from crm_tui.services import fields, permissions
from crm_tui.services.common import Actor
from crm_tui.services.files import csv_safe
from crm_tui.services.validation import currency_digits
from crm_tui.services.vcard import contact_vcard

ENTITIES = ("contacts", "companies", "deals", "activities", "tasks", "products")
FORMATS = {"csv": ENTITIES, "json": ENTITIES, "vcf": ("contacts",), "ics": ("tasks",)}
PAGE = 1000
LIST_SEPARATOR = "; "
CUSTOM_PREFIX = "custom."
LOGGED_KINDS = tuple(k.value for k in (ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING, ActivityKind.NOTE))
MEETING_MINUTES = 30  # a meeting logged without a duration shows as half an hour

COLUMNS = {
    "contacts": ["first_name", "last_name", "email", "phone", "title", "company", "owner", "lifecycle", "source",
                 "tags", "address", "birthday", "social", "description"],
    "companies": ["name", "domain", "industry", "size", "address", "owner", "notes"],
    "deals": ["title", "amount", "currency", "pipeline", "stage", "status", "close_date", "owner", "company",
              "contact", "lost_reason"],
    "activities": ["kind", "subject", "body", "occurred_at", "contact", "company", "deal", "user", "direction",
                   "duration", "outcome"],
    "tasks": ["title", "notes", "due", "assignee", "contact", "company", "deal", "done"],
    # then a price.EUR column per currency in use (see columns), as the import reads them back
    "products": ["sku", "name", "unit", "tax", "description"],
}
# the fields that hold several values: a list in JSON, joined by LIST_SEPARATOR in CSV
LIST_COLUMNS = frozenset({"email", "phone", "tags", "social"})
_MODELS = {"contacts": Contact, "companies": Company, "deals": Deal, "activities": Activity, "tasks": Task,
           "products": Product}


@dataclass(frozen=True)
class ExportFilter:
    """What `--user` and `--open-only` narrow: the assignee's tasks (and the user's meetings);
    open tasks and meetings still to come."""

    user_id: int | None = None
    open_only: bool = False
    now: datetime | None = None


def check(entity: str, fmt: str) -> tuple[str, str]:
    entity, fmt = (entity or "").strip().lower(), (fmt or "").strip().lower()
    if entity not in ENTITIES:
        raise InvalidInput(f"cannot export {entity!r}: choose one of {', '.join(ENTITIES)}")
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: choose csv, json, vcf (contacts) or ics (tasks)")
    if entity not in FORMATS[fmt]:
        raise InvalidInput(f"{fmt} exports {' and '.join(FORMATS[fmt])} only, not {entity}")
    return entity, fmt


def require_export(session: Session, actor: Actor) -> None:
    """Refuse unless the actor may export records (a file of the whole table leaves the CRM's
    roles behind). Each writer checks it first; callers may check before opening a file."""
    permissions.require(session, actor, "data.export")


def snapshot(session: Session) -> None:
    """Make the session's reads one snapshot, so pages read over time agree with each other.
    Call it first in a fresh session. SQLite's read transaction already is one (under WAL)."""
    if session.bind.dialect.name == "postgresql":
        session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))


# --- records, a keyset page at a time ---------------------------------------------------------------


def custom_keys(session: Session, entity: str) -> list[str]:
    """The custom field names in use (one SQL pass over the JSON column, no rows in Python)."""
    model = _MODELS[entity]
    if "custom" not in model.__table__.c:
        return []
    table = model.__tablename__
    if session.bind.dialect.name == "sqlite":
        sql = f"SELECT DISTINCT j.key FROM {table}, json_each({table}.custom) AS j ORDER BY 1"
    else:
        sql = f"SELECT DISTINCT k FROM {table}, json_object_keys(CAST({table}.custom AS json)) AS k ORDER BY 1"
    return [row[0] for row in session.execute(text(sql))]


_FIELD_KINDS = {"contacts": "contact", "companies": "company", "deals": "deal"}


def columns(session: Session, entity: str) -> list[str]:
    """The kind's fields, then its typed custom fields in their order (services/fields.py, even
    when no record holds one yet), then the other custom names in use."""
    if entity == "products":
        return COLUMNS[entity] + [f"price.{code}" for code in session.scalars(
            select(ProductPrice.currency).distinct().order_by(ProductPrice.currency))]
    typed = list(fields.field_map(session, _FIELD_KINDS[entity])) if entity in _FIELD_KINDS else []
    return COLUMNS[entity] + [CUSTOM_PREFIX + key for key in typed + [k for k in custom_keys(session, entity)
                                                                      if k not in typed]]


def records(session: Session, entity: str, *, flt: ExportFilter | None = None,
            page: int = PAGE) -> Iterator[dict[str, Any]]:
    """Every record of `entity` as a dict of field -> value (lists for LIST_COLUMNS), by id."""
    flt = flt or ExportFilter()
    reader = {"contacts": _contact_page, "companies": _company_page, "deals": _deal_page,
              "activities": _activity_page, "tasks": _task_page, "products": _product_page}[entity]
    typed = fields.field_map(session, _FIELD_KINDS[entity]) if entity in _FIELD_KINDS else {}
    money = [(CUSTOM_PREFIX + key, f) for key, f in typed.items() if f.type == "money"]
    last = 0
    while True:
        rows = reader(session, last, page, flt)
        if not rows:
            return
        for row in rows:
            for name, f in money:
                if row.get(name) is not None:
                    row[name] = fields.export_value(f, row[name])
        yield from rows
        last = rows[-1]["id"]
        if len(rows) < page:
            return


def _custom(out: dict, custom: dict | None) -> dict:
    for key, value in (custom or {}).items():
        out[CUSTOM_PREFIX + key] = value
    return out


def _rows(session: Session, stmt) -> list:
    """Plain Core rows of columns (ORM entities cost more to build than the export to write)."""
    return session.connection().execute(stmt).all()


def _custom_col(model):
    column = model.__table__.c.get("custom")
    return [column.label("custom")] if column is not None else []


def _by_contact(session: Session, stmt, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in ids}
    for contact_id, value in _rows(session, stmt):
        out[contact_id].append(value)
    return out


def _contact_page(session: Session, last: int, n: int, flt: ExportFilter) -> list[dict]:
    company, owner = aliased(Company), aliased(User)
    rows = _rows(session, select(
        Contact.id, Contact.first_name, Contact.last_name, Contact.title, Contact.lifecycle, Contact.source,
        Contact.custom, Contact.address, Contact.birthday, Contact.social_urls, Contact.description,
        company.name.label("company"), owner.login.label("owner"))
        .outerjoin(company, company.id == Contact.company_id).outerjoin(owner, owner.id == Contact.owner_id)
        .where(Contact.id > last).order_by(Contact.id).limit(n))
    ids = [r.id for r in rows]
    emails = _by_contact(session, select(ContactEmail.contact_id, ContactEmail.email)
                         .where(ContactEmail.contact_id.in_(ids)).order_by(ContactEmail.contact_id,
                                                                            ContactEmail.position), ids)
    phones = _by_contact(session, select(ContactPhone.contact_id, ContactPhone.phone)
                         .where(ContactPhone.contact_id.in_(ids)).order_by(ContactPhone.contact_id,
                                                                            ContactPhone.position), ids)
    tags = _by_contact(session, select(ContactTag.contact_id, Tag.name).join(Tag, Tag.id == ContactTag.tag_id)
                       .where(ContactTag.contact_id.in_(ids)).order_by(Tag.name), ids)
    return [_custom({
        "id": r.id, "first_name": r.first_name, "last_name": r.last_name, "email": emails[r.id],
        "phone": phones[r.id], "title": r.title, "company": r.company, "owner": r.owner,
        "lifecycle": r.lifecycle, "source": r.source, "tags": tags[r.id], "address": r.address,
        "birthday": r.birthday.isoformat() if r.birthday else None, "social": list(r.social_urls or []),
        "description": r.description,
    }, r.custom) for r in rows]


def _company_page(session: Session, last: int, n: int, flt: ExportFilter) -> list[dict]:
    owner = aliased(User)
    rows = _rows(session, select(Company.id, Company.name, Company.domain, Company.industry, Company.size,
                                 Company.address, Company.notes, owner.login.label("owner"), *_custom_col(Company))
                 .outerjoin(owner, owner.id == Company.owner_id)
                 .where(Company.id > last).order_by(Company.id).limit(n))
    return [_custom({"id": c.id, "name": c.name, "domain": c.domain, "industry": c.industry, "size": c.size,
                     "address": c.address, "owner": c.owner, "notes": c.notes}, getattr(c, "custom", None))
            for c in rows]


def _product_page(session: Session, last: int, n: int, flt: ExportFilter) -> list[dict]:
    from crm_tui.services.products import tax_text

    rows = _rows(session, select(Product.id, Product.sku, Product.name, Product.unit, Product.tax_rate_bp,
                                 Product.description).where(Product.id > last).order_by(Product.id).limit(n))
    prices: dict[int, dict] = {r.id: {} for r in rows}
    if rows:
        for p in _rows(session, select(ProductPrice.product_id, ProductPrice.currency, ProductPrice.unit_price_minor)
                       .where(ProductPrice.product_id.in_(list(prices)))):
            prices[p.product_id][f"price.{p.currency}"] = amount_text(p.unit_price_minor, p.currency)
    return [{"id": r.id, "sku": r.sku, "name": r.name, "unit": r.unit, "tax": tax_text(r.tax_rate_bp),
             "description": r.description or None, **prices[r.id]} for r in rows]


def amount_text(amount_minor: int, currency: str) -> str:
    """12345 USD -> "123.45": plain, no symbol or grouping, so it reads back exactly."""
    return str(Decimal(amount_minor).scaleb(-currency_digits(currency)))


def _deal_page(session: Session, last: int, n: int, flt: ExportFilter) -> list[dict]:
    owner, company, contact = aliased(User), aliased(Company), aliased(Contact)
    rows = _rows(session, select(
        Deal.id, Deal.title, Deal.amount_minor, Deal.currency, Deal.status, Deal.expected_close, Deal.lost_reason,
        Pipeline.name.label("pipeline"), Stage.name.label("stage"), owner.login.label("owner"),
        company.name.label("company"), contact.email.label("contact"), *_custom_col(Deal))
        .join(Pipeline, Pipeline.id == Deal.pipeline_id).join(Stage, Stage.id == Deal.stage_id)
        .outerjoin(owner, owner.id == Deal.owner_id).outerjoin(company, company.id == Deal.company_id)
        .outerjoin(contact, contact.id == Deal.contact_id)
        .where(Deal.id > last).order_by(Deal.id).limit(n))
    return [_custom({
        "id": d.id, "title": d.title, "amount": amount_text(d.amount_minor, d.currency), "currency": d.currency,
        "pipeline": d.pipeline, "stage": d.stage, "status": d.status, "close_date": d.expected_close,
        "owner": d.owner, "company": d.company, "contact": d.contact, "lost_reason": d.lost_reason,
    }, getattr(d, "custom", None)) for d in rows]


def _activity_page(session: Session, last: int, n: int, flt: ExportFilter) -> list[dict]:
    return [{
        "id": a.id, "kind": a.kind, "subject": a.subject, "body": a.body, "occurred_at": a.occurred_at,
        "contact": a.contact, "company": a.company, "deal": a.deal, "user": a.user,
        "direction": a.direction, "duration": a.duration_minutes, "outcome": a.outcome,
    } for a in _rows(session, _activity_query(last, n, flt))]


def _activity_query(last: int, n: int, flt: ExportFilter, *, meetings: bool = False):
    contact, company, deal, user = aliased(Contact), aliased(Company), aliased(Deal), aliased(User)
    stmt = (select(Activity.id, Activity.kind, Activity.subject, Activity.body, Activity.occurred_at,
                   Activity.direction, Activity.duration_minutes, Activity.outcome,
                   contact.email.label("contact"), company.name.label("company"), deal.title.label("deal"),
                   user.login.label("user"))
            .outerjoin(contact, contact.id == Activity.contact_id)
            .outerjoin(company, company.id == Activity.company_id)
            .outerjoin(deal, deal.id == Activity.deal_id).outerjoin(user, user.id == Activity.user_id)
            .where(Activity.id > last))
    if not meetings:
        # the interaction log people keep; stage changes and system events are the CRM's own
        # history (the audit trail keeps it), and an import makes its own
        stmt = stmt.where(Activity.kind.in_(LOGGED_KINDS))
    if meetings:
        stmt = stmt.where(Activity.kind == ActivityKind.MEETING.value)
        if flt.user_id is not None:
            stmt = stmt.where(Activity.user_id == flt.user_id)
        if flt.open_only and flt.now is not None:
            stmt = stmt.where(Activity.occurred_at >= flt.now)
    return stmt.order_by(Activity.id).limit(n)


def _task_page(session: Session, last: int, n: int, flt: ExportFilter) -> list[dict]:
    assignee, contact, company, deal = aliased(User), aliased(Contact), aliased(Company), aliased(Deal)
    stmt = (select(Task.id, Task.title, Task.notes, Task.due_at, Task.done_at, Task.recurrence, Task.snoozed_until,
                   assignee.login.label("assignee"), contact.email.label("contact"), company.name.label("company"),
                   deal.title.label("deal"))
            .outerjoin(assignee, assignee.id == Task.assignee_id)
            .outerjoin(contact, contact.id == Task.contact_id).outerjoin(company, company.id == Task.company_id)
            .outerjoin(deal, deal.id == Task.deal_id).where(Task.id > last))
    if flt.user_id is not None:
        stmt = stmt.where(Task.assignee_id == flt.user_id)
    if flt.open_only:
        stmt = stmt.where(Task.done_at.is_(None))
    return [{
        "id": t.id, "title": t.title, "notes": t.notes, "due": t.due_at, "assignee": t.assignee,
        "contact": t.contact, "company": t.company, "deal": t.deal, "done": t.done_at,
        "recurrence": t.recurrence, "snoozed_until": t.snoozed_until,
    } for t in _rows(session, stmt.order_by(Task.id).limit(n))]


# --- writers -------------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A value as one CSV cell (lists joined), before the formula guard."""
    return _cell(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return LIST_SEPARATOR.join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def write_csv(session: Session, entity: str, out: IO[str], *, actor: Actor, flt: ExportFilter | None = None,
              raw_formulas: bool = False) -> int:
    """The records as CSV with a header of field names; returns how many were written. A text cell
    a spreadsheet would run as a formula gets a leading ' (files.csv_safe), unless `raw_formulas`."""
    require_export(session, actor)
    names = columns(session, entity)
    cell = _cell if raw_formulas else (lambda value: csv_safe(_cell(value)))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([cell(name) for name in names])
    n = 0
    for record in records(session, entity, flt=flt):
        writer.writerow([cell(record.get(name)) for name in names])
        n += 1
    return n


def write_json(session: Session, entity: str, out: IO[str], *, actor: Actor, flt: ExportFilter | None = None) -> int:
    """A JSON array of flat objects (the CSV's fields, lists as arrays), one record per line."""
    require_export(session, actor)
    names = ["id", *columns(session, entity)]
    out.write("[")
    n = 0
    for record in records(session, entity, flt=flt):
        item = {name: _json_value(record.get(name)) for name in names}
        out.write(("\n" if n == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
        n += 1
    out.write("\n]\n")
    return n


def write_vcards(session: Session, out: IO[str], *, actor: Actor) -> int:
    require_export(session, actor)
    n = 0
    for record in records(session, "contacts"):
        out.write(contact_vcard(record))
        n += 1
    return n


def write_ics(session: Session, out: IO[str], *, actor: Actor, flt: ExportFilter, now: datetime) -> int:
    """Tasks as VTODOs (with an alarm at the due time) and meetings as VEVENTs, one calendar.
    Components are written as they are made; the calendar is never built whole in memory."""
    require_export(session, actor)
    from icalendar import Alarm, Calendar, Event, Todo

    head = Calendar()
    head.add("prodid", "-//crm-tui//crm export//EN")
    head.add("version", "2.0")
    head.add("x-wr-calname", "CRM tasks and meetings")
    out.write(_ical_text(head).split("END:VCALENDAR")[0])
    n = 0
    for task in records(session, "tasks", flt=flt):
        todo = Todo()
        todo.add("uid", f"task-{task['id']}@crm-tui")
        todo.add("dtstamp", now)
        todo.add("summary", task["title"])
        if task["notes"]:
            todo.add("description", task["notes"])
        related = [f"{k}: {task[k]}" for k in ("contact", "company", "deal") if task[k]]
        if related:
            todo.add("comment", ", ".join(related))
        if task["due"]:
            todo.add("due", task["due"])
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", task["title"])
            alarm.add("trigger", task["snoozed_until"] or task["due"])
            todo.add_component(alarm)
        if task["recurrence"]:
            todo.add("rrule", _rrule(task["recurrence"]))
        if task["done"]:
            todo.add("status", "COMPLETED")
            todo.add("completed", task["done"])
        else:
            todo.add("status", "NEEDS-ACTION")
        out.write(_ical_text(todo))
        n += 1
    last = 0
    while True:
        rows = _rows(session, _activity_query(last, PAGE, flt, meetings=True))
        for a in rows:
            event = Event()
            event.add("uid", f"meeting-{a.id}@crm-tui")
            event.add("dtstamp", now)
            event.add("summary", a.subject or "Meeting")
            event.add("dtstart", a.occurred_at)
            event.add("dtend", a.occurred_at + timedelta(minutes=a.duration_minutes or MEETING_MINUTES))
            if a.body:
                event.add("description", a.body)
            related = [f"{k}: {v}" for k, v in (("contact", a.contact), ("company", a.company),
                                                ("deal", a.deal)) if v]
            if related:
                event.add("comment", ", ".join(related))
            out.write(_ical_text(event))
            n += 1
        if len(rows) < PAGE:
            break
        last = rows[-1].id
    out.write("END:VCALENDAR\r\n")
    return n


def _ical_text(component) -> str:
    return component.to_ical().decode("utf-8")


def _rrule(rule: str) -> dict:
    from icalendar import vRecur

    return vRecur.from_ical(rule)


def count(session: Session, entity: str) -> int:
    return session.scalar(select(func.count()).select_from(_MODELS[entity]))
