"""Activities: log calls, emails, meetings and notes (with an optional follow-up), and timelines."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from crm_tui.clock import get_zone, resolve_now
from crm_tui.errors import Conflict, InvalidInput, NotFound
from crm_tui.models import Activity, ActivityKind, AuditEvent, Company, Contact, Deal, Direction, User
from crm_tui.models.schemas import ActivityCreate, ActivityRead, TaskCreate, TaskRead
from crm_tui.services import permissions
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, apply_changes, audit, check_version, flush, get_or_404, parse_shape
from crm_tui.services.dates import moment_in_range, parse_when
from crm_tui.services.paging import Page, SortKey, keyset_page
from crm_tui.services.tasks import complete_task, create_task

ENTITY = "activity"
TIMELINE = SortKey(Activity.occurred_at, Activity.id, descending=True)
LOGGABLE = (ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING, ActivityKind.NOTE)
MAX_DURATION_MINUTES = 7 * 24 * 60  # a week: longer than any call or meeting; a typo beyond it


def duration_minutes(value: int | None) -> int | None:
    """A call's or meeting's length in minutes: 0 to a week (a number past what the column holds
    would otherwise reach the database and fail there)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise InvalidInput(f"duration must not be negative (got {value})")
    if isinstance(value, bool) or not isinstance(value, int) or value > MAX_DURATION_MINUTES:
        raise InvalidInput(f"duration {value!r} is out of range: give minutes from 0 to {MAX_DURATION_MINUTES} "
                           f"(a week)")
    return value


def _when(value: datetime | str | None, actor: Actor, now: datetime) -> datetime:
    if value is None:
        return now
    if isinstance(value, datetime):
        return moment_in_range(resolve_now(value))
    return parse_when(value, now=now, zone=get_zone(actor.timezone), order=actor.date_order)


def log_activity(session: Session, *, data: ActivityCreate | dict, actor: Actor, now: datetime | None = None,
                 follow_up: TaskCreate | dict | None = None) -> tuple[ActivityRead, TaskRead | None]:
    """Record an interaction. Calls, emails and meetings move the contact's last-contacted time.
    A follow-up task, if given, is created in the same transaction."""
    data = parse_shape(ActivityCreate, data)
    now = resolve_now(now)
    permissions.require(session, actor, "activity.log")
    kind = ActivityKind(v.choice(data.kind, ActivityKind, "activity kind"))
    if kind not in LOGGABLE:
        raise InvalidInput(f"log a call, email, meeting or note (not {kind.value})")
    if not (data.contact_id or data.company_id or data.deal_id):
        raise InvalidInput("an activity needs a contact, a company or a deal")
    contact = get_or_404(session, Contact, data.contact_id, "contact") if data.contact_id else None
    deal = get_or_404(session, Deal, data.deal_id, "deal") if data.deal_id else None
    company_id = data.company_id or (contact.company_id if contact else None) or (deal.company_id if deal else None)
    if data.company_id:
        get_or_404(session, Company, data.company_id, "company")
    occurred_at = _when(data.occurred_at, actor, now)
    activity = Activity(
        kind=kind.value,
        direction=v.choice(data.direction, Direction, "direction") if data.direction else None,
        occurred_at=occurred_at,
        duration_minutes=duration_minutes(data.duration_minutes),
        outcome=v.optional_text(data.outcome, "outcome", max_length=100),
        subject=v.optional_text(data.subject, "subject", max_length=300),
        body=v.optional_text(data.body, "notes", max_length=100_000, multiline=True),
        contact_id=contact.id if contact else None,
        company_id=company_id,
        deal_id=deal.id if deal else None,
        user_id=actor.user_id,
        created_at=now, updated_at=now,
    )
    session.add(activity)
    flush(session, ENTITY, "activity")
    if contact is not None and kind.is_interaction and occurred_at <= now:
        # a call or meeting logged ahead is planned, not contact yet: arrive_planned counts it
        # once its time has come
        _touch_contact(session, contact.id, occurred_at)
    audit(session, actor=actor, entity=ENTITY, entity_id=activity.id, action="create", now=now,
          summary=f"{kind.value}: {activity.subject or ''}".strip())
    task = None
    if follow_up is not None:
        follow_up = parse_shape(TaskCreate, follow_up)
        links = {"contact_id": follow_up.contact_id or activity.contact_id,
                 "deal_id": follow_up.deal_id or activity.deal_id,
                 "company_id": follow_up.company_id or (None if activity.contact_id else activity.company_id)}
        task = create_task(session, data=follow_up.model_copy(update=links), actor=actor, now=now)
    return _read(session, activity), task


def _touch_contact(session: Session, contact_id: int, at: datetime) -> None:
    # A derived field, set without bumping the version: logging a call must not make a
    # teammate's open edit form conflict.
    session.execute(
        update(Contact)
        .where(Contact.id == contact_id, or_(Contact.last_contacted_at.is_(None), Contact.last_contacted_at < at))
        .values(last_contacted_at=at)
        .execution_options(synchronize_session=False)
    )


def _arrivals(now: datetime):
    """The contacts whose planned calls, emails or meetings (logged ahead of their time) have come,
    as a condition on Contact, and the time each should show as its last contact. Only activities
    logged ahead are read, through their partial index."""
    interactions = [k.value for k in ActivityKind if k.is_interaction]
    # the rows first, materialized, then their groups: grouped in one step, SQLite walks a whole
    # timeline index for the GROUP BY's order instead of the small partial index
    planned = (select(Activity.contact_id, Activity.occurred_at)
               .where(Activity.occurred_at > Activity.created_at, Activity.occurred_at <= now,
                      Activity.kind.in_(interactions))
               .cte("planned").prefix_with("MATERIALIZED"))
    arrived = (select(planned.c.contact_id, func.max(planned.c.occurred_at).label("at"))
               .group_by(planned.c.contact_id).cte("arrived"))
    at = select(arrived.c.at).where(arrived.c.contact_id == Contact.id).scalar_subquery()
    condition = and_(Contact.id.in_(select(arrived.c.contact_id)),
                     or_(Contact.last_contacted_at.is_(None), Contact.last_contacted_at < at))
    return condition, at


def planned_arrived(session: Session, *, now: datetime | None = None) -> bool:
    """Whether arrive_planned has anything to do (read first, so an idle engine run writes nothing)."""
    condition, _ = _arrivals(resolve_now(now))
    return bool(session.scalar(select(select(Contact.id).where(condition).exists())))


def arrive_planned(session: Session, *, now: datetime | None = None) -> int:
    """Planned calls, emails and meetings whose time has come move their contacts' last contact,
    set-based; returns how many contacts moved. The workflow engine runs it on every run."""
    condition, at = _arrivals(resolve_now(now))
    # RETURNING, not rowcount: Python 3.11's sqlite3 counts no UPDATE that starts with WITH (-1)
    moved = session.execute(update(Contact).where(condition).values(last_contacted_at=at)
                            .returning(Contact.id).execution_options(synchronize_session=False))
    return len(moved.all())


def update_activity(session: Session, *, activity_id: int, actor: Actor, version: int | None = None,
                    subject: str | None = None, body: str | None = None, outcome: str | None = None,
                    now: datetime | None = None) -> ActivityRead:
    now = resolve_now(now)
    activity = _get_changeable(session, activity_id, actor, "edited")
    check_version(session, activity, version, ENTITY, "activity")
    values = {}
    if subject is not None:
        values["subject"] = v.optional_text(subject, "subject", max_length=300)
    if body is not None:
        values["body"] = v.optional_text(body, "notes", max_length=100_000, multiline=True)
    if outcome is not None:
        values["outcome"] = v.optional_text(outcome, "outcome", max_length=100)
    changed = apply_changes(activity, values)
    if changed:
        activity.updated_at = now
        flush(session, ENTITY, "activity")
        audit(session, actor=actor, entity=ENTITY, entity_id=activity.id, action="update", now=now, changes=changed)
    return _read(session, activity)


def _get_changeable(session: Session, activity_id: int, actor: Actor, verb: str) -> Activity:
    """An activity the actor may edit or delete: one a person logged (a stage change or a system
    event is the record's history), with the permission to log, for the one who logged it."""
    activity = get_or_404(session, Activity, activity_id, "activity")
    permissions.require(session, actor, "activity.log", owner=activity.user_id)
    if activity.kind not in LOGGABLE:
        what = "a stage change" if activity.kind == ActivityKind.STAGE_CHANGE else f"a {activity.kind} event"
        raise InvalidInput(f"activity #{activity.id} is {what}, part of the record's history: "
                           f"it cannot be {verb}")
    return activity


def get_activity(session: Session, *, activity_id: int) -> ActivityRead:
    return _read(session, get_or_404(session, Activity, activity_id, "activity"))


# what a deleted activity's audit event keeps of it, to be read back (restore_activity)
KEPT = ("kind", "direction", "occurred_at", "duration_minutes", "outcome", "subject", "body", "contact_id",
        "company_id", "deal_id", "user_id", "created_at")
_WHEN = ("occurred_at", "created_at")


def _interactions() -> list[str]:
    return [k.value for k in ActivityKind if k.is_interaction]


def delete_activity(session: Session, *, activity_id: int, actor: Actor, version: int | None = None,
                    now: datetime | None = None) -> ActivityRead:
    """Delete a call, email, meeting or note logged by mistake. The audit event keeps its whole
    content (restore_activity reads it back). When it was its contact's latest contact, the
    contact's last contact becomes the latest remaining one that has happened. Returns what was
    deleted."""
    now = resolve_now(now)
    activity = _get_changeable(session, activity_id, actor, "deleted")
    check_version(session, activity, version, ENTITY, "activity")
    deleted = _read(session, activity)
    kept = {name: getattr(activity, name) for name in KEPT}
    for name in _WHEN:
        kept[name] = kept[name].isoformat() if kept[name] is not None else None
    audit(session, actor=actor, entity=ENTITY, entity_id=activity.id, action="delete", now=now,
          summary=json.dumps(kept, ensure_ascii=False, sort_keys=True))
    contact_id, occurred_at, kind = activity.contact_id, activity.occurred_at, ActivityKind(activity.kind)
    session.delete(activity)
    flush(session, ENTITY, "activity")
    if contact_id is not None and kind.is_interaction:
        _recount_contact(session, contact_id, occurred_at, now)
    return deleted


def _recount_contact(session: Session, contact_id: int, removed_at: datetime, now: datetime) -> None:
    """The contact's last contact, if it was the removed activity's time: the latest remaining
    call, email or meeting that has happened (none: never contacted). One UPDATE, no version bump."""
    latest = (select(func.max(Activity.occurred_at))
              .where(Activity.contact_id == contact_id, Activity.kind.in_(_interactions()),
                     Activity.occurred_at <= now)
              .scalar_subquery())
    session.execute(
        update(Contact)
        .where(Contact.id == contact_id, Contact.last_contacted_at == removed_at)
        .values(last_contacted_at=latest)
        .execution_options(synchronize_session=False)
    )


def restore_activity(session: Session, *, activity_id: int, actor: Actor, now: datetime | None = None) -> ActivityRead:
    """Undo a delete: the activity comes back with its id and every field, as its latest delete's
    audit event kept them; its contact's last contact moves again if it was the latest."""
    now = resolve_now(now)
    if session.get(Activity, activity_id) is not None:
        raise Conflict(f"activity #{activity_id} is not deleted")
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.entity == ENTITY, AuditEvent.entity_id == activity_id,
                                 AuditEvent.action == "delete")
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1)).first()
    if event is None or not event.new_value:
        raise NotFound(f"no deleted activity #{activity_id}")
    kept = json.loads(event.new_value)
    permissions.require(session, actor, "activity.log", owner=kept.get("user_id"))
    for name in _WHEN:
        kept[name] = datetime.fromisoformat(kept[name]) if kept.get(name) else None
    # a link to a record that has gone since is left out; nothing left to link to is refused
    for name, model in (("contact_id", Contact), ("company_id", Company), ("deal_id", Deal), ("user_id", User)):
        if kept.get(name) is not None and session.get(model, kept[name]) is None:
            kept[name] = None
    if not (kept["contact_id"] or kept["company_id"] or kept["deal_id"]):
        raise InvalidInput(f"activity #{activity_id} cannot come back: its contact, company and deal are gone")
    activity = Activity(id=activity_id, **{name: kept.get(name) for name in KEPT if name != "created_at"},
                        created_at=kept["created_at"] or now, updated_at=now)
    session.add(activity)
    flush(session, ENTITY, "activity")
    if activity.contact_id is not None and ActivityKind(activity.kind).is_interaction and activity.occurred_at <= now:
        _touch_contact(session, activity.contact_id, activity.occurred_at)
    audit(session, actor=actor, entity=ENTITY, entity_id=activity.id, action="restore", now=now,
          summary=f"{activity.kind}: {activity.subject or ''}".strip())
    return _read(session, activity)


def _read(session: Session, activity: Activity) -> ActivityRead:
    user = session.get(User, activity.user_id) if activity.user_id else None
    contact = session.get(Contact, activity.contact_id) if activity.contact_id else None
    return ActivityRead.model_validate(activity, from_attributes=True, update={
        "user_login": user.login if user else None, "contact_name": contact.full_name if contact else None})


def timeline(session: Session, *, contact_id: int | None = None, company_id: int | None = None,
             deal_id: int | None = None, kinds: list[str] | None = None, after: str | None = None, before: str | None = None,
             limit: int = 50) -> Page[ActivityRead]:
    """Newest first, one page at a time. A company's timeline includes its contacts' activities."""
    if sum(x is not None for x in (contact_id, company_id, deal_id)) != 1:
        raise InvalidInput("a timeline is for one contact, company or deal")
    if contact_id is not None:
        condition = Activity.contact_id == contact_id
    elif company_id is not None:
        condition = Activity.company_id == company_id
    else:
        condition = Activity.deal_id == deal_id
    if kinds:
        condition = and_(condition, Activity.kind.in_([v.choice(k, ActivityKind, "activity kind") for k in kinds]))
    return timeline_page(session, condition, after=after, before=before, limit=limit)


def timeline_page(session: Session, condition, *, after: str | None = None, before: str | None = None,
                  limit: int = 50, with_total: bool = False) -> Page[ActivityRead]:
    """The activities matching `condition`, newest first, a page at a time, with who logged each
    and the contact's name (the contact, company and deal timelines all read through this)."""
    user, contact = aliased(User), aliased(Contact)
    stmt = (
        select(Activity, user.login.label("user_login"), contact.full_name.label("contact_name"))
        .outerjoin(user, user.id == Activity.user_id)
        .outerjoin(contact, contact.id == Activity.contact_id)
        .where(condition)
    )
    rows, next_, prev_ = keyset_page(session, stmt, TIMELINE, row_key=lambda r: (r[0].occurred_at, r[0].id),
                                     after=after, before=before, limit=limit)
    items = [ActivityRead.model_validate(r[0], from_attributes=True,
                                         update={"user_login": r.user_login, "contact_name": r.contact_name})
             for r in rows]
    total = session.scalar(select(func.count()).select_from(Activity).where(condition)) if with_total else None
    return Page(items, next_, prev_, total)


def log_and_complete(session: Session, *, task_id: int, activity: dict, follow_up: dict | None = None,
                     actor: Actor, version: int | None = None, now: datetime | None = None
                     ) -> tuple[ActivityRead, TaskRead | None, TaskRead, TaskRead | None]:
    """Log a call (or any activity) about a task and complete it, in the caller's one transaction:
    (the activity, its follow-up task, the completed task, its next occurrence). The activity is
    about what the task is about unless it names its own contact, company or deal."""
    now = resolve_now(now)
    done, following = complete_task(session, task_id=task_id, actor=actor, version=version, now=now)
    links = ("contact_id", "company_id", "deal_id")
    if not any(activity.get(name) for name in links):
        activity = {**activity, **{name: getattr(done, name) for name in links}}
    logged, follow = log_activity(session, data=activity, follow_up=follow_up, actor=actor, now=now)
    return logged, follow, done, following
