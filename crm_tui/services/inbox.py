"""The Inbox as a whole: the task sections of services/tasks.py, and Planned, the calls, emails and
meetings logged ahead of their time, until that time comes (issue 17 #10).

"Planned" is what activities.arrive_planned reads from the other side: an interaction logged ahead
(occurred_at > created_at). It is planned while occurred_at > now and counts as contact from then
on, so a meeting leaves the list exactly when the engine may count it. Every read goes through the
partial index ix_activities_planned, whose rows are only the activities logged ahead.

Reading activities needs no permission (every timeline shows everyone's, as README's roles say:
roles decide what a person may change): the list is the acting user's own planned activities, a
teammate's, or the whole team's, as the Inbox's scope says, like its tasks.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.models import Activity, ActivityKind, Company, Contact, Deal, User
from crm_tui.models.schemas import PlannedRead, TaskRead
from crm_tui.services import tasks
from crm_tui.services.paging import Page, SortKey, keyset_page
from crm_tui.services.sections import INBOX_SECTION_TITLES, INBOX_SECTIONS, PLANNED

# Planned comes last: the task sections keep their places (and their → and ← presses)
SECTIONS, SECTION_TITLES = INBOX_SECTIONS, INBOX_SECTION_TITLES
BY_TIME = SortKey(Activity.occurred_at, Activity.id)
PLANNED_KINDS = tuple(k.value for k in ActivityKind if k.is_interaction)

# The planned activity with who logged it and the names of what it is about, by outer joins (one
# query a page). Built once, as tasks._LABELLED is.
_LABELLED = (select(Activity.id, Activity.kind, Activity.subject, Activity.occurred_at, Activity.duration_minutes,
                    Activity.contact_id, Activity.company_id, Activity.deal_id, Activity.user_id, Activity.version,
                    User.login.label("user_login"), Deal.title.label("deal_title"),
                    Contact.full_name.label("contact_name"), Company.name.label("company_name"))
             .select_from(Activity)
             .outerjoin(User, User.id == Activity.user_id)
             .outerjoin(Deal, Deal.id == Activity.deal_id)
             .outerjoin(Contact, Contact.id == Activity.contact_id)
             .outerjoin(Company, Company.id == Activity.company_id))


def planned_condition(now: datetime, user_id: int | None):
    """The planned activities at `now` (of one user, or None: everyone's) as a WHERE condition.
    `occurred_at > created_at` is the partial index's own term, so the planner can use it."""
    condition = and_(Activity.occurred_at > Activity.created_at, Activity.occurred_at > now,
                     Activity.kind.in_(PLANNED_KINDS))
    return and_(condition, Activity.user_id == user_id) if user_id is not None else condition


def planned_page(session: Session, *, user_id: int | None, now: datetime | None = None, after: str | None = None,
                 before: str | None = None, limit: int = 50) -> Page[PlannedRead]:
    """One keyset page of the planned calls, emails and meetings, soonest first."""
    stmt = _LABELLED.where(planned_condition(resolve_now(now), user_id))
    rows, next_, prev_ = keyset_page(session, stmt, BY_TIME, row_key=lambda r: (r.occurred_at, r.id),
                                     after=after, before=before, limit=limit)
    return Page([_read(r) for r in rows], next_, prev_)


def planned_count(session: Session, *, user_id: int | None, now: datetime | None = None) -> int:
    """How many are planned: one COUNT over the partial index's range ahead of now."""
    condition = planned_condition(resolve_now(now), user_id)
    return int(session.scalar(select(func.count()).select_from(Activity).where(condition)) or 0)


def inbox_page(session: Session, *, section: str, assignee_id: int | None, zone: tzinfo, now: datetime | None = None,
               after: str | None = None, before: str | None = None,
               limit: int = 50) -> Page[TaskRead] | Page[PlannedRead]:
    """One keyset page of any Inbox section: Planned's activities (those `assignee_id` logged), or
    a task section's tasks (tasks.inbox_page)."""
    if section not in SECTIONS:
        raise InvalidInput(f"invalid inbox section {section!r}: choose one of {', '.join(SECTIONS)}")
    if section == PLANNED:
        return planned_page(session, user_id=assignee_id, now=now, after=after, before=before, limit=limit)
    return tasks.inbox_page(session, section=section, assignee_id=assignee_id, zone=zone, now=now, after=after,
                            before=before, limit=limit)


def _read(row) -> PlannedRead:
    # typed from the database columns, as tasks._read does: no validation needed
    data = row._asdict()
    names = {name: data.pop(name) for name in ("deal_title", "contact_name", "company_name")}
    return PlannedRead.model_construct(**data, related=_related(data, names))


def _related(row: dict, names: dict) -> str | None:
    """What it is about, worded as a task's `related` is: the deal, else the contact, else the company."""
    if row["deal_id"] and names["deal_title"] is not None:
        return f"deal: {names['deal_title']}"
    if row["contact_id"] and names["contact_name"] is not None:
        return f"contact: {names['contact_name'] or '(no name)'}"
    if row["company_id"] and names["company_name"] is not None:
        return f"company: {names['company_name']}"
    return None
