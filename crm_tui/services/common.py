"""What every service shares: the acting user, audit events, version checks, lookups."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import BigInteger, select
from sqlalchemy import text as sa_text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from crm_tui.errors import Conflict, InvalidInput, NotFound
from crm_tui.models import AuditEvent
from crm_tui.shapes import Actor, system_actor  # noqa: F401 - the services' names for them

M = TypeVar("M")
MAX_ID = 2**63 - 1  # the largest id a BIGINT (PostgreSQL) or an INTEGER (SQLite) holds


def parse_id(text: str | int) -> int | None:
    """The record id `text` spells (ASCII digits: "²" and "١" are not ids), or None when it is a
    name or an email instead. Any size: an id past MAX_ID then finds nothing (get_or_404)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    value = str(text).strip()
    return int(value) if value.isascii() and value.isdigit() else None


def is_id(value: object, session: Session | None = None, model: Any = None) -> bool:
    """Whether `value` can be a record's id: a whole number from 1 to MAX_ID, and, given the
    session and the model, one its id column can hold (an INTEGER id on PostgreSQL stops at 2^31-1;
    asking for a larger one fails in the driver rather than finding nothing)."""
    if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID):
        return False
    if session is None or model is None:
        return True
    return column_holds(session, model.__table__.c.id, value)


def column_holds(session: Session, column: Any, value: int) -> bool:
    """Whether an integer `column` can hold `value` on this database: an INTEGER on PostgreSQL stops
    at 2^31-1, and comparing it with a larger number fails in the driver rather than matching nothing."""
    if -(2**31) <= value < 2**31:
        return True
    return session.get_bind().dialect.name != "postgresql" or isinstance(column.type, BigInteger)


def get_or_404(session: Session, model: type[M], id_: int | None, label: str) -> M:
    # an id past what the column holds would make the driver raise (OverflowError on SQLite,
    # NumericValueOutOfRange on PostgreSQL): no record has it, so it is simply not found
    obj = session.get(model, id_) if is_id(id_, session, model) else None
    if obj is None:
        raise NotFound(f"no {label} with id {id_}")
    return obj


def parse_shape(shape: type[M], data: Any) -> M:
    """Validate input data into a pydantic shape; the first problem becomes a one-line error."""
    if isinstance(data, shape):
        return data
    try:
        return shape.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "input"
        raise InvalidInput(f"{where}: {err.get('msg', 'invalid value')}") from None


def check_version(session: Session, obj: Any, expected: int | None, entity: str, label: str) -> None:
    """Refuse a write based on a stale read, naming who changed the record and when."""
    if expected is None or obj.version == expected:
        return
    last = session.execute(
        select(AuditEvent.actor, AuditEvent.via, AuditEvent.at)
        .where(AuditEvent.entity == entity, AuditEvent.entity_id == obj.id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(1)
    ).first()
    who = f" by {f'{last.via} (as {last.actor})' if last.via else last.actor} at {last.at:%Y-%m-%d %H:%M} UTC" if last else ""
    raise Conflict(
        f"{label} was changed{who} since you opened it (you have version {expected}, it is now "
        f"version {obj.version}); reload it and apply your change again",
        entity=entity, entity_id=obj.id, expected_version=expected, current_version=obj.version,
        what_happened=f"{label} was changed{who} since you opened it.",
    )


def flush(session: Session, entity: str, label: str) -> None:
    """Flush, turning a lost optimistic-lock race (the row changed under us) into a Conflict."""
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(f"{label} was changed by someone else at the same moment; reload it and try again",
                       entity=entity) from None


def _audit_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def audit(session: Session, *, actor: Actor, entity: str, entity_id: int | None, action: str, now: datetime,
          changes: dict[str, tuple[Any, Any]] | None = None, summary: str | None = None) -> None:
    """Write the audit trail of one change: one row per changed field, or one summary row."""
    base = dict(at=now, actor_id=actor.user_id, actor=actor.login, via=actor.via, entity=entity, entity_id=entity_id,
                action=action)
    if changes:
        for field_name, (old, new) in changes.items():
            session.add(AuditEvent(**base, field=field_name, old_value=_audit_value(old), new_value=_audit_value(new)))
    else:
        session.add(AuditEvent(**base, new_value=summary))


AuditEvents = list[tuple[str, int | None, str, dict[str, tuple[Any, Any]] | str | None]]


def audit_rows(*, actor: Actor, now: datetime, events: AuditEvents) -> list[dict[str, Any]]:
    """audit() for many records at once, (entity, entity_id, action, changes or summary) each: the
    rows audit() would add, without ids, for a bulk writer to insert in one executemany (the import)."""
    rows = []
    for entity, entity_id, action, what in events:
        base = dict(at=now, actor_id=actor.user_id, actor=actor.login, via=actor.via, entity=entity,
                    entity_id=entity_id, action=action, field=None, old_value=None, new_value=None)
        if isinstance(what, dict) and what:
            rows += [{**base, "field": name, "old_value": _audit_value(old), "new_value": _audit_value(new)}
                     for name, (old, new) in what.items()]
        else:
            rows.append({**base, "new_value": what or None})
    return rows


def apply_changes(obj: Any, values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Set the values that differ; return {field: (old, new)} for the audit trail."""
    changed = {}
    for name, new in values.items():
        old = getattr(obj, name)
        if old != new:
            setattr(obj, name, new)
            changed[name] = (old, new)
    return changed


def set_archived(session: Session, model: type[M], *, id_: int, archived: bool, actor: Actor, entity: str,
                 label: Any, version: int | None, now: datetime) -> M:
    """Archive or unarchive a record (`label(obj)` names it in messages); audited, version-checked."""
    obj = get_or_404(session, model, id_, entity)
    check_version(session, obj, version, entity, label(obj))
    if obj.archived != archived:
        obj.archived = archived
        obj.updated_at = now
        flush(session, entity, label(obj))
        audit(session, actor=actor, entity=entity, entity_id=obj.id, action="archive" if archived else "unarchive",
              now=now, changes={"archived": (not archived, archived)})
    return obj


def lock_names(session: Session, *names: str) -> None:
    """Serialise a check-then-insert on these names (e.g. "contact-email:ann@x.org") across
    transactions, so two people adding the same record at once cannot both pass the duplicate
    check: a transaction-scoped advisory lock per name on PostgreSQL, in a fixed order; SQLite's
    BEGIN IMMEDIATE already holds the whole file."""
    if session.bind.dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        session.execute(sa_text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})
