"""What the workflow engine leaves behind, for the app and the CLI: the run log of firings, the
email outbox, in-app notifications for a user, and reassigning a task (an action of the engine)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.models.workflow import EmailOutbox, Notification, WorkflowFiring
from crm_tui.services.paging import Page, SortKey, keyset_page

NEWEST_FIRST = SortKey(WorkflowFiring.fired_at, WorkflowFiring.id, descending=True)
NOTIFICATIONS_PER_TICK = 20


@dataclass(frozen=True)
class FiringRead:
    id: int
    rule: str
    entity: str
    entity_id: int
    occurrence_at: datetime
    occurrence_key: str
    fired_at: datetime
    status: str
    attempts: int
    actions: list[str]
    error: str | None
    runner: str | None


@dataclass(frozen=True)
class NotificationRead:
    id: int
    title: str
    body: str | None
    entity: str | None
    entity_id: int | None
    rule: str | None
    created_at: datetime


@dataclass(frozen=True)
class OutboxRead:
    """An email of the outbox; the fields are EmailOutbox's, in the order they are selected."""

    id: int
    status: str
    to_addr: str
    subject: str
    attempts: int
    last_error: str | None
    rule: str
    created_at: datetime
    sent_at: datetime | None


def _firing(f: WorkflowFiring) -> FiringRead:
    try:
        actions = json.loads(f.actions) if f.actions else []
    except ValueError:
        actions = [f.actions]
    return FiringRead(f.id, f.rule, f.entity, f.entity_id, f.occurrence_at, f.occurrence_key, f.fired_at, f.status,
                      f.attempts, actions, f.error, f.runner)


def list_firings(session: Session, *, rule: str | None = None, status: str | None = None,
                 entity: str | None = None, entity_id: int | None = None, after: str | None = None,
                 limit: int = 50) -> Page[FiringRead]:
    """The run log, newest first, a page at a time."""
    conditions = []
    for column, value in ((WorkflowFiring.rule, rule), (WorkflowFiring.status, status),
                          (WorkflowFiring.entity, entity), (WorkflowFiring.entity_id, entity_id)):
        if value is not None:
            conditions.append(column == value)
    rows, next_, prev_ = keyset_page(session, select(WorkflowFiring).where(*conditions), NEWEST_FIRST,
                                     row_key=lambda r: (r[0].fired_at, r[0].id), after=after, limit=limit)
    return Page([_firing(r[0]) for r in rows], next_, prev_)


def list_outbox(session: Session, *, status: str | None = None, limit: int = 50) -> list[OutboxRead]:
    """The newest emails of the outbox, as plain values that outlive the session."""
    stmt = (select(*(getattr(EmailOutbox, name) for name in OutboxRead.__dataclass_fields__))
            .order_by(EmailOutbox.id.desc()).limit(limit))
    if status:
        stmt = stmt.where(EmailOutbox.status == status)
    return [OutboxRead(*row) for row in session.execute(stmt)]


def deliver_notifications(session: Session, *, user_id: int, now: datetime | None = None,
                          limit: int = NOTIFICATIONS_PER_TICK) -> list[NotificationRead]:
    """The user's unseen notifications, marked seen in the same statement (UPDATE ... RETURNING),
    so two apps of the same user never both show one. Call inside a write unit."""
    now = resolve_now(now)
    pending = (select(Notification.id).where(Notification.user_id == user_id, Notification.seen_at.is_(None))
               .order_by(Notification.id).limit(limit))
    rows = session.execute(
        update(Notification).where(Notification.id.in_(pending), Notification.seen_at.is_(None))
        .values(seen_at=now)
        .returning(Notification.id, Notification.title, Notification.body, Notification.entity,
                   Notification.entity_id, Notification.rule, Notification.created_at)
    ).all()
    return sorted((NotificationRead(*r) for r in rows), key=lambda n: n.id)


def pending_count(session: Session, *, user_id: int) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(Notification)
                          .where(Notification.user_id == user_id, Notification.seen_at.is_(None)))


