"""Reading the audit trail (it is written by every other service, and never edited)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from crm_tui.errors import InvalidInput
from crm_tui.models import AuditEvent, Company, Contact, Deal, Pipeline, Stage, User
from crm_tui.models.schemas import AuditRead
from crm_tui.services.paging import Page, SortKey, keyset_page
from crm_tui.services.common import column_holds, is_id, parse_id

NEWEST_FIRST = SortKey(AuditEvent.at, AuditEvent.id, descending=True)

# an audited field that holds another record's id -> the kind of record it names
ID_FIELDS = {
    "owner_id": "user", "assignee_id": "user", "user_id": "user", "created_by_id": "user",
    "company_id": "company", "contact_id": "contact", "deal_id": "deal",
    "stage_id": "stage", "pipeline_id": "pipeline",
}

# each kind's id column and the text a person knows it by
LABELS = {
    "user": (User.id, User.login),
    "company": (Company.id, Company.name),
    "contact": (Contact.id, func.coalesce(func.nullif(Contact.full_name, ""), Contact.email)),
    "deal": (Deal.id, Deal.title),
    "stage": (Stage.id, Stage.name),
    "pipeline": (Pipeline.id, Pipeline.name),
}


class AuditEntry(AuditRead):
    """One audit event as read back: the raw values, and for an id field the names they stood for
    (old_label, new_label: a login, a company's or a contact's name, a deal's title, a stage's name;
    "#12" for a record since removed; None for other fields and for empty values)."""

    old_label: str | None = None
    new_label: str | None = None

    @property
    def field_label(self) -> str | None:
        """ "owner_id" -> "owner": the field as a person names it."""
        if self.field in ID_FIELDS:
            return self.field.removesuffix("_id").replace("_", " ")
        return self.field

    @property
    def old_shown(self) -> str | None:
        return self.old_label if self.old_label is not None else self.old_value

    @property
    def new_shown(self) -> str | None:
        return self.new_label if self.new_label is not None else self.new_value


def list_events(session: Session, *, entity: str | None = None, entity_id: int | None = None,
                actor: str | None = None, since: datetime | None = None, after: str | None = None, before: str | None = None,
                limit: int = 50) -> Page[AuditEntry]:
    conditions = []
    if entity:
        conditions.append(AuditEvent.entity == entity)
    if entity_id is not None:
        if not column_holds(session, AuditEvent.__table__.c.entity_id, entity_id):
            return Page([])  # no record has an id its column cannot hold
        conditions.append(AuditEvent.entity_id == entity_id)
    if actor:  # the user acted as, or who really acted ("root (as bob)" is both root's and bob's)
        conditions.append(or_(AuditEvent.actor == actor.lower(), AuditEvent.via == actor.lower()))
    if since is not None:
        conditions.append(AuditEvent.at >= since)
    stmt = select(AuditEvent).where(*conditions)
    rows, next_, prev_ = keyset_page(session, stmt, NEWEST_FIRST, row_key=lambda r: (r[0].at, r[0].id),
                                     after=after, before=before, limit=limit)
    events = [AuditEntry.model_validate(r[0], from_attributes=True) for r in rows]
    return Page(with_labels(session, events), next_, prev_)


def _ref(event: AuditRead, value: str | None) -> tuple[str, int] | None:
    """(kind, id) when the value is the id of another record (stored as "4"), else None."""
    kind = ID_FIELDS.get(event.field or "")
    if kind is None or value is None or not value.isdigit():
        return None
    return kind, int(value)


def with_labels(session: Session, events: list[AuditEntry]) -> list[AuditEntry]:
    """Name the records the events' id fields point to, for the whole page in one query."""
    refs = {ref for e in events for ref in (_ref(e, e.old_value), _ref(e, e.new_value)) if ref}
    if not refs:
        return events
    wanted: dict[str, set[int]] = {}
    for kind, id_ in refs:
        wanted.setdefault(kind, set()).add(id_)
    parts = [select(literal(kind, String).label("kind"), id_col.label("id"), label.label("label"))
             .where(id_col.in_(sorted(wanted[kind])))
             for kind, (id_col, label) in LABELS.items() if kind in wanted]
    query = parts[0] if len(parts) == 1 else union_all(*parts)
    names = {(row.kind, row.id): row.label for row in session.execute(query)}
    for e in events:
        for value, attr in ((e.old_value, "old_label"), (e.new_value, "new_label")):
            if ref := _ref(e, value):
                setattr(e, attr, names.get(ref) or f"#{ref[1]}")
    return events


def parse_record(text: str) -> tuple[str, int]:
    """ "contact:12" -> ("contact", 12): the record `crm audit --record` names."""
    kind, sep, id_ = text.strip().partition(":")
    kind, id_ = kind.strip().lower(), id_.strip().lstrip("#")
    if not sep or not kind or not is_id(parse_id(id_)):
        raise InvalidInput(f"record {text!r}: give KIND:ID, e.g. contact:12 or deal:40")
    return kind, parse_id(id_)
