"""SLAs (issue 23): a case's first-response and resolution targets, counted in business hours.

The case service calls these as a case's life moves on; every one changes only the case row it is
given (the caller flushes and audits):
- `stamp` when a case is opened and when its priority changes: its policy (the case's own, else
  the default one; none: no due times), and both due times, `add_business_minutes(created_at,
  target + paused_minutes)` on the policy's calendar;
- `pause` when it starts waiting on the customer, `resume` when it stops (the business minutes
  waited are added to both targets, and the case is stamped again);
- `refresh` after anything else (a first response, resolved, closed, reopened): `sla_next_at`, the
  earliest target still to meet, which the "breaching soon" queue and the SLA scan read.

Also here: `scan` (the cases whose next target is due within N minutes, or breached: one range
scan of ix_cases_sla_next), `describe` (a case's SLA state in words), and the admin side, behind
`sla.admin`: business calendars (hours and zone), their holidays (also from an .ics file), and the
policies. A target is typed as "30m", "4h", "1d" or "1d 4h"; a day ("d") is 8 business hours
(480 business minutes) whatever the calendar's hours, so "1d" means the same in every policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case as case_when, delete, func, literal, select, update
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import User
from crm_tui.models.case import CLOSED, OPEN_STATUSES, PRIORITIES, RESOLVED, WAITING, BusinessCalendar, Case, Holiday, \
    SlaPolicy
from crm_tui.models.workflow import WorkflowCursor
from crm_tui.services import permissions
from crm_tui.services import validation as v
from crm_tui.services.business_hours import (
    DAYS,
    Calendar,
    add_business_minutes,
    business_minutes_between,
    duration_text,
    get_zone,
    parse_clock,
    parse_days,
    parse_duration,
    parse_hours,
)
from crm_tui.services.common import (Actor, apply_changes, audit, check_version, flush, get_or_404, is_id,
                                     lock_names, parse_id)
from crm_tui.services.dates import parse_day
from crm_tui.services.words import span

ADMIN, VIEW = "sla.admin", "case.view"
CALENDAR, POLICY = "business_calendar", "sla_policy"
FIRST, RESOLUTION = "first", "resolution"
TARGET_KEYS = {"first": FIRST, "resolve": RESOLUTION}
DEFAULT_CALENDAR_NAME = "Business hours"
STANDARD_HOURS = {d: [["09:00", "17:00"]] for d in DAYS[:5]}
SCAN_LIMIT = 1000
_CACHE = "crm_sla_calendars"


# --- shapes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarRead:
    id: int
    name: str
    timezone: str
    hours: dict
    version: int
    holidays: int = 0  # how many


@dataclass(frozen=True)
class PolicyRead:
    id: int
    name: str
    calendar_id: int | None
    calendar_name: str | None
    # {priority: {"first": minutes | None, "resolve": minutes | None}}, every priority present
    targets: dict
    is_default: bool
    archived: bool
    version: int


@dataclass(frozen=True)
class HolidayRead:
    day: date
    name: str


@dataclass(frozen=True)
class HolidayImport:
    added: list[HolidayRead]
    already: int  # dates the calendar had already
    skipped: list[str]  # events that are not holidays (timed, or a recurrence too complex), named


@dataclass(frozen=True)
class SlaDue:
    """One case of a scan: its next target and whether it is breached already."""

    case_id: int
    subject: str
    status: str
    priority: str
    assignee_id: int | None
    team: str | None
    target: str  # "first" or "resolution"
    due_at: datetime
    breached: bool


# --- the clock of one case ------------------------------------------------------------------


def _default_policy(session: Session) -> SlaPolicy | None:
    return session.scalars(select(SlaPolicy).where(SlaPolicy.is_default.is_(True), SlaPolicy.archived.is_(False))
                           .order_by(SlaPolicy.id).limit(1)).first()


def _policy_for(session: Session, case: Case) -> SlaPolicy | None:
    if case.sla_policy_id is not None:
        policy = session.get(SlaPolicy, case.sla_policy_id)
        if policy is not None and not policy.archived:
            return policy
    return _default_policy(session)


def default_calendar(session: Session) -> BusinessCalendar | None:
    """The calendar of the default policy, else the first calendar; None when there is none."""
    policy = _default_policy(session)
    if policy is not None and policy.calendar_id is not None:
        found = session.get(BusinessCalendar, policy.calendar_id)
        if found is not None:
            return found
    return session.scalars(select(BusinessCalendar).order_by(BusinessCalendar.id).limit(1)).first()


def calendar(session: Session, row: BusinessCalendar | None) -> Calendar:
    """The arithmetic's calendar of a row (none: around the clock, UTC). Holidays are read a year at
    a time, only for the years a computation reaches; kept for the session's unit of work."""
    if row is None:
        return Calendar.always_open("UTC")
    cache = session.info.setdefault(_CACHE, {})
    key = (row.id, row.version)
    if key not in cache:
        calendar_id = row.id

        def holidays_of(year: int) -> list[date]:
            return list(session.scalars(select(Holiday.day).where(
                Holiday.calendar_id == calendar_id, Holiday.day >= date(year, 1, 1), Holiday.day < date(year + 1, 1, 1))))

        cache[key] = Calendar(row.timezone, row.hours, more_holidays=holidays_of)
    return cache[key]


def _calendar_of(session: Session, policy: SlaPolicy | None) -> Calendar:
    row = session.get(BusinessCalendar, policy.calendar_id) if policy and policy.calendar_id else None
    return calendar(session, row or default_calendar(session))


def _forget(session: Session) -> None:
    session.info.pop(_CACHE, None)


def stamp(session: Session, case: Case, *, now: datetime) -> None:
    """Set the case's policy (the default one, unless it has one) and both due times."""
    policy = _policy_for(session, case)
    if policy is None:
        case.first_response_due_at = case.resolution_due_at = None
        refresh(case)
        return
    case.sla_policy_id = policy.id
    target = (policy.targets or {}).get(case.priority) or {}
    cal = _calendar_of(session, policy)
    start = case.created_at or now
    paused = case.paused_minutes or 0
    first, resolve = target.get("first"), target.get("resolve")
    case.first_response_due_at = add_business_minutes(start, first + paused, cal) if first else None
    case.resolution_due_at = add_business_minutes(start, resolve + paused, cal) if resolve else None
    refresh(case)


def pause(session: Session, case: Case, *, now: datetime) -> None:
    """The case starts waiting on the customer: its clock stops."""
    if case.paused_at is None:
        case.paused_at = now
    refresh(case)


def resume(session: Session, case: Case, *, now: datetime) -> None:
    """The case stops waiting: its clock runs again, and the wait is added to its targets."""
    if case.paused_at is not None:
        waited = business_minutes_between(case.paused_at, now, _calendar_of(session, _policy_for(session, case)))
        case.paused_minutes = (case.paused_minutes or 0) + max(0, waited)
        case.paused_at = None
    stamp(session, case, now=now)


def refresh(case: Case) -> None:
    """`sla_next_at`: the first-response target until there is one, then the resolution target
    (at once, for a priority the policy sets no first-response target for); None while paused,
    resolved or closed."""
    if case.status in (RESOLVED, CLOSED, WAITING) or case.paused_at is not None:
        case.sla_next_at = None
    else:
        case.sla_next_at = next_target(case)[1]


def _span(delta: timedelta) -> str:
    """"1h 20m", "2d 3h" (words.span), or "less than a minute"."""
    minutes = int(delta.total_seconds() // 60)
    return "less than a minute" if minutes < 1 else span(minutes)


def next_target(case: Any) -> tuple[str, datetime | None]:
    """("first", due) until the first response (when the policy sets one), then ("resolution", due)."""
    first_due = getattr(case, "first_response_due_at", None)
    if getattr(case, "first_response_at", None) is None and first_due is not None:
        return FIRST, first_due
    return RESOLUTION, getattr(case, "resolution_due_at", None)


def next_target_name() -> Any:
    """next_target's name in SQL, over `cases`: the target a case's sla_next_at stands for."""
    return case_when((and_(Case.first_response_at.is_(None), Case.first_response_due_at.is_not(None)),
                      literal(FIRST, String)), else_=literal(RESOLUTION, String))


def describe(case: Any, *, now: datetime) -> str:
    """A case's SLA in words: "first response due in 1h 20m", "resolution breached 35m ago",
    "paused (waiting on customer)", "met", "resolution missed by 2h", or "no SLA". Works on a Case
    or any row with its status and SLA fields (one it lacks counts as empty); the times left are
    wall-clock time, to or from the due instant."""
    first_due, resolution_due = getattr(case, "first_response_due_at", None), getattr(case, "resolution_due_at", None)
    if first_due is None and resolution_due is None:
        return "no SLA"
    if case.status in (RESOLVED, CLOSED):
        done = getattr(case, "resolved_at", None) or getattr(case, "closed_at", None)
        if resolution_due is not None and done is not None and done > resolution_due:
            return f"resolution missed by {_span(done - resolution_due)}"
        return "met"
    if case.status == WAITING or getattr(case, "paused_at", None) is not None:
        return "paused (waiting on customer)"
    target, due = next_target(case)
    if due is None:
        return "met" if getattr(case, "first_response_at", None) is not None else "no SLA"
    what = "first response" if target == FIRST else "resolution"
    if due >= now:
        return f"{what} due in {_span(due - now)}"
    return f"{what} breached {_span(now - due)} ago"


def scan(session: Session, *, now: datetime, within_minutes: int = 0, limit: int | None = SCAN_LIMIT,
         actor: Actor | None = None) -> list[SlaDue]:
    """Cases whose next target is due within `within_minutes` of now, or breached already, soonest
    first: one range scan of ix_cases_sla_next (sla_next_at is None unless a target is running).
    With an actor, it must see every case (case.view on all)."""
    if actor is not None:
        permissions.require(session, actor, VIEW, owner=object())
    if within_minutes < 0:
        raise InvalidInput("within must not be negative")
    cutoff = now + timedelta(minutes=within_minutes)
    stmt = (select(Case.id, Case.subject, Case.status, Case.priority, Case.assignee_id, Case.team,
                   next_target_name().label("target"), Case.sla_next_at)
            .where(Case.sla_next_at.is_not(None), Case.sla_next_at <= cutoff)
            .order_by(Case.sla_next_at, Case.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [SlaDue(r.id, r.subject, r.status, r.priority, r.assignee_id, r.team,
                   r.target, r.sla_next_at, r.sla_next_at <= now)
            for r in session.execute(stmt)]


# --- the SLA actions of the workflow engine: whom to give a case, how far to raise it ---------


def team_members(session: Session, team: str) -> list[User]:
    """The active users of a team (users.team, in any case), by id."""
    return list(session.scalars(select(User).where(func.lower(User.team) == team.strip().lower(),
                                                   User.active.is_(True)).order_by(User.id)))


def pick_in_team(session: Session, team: str, how: str, *, advance: bool = True) -> User:
    """A teammate to give a case: the next after the last one given work (round_robin; the cursor
    `team:<name>` is locked for the rest of the transaction and, with `advance`, moved on), or
    the one with the fewest open cases (least_loaded; ties to the lowest id)."""
    members = team_members(session, team)
    if not members:
        raise InvalidInput(f"no active user is in the team {team!r} (see crm user list)")
    if how == "least_loaded":
        ids = [u.id for u in members]
        load = dict(session.execute(select(Case.assignee_id, func.count()).where(
            Case.assignee_id.in_(ids), Case.status.in_(OPEN_STATUSES)).group_by(Case.assignee_id)).all())
        return min(members, key=lambda u: (load.get(u.id, 0), u.id))
    name = f"team:{team.strip().lower()}"[:100]
    if advance:
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        session.execute(insert(WorkflowCursor).values(name=name, last_user_id=None)
                        .on_conflict_do_nothing(index_elements=["name"]))
        last = session.scalar(select(WorkflowCursor.last_user_id).where(WorkflowCursor.name == name).with_for_update())
    else:
        last = session.scalar(select(WorkflowCursor.last_user_id).where(WorkflowCursor.name == name))
    chosen = next((u for u in members if last is None or u.id > last), members[0])
    if advance:
        session.execute(update(WorkflowCursor).where(WorkflowCursor.name == name).values(last_user_id=chosen.id))
    return chosen


def _priority(text: str) -> str:
    value = str(text or "").strip().lower()
    if value not in PRIORITIES:
        raise InvalidInput(f"unknown priority {text!r}: choose one of {', '.join(PRIORITIES)}")
    return value


def raised(priority: str, to: str | None = None) -> str:
    """The priority one step up (or `to`, unless the case is already at or above it)."""
    i = PRIORITIES.index(priority) if priority in PRIORITIES else 1
    if to is not None:
        return PRIORITIES[max(i, PRIORITIES.index(_priority(to)))]
    return PRIORITIES[min(i + 1, len(PRIORITIES) - 1)]


# --- admin: calendars ------------------------------------------------------------------------


def _read_calendar(session: Session, row: BusinessCalendar) -> CalendarRead:
    count = session.scalar(select(func.count()).select_from(Holiday).where(Holiday.calendar_id == row.id))
    return CalendarRead(row.id, row.name, row.timezone, dict(row.hours or {}), row.version, count or 0)


def _name(value: str, label: str) -> tuple[str, str]:
    name = v.required_text(value, label, max_length=100)
    return name, " ".join(v.fold(name).split())[:100]


def _clean_hours(hours: dict | None) -> dict:
    week = parse_hours(hours)  # checks them
    return {day: [[f"{s // 60:02d}:{s % 60:02d}", _end_text(e)] for s, e in spans] for day, spans in zip(DAYS, week)}


def _end_text(minutes: int) -> str:
    if minutes > 24 * 60:
        minutes -= 24 * 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def find_calendar(session: Session, ref: str | int | None = None) -> BusinessCalendar:
    """A calendar by #id or name (any case); no ref: the default calendar."""
    if ref is None or str(ref).strip() == "":
        found = default_calendar(session)
        if found is None:
            raise NotFound("there is no business calendar yet", see="crm sla hours set --days mon-fri --from 9:00 "
                                                                     "--to 17:00 --zone Europe/Berlin")
        return found
    text = str(ref).strip().removeprefix("#")
    found = session.get(BusinessCalendar, int(text)) if parse_id(text) and is_id(int(text), session, BusinessCalendar) else None
    if found is None:
        key = " ".join(v.fold(str(ref).strip()).split())
        found = session.scalars(select(BusinessCalendar).where(BusinessCalendar.name_key == key)).first()
    if found is None:
        raise NotFound(f"no business calendar {ref!r}", see="crm sla hours show")
    return found


def _refuse_duplicate(session: Session, model: Any, key: str, label: str, editing: int | None = None) -> None:
    lock_names(session, f"{model.__tablename__}:{key}")
    found = session.scalars(select(model.id).where(model.name_key == key)).first()
    if found is not None and found != editing:
        raise InvalidInput(f"there is already a {label} named like that (#{found}): choose another name")


def add_calendar(session: Session, *, name: str, actor: Actor, timezone: str = "UTC", hours: dict | None = None,
                 now: datetime | None = None) -> CalendarRead:
    now = resolve_now(now)
    permissions.require(session, actor, ADMIN)
    name, key = _name(name, "calendar name")
    get_zone(timezone)
    clean = _clean_hours(STANDARD_HOURS if hours is None else hours)
    _refuse_duplicate(session, BusinessCalendar, key, "business calendar")
    row = BusinessCalendar(name=name, name_key=key, timezone=timezone.strip(), hours=clean, created_at=now,
                           updated_at=now)
    session.add(row)
    flush(session, CALENDAR, name)
    audit(session, actor=actor, entity=CALENDAR, entity_id=row.id, action="create", now=now,
          summary=f"{name} ({row.timezone})")
    return _read_calendar(session, row)


def edit_calendar(session: Session, *, calendar_id: int, actor: Actor, name: str | None = None,
                  timezone: str | None = None, hours: dict | None = None, version: int | None = None,
                  now: datetime | None = None) -> CalendarRead:
    """Rename a calendar, move it to another zone or replace its hours (only what is given).
    Cases keep the due times they were stamped with until they are stamped again."""
    now = resolve_now(now)
    permissions.require(session, actor, ADMIN)
    row = get_or_404(session, BusinessCalendar, calendar_id, "business calendar")
    check_version(session, row, version, CALENDAR, f"calendar {row.name}")
    values: dict[str, Any] = {}
    if name is not None:
        values["name"], values["name_key"] = _name(name, "calendar name")
        _refuse_duplicate(session, BusinessCalendar, values["name_key"], "business calendar", editing=row.id)
    if timezone is not None:
        get_zone(timezone)
        values["timezone"] = timezone.strip()
    if hours is not None:
        values["hours"] = _clean_hours(hours)
    changes = apply_changes(row, values)
    changes.pop("name_key", None)
    if changes:
        row.updated_at = now
        flush(session, CALENDAR, row.name)
        audit(session, actor=actor, entity=CALENDAR, entity_id=row.id, action="update", now=now, changes=changes)
        _forget(session)
    return _read_calendar(session, row)


def set_hours(session: Session, *, days: str | list[str], intervals: list[tuple[str, str]], actor: Actor,
              timezone: str | None = None, calendar_ref: str | int | None = None, version: int | None = None,
              now: datetime | None = None) -> CalendarRead:
    """Set the hours of some days ("mon-fri"; intervals [("9:00", "12:00"), ("13:00", "17:00")];
    none: closed), leaving the other days as they are. With no calendar yet, the first one
    ("Business hours") is made, closed on the days not given."""
    now = resolve_now(now)
    permissions.require(session, actor, ADMIN)
    keys = parse_days(days) if isinstance(days, str) else [d for d in parse_days(",".join(days))]
    for start, end in intervals:
        parse_clock(start), parse_clock(end, end=True)
    spans = [[start, end] for start, end in intervals]
    if calendar_ref is None and default_calendar(session) is None:
        hours = {d: (spans if d in keys else []) for d in DAYS}
        return add_calendar(session, name=DEFAULT_CALENDAR_NAME, timezone=timezone or "UTC", hours=hours,
                            actor=actor, now=now)
    row = find_calendar(session, calendar_ref)
    hours = {d: (spans if d in keys else (row.hours or {}).get(d, [])) for d in DAYS}
    return edit_calendar(session, calendar_id=row.id, hours=hours, timezone=timezone, version=version, actor=actor,
                         now=now)


def list_calendars(session: Session, *, actor: Actor) -> list[CalendarRead]:
    permissions.require(session, actor, VIEW)
    rows = session.scalars(select(BusinessCalendar).order_by(BusinessCalendar.id).limit(200))
    return [_read_calendar(session, r) for r in rows]


def get_calendar(session: Session, ref: str | int | None = None, *, actor: Actor) -> CalendarRead:
    permissions.require(session, actor, VIEW)
    return _read_calendar(session, find_calendar(session, ref))


# --- admin: holidays -------------------------------------------------------------------------


def _day(value: date | str) -> date:
    if isinstance(value, date):
        return value
    return parse_day(str(value))


def add_holiday(session: Session, *, day: date | str, actor: Actor, name: str = "",
                calendar_ref: str | int | None = None, now: datetime | None = None) -> HolidayRead:
    now = resolve_now(now)
    permissions.require(session, actor, ADMIN)
    row = find_calendar(session, calendar_ref)
    when = _day(day)
    label = v.optional_text(name, "holiday name", max_length=200) or ""
    if session.scalar(select(Holiday.id).where(Holiday.calendar_id == row.id, Holiday.day == when)) is not None:
        raise InvalidInput(f"{when.isoformat()} is already a holiday of {row.name}")
    session.add(Holiday(calendar_id=row.id, day=when, name=label))
    session.flush()
    audit(session, actor=actor, entity=CALENDAR, entity_id=row.id, action="holiday", now=now,
          changes={f"holiday {when.isoformat()}": (None, label or when.isoformat())})
    _forget(session)
    return HolidayRead(when, label)


def remove_holiday(session: Session, *, day: date | str, actor: Actor, calendar_ref: str | int | None = None,
                   now: datetime | None = None) -> HolidayRead:
    now = resolve_now(now)
    permissions.require(session, actor, ADMIN)
    row = find_calendar(session, calendar_ref)
    when = _day(day)
    found = session.scalars(select(Holiday).where(Holiday.calendar_id == row.id, Holiday.day == when)).first()
    if found is None:
        raise NotFound(f"{when.isoformat()} is not a holiday of {row.name}", see="crm sla holiday list")
    gone = HolidayRead(found.day, found.name)
    session.execute(delete(Holiday).where(Holiday.id == found.id))
    audit(session, actor=actor, entity=CALENDAR, entity_id=row.id, action="holiday", now=now,
          changes={f"holiday {when.isoformat()}": (found.name or when.isoformat(), None)})
    _forget(session)
    return gone


def list_holidays(session: Session, *, actor: Actor, calendar_ref: str | int | None = None,
                  year: int | None = None, limit: int = 366) -> list[HolidayRead]:
    """A calendar's holidays by date (of one year, when given)."""
    permissions.require(session, actor, VIEW)
    row = find_calendar(session, calendar_ref)
    stmt = select(Holiday.day, Holiday.name).where(Holiday.calendar_id == row.id)
    if year is not None:
        stmt = stmt.where(Holiday.day >= date(year, 1, 1), Holiday.day < date(year + 1, 1, 1))
    return [HolidayRead(d, n) for d, n in session.execute(stmt.order_by(Holiday.day).limit(limit))]


def holidays_from_ics(data: bytes | str, *, years: Iterable[int]) -> tuple[list[HolidayRead], list[str]]:
    """The holidays of an iCalendar file: every all-day VEVENT's dates (an event of several days,
    each of them), a yearly recurring one expanded over `years`; and the events left out, named
    (timed events, and recurrences other than yearly)."""
    import icalendar
    from dateutil.rrule import rrulestr

    years = sorted(set(years))
    try:
        cal = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise InvalidInput(f"not an iCalendar (.ics) file: {' '.join(str(exc).split())[:200]}") from None
    found: dict[date, str] = {}
    skipped: list[str] = []
    for event in cal.walk("VEVENT"):
        name = str(event.get("SUMMARY") or "").strip()[:200]
        start = event.get("DTSTART")
        start = start.dt if start is not None else None
        if not isinstance(start, date) or isinstance(start, datetime):
            skipped.append(f"{name or 'an event'}: not an all-day event")
            continue
        end = event.get("DTEND")
        end = end.dt if end is not None and not isinstance(end.dt, datetime) else start + timedelta(days=1)
        length = max(1, min((end - start).days, 31))
        rule = event.get("RRULE")
        if rule is None:
            starts = [start]
        elif [str(f).upper() for f in rule.get("FREQ", [])] != ["YEARLY"]:
            skipped.append(f"{name or 'an event'}: repeats other than yearly")
            continue
        else:
            text = rule.to_ical().decode()
            first = datetime.combine(start, datetime.min.time())
            last = datetime(years[-1], 12, 31, 23, 59) if years else first
            starts = [d.date() for d in rrulestr(text, dtstart=first).between(first, last, inc=True)]
            starts = [d for d in starts if d.year in years]
        for s in starts:
            for i in range(length):
                found.setdefault(s + timedelta(days=i), name)
    added = [HolidayRead(d, n) for d, n in sorted(found.items())]
    return added, skipped


def import_holidays(session: Session, *, data: bytes | str, actor: Actor, calendar_ref: str | int | None = None,
                    years: Iterable[int] | None = None, now: datetime | None = None) -> HolidayImport:
    """Add the holidays of an .ics file to a calendar (dates it has already are left as they are);
    yearly events are expanded over `years` (default: this year and the next two)."""
    now = resolve_now(now)
    permissions.require(session, actor, ADMIN)
    row = find_calendar(session, calendar_ref)
    years = list(years) if years is not None else [now.year, now.year + 1, now.year + 2]
    found, skipped = holidays_from_ics(data, years=years)
    if not found:
        return HolidayImport([], 0, skipped)
    have = set(session.scalars(select(Holiday.day).where(Holiday.calendar_id == row.id,
                                                        Holiday.day >= found[0].day, Holiday.day <= found[-1].day)))
    new = [h for h in found if h.day not in have]
    for h in new:
        session.add(Holiday(calendar_id=row.id, day=h.day, name=h.name))
    if new:
        session.flush()
        audit(session, actor=actor, entity=CALENDAR, entity_id=row.id, action="holiday", now=now,
              summary=f"imported {len(new)} holiday{'s' if len(new) != 1 else ''} "
                      f"({new[0].day.isoformat()} to {new[-1].day.isoformat()})")
        _forget(session)
    return HolidayImport(new, len(found) - len(new), skipped)


# --- admin: policies --------------------------------------------------------------------------


def parse_targets(specs: Iterable[str]) -> dict[str, dict[str, int | None]]:
    """["urgent=30m/4h", "normal=4h/3d", "low=/5d"] -> {"urgent": {"first": 30, "resolve": 240}, ...}:
    per priority FIRST/RESOLVE, either side may be left out."""
    out: dict[str, dict[str, int | None]] = {}
    for spec in specs:
        head, eq, rest = str(spec).partition("=")
        if not eq:
            raise InvalidInput(f"{spec!r}: write a target as PRIORITY=FIRST/RESOLVE, e.g. urgent=30m/4h")
        priority = _priority(head)
        first, _, resolve = rest.partition("/")
        out[priority] = {"first": parse_duration(first) if first.strip() else None,
                         "resolve": parse_duration(resolve) if resolve.strip() else None}
    return out


def _clean_targets(targets: dict | None, base: dict | None = None) -> dict:
    """Targets merged over `base`, checked: every priority, first and resolve in business minutes
    (text such as "4h" is read), and a first response no later than the resolution."""
    merged = {p: dict((base or {}).get(p) or {}) for p in PRIORITIES}
    for priority, values in (targets or {}).items():
        p = _priority(priority)
        if not isinstance(values, dict):
            raise InvalidInput(f"the targets of {p} are {{first, resolve}}")
        for key, value in values.items():
            if key not in TARGET_KEYS:
                raise InvalidInput(f"unknown target {key!r}: use first or resolve")
            merged[p][key] = None if value in (None, "") else parse_duration(value)
    for p, values in merged.items():
        first, resolve = values.get("first"), values.get("resolve")
        merged[p] = {"first": first, "resolve": resolve}
        if first and resolve and first > resolve:
            raise InvalidInput(f"{p}: the first response ({duration_text(first)}) comes after the resolution "
                               f"({duration_text(resolve)})")
    return merged


def _read_policy(session: Session, row: SlaPolicy) -> PolicyRead:
    cal = session.get(BusinessCalendar, row.calendar_id) if row.calendar_id else None
    return PolicyRead(row.id, row.name, row.calendar_id, cal.name if cal else None, _clean_targets(None, row.targets),
                      row.is_default, row.archived, row.version)


def find_policy(session: Session, ref: str | int) -> SlaPolicy:
    text = str(ref).strip().removeprefix("#")
    found = session.get(SlaPolicy, int(text)) if parse_id(text) and is_id(int(text), session, SlaPolicy) else None
    if found is None:
        key = " ".join(v.fold(str(ref).strip()).split())
        found = session.scalars(select(SlaPolicy).where(SlaPolicy.name_key == key)).first()
    if found is None:
        raise NotFound(f"no SLA policy {ref!r}", see="crm sla policy list")
    return found


def _clear_default(session: Session, keep: int, actor: Actor, now: datetime) -> None:
    for other in session.scalars(select(SlaPolicy).where(SlaPolicy.is_default.is_(True), SlaPolicy.id != keep)):
        other.is_default = False
        other.updated_at = now
        audit(session, actor=actor, entity=POLICY, entity_id=other.id, action="update", now=now,
              changes={"is_default": (True, False)})


def add_policy(session: Session, *, name: str, targets: dict | None, actor: Actor,
               calendar_ref: str | int | None = None, default: bool = False,
               now: datetime | None = None) -> PolicyRead:
    """A policy on a calendar (the default one; none yet: "Business hours", Monday to Friday 9:00
    to 17:00 UTC, is made). The first policy becomes the default."""
    now = resolve_now(now)
    permissions.require(session, actor, ADMIN)
    name, key = _name(name, "policy name")
    clean = _clean_targets(targets)
    if calendar_ref is None and default_calendar(session) is None:
        made = add_calendar(session, name=DEFAULT_CALENDAR_NAME, actor=actor, now=now)
        cal_id = made.id
    else:
        cal_id = find_calendar(session, calendar_ref).id
    _refuse_duplicate(session, SlaPolicy, key, "SLA policy")
    lock_names(session, "sla-default-policy")
    default = default or _default_policy(session) is None
    row = SlaPolicy(name=name, name_key=key, calendar_id=cal_id, targets=clean, is_default=default,
                    created_at=now, updated_at=now)
    session.add(row)
    flush(session, POLICY, name)
    if default:
        _clear_default(session, row.id, actor, now)
    audit(session, actor=actor, entity=POLICY, entity_id=row.id, action="create", now=now,
          summary=f"{name}: " + targets_text(clean) + (" (default)" if default else ""))
    session.flush()
    return _read_policy(session, row)


def edit_policy(session: Session, *, policy_id: int, actor: Actor, name: str | None = None,
                targets: dict | None = None, calendar_ref: str | int | None = None, archived: bool | None = None,
                version: int | None = None, now: datetime | None = None) -> PolicyRead:
    """Change a policy: its name, some targets (merged over the others), its calendar, archived.
    Open cases keep their due times until they are stamped again (a priority change, a resume)."""
    now = resolve_now(now)
    permissions.require(session, actor, ADMIN)
    row = get_or_404(session, SlaPolicy, policy_id, "SLA policy")
    check_version(session, row, version, POLICY, f"SLA policy {row.name}")
    values: dict[str, Any] = {}
    if name is not None:
        values["name"], values["name_key"] = _name(name, "policy name")
        _refuse_duplicate(session, SlaPolicy, values["name_key"], "SLA policy", editing=row.id)
    if targets:
        values["targets"] = _clean_targets(targets, row.targets)
    if calendar_ref is not None:
        values["calendar_id"] = find_calendar(session, calendar_ref).id
    if archived is not None:
        if archived and row.is_default:
            raise InvalidInput(f"{row.name} is the default policy: make another the default first")
        values["archived"] = archived
    old_targets = _clean_targets(None, row.targets)
    changes = apply_changes(row, values)
    changes.pop("name_key", None)
    if "targets" in changes:
        changes["targets"] = (targets_text(old_targets), targets_text(values["targets"]))
    if changes:
        row.updated_at = now
        flush(session, POLICY, row.name)
        audit(session, actor=actor, entity=POLICY, entity_id=row.id, action="update", now=now, changes=changes)
    return _read_policy(session, row)


def set_default_policy(session: Session, *, policy_id: int, actor: Actor, version: int | None = None,
                       now: datetime | None = None) -> PolicyRead:
    """The policy new cases get (the others stop being the default)."""
    now = resolve_now(now)
    permissions.require(session, actor, ADMIN)
    row = get_or_404(session, SlaPolicy, policy_id, "SLA policy")
    check_version(session, row, version, POLICY, f"SLA policy {row.name}")
    if row.archived:
        raise InvalidInput(f"{row.name} is archived: unarchive it first")
    lock_names(session, "sla-default-policy")
    if not row.is_default:
        row.is_default = True
        row.updated_at = now
        flush(session, POLICY, row.name)
        audit(session, actor=actor, entity=POLICY, entity_id=row.id, action="update", now=now,
              changes={"is_default": (False, True)})
        _clear_default(session, row.id, actor, now)
        session.flush()
        _forget(session)
    return _read_policy(session, row)


def list_policies(session: Session, *, actor: Actor, archived: bool = False) -> list[PolicyRead]:
    permissions.require(session, actor, VIEW)
    rows = session.scalars(select(SlaPolicy).where(SlaPolicy.archived.is_(archived))
                           .order_by(SlaPolicy.name_key, SlaPolicy.id).limit(200))
    return [_read_policy(session, r) for r in rows]


def get_policy(session: Session, ref: str | int, *, actor: Actor) -> PolicyRead:
    permissions.require(session, actor, VIEW)
    return _read_policy(session, find_policy(session, ref))


def targets_text(targets: dict) -> str:
    """"urgent 30m/4h, high 1h/1d, normal -/3d" (priorities with no target left out)."""
    parts = []
    for p in reversed(PRIORITIES):
        t = targets.get(p) or {}
        if t.get("first") or t.get("resolve"):
            first = duration_text(t["first"]) if t.get("first") else "-"
            resolve = duration_text(t["resolve"]) if t.get("resolve") else "-"
            parts.append(f"{p} {first}/{resolve}")
    return ", ".join(parts) or "no targets"
