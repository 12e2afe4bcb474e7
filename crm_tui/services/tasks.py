"""Tasks (reminders): create, complete (recurring ones roll forward), snooze, reschedule, list."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

from dateutil.rrule import rrulestr
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from crm_tui.clock import get_zone, resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.models import Company, Contact, Deal, Task, TaskOrigin, User
from crm_tui.models.schemas import TaskCreate, TaskRead
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, apply_changes, audit, check_version, flush, get_or_404, parse_shape
from crm_tui.services.dates import parse_when
from crm_tui.services.paging import Page, SortKey, keyset_page

ENTITY = "task"
BY_DUE = SortKey(Task.due_at, Task.id, nullable=True)
BY_DONE = SortKey(Task.done_at, Task.id, descending=True)
STATUSES = ("open", "overdue", "today", "upcoming", "snoozed", "done", "all")

_DAYS = {"monday": "MO", "tuesday": "TU", "wednesday": "WE", "thursday": "TH", "friday": "FR",
         "saturday": "SA", "sunday": "SU"}
_PHRASES = {
    "daily": "FREQ=DAILY", "every day": "FREQ=DAILY", "weekly": "FREQ=WEEKLY", "every week": "FREQ=WEEKLY",
    "monthly": "FREQ=MONTHLY", "every month": "FREQ=MONTHLY", "yearly": "FREQ=YEARLY",
    "every year": "FREQ=YEARLY", "annually": "FREQ=YEARLY",
    "every weekday": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
}


def parse_recurrence(text: str | None) -> str | None:
    """An RRULE from RFC 5545 text ("FREQ=WEEKLY;BYDAY=MO") or a plain phrase ("every monday",
    "every 2 weeks", "monthly on the 1st"). Returns the RRULE text, or None for no recurrence."""
    raw = " ".join((text or "").strip().lower().split())
    if not raw or raw in ("none", "never"):
        return None
    rule = _PHRASES.get(raw)
    if rule is None and (m := re.fullmatch(r"every (\w+?)s?", raw)) and m[1] in _DAYS:
        rule = f"FREQ=WEEKLY;BYDAY={_DAYS[m[1]]}"
    if rule is None and (m := re.fullmatch(r"every (\d+) (day|week|month|year)s?", raw)):
        freq = {"day": "DAILY", "week": "WEEKLY", "month": "MONTHLY", "year": "YEARLY"}[m[2]]
        rule = f"FREQ={freq};INTERVAL={int(m[1])}"
    if rule is None and (m := re.fullmatch(r"(?:monthly|every month) on the (\d{1,2})(?:st|nd|rd|th)?", raw)):
        rule = f"FREQ=MONTHLY;BYMONTHDAY={int(m[1])}"
    if rule is None:
        rule = text.strip().upper().removeprefix("RRULE:")
    try:
        rrulestr(rule, dtstart=datetime(2026, 1, 1))
    except (ValueError, TypeError):
        raise InvalidInput(f"can't read recurrence {text!r}: use e.g. 'every monday', 'monthly on the 1st' "
                           "or an RRULE like FREQ=WEEKLY;BYDAY=MO") from None
    return rule


def _zone(actor: Actor) -> tzinfo:
    return get_zone(actor.timezone)


def _when(value: datetime | str | None, actor: Actor, now: datetime) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return resolve_now(value)
    return parse_when(value, now=now, zone=_zone(actor))


def create_task(session: Session, *, data: TaskCreate | dict, actor: Actor, now: datetime | None = None) -> TaskRead:
    data = parse_shape(TaskCreate, data)
    now = resolve_now(now)
    title = v.required_text(data.title, "task title", max_length=300)
    due = _when(data.due_at, actor, now)
    recurrence = parse_recurrence(data.recurrence)
    if recurrence and due is None:
        raise InvalidInput("a recurring task needs a due time for its first occurrence")
    for model, value, label in ((Contact, data.contact_id, "contact"), (Company, data.company_id, "company"),
                                (Deal, data.deal_id, "deal"), (User, data.assignee_id, "user")):
        if value is not None:
            get_or_404(session, model, value, label)
    origin = v.choice(data.origin, TaskOrigin, "origin")
    task = Task(
        title=title, notes=v.optional_text(data.notes, "notes", max_length=20000), due_at=due,
        assignee_id=data.assignee_id if data.assignee_id is not None else actor.user_id,
        contact_id=data.contact_id, company_id=data.company_id, deal_id=data.deal_id,
        recurrence=recurrence, recurrence_start=due if recurrence else None,
        origin=origin, rule_name=data.rule_name, created_by_id=actor.user_id, created_at=now, updated_at=now,
    )
    session.add(task)
    flush(session, ENTITY, f"task {title!r}")
    audit(session, actor=actor, entity=ENTITY, entity_id=task.id, action="create", now=now,
          summary=f"{title} (due {due:%Y-%m-%d %H:%M} UTC)" if due else title)
    return get_task(session, task_id=task.id)


def next_occurrence(task: Task, zone: tzinfo) -> datetime | None:
    """The next due time of a recurring task after its current one, in the assignee's wall time
    (so "every Monday 9am" stays 9am across daylight-saving changes)."""
    if not task.recurrence or task.due_at is None:
        return None
    start = (task.recurrence_start or task.due_at).astimezone(zone).replace(tzinfo=None)
    current = task.due_at.astimezone(zone).replace(tzinfo=None)
    following = rrulestr(task.recurrence, dtstart=start).after(current)
    return following.replace(tzinfo=zone).astimezone(task.due_at.tzinfo) if following else None


def complete_task(session: Session, *, task_id: int, actor: Actor, version: int | None = None,
                  now: datetime | None = None) -> tuple[TaskRead, TaskRead | None]:
    """Mark done. A recurring task gets its next occurrence as a new task, returned second."""
    now = resolve_now(now)
    task = get_or_404(session, Task, task_id, "task")
    check_version(session, task, version, ENTITY, f"task {task.title!r}")
    if task.done_at is not None:
        raise InvalidInput(f"task {task.title!r} is already done")
    task.done_at = now
    task.updated_at = now
    flush(session, ENTITY, f"task {task.title!r}")
    audit(session, actor=actor, entity=ENTITY, entity_id=task.id, action="complete", now=now,
          changes={"done_at": (None, now)})
    following = None
    assignee = session.get(User, task.assignee_id) if task.assignee_id else None
    due = next_occurrence(task, get_zone(assignee.timezone if assignee else actor.timezone))
    if due is not None:
        clone = Task(
            title=task.title, notes=task.notes, due_at=due, assignee_id=task.assignee_id, contact_id=task.contact_id,
            company_id=task.company_id, deal_id=task.deal_id, recurrence=task.recurrence,
            recurrence_start=task.recurrence_start, origin=task.origin, rule_name=task.rule_name,
            created_by_id=actor.user_id, created_at=now, updated_at=now,
        )
        session.add(clone)
        flush(session, ENTITY, f"task {task.title!r}")
        audit(session, actor=actor, entity=ENTITY, entity_id=clone.id, action="create", now=now,
              summary=f"{clone.title} (next occurrence, due {due:%Y-%m-%d %H:%M} UTC)")
        following = get_task(session, task_id=clone.id)
    return get_task(session, task_id=task.id), following


def snooze_task(session: Session, *, task_id: int, until: datetime | str, actor: Actor,
                version: int | None = None, now: datetime | None = None) -> TaskRead:
    now = resolve_now(now)
    task = get_or_404(session, Task, task_id, "task")
    check_version(session, task, version, ENTITY, f"task {task.title!r}")
    if task.done_at is not None:
        raise InvalidInput(f"task {task.title!r} is done; reopen it first")
    when = _when(until, actor, now)
    if when is None or when <= now:
        raise InvalidInput("snooze until a time in the future")
    return _set(session, task, {"snoozed_until": when}, "snooze", actor, now)


def reschedule_task(session: Session, *, task_id: int, due_at: datetime | str, actor: Actor,
                    version: int | None = None, now: datetime | None = None) -> TaskRead:
    now = resolve_now(now)
    task = get_or_404(session, Task, task_id, "task")
    check_version(session, task, version, ENTITY, f"task {task.title!r}")
    when = _when(due_at, actor, now)
    if when is None:
        raise InvalidInput("give the new due time")
    return _set(session, task, {"due_at": when, "snoozed_until": None}, "reschedule", actor, now)


def reopen_task(session: Session, *, task_id: int, actor: Actor, version: int | None = None,
                now: datetime | None = None) -> TaskRead:
    now = resolve_now(now)
    task = get_or_404(session, Task, task_id, "task")
    check_version(session, task, version, ENTITY, f"task {task.title!r}")
    return _set(session, task, {"done_at": None}, "reopen", actor, now)


def _set(session: Session, task: Task, values: dict, action: str, actor: Actor, now: datetime) -> TaskRead:
    changed = apply_changes(task, values)
    if changed:
        task.updated_at = now
        flush(session, ENTITY, f"task {task.title!r}")
        audit(session, actor=actor, entity=ENTITY, entity_id=task.id, action=action, now=now, changes=changed)
    return get_task(session, task_id=task.id)


def get_task(session: Session, *, task_id: int) -> TaskRead:
    task = get_or_404(session, Task, task_id, "task")
    assignee = session.get(User, task.assignee_id) if task.assignee_id else None
    return TaskRead.model_validate(task, from_attributes=True, update={
        "assignee_login": assignee.login if assignee else None, "related": _related(session, task)})


def _related(session: Session, task: Task) -> str | None:
    if task.deal_id and (deal := session.get(Deal, task.deal_id)):
        return f"deal: {deal.title}"
    if task.contact_id and (contact := session.get(Contact, task.contact_id)):
        return f"contact: {contact.full_name}"
    if task.company_id and (company := session.get(Company, task.company_id)):
        return f"company: {company.name}"
    return None


def _day_end(now: datetime, zone: tzinfo) -> datetime:
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time()).replace(tzinfo=zone)
    return midnight.astimezone(now.tzinfo)


def _status_condition(status: str, now: datetime, zone: tzinfo):
    open_ = Task.done_at.is_(None)
    awake = or_(Task.snoozed_until.is_(None), Task.snoozed_until <= now)
    day_end = _day_end(now, zone)
    return {
        "open": open_,
        "overdue": and_(open_, awake, Task.due_at < now),
        "today": and_(open_, awake, Task.due_at >= now, Task.due_at < day_end),
        "upcoming": and_(open_, awake, Task.due_at >= day_end),
        "snoozed": and_(open_, Task.snoozed_until > now),
        "done": Task.done_at.is_not(None),
        "all": None,
    }[status]


def list_tasks(session: Session, *, status: str = "open", assignee_id: int | None = None,
               contact_id: int | None = None, company_id: int | None = None, deal_id: int | None = None,
               zone: tzinfo | None = None, now: datetime | None = None, after: str | None = None, before: str | None = None,
               limit: int = 50) -> Page[TaskRead]:
    """Tasks by due time (done ones by completion, newest first), a page at a time."""
    if status not in STATUSES:
        raise InvalidInput(f"invalid task status {status!r}: choose one of {', '.join(STATUSES)}")
    now = resolve_now(now)
    zone = zone or get_zone(None)
    conditions = []
    if (cond := _status_condition(status, now, zone)) is not None:
        conditions.append(cond)
    for column, value in ((Task.assignee_id, assignee_id), (Task.contact_id, contact_id),
                          (Task.company_id, company_id), (Task.deal_id, deal_id)):
        if value is not None:
            conditions.append(column == value)
    key = BY_DONE if status == "done" else BY_DUE
    assignee = aliased(User)
    stmt = select(Task, assignee.login.label("assignee_login")).outerjoin(
        assignee, assignee.id == Task.assignee_id).where(*conditions)
    rows, next_, prev_ = keyset_page(session, stmt, key, row_key=lambda r: (getattr(r[0], key.column.key), r[0].id),
                                     after=after, before=before, limit=limit)
    items = [TaskRead.model_validate(r[0], from_attributes=True, update={
        "assignee_login": r.assignee_login, "related": _related(session, r[0])}) for r in rows]
    return Page(items, next_, prev_)


def task_counts(session: Session, *, assignee_id: int | None, zone: tzinfo | None = None,
                now: datetime | None = None) -> dict[str, int]:
    """Overdue and due-today counts for the Inbox indicator, in one aggregate query."""
    now = resolve_now(now)
    zone = zone or get_zone(None)
    overdue = _status_condition("overdue", now, zone)
    today = _status_condition("today", now, zone)
    stmt = select(
        func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
        func.coalesce(func.sum(case((today, 1), else_=0)), 0),
    ).where(Task.done_at.is_(None), Task.due_at < _day_end(now, zone))
    if assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == assignee_id)
    row = session.execute(stmt).one()
    return {"overdue": int(row[0]), "today": int(row[1])}
