"""Merging two contacts or two companies into one: the person picks the value kept for each field
that differs, every related row moves to the survivor, the other record goes, all in one unit of
work with its audit trail. Related rows are found from the schema's foreign keys, so a table
added later that points at contacts or companies moves too. Moving a related row changes that
row: it needs the permission its own command needs (MOVED), and gets its own audit event."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace
from datetime import datetime
from typing import Any

from sqlalchemy import (Integer, String, and_, cast, delete, exists, func, insert, literal, null, select, union_all,
                        update)
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from crm_tui.clock import resolve_now
from crm_tui.errors import Forbidden, InvalidInput, NotFound
from crm_tui.models import AuditEvent, Company, Contact
from crm_tui.models.schemas import ContactRead
from crm_tui.services import permissions
from crm_tui.services import companies, contacts, dedupe
from crm_tui.services.common import Actor, audit, audit_rows, check_version, flush

KINDS = ("contact", "company")
CONTACT_FIELDS = {  # field: label
    "first_name": "First name", "last_name": "Last name", "title": "Title", "company_id": "Company",
    "owner_id": "Owner", "lifecycle": "Lifecycle", "source": "Source",
    "email": "Email", "phone": "Phone",  # which comes first; all are kept
}
COMPANY_FIELDS = {
    "name": "Name", "domain": "Domain", "industry": "Industry", "size": "Size", "address": "Address",
    "owner_id": "Owner", "notes": "Notes",
}
# link tables the contact merge rewrites itself (as unions), instead of moving rows
_CONTACT_POINTS = {"contact_emails", "contact_phones", "contact_tags"}
# a related table whose rows a merge re-points -> (the audit's entity, the permission that changing
# one of its rows needs, the column an "own" scope is about, or None where the service asks for no
# owner); the same checks the commands make. A table missing here needs the merged kind's permission.
MOVED = {
    "deals": ("deal", "deal.edit", "owner_id"),
    "tasks": ("task", "task.edit", "assignee_id"),
    "contacts": ("contact", "contact.edit", None),
    "activities": ("activity", "activity.log", None),
    "companies": ("company", "company.edit", None),  # subsidiaries: their parent company moves
    # enrolling and stopping a contact's sequences needs activity.log (services/sequences.py)
    "sequence_enrollments": ("sequence enrolment", "activity.log", None),
    "sequence_sends": ("sequence step", "activity.log", None),
    # the service desk (issue 23): a case needs case.edit (an "own" scope: its assignee's), its
    # thread's entries too; a survey answer is the contact's, like its timeline
    "cases": ("case", "case.edit", "assignee_id"),
    "case_entries": ("case entry", "case.edit", None),
    "surveys": ("survey", "activity.log", None),
}


@dataclass(frozen=True, slots=True)
class FieldConflict:
    """A field both records fill with different values; `a`/`b` are the values as shown."""

    name: str
    label: str
    a: str
    b: str


@dataclass
class MergePlan:
    """What merging b into a would do: the conflicts to decide and the rows that would move."""

    kind: str
    a_id: int
    b_id: int
    a_label: str
    b_label: str
    a_version: int
    b_version: int
    conflicts: list[FieldConflict] = field(default_factory=list)
    # values b fills where a is empty: kept without asking
    filled: dict[str, str] = field(default_factory=dict)
    moves: dict[str, int] = field(default_factory=dict)  # "table.column" -> rows


@dataclass(frozen=True)
class MergeResult:
    kind: str
    survivor_id: int
    merged_id: int
    label: str
    version: int
    kept: dict[str, str]  # field -> "a" or "b", for every conflict
    moved: dict[str, int]


# --- plans -----------------------------------------------------------------------------------------


def plan_merge(session: Session, *, kind: str, a_id: int, b_id: int) -> MergePlan:
    """The conflicts and moves of merging record b into record a (nothing is written)."""
    _check_kind(kind)
    if a_id == b_id:
        raise InvalidInput(f"cannot merge {kind} #{a_id} with itself")
    if kind == "contact":
        a, b = contacts.get_contact(session, contact_id=a_id), contacts.get_contact(session, contact_id=b_id)
        values_a, values_b = _contact_values(session, a), _contact_values(session, b)
        labels, target = CONTACT_FIELDS, Contact
        a_label, b_label = a.full_name, b.full_name
    else:
        a, b = companies.get_company(session, company_id=a_id), companies.get_company(session, company_id=b_id)
        values_a, values_b = _company_values(session, a), _company_values(session, b)
        labels, target = COMPANY_FIELDS, Company
        a_label, b_label = a.name, b.name
    plan = MergePlan(kind, a_id, b_id, a_label, b_label, a.version, b.version)
    for name, label in labels.items():
        (raw_a, shown_a), (raw_b, shown_b) = values_a[name], values_b[name]
        if _empty(raw_b) or raw_a == raw_b:
            continue
        if _empty(raw_a):
            plan.filled[name] = shown_b
        else:
            plan.conflicts.append(FieldConflict(name, label, shown_a, shown_b))
    custom_a, custom_b = _custom_of(session, target, a), _custom_of(session, target, b)
    if custom_a is not None:
        for key in sorted(set(custom_b) | set(custom_a)):
            va, vb = custom_a.get(key), custom_b.get(key)
            if _empty(vb) or va == vb:
                continue
            if _empty(va):
                plan.filled[f"custom.{key}"] = str(vb)
            else:
                plan.conflicts.append(FieldConflict(f"custom.{key}", key, str(va), str(vb)))
    for table, column in _references(target, skip=_CONTACT_POINTS if kind == "contact" else set()):
        n = session.scalar(select(func.count()).select_from(table).where(column == b_id))
        if n:
            plan.moves[f"{table.name}.{column.name}"] = n
    return plan


def _custom_of(session: Session, model, read) -> dict | None:
    """The record's custom fields (contacts have them; companies too once the import adds them)."""
    if "custom" not in model.__table__.c:
        return None
    if getattr(read, "custom", None) is not None:
        return dict(read.custom)
    return dict(session.scalar(select(model.custom).where(model.id == read.id)) or {})


def _contact_values(session: Session, c) -> dict[str, tuple[Any, str]]:
    company = session.get(Company, c.company_id) if c.company_id else None
    return {
        "first_name": (c.first_name or None, c.first_name), "last_name": (c.last_name or None, c.last_name),
        "title": (c.title, c.title or ""),
        "company_id": (c.company_id, f"{company.name} (#{company.id})" if company else ""),
        "owner_id": (c.owner_id, c.owner_login or ""), "lifecycle": (c.lifecycle, c.lifecycle),
        "source": (c.source, c.source or ""),
        "email": (c.emails[0] if c.emails else None, c.emails[0] if c.emails else ""),
        "phone": (c.phones[0] if c.phones else None, c.phones[0] if c.phones else ""),
    }


def _company_values(session: Session, c) -> dict[str, tuple[Any, str]]:
    out = {name: (getattr(c, name), getattr(c, name) or "") for name in COMPANY_FIELDS}
    out["owner_id"] = (c.owner_id, c.owner_login or "")
    return out


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InvalidInput(f"invalid kind {kind!r}: choose contact or company")


def parse_keep(pairs: list[str]) -> dict[str, str]:
    """--keep field=a|b pairs as a dict."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, side = pair.partition("=")
        if not sep:
            raise InvalidInput(f"invalid --keep {pair!r}: use field=a or field=b")
        out[name.strip()] = side.strip().lower()
    return out


def _check_keep(plan: MergePlan, keep: dict[str, str]) -> dict[str, str]:
    names = {c.name for c in plan.conflicts}
    allowed = {**(CONTACT_FIELDS if plan.kind == "contact" else COMPANY_FIELDS)}
    for name, side in keep.items():
        if side not in ("a", "b"):
            raise InvalidInput(f"invalid choice {side!r} for {name}: use a (keep #{plan.a_id}'s) or b (#{plan.b_id}'s)")
        if name not in names and name not in allowed and not name.startswith("custom."):
            raise InvalidInput(f"unknown field {name!r}; the fields that differ are: {', '.join(sorted(names)) or 'none'}")
    return {c.name: keep.get(c.name, "a") for c in plan.conflicts}


# --- merging ---------------------------------------------------------------------------------------


def merge_records(session: Session, *, kind: str, a_id: int, b_id: int, keep: dict[str, str] | None = None,
                  actor: Actor, a_version: int | None = None, b_version: int | None = None,
                  now: datetime | None = None) -> MergeResult:
    """Merge record b into record a. `keep` maps each conflicting field to "a" or "b" (a by
    default); with versions, refuse if either record changed since it was read."""
    _check_kind(kind)
    permissions.require(session, actor, f"{kind}.edit")
    now = resolve_now(now)
    model = Contact if kind == "contact" else Company
    a_row, b_row = _lock(session, model, a_id, b_id, kind)
    check_version(session, a_row, a_version, kind, f"{kind} #{a_id}")
    check_version(session, b_row, b_version, kind, f"{kind} #{b_id}")
    plan = plan_merge(session, kind=kind, a_id=a_id, b_id=b_id)
    kept = _check_keep(plan, keep or {})
    skip = _CONTACT_POINTS if kind == "contact" else set()
    # refused before anything is written; the moves check again on the rows they actually change
    _require_moves(session, actor, kind, a_id, b_id, _owners(session, model, kind, b_id, skip=skip))
    snapshot = _snapshot(session, kind, b_id)
    if kind == "company" and a_row.parent_id == b_id:
        # a belonged to b: it takes b's place in b's group, and never becomes its own parent
        parent = b_row.parent_id if b_row.parent_id != a_id else None
        audit(session, actor=actor, entity=kind, entity_id=a_id, action="merge", now=now,
              changes={"parent_id": (b_id, parent)})
        a_row.parent_id = parent
        session.flush()
    moved = _move_references(session, model, a_id, b_id, now, actor=actor, kind=kind, skip=skip)
    if kind == "contact":
        label, version = _finish_contact(session, a_row, b_row, snapshot, kept, actor, now)
    else:
        label, version = _finish_company(session, a_row, b_row, snapshot, kept, actor, now)
    dedupe.forget_record(session, kind=kind, record_id=b_id)  # its "not a duplicate" pairs go with it
    session.delete(b_row)
    flush(session, kind, f"{kind} #{b_id}")
    audit(session, actor=actor, entity=kind, entity_id=a_id, action="merge", now=now,
          changes={"merged_from": (json.dumps({"record": snapshot, "moved": moved, "kept": kept}, default=str,
                                              sort_keys=True), f"#{b_id}")})
    audit(session, actor=actor, entity=kind, entity_id=b_id, action="merge", now=now,
          changes={"merged_into": (f"#{b_id}", f"#{a_id}")})
    return MergeResult(kind, a_id, b_id, label, version, kept, moved)


def _lock(session: Session, model, a_id: int, b_id: int, kind: str):
    """Both rows, locked (FOR UPDATE on PostgreSQL; SQLite's write unit already holds the file),
    so nothing can be linked to the merged record while it goes."""
    if a_id == b_id:
        raise InvalidInput(f"cannot merge {kind} #{a_id} with itself")
    rows = {}
    for id_ in sorted((a_id, b_id)):  # one lock order, so two merges cannot deadlock
        rows[id_] = session.get(model, id_, with_for_update=True)
        if rows[id_] is None:
            raise NotFound(f"no {kind} with id {id_}")
    return rows[a_id], rows[b_id]


def _snapshot(session: Session, kind: str, id_: int) -> dict:
    if kind == "contact":
        return contacts.get_contact(session, contact_id=id_).model_dump(mode="json")
    out = companies.get_company(session, company_id=id_).model_dump(mode="json")
    custom = _custom_of(session, Company, SimpleNamespace(id=id_))
    if custom is not None:
        out["custom"] = custom
    return out


def _references(target, *, skip: set[str]) -> list[tuple[Any, Any]]:
    """(table, column) of every foreign key to `target`.id in the schema."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        if table.name in skip:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == target.__tablename__ and fk.column.name == "id":
                found.append((table, fk.parent))
    return found


def _guard(table, kind: str) -> tuple[str, str, str | None]:
    return MOVED.get(table.name, (table.name[:32], f"{kind}.edit", None))


def _owners(session: Session, model, kind: str, b_id: int, *, skip: set[str]) -> list[tuple[str, Any, int]]:
    """(table, owner, rows) of every row that points at b, in one query over every related table."""
    parts = []
    for table, column in _references(model, skip=skip):
        owner_col = _guard(table, kind)[2]
        owner = table.c[owner_col] if owner_col else cast(null(), Integer)
        part = select(literal(table.name, String).label("name"), owner.label("owner"),
                      func.count().label("n")).where(column == b_id)
        parts.append(part.group_by(owner) if owner_col else part.having(func.count() > 0))
    if not parts:
        return []
    return [tuple(row) for row in session.execute(parts[0] if len(parts) == 1 else union_all(*parts))]


def _require_moves(session: Session, actor: Actor, kind: str, a_id: int, b_id: int,
                   owners: list[tuple[str, Any, int]]) -> None:
    """Refuse unless the actor may change every row the merge re-points: each table's permission,
    for each owner of its rows (a support user may merge companies, not move a colleague's deals)."""
    tables = {t.name: t for t in SQLModel.metadata.sorted_tables}
    for name, owner, _ in owners:
        entity, action, owner_col = _guard(tables[name], kind)
        try:
            if owner_col:
                permissions.require(session, actor, action, owner=owner)
            else:
                permissions.require(session, actor, action)
        except Forbidden as exc:
            rows = sum(count for other, _, count in owners if other == name)
            raise Forbidden(f"{exc.message} (merging {kind} #{b_id} into #{a_id} would change {rows} "
                            f"{entity} record{'s' if rows != 1 else ''} linked to #{b_id})") from None


def _move_references(session: Session, model, a_id: int, b_id: int, now: datetime, *, actor: Actor, kind: str,
                     skip: set[str]) -> dict[str, int]:
    """Point every row that references b at a. Versioned rows get a new version (an open edit
    form of a moved deal then gets a conflict instead of putting the old link back). A row that
    would then collide with one of a's on a unique key is a duplicate link and goes. Each moved row
    gets its audit event (inserted in one statement per table), and the owners of the rows as
    changed are checked again, so a row given to someone else meanwhile is not moved unchecked."""
    moved: dict[str, int] = {}
    for table, column in _references(model, skip=skip):
        _drop_colliding(session, table, column, a_id, b_id)
        if (before := BEFORE_MOVE.get((table.name, column.name))) is not None:
            before(session, table, a_id, b_id, now)
        values: dict[str, Any] = {column.name: a_id}
        if "version" in table.c and "updated_at" in table.c:
            values.update(version=table.c.version + 1, updated_at=now)
        entity, _, owner_col = _guard(table, kind)
        owner = table.c[owner_col] if owner_col else cast(null(), Integer)
        rows = session.execute(update(table).where(column == b_id).values(**values)
                               .returning((table.c.id if "id" in table.c else cast(null(), Integer)).label("id"),
                                          owner.label("owner"))
                               .execution_options(synchronize_session=False)).all()
        if not rows:
            continue
        counts = Counter(row.owner for row in rows)
        _require_moves(session, actor, kind, a_id, b_id, [(table.name, who, n) for who, n in counts.items()])
        moved[f"{table.name}.{column.name}"] = len(rows)
        session.execute(insert(AuditEvent), audit_rows(actor=actor, now=now, events=[
            (entity, row.id, "merge", {column.name: (b_id, a_id)}) for row in rows]))
    return moved


def _stop_second_enrolments(session: Session, table, a_id: int, b_id: int, now: datetime) -> None:
    """A contact is in one active enrolment of a sequence at a time: where both contacts are in the
    same sequence, b's enrolment stops (reason "merged") rather than moving in as a second one."""
    a_active = select(table.c.sequence_id).where(table.c.contact_id == a_id, table.c.status == "active")
    session.execute(update(table).where(table.c.contact_id == b_id, table.c.status == "active",
                                        table.c.sequence_id.in_(a_active))
                    .values(status="stopped", stop_reason="merged", stopped_at=now, next_due_at=None,
                            version=table.c.version + 1, updated_at=now)
                    .execution_options(synchronize_session=False))


def _drop_second_surveys(session: Session, table, a_id: int, b_id: int, _now: datetime) -> None:
    """A contact has one survey per NPS run (a partial unique index, which _drop_colliding does not
    see): where both contacts have one of the same run, the answered one stays (a's when both or
    neither were answered) and the other goes."""
    t = table
    twin = t.alias("twin")
    same_run = and_(twin.c.run_key == t.c.run_key, twin.c.run_key.is_not(None))
    # a's unanswered survey goes where b answered the same run
    session.execute(delete(t).where(t.c.contact_id == a_id, t.c.run_key.is_not(None), t.c.responded_at.is_(None),
                                    exists().where(same_run, twin.c.contact_id == b_id,
                                                   twin.c.responded_at.is_not(None))))
    # b's goes where a (still) has one of the same run
    session.execute(delete(t).where(t.c.contact_id == b_id, t.c.run_key.is_not(None),
                                    exists().where(same_run, twin.c.contact_id == a_id)))


# what a (table, column) needs before b's rows move to a, where a partial unique index (which
# _drop_colliding does not see) would otherwise refuse the move
BEFORE_MOVE = {
    ("sequence_enrollments", "contact_id"): _stop_second_enrolments,
    ("surveys", "contact_id"): _drop_second_surveys,
}


def _drop_colliding(session: Session, table, column, a_id: int, b_id: int) -> None:
    keys = [list(c.columns) for c in table.constraints
            if getattr(c, "columns", None) is not None and column in list(c.columns)
            and (c.__class__.__name__ in ("PrimaryKeyConstraint", "UniqueConstraint"))]
    for cols in keys:
        others = [c for c in cols if c is not column]
        if not others:
            continue
        twin = table.alias("twin")
        clash = exists().where(twin.c[column.name] == a_id, *(twin.c[c.name] == c for c in others))
        session.execute(delete(table).where(and_(column == b_id, clash)))


def _finish_contact(session: Session, a: Contact, b: Contact, snapshot: dict, kept: dict[str, str],
                    actor: Actor, now: datetime) -> tuple[str, int]:
    """The survivor's fields: the chosen side of each conflict, b's where a is empty, and the
    union of emails, phones, tags and custom fields."""
    ra = contacts.get_contact(session, contact_id=a.id)
    rb = ContactRead.model_validate(snapshot)
    changes: dict[str, Any] = {}
    for name in ("first_name", "last_name", "title", "company_id", "owner_id", "lifecycle", "source"):
        va, vb = getattr(ra, name), getattr(rb, name)
        if kept.get(name) == "b" or (_empty(va) and not _empty(vb)):
            changes[name] = vb
    emails = _union(ra.emails, rb.emails, prefer_b=kept.get("email") == "b")
    phones = _union(ra.phones, rb.phones, prefer_b=kept.get("phone") == "b")
    custom = dict(ra.custom)
    for key, value in rb.custom.items():
        if _empty(custom.get(key)) or kept.get(f"custom.{key}") == "b":
            custom[key] = value
    changes.update(emails=emails, phones=phones, tags=sorted(set(ra.tags) | set(rb.tags)), custom=custom)
    # the survivor was known since the earlier of the two, and last reached at the later
    if b.created_at < a.created_at:
        a.created_at = b.created_at
    if b.last_contacted_at and (a.last_contacted_at is None or b.last_contacted_at > a.last_contacted_at):
        a.last_contacted_at = b.last_contacted_at
    # b is going: its emails come to a (allow_duplicate), as its name may to a company below
    read = contacts.update_contact(session, contact_id=a.id, changes=changes, actor=actor, now=now,
                                   allow_duplicate=True)
    flush(session, "contact", f"contact #{a.id}")
    return read.full_name, a.version


def _union(a: list[str], b: list[str], *, prefer_b: bool) -> list[str]:
    first, second = (b, a) if prefer_b else (a, b)
    out = list(first)
    out += [x for x in second if x not in out]
    return out


def _finish_company(session: Session, a: Company, b: Company, snapshot: dict, kept: dict[str, str],
                    actor: Actor, now: datetime) -> tuple[str, int]:
    changes: dict[str, Any] = {}
    for name in COMPANY_FIELDS:
        va, vb = getattr(a, name), snapshot.get(name)
        if kept.get(name) == "b" or (_empty(va) and not _empty(vb)):
            changes[name] = vb
    if b.created_at < a.created_at:
        a.created_at = b.created_at
    if "custom" in Company.__table__.c:
        custom, theirs = dict(a.custom or {}), dict(b.custom or {})
        for key, value in theirs.items():
            if _empty(custom.get(key)) or kept.get(f"custom.{key}") == "b":
                custom[key] = value
        if custom != (a.custom or {}):
            audit(session, actor=actor, entity="company", entity_id=a.id, action="update", now=now,
                  changes={"custom": (a.custom, custom)})
            a.custom = custom
    read = companies.update_company(session, company_id=a.id, changes=changes, actor=actor, now=now,
                                   allow_duplicate=True)
    # contacts moved from b keep the company's sort key (derived: no version bump)
    session.execute(update(Contact).where(Contact.company_id == a.id, Contact.company_key != a.name_key)
                    .values(company_key=a.name_key).execution_options(synchronize_session=False))
    flush(session, "company", f"company #{a.id}")
    return read.name, a.version
