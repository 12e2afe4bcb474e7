"""Reading the audit trail (it is written by every other service, and never edited)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_tui.errors import InvalidInput
from crm_tui.models import AuditEvent
from crm_tui.models.schemas import AuditRead
from crm_tui.services.paging import Page, SortKey, keyset_page

NEWEST_FIRST = SortKey(AuditEvent.at, AuditEvent.id, descending=True)


def list_events(session: Session, *, entity: str | None = None, entity_id: int | None = None,
                actor: str | None = None, since: datetime | None = None, after: str | None = None, before: str | None = None,
                limit: int = 50) -> Page[AuditRead]:
    conditions = []
    if entity:
        conditions.append(AuditEvent.entity == entity)
    if entity_id is not None:
        conditions.append(AuditEvent.entity_id == entity_id)
    if actor:
        conditions.append(AuditEvent.actor == actor.lower())
    if since is not None:
        conditions.append(AuditEvent.at >= since)
    stmt = select(AuditEvent).where(*conditions)
    rows, next_, prev_ = keyset_page(session, stmt, NEWEST_FIRST, row_key=lambda r: (r[0].at, r[0].id),
                                     after=after, before=before, limit=limit)
    return Page([AuditRead.model_validate(r[0], from_attributes=True) for r in rows], next_, prev_)


def parse_record(text: str) -> tuple[str, int]:
    """ "contact:12" -> ("contact", 12): the record `crm audit --record` names."""
    kind, sep, id_ = text.strip().partition(":")
    kind, id_ = kind.strip().lower(), id_.strip().lstrip("#")
    if not sep or not kind or not id_.isdigit():
        raise InvalidInput(f"record {text!r}: give KIND:ID, e.g. contact:12 or deal:40")
    return kind, int(id_)
