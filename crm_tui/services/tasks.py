"""Tasks (reminders): create, complete (recurring ones roll forward), snooze, reschedule, assign,
list, and the Inbox: its sections page by page, their counts in one query, and what fell due."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, tzinfo

from dateutil.rrule import rrulestr
from sqlalchemy import and_, case, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from crm_tui.clock import get_zone, resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.models import Company, Contact, Deal, Task, TaskOrigin, User
from crm_tui.models.schemas import TaskCreate, TaskRead
from crm_tui.services import permissions
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, apply_changes, audit, check_version, flush, get_or_404, parse_shape
from crm_tui.services.dates import moment_in_range, parse_when
from crm_tui.services.paging import Page, SortKey, keyset_page
from crm_tui.services.sections import (  # noqa: F401 - the services' names for them
    DONE_RECENTLY, SECTION_TITLES, SECTIONS, UPCOMING_DAYS, due_phrase, origin_label, related_label,
)

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
    "quarterly": "FREQ=MONTHLY;INTERVAL=3", "every quarter": "FREQ=MONTHLY;INTERVAL=3",
    "fortnightly": "FREQ=WEEKLY;INTERVAL=2", "biweekly": "FREQ=WEEKLY;INTERVAL=2",
}
# a due (or snooze) time this far behind now is "in the past": saved as typed, after a confirmation
# in the app and with a warning on the CLI ("now", typed a few seconds ago, is not)
PAST_GRACE = timedelta(minutes=1)


def parse_recurrence(text: str | None) -> str | None:
    """An RRULE from RFC 5545 text ("FREQ=WEEKLY;BYDAY=MO") or a plain phrase ("every monday",
    "every 2 weeks", "monthly on the 1st"). Returns the RRULE text, or None for no recurrence."""
    raw = " ".join((text or "").strip().lower().split())
    if not raw or raw in ("none", "never"):
        return None
    rule = _PHRASES.get(raw)
    if rule is None and (m := re.fullmatch(r"every (\w+?)s?", raw)) and m[1] in _DAYS:
        rule = f"FREQ=WEEKLY;BYDAY={_DAYS[m[1]]}"
    if rule is None and (m := re.fullmatch(r"every (\d+) (day|week|month|quarter|year)s?", raw)):
        freq = {"day": "DAILY", "week": "WEEKLY", "month": "MONTHLY", "quarter": "MONTHLY", "year": "YEARLY"}[m[2]]
        rule = f"FREQ={freq};INTERVAL={int(m[1]) * (3 if m[2] == 'quarter' else 1)}"
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
        return moment_in_range(resolve_now(value))
    return parse_when(value, now=now, zone=_zone(actor), order=actor.date_order)


def create_task(session: Session, *, data: TaskCreate | dict, actor: Actor, now: datetime | None = None) -> TaskRead:
    data = parse_shape(TaskCreate, data)
    now = resolve_now(now)
    permissions.require(session, actor, "task.edit", owner=actor.user_id if data.assignee_id is None else data.assignee_id)
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
        title=title, notes=v.optional_text(data.notes, "notes", max_length=20000, multiline=True), due_at=due,
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


def next_occurrence(task: Task, zone: tzinfo, now: datetime | None = None) -> datetime | None:
    """The next due time of a recurring task after its current one (and after `now`: a weekly task
    done three weeks late comes back next week, not overdue), in the assignee's wall time (so
    "every Monday 9am" stays 9am across daylight-saving changes)."""
    if not task.recurrence or task.due_at is None:
        return None
    start = (task.recurrence_start or task.due_at).astimezone(zone).replace(tzinfo=None)
    current = task.due_at.astimezone(zone).replace(tzinfo=None)
    if now is not None:
        current = max(current, now.astimezone(zone).replace(tzinfo=None))
    following = rrulestr(task.recurrence, dtstart=start).after(current)
    return following.replace(tzinfo=zone).astimezone(task.due_at.tzinfo) if following else None


def complete_task(session: Session, *, task_id: int, actor: Actor, version: int | None = None,
                  now: datetime | None = None) -> tuple[TaskRead, TaskRead | None]:
    """Mark done. A recurring task gets its next occurrence as a new task, returned second."""
    now = resolve_now(now)
    task = get_or_404(session, Task, task_id, "task")
    permissions.require(session, actor, "task.edit", owner=task.assignee_id)
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
    due = next_occurrence(task, get_zone(assignee.timezone if assignee else actor.timezone), now)
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
    permissions.require(session, actor, "task.edit", owner=task.assignee_id)
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
    permissions.require(session, actor, "task.edit", owner=task.assignee_id)
    check_version(session, task, version, ENTITY, f"task {task.title!r}")
    when = _when(due_at, actor, now)
    if when is None:
        raise InvalidInput("give the new due time")
    return _set(session, task, {"due_at": when, "snoozed_until": None}, "reschedule", actor, now)


def reopen_task(session: Session, *, task_id: int, actor: Actor, version: int | None = None,
                now: datetime | None = None) -> TaskRead:
    now = resolve_now(now)
    task = get_or_404(session, Task, task_id, "task")
    permissions.require(session, actor, "task.edit", owner=task.assignee_id)
    check_version(session, task, version, ENTITY, f"task {task.title!r}")
    return _set(session, task, {"done_at": None}, "reopen", actor, now)


def assign_task(session: Session, *, task_id: int, assignee_id: int | None, actor: Actor,
                version: int | None = None, now: datetime | None = None) -> TaskRead:
    """Give a task to another user, or to nobody (None). The permission is checked only when the
    assignee changes: a seller may hand on their own tasks, a manager anyone's. The workflow
    engine's reassign action comes through here too; audited as "reassign"."""
    now = resolve_now(now)
    task = get_or_404(session, Task, task_id, "task")
    permissions.require_assign(session, actor, "task.assign", old=task.assignee_id, new=assignee_id)
    check_version(session, task, version, ENTITY, f"task {task.title!r}")
    if assignee_id is not None and assignee_id != task.assignee_id:
        user = get_or_404(session, User, assignee_id, "user")
        if not user.active:
            raise InvalidInput(f"user {user.login!r} is deactivated; give the task to an active user")
    return _set(session, task, {"assignee_id": assignee_id}, "reassign", actor, now)


def _set(session: Session, task: Task, values: dict, action: str, actor: Actor, now: datetime) -> TaskRead:
    changed = apply_changes(task, values)
    if changed:
        task.updated_at = now
        flush(session, ENTITY, f"task {task.title!r}")
        audit(session, actor=actor, entity=ENTITY, entity_id=task.id, action=action, now=now, changes=changed)
    return get_task(session, task_id=task.id)


def get_task(session: Session, *, task_id: int) -> TaskRead:
    rows = session.execute(_LABELLED.where(Task.id == task_id)).all()
    if not rows:
        get_or_404(session, Task, task_id, "task")  # raises NotFound with the usual message
    return _read(rows[0])


# the columns a TaskRead is made of (plain columns, not ORM objects: a page of them costs a
# fraction of loading and validating entities)
_READ_COLUMNS = [column for column in Task.__table__.columns if column.key in TaskRead.model_fields]
_ASSIGNEE = aliased(User, name="assignee")  # made once: a fresh alias per query costs milliseconds


# The task with its assignee's login and the names of what it is about, by outer joins (one query
# for a page, not one per row). Built once: statements are immutable, and building this one cost
# more than SQLite takes to run an Inbox page.
_LABELLED = (select(*_READ_COLUMNS, _ASSIGNEE.login.label("assignee_login"), Deal.title.label("deal_title"),
                    Contact.full_name.label("contact_name"), Company.name.label("company_name"))
             .select_from(Task)
             .outerjoin(_ASSIGNEE, _ASSIGNEE.id == Task.assignee_id)
             .outerjoin(Deal, Deal.id == Task.deal_id)
             .outerjoin(Contact, Contact.id == Task.contact_id)
             .outerjoin(Company, Company.id == Task.company_id))


def _read(row) -> TaskRead:
    # the values come typed from the database columns (aware UTC datetimes): no validation needed
    data = row._asdict()
    related = related_label(data)
    for extra in ("deal_title", "contact_name", "company_name"):
        del data[extra]
    return TaskRead.model_construct(**data, related=related)


def _status_condition(status: str, now: datetime, zone: tzinfo):
    """A task status of `crm task list`. Overdue, today and snoozed are the Inbox's sections;
    upcoming is everything due after today (the Inbox's section stops a week ahead)."""
    if status in ("overdue", "today", "snoozed"):
        return section_conditions(now, zone, status)[status]
    open_ = Task.done_at.is_(None)
    awake = or_(Task.snoozed_until.is_(None), Task.snoozed_until <= now)
    return {
        "open": open_,
        "upcoming": and_(open_, awake, Task.due_at >= _midnight(now, zone, 1)),
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
    return task_page(session, and_(*conditions) if conditions else true(), key=BY_DONE if status == "done" else BY_DUE,
                     after=after, before=before, limit=limit)


def task_page(session: Session, condition, *, key=BY_DUE, after: str | None = None, before: str | None = None,
              limit: int = 50, with_total: bool = False) -> Page[TaskRead]:
    """The tasks matching `condition` in `key` order, a page at a time, each with its assignee and
    what it is about (list_tasks and a company's tasks read through this)."""
    rows, next_, prev_ = keyset_page(session, _LABELLED.where(condition), key,
                                     row_key=lambda r: (getattr(r, key.column.key), r.id),
                                     after=after, before=before, limit=limit)
    total = session.scalar(select(func.count()).select_from(Task).where(condition)) if with_total else None
    return Page([_read(r) for r in rows], next_, prev_, total)


def task_counts(session: Session, *, assignee_id: int | None, zone: tzinfo | None = None,
                now: datetime | None = None) -> dict[str, int]:
    """Overdue and due-today counts for the Inbox indicator, in one aggregate query."""
    now = resolve_now(now)
    zone = zone or get_zone(None)
    sections = section_conditions(now, zone)
    stmt = select(
        func.coalesce(func.sum(case((sections["overdue"], 1), else_=0)), 0),
        func.coalesce(func.sum(case((sections["today"], 1), else_=0)), 0),
    ).where(Task.done_at.is_(None), Task.due_at < _midnight(now, zone, 1))
    if assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == assignee_id)
    row = session.execute(stmt).one()
    return {"overdue": int(row[0]), "today": int(row[1])}


# --- the Inbox ---------------------------------------------------------------------------------

BY_SNOOZE = SortKey(Task.snoozed_until, Task.id)
_SECTION_KEYS = {"overdue": BY_DUE, "today": BY_DUE, "upcoming": BY_DUE, "snoozed": BY_SNOOZE, "done": BY_DONE}
# (label, what a person would type): the snooze presets, read like typed text in the user's zone
SNOOZE_PRESETS = (("1 hour", "+1h"), ("This evening", "this evening"), ("Tomorrow 9am", "tomorrow 9am"),
                  ("Next Monday 9am", "next monday 9am"))


def _midnight(now: datetime, zone: tzinfo, days_ahead: int) -> datetime:
    """The user's midnight `days_ahead` days after today's date, in UTC (a local day can be 23 or 25 h)."""
    day = now.astimezone(zone).date() + timedelta(days=days_ahead)
    return datetime.combine(day, time(0, 0)).replace(tzinfo=zone).astimezone(now.tzinfo)


def section_conditions(now: datetime, zone: tzinfo, only: str | None = None) -> dict[str, object]:
    """Each Inbox section (or `only` one) as a WHERE condition. A snoozed task is only in Snoozed
    until its snooze ends; open tasks with no due time sit at the end of Upcoming, so none is ever
    out of sight."""
    open_ = Task.done_at.is_(None)
    awake = or_(Task.snoozed_until.is_(None), Task.snoozed_until <= now)
    day_end = _midnight(now, zone, 1)
    build = {
        "overdue": lambda: and_(open_, awake, Task.due_at < now),
        "today": lambda: and_(open_, awake, Task.due_at >= now, Task.due_at < day_end),
        "upcoming": lambda: and_(open_, awake, or_(and_(Task.due_at >= day_end,
                                                        Task.due_at < _midnight(now, zone, 1 + UPCOMING_DAYS)),
                                                   Task.due_at.is_(None))),
        "snoozed": lambda: and_(open_, Task.snoozed_until > now),
        "done": lambda: Task.done_at >= now - DONE_RECENTLY,
    }
    return {name: make() for name, make in build.items() if only in (None, name)}


def inbox_page(session: Session, *, section: str, assignee_id: int | None, zone: tzinfo, now: datetime | None = None,
               after: str | None = None, before: str | None = None, limit: int = 50) -> Page[TaskRead]:
    """One keyset page of an Inbox section, for one assignee (None: the whole team). Overdue, Today
    and Upcoming run by due time, Snoozed by when the snooze ends, Done by completion, newest first."""
    if section not in SECTIONS:
        raise InvalidInput(f"invalid inbox section {section!r}: choose one of {', '.join(SECTIONS)}")
    now = resolve_now(now)
    key = _SECTION_KEYS[section]
    stmt = _LABELLED.where(section_conditions(now, zone, section)[section])
    if assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == assignee_id)
    rows, next_, prev_ = keyset_page(session, stmt, key, row_key=lambda r: (getattr(r, key.column.key), r.id),
                                     after=after, before=before, limit=limit)
    return Page([_read(r) for r in rows], next_, prev_)


def inbox_counts(session: Session, *, assignee_id: int | None, zone: tzinfo,
                 now: datetime | None = None) -> dict[str, int]:
    """How many tasks each Inbox section holds, in one aggregate query."""
    now = resolve_now(now)
    conditions = section_conditions(now, zone)
    stmt = select(*(func.coalesce(func.sum(case((conditions[name], 1), else_=0)), 0) for name in SECTIONS)).where(
        or_(Task.done_at.is_(None), Task.done_at >= now - DONE_RECENTLY))
    if assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == assignee_id)
    return {name: int(value) for name, value in zip(SECTIONS, session.execute(stmt).one(), strict=True)}


def due_between(session: Session, *, assignee_id: int | None, since: datetime, until: datetime,
                limit: int = 3) -> tuple[list[TaskRead], int]:
    """The open tasks that fell due in (since, until]: their due time passed, or their snooze ended
    after the due time had. The first `limit` in the order they fell due, and how many in all."""
    since, until = resolve_now(since), resolve_now(until)
    fell_due = and_(Task.done_at.is_(None), or_(
        and_(Task.due_at > since, Task.due_at <= until,
             or_(Task.snoozed_until.is_(None), Task.snoozed_until <= until)),
        and_(Task.snoozed_until > since, Task.snoozed_until <= until, Task.due_at <= until),
    ))
    conditions = [fell_due] + ([Task.assignee_id == assignee_id] if assignee_id is not None else [])
    fell_at = case((Task.snoozed_until > Task.due_at, Task.snoozed_until), else_=Task.due_at)
    rows = session.execute(_LABELLED.where(*conditions).order_by(fell_at, Task.id)
                           .limit(limit)).all()
    total = len(rows)
    if total == limit:
        total = session.scalar(select(func.count()).select_from(Task).where(*conditions))
    return [_read(r) for r in rows], total


def snooze_presets(*, now: datetime, zone: tzinfo) -> list[tuple[str, datetime]]:
    """The snooze presets still ahead of `now` (at 19:00 "this evening" has passed), as UTC times."""
    now = resolve_now(now)
    found = [(label, parse_when(text, now=now, zone=zone)) for label, text in SNOOZE_PRESETS]
    return [(label, when) for label, when in found if when > now]


def in_the_past(when: datetime | None, *, now: datetime) -> bool:
    """Whether a due or snooze time is already behind `now` (by more than PAST_GRACE)."""
    return when is not None and resolve_now(when) < resolve_now(now) - PAST_GRACE


def parse_due(text: str, *, actor: Actor, now: datetime) -> datetime:
    """A time typed for a snooze or a reschedule ("+2d", "fri 3pm", "2026-12-01 10:00"), read in the
    user's zone; for a form to check as the user types, before anything is written."""
    when = _when(text, actor, resolve_now(now))
    if when is None:
        raise InvalidInput("type a time, e.g. +2d, fri 3pm or 2026-12-01 10:00")
    return when
