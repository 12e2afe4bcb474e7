"""Sequences (issue 21): named email and task steps, contacts enrolled in them set-based, and the
engine step `run_due` that does each due step exactly once, in business days, inside the sending
window and under the daily cap; and the stops (a reply, a deal won or lost, unsubscribe, a person).

Exactly once: a step is claimed by an INSERT into sequence_sends that ignores a conflict on
(enrolment, step), in the transaction that queues its email (the outbox, sent after commit) or
makes its task; an engine that finds the row taken skips that step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from email.utils import formataddr, parseaddr
from typing import Any

from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, rrule
from sqlalchemy import and_, bindparam, case, delete, exists, func, literal, or_, select, true, update
from sqlalchemy.orm import Session

from crm_tui.clock import UTC, get_zone, resolve_now
from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import AuditEvent, Contact, ContactEmail, EmailMessage, EmailTemplate, User
from crm_tui.models.schemas import ContactFilter
from crm_tui.models.sequence import (
    ACTIVE,
    FINISHED,
    STEP_KINDS,
    STOPPED,
    Sequence,
    SequenceEnrollment,
    SequenceSend,
    SequenceStep,
)
from crm_tui.services import permissions, validation as v
from crm_tui.services.common import (
    Actor,
    apply_changes,
    audit,
    audit_rows,
    check_version,
    flush,
    get_or_404,
    lock_names,
    parse_id,
)
from crm_tui.services.paging import Page, SortKey, keyset_page

ENTITY = "sequence"
STEP = "sequence_step"
ENROLLMENT = "sequence_enrollment"
MAX_STEPS = 50
MAX_DELAY = 365
CONTACT_ROWS = 50
BATCH = 500
_WEEKDAYS = (MO, TU, WE, TH, FR)


# --- shapes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Funnel:
    enrolled: int = 0
    active: int = 0
    sent: int = 0  # enrolments with at least one email sent
    replied: int = 0
    stopped: int = 0
    finished: int = 0


@dataclass(frozen=True)
class SequenceRead:
    id: int
    name: str
    description: str
    owner_id: int | None
    owner: str | None  # the owner's login; None: the team's
    window: str  # "09:00-17:00"
    window_start: int
    window_end: int
    daily_cap: int
    archived: bool
    version: int
    steps: int = 0
    funnel: Funnel = field(default_factory=Funnel)

    @property
    def shared(self) -> bool:
        return self.owner_id is None


@dataclass(frozen=True)
class StepRead:
    id: int
    sequence_id: int
    position: int
    kind: str
    delay_days: int
    template_id: int | None
    template: str | None  # the template's name
    task_title: str | None
    version: int

    @property
    def label(self) -> str:
        what = f"email {self.template!r}" if self.kind == "email" else f"task {self.task_title!r}"
        return f"{what} after {self.delay_days} business day{'s' if self.delay_days != 1 else ''}"


@dataclass(frozen=True)
class EnrollResult:
    enrolled: int = 0
    already_active: int = 0
    do_not_email: int = 0  # skipped: the contact asked not to be emailed
    no_email: int = 0  # skipped: the contact has no email address
    archived: int = 0  # skipped: an archived contact


@dataclass(frozen=True)
class EnrollmentRow:
    id: int
    sequence_id: int
    sequence: str
    contact_id: int
    contact: str
    status: str
    stop_reason: str | None
    next_position: int | None  # None once finished or stopped
    next_due_at: datetime | None
    enrolled_at: datetime
    last_step_at: datetime | None
    version: int


@dataclass
class RunCounts:
    """What one engine step did."""

    emails: int = 0  # emails queued in the outbox
    tasks: int = 0
    finished: int = 0
    stopped: dict[str, int] = field(default_factory=dict)  # reason -> enrolments stopped
    deferred: int = 0  # emails moved to the next window opening or past the daily cap
    skipped: int = 0  # steps another engine did first
    errors: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.emails + self.tasks

    def stop(self, reason: str, n: int) -> None:
        if n:
            self.stopped[reason] = self.stopped.get(reason, 0) + n

    def add(self, other: RunCounts) -> None:
        self.emails += other.emails
        self.tasks += other.tasks
        self.finished += other.finished
        self.deferred += other.deferred
        self.skipped += other.skipped
        self.errors += other.errors
        for reason, n in other.stopped.items():
            self.stop(reason, n)

    def summary(self) -> str:
        parts = [f"{self.emails} email(s) queued", f"{self.tasks} task(s) made", f"{self.finished} finished"]
        if self.stopped:
            parts.append("stopped " + ", ".join(f"{n} {reason}" for reason, n in sorted(self.stopped.items())))
        if self.deferred:
            parts.append(f"{self.deferred} waiting for the window or the daily cap")
        if self.skipped:
            parts.append(f"{self.skipped} done elsewhere")
        return "; ".join(parts)


# --- business days and the window --------------------------------------------------------------


def parse_window(text: str) -> tuple[int, int]:
    """"09:00-17:00" -> (540, 1020): minutes after midnight; the end after the start."""
    raw = (text or "").strip()
    try:
        start_text, end_text = (part.strip() for part in raw.split("-"))
        minutes = []
        for part in (start_text, end_text):
            hours, mins = part.split(":")
            h, m = int(hours), int(mins)
            if not (0 <= h <= 24 and 0 <= m < 60) or h * 60 + m > 24 * 60:
                raise ValueError
            minutes.append(h * 60 + m)
    except ValueError:
        raise InvalidInput(f"invalid sending window {text!r}: write it as 09:00-17:00") from None
    if minutes[0] >= minutes[1]:
        raise InvalidInput(f"invalid sending window {text!r}: it must end after it starts")
    return minutes[0], minutes[1]


def format_window(start: int, end: int) -> str:
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def _business_days_after(day: date, n: int) -> date:
    """The n-th business day (Mon-Fri) after `day`."""
    found = rrule(DAILY, dtstart=datetime.combine(day + timedelta(days=1), time()), byweekday=_WEEKDAYS, count=n)
    return found[-1].date()


def add_business_days(when: datetime, days: int, zone: tzinfo) -> datetime:
    """`when` moved on `days` business days (Mon-Fri) in `zone`, at the same time of day; 0: `when`."""
    if days <= 0:
        return when
    local = when.astimezone(zone)
    day = _business_days_after(local.date(), days)
    return _at(day, local.hour * 60 + local.minute, zone).replace(second=local.second)


def _at(day: date, minutes: int, zone: tzinfo) -> datetime:
    clock = time(23, 59, 59) if minutes >= 24 * 60 else time(minutes // 60, minutes % 60)
    return datetime.combine(day, clock).replace(tzinfo=zone).astimezone(UTC)


def window_opening(now: datetime, start: int, end: int, zone: tzinfo) -> datetime:
    """`now` when it is inside the window on a business day; else when the window opens next."""
    local = now.astimezone(zone)
    minutes = local.hour * 60 + local.minute
    if local.weekday() < 5:
        if start <= minutes < end:
            return now
        if minutes < start:
            return _at(local.date(), start, zone)
    return _at(_business_days_after(local.date(), 1), start, zone)


def next_day_opening(now: datetime, start: int, zone: tzinfo) -> datetime:
    """When the window opens on the next business day (over the cap, the rest wait for it)."""
    return _at(_business_days_after(now.astimezone(zone).date(), 1), start, zone)


# --- the sequences -----------------------------------------------------------------------------


def _key(name: str) -> str:
    return v.fold(name)[:100]


def _check_name(session: Session, name: str, *, except_id: int | None = None) -> tuple[str, str]:
    name = v.required_text(name, "sequence name", max_length=100)
    key = _key(name)
    clash = session.scalar(select(Sequence.id).where(Sequence.name_key == key))
    if clash is not None and clash != except_id:
        raise InvalidInput(f"a sequence named {name!r} exists already (#{clash}); choose another name")
    return name, key


def _check_cap(cap: Any) -> int:
    if isinstance(cap, bool) or not isinstance(cap, int):
        try:
            cap = int(str(cap).strip())
        except ValueError:
            raise InvalidInput(f"daily cap must be a whole number, not {cap!r}") from None
    if not 1 <= cap <= 10_000:
        raise InvalidInput("daily cap must be between 1 and 10000 emails a day per sender")
    return cap


def _label(sequence: Sequence) -> str:
    return f"sequence {sequence.name!r}"


def _read(session: Session, sequence: Sequence, *, with_counts: bool = True) -> SequenceRead:
    owner = session.scalar(select(User.login).where(User.id == sequence.owner_id)) if sequence.owner_id else None
    steps = session.scalar(select(func.count()).where(SequenceStep.sequence_id == sequence.id)) or 0
    return SequenceRead(id=sequence.id, name=sequence.name, description=sequence.description,
                        owner_id=sequence.owner_id, owner=owner,
                        window=format_window(sequence.window_start, sequence.window_end),
                        window_start=sequence.window_start, window_end=sequence.window_end,
                        daily_cap=sequence.daily_cap, archived=sequence.archived, version=sequence.version,
                        steps=steps, funnel=funnel(session, sequence.id) if with_counts else Funnel())


def _editable(session: Session, actor: Actor, sequence_id: int) -> Sequence:
    sequence = get_or_404(session, Sequence, sequence_id, ENTITY)
    permissions.require(session, actor, "sequence.edit", owner=sequence.owner_id)
    return sequence


def create_sequence(session: Session, actor: Actor, *, name: str, description: str = "",
                    window: str = "09:00-17:00", daily_cap: int = 50, owner_id: int | None = None,
                    now: datetime | None = None) -> SequenceRead:
    """A new sequence: the team's (owner_id None, which takes the right to edit all sequences) or
    a user's own."""
    now = resolve_now(now)
    permissions.require(session, actor, "sequence.edit", owner=owner_id)
    if owner_id is not None:
        get_or_404(session, User, owner_id, "user")
    name, key = _check_name(session, name)
    start, end = parse_window(window)
    sequence = Sequence(name=name, name_key=key, description=v.clean_text(description or "", multiline=True).strip(),
                        owner_id=owner_id, window_start=start, window_end=end, daily_cap=_check_cap(daily_cap),
                        created_at=now, updated_at=now)
    session.add(sequence)
    flush(session, ENTITY, name)
    audit(session, actor=actor, entity=ENTITY, entity_id=sequence.id, action="create", now=now,
          summary=f"{name} ({'team' if owner_id is None else 'own'}, {format_window(start, end)}, cap {sequence.daily_cap})")
    return _read(session, sequence)


def update_sequence(session: Session, actor: Actor, sequence_id: int, *, version: int | None = None,
                    now: datetime | None = None, **changes: Any) -> SequenceRead:
    """Change a sequence's name, description, window ("09:00-17:00"), daily_cap or owner_id."""
    now = resolve_now(now)
    sequence = _editable(session, actor, sequence_id)
    check_version(session, sequence, version, ENTITY, _label(sequence))
    unknown = set(changes) - {"name", "description", "window", "daily_cap", "owner_id"}
    if unknown:
        raise InvalidInput(f"a sequence has no {', '.join(sorted(unknown))} to change")
    values: dict[str, Any] = {}
    if changes.get("name") is not None:
        values["name"], values["name_key"] = _check_name(session, changes["name"], except_id=sequence.id)
    if changes.get("description") is not None:
        values["description"] = v.clean_text(changes["description"], multiline=True).strip()
    if changes.get("window") is not None:
        values["window_start"], values["window_end"] = parse_window(changes["window"])
    if changes.get("daily_cap") is not None:
        values["daily_cap"] = _check_cap(changes["daily_cap"])
    if "owner_id" in changes and changes["owner_id"] != sequence.owner_id:
        if changes["owner_id"] is not None:
            get_or_404(session, User, changes["owner_id"], "user")
        permissions.require(session, actor, "sequence.edit", owner=changes["owner_id"])
        values["owner_id"] = changes["owner_id"]
    changed = apply_changes(sequence, values)
    changed.pop("name_key", None)
    if changed:
        sequence.updated_at = now
        flush(session, ENTITY, _label(sequence))
        audit(session, actor=actor, entity=ENTITY, entity_id=sequence.id, action="update", changes=changed, now=now)
    return _read(session, sequence)


def archive_sequence(session: Session, actor: Actor, sequence_id: int, *, version: int | None = None,
                     now: datetime | None = None) -> SequenceRead:
    """Archive a sequence: no one new enrols, and its active enrolments stop ("archived")."""
    now = resolve_now(now)
    sequence = _editable(session, actor, sequence_id)
    check_version(session, sequence, version, ENTITY, _label(sequence))
    if not sequence.archived:
        sequence.archived = True
        sequence.updated_at = now
        flush(session, ENTITY, _label(sequence))
        audit(session, actor=actor, entity=ENTITY, entity_id=sequence.id, action="archive", summary=sequence.name,
              now=now)
        _stop_where(session, [SequenceEnrollment.sequence_id == sequence.id], "archived", actor=actor, now=now)
    return _read(session, sequence)


def unarchive_sequence(session: Session, actor: Actor, sequence_id: int, *, version: int | None = None,
                       now: datetime | None = None) -> SequenceRead:
    now = resolve_now(now)
    sequence = _editable(session, actor, sequence_id)
    check_version(session, sequence, version, ENTITY, _label(sequence))
    if sequence.archived:
        sequence.archived = False
        sequence.updated_at = now
        flush(session, ENTITY, _label(sequence))
        audit(session, actor=actor, entity=ENTITY, entity_id=sequence.id, action="unarchive", summary=sequence.name,
              now=now)
    return _read(session, sequence)


def _find(session: Session, ref: str | int) -> Sequence:
    text = str(ref).strip()
    id_ = parse_id(text.lstrip("#"))
    if id_ is not None:
        found = session.get(Sequence, id_) if id_ < 2**31 else None
        if found is not None:
            return found
    found_id = session.scalar(select(Sequence.id).where(Sequence.name_key == _key(text)))
    if found_id is None:
        raise NotFound(f"no sequence {text!r}", see="crm sequence list")
    return session.get(Sequence, found_id)


def get_sequence(session: Session, actor: Actor, ref: str | int) -> SequenceRead:
    """A sequence by id or by name (any case and spacing), with its funnel."""
    return _read(session, _find(session, ref))


def _funnel_subqueries():
    e = SequenceEnrollment
    counts = (select(e.sequence_id.label("sequence_id"), func.count().label("enrolled"),
                     func.sum(case((e.status == ACTIVE, 1), else_=0)).label("active"),
                     func.sum(case((e.status == STOPPED, 1), else_=0)).label("stopped"),
                     func.sum(case((e.status == FINISHED, 1), else_=0)).label("finished"),
                     func.sum(case((e.stop_reason == "replied", 1), else_=0)).label("replied"))
              .group_by(e.sequence_id).subquery("counts"))
    sent = (select(SequenceStep.sequence_id.label("sequence_id"),
                   func.count(func.distinct(SequenceSend.enrollment_id)).label("sent"))
            .join(SequenceStep, SequenceStep.id == SequenceSend.step_id)
            .where(SequenceSend.kind == "email").group_by(SequenceStep.sequence_id).subquery("sent"))
    steps = (select(SequenceStep.sequence_id.label("sequence_id"), func.count().label("steps"))
             .group_by(SequenceStep.sequence_id).subquery("steps"))
    return counts, sent, steps


def _funnel_of(row) -> Funnel:
    return Funnel(enrolled=int(row.enrolled or 0), active=int(row.active or 0), sent=int(row.sent or 0),
                  replied=int(row.replied or 0), stopped=int(row.stopped or 0), finished=int(row.finished or 0))


def list_sequences(session: Session, actor: Actor, *, include_archived: bool = False,
                   limit: int = 500) -> list[SequenceRead]:
    """The sequences by name, each with its steps and funnel counted in the same grouped query."""
    counts, sent, steps = _funnel_subqueries()
    owner = User.__table__.alias("owner")
    stmt = (select(Sequence, owner.c.login.label("owner_login"), counts.c.enrolled, counts.c.active,
                   counts.c.stopped, counts.c.finished, counts.c.replied, sent.c.sent, steps.c.steps)
            .outerjoin(owner, owner.c.id == Sequence.owner_id)
            .outerjoin(counts, counts.c.sequence_id == Sequence.id)
            .outerjoin(sent, sent.c.sequence_id == Sequence.id)
            .outerjoin(steps, steps.c.sequence_id == Sequence.id))
    if not include_archived:
        stmt = stmt.where(Sequence.archived.is_(False))
    rows = session.execute(stmt.order_by(Sequence.name_key, Sequence.id).limit(limit)).all()
    return [SequenceRead(id=s.id, name=s.name, description=s.description, owner_id=s.owner_id, owner=r.owner_login,
                         window=format_window(s.window_start, s.window_end), window_start=s.window_start,
                         window_end=s.window_end, daily_cap=s.daily_cap, archived=s.archived, version=s.version,
                         steps=int(r.steps or 0), funnel=_funnel_of(r))
            for r in rows for s in (r[0],)]


def funnel(session: Session, sequence_id: int) -> Funnel:
    """A sequence's funnel: enrolled, active, sent (with at least one email), replied, stopped, finished."""
    e = SequenceEnrollment
    row = session.execute(
        select(func.count().label("enrolled"),
               func.sum(case((e.status == ACTIVE, 1), else_=0)).label("active"),
               func.sum(case((e.status == STOPPED, 1), else_=0)).label("stopped"),
               func.sum(case((e.status == FINISHED, 1), else_=0)).label("finished"),
               func.sum(case((e.stop_reason == "replied", 1), else_=0)).label("replied"),
               select(func.count(func.distinct(SequenceSend.enrollment_id)))
               .join(SequenceStep, SequenceStep.id == SequenceSend.step_id)
               .where(SequenceStep.sequence_id == sequence_id, SequenceSend.kind == "email")
               .scalar_subquery().label("sent"))
        .where(e.sequence_id == sequence_id)).one()
    return _funnel_of(row)


# --- steps -------------------------------------------------------------------------------------


def _template_id(session: Session, actor: Actor, template: int | str | None) -> int:
    from crm_tui.services import email_templates

    if template is None or (isinstance(template, str) and not template.strip()):
        raise InvalidInput("an email step needs a template (--email TEMPLATE)")
    found = email_templates.find_template(session, ref=str(template), actor=actor)
    if found.archived:
        raise InvalidInput(f"template {found.name!r} is archived; unarchive it or choose another")
    return found.id


def _check_delay(delay: Any) -> int:
    try:
        delay = int(delay)
    except (TypeError, ValueError):
        raise InvalidInput(f"delay must be a whole number of business days, not {delay!r}") from None
    if not 0 <= delay <= MAX_DELAY:
        raise InvalidInput(f"delay must be between 0 and {MAX_DELAY} business days")
    return delay


def _step_values(session: Session, actor: Actor, kind: str, template: Any, task_title: str | None) -> dict:
    kind = (kind or "").strip().lower()
    if kind not in STEP_KINDS:
        raise InvalidInput(f"invalid step kind {kind!r}: choose email or task")
    if kind == "email":
        if task_title:
            raise InvalidInput("an email step has a template, not a task title")
        return {"kind": kind, "template_id": _template_id(session, actor, template), "task_title": None}
    if template not in (None, ""):
        raise InvalidInput("a task step has a title, not a template")
    return {"kind": kind, "template_id": None, "task_title": v.required_text(task_title, "task title", max_length=200)}


def _step_read(session: Session, step: SequenceStep) -> StepRead:
    name = session.scalar(select(EmailTemplate.name).where(EmailTemplate.id == step.template_id)) \
        if step.template_id else None
    return StepRead(step.id, step.sequence_id, step.position, step.kind, step.delay_days, step.template_id, name,
                    step.task_title, step.version)


def steps(session: Session, sequence_id: int) -> list[StepRead]:
    """A sequence's steps in order."""
    rows = session.execute(select(SequenceStep, EmailTemplate.name)
                           .outerjoin(EmailTemplate, EmailTemplate.id == SequenceStep.template_id)
                           .where(SequenceStep.sequence_id == sequence_id)
                           .order_by(SequenceStep.position).limit(MAX_STEPS)).all()
    return [StepRead(s.id, s.sequence_id, s.position, s.kind, s.delay_days, s.template_id, name, s.task_title,
                     s.version) for s, name in rows]


def _shift(session: Session, sequence_id: int, from_position: int, by: int) -> None:
    """Move the steps at `from_position` and after by `by` (through negative positions, so the
    unique (sequence, position) holds row by row on PostgreSQL too), and the active enrolments
    past them with them, so each still waits for the same step."""
    cond = [SequenceStep.sequence_id == sequence_id, SequenceStep.position >= from_position]
    session.execute(update(SequenceStep).where(*cond).values(position=-SequenceStep.position)
                    .execution_options(synchronize_session=False))
    session.execute(update(SequenceStep).where(SequenceStep.sequence_id == sequence_id, SequenceStep.position < 0)
                    .values(position=-SequenceStep.position + by, version=SequenceStep.version + 1)
                    .execution_options(synchronize_session=False))
    e = SequenceEnrollment
    past = e.next_position > from_position if by > 0 else e.next_position > from_position - 1
    session.execute(update(e).where(e.sequence_id == sequence_id, e.status == ACTIVE, past)
                    .values(next_position=e.next_position + by, version=e.version + 1)
                    .execution_options(synchronize_session=False))
    session.expire_all()


def add_step(session: Session, actor: Actor, sequence_id: int, *, kind: str, delay_days: int,
             template: int | str | None = None, task_title: str | None = None, position: int | None = None,
             now: datetime | None = None) -> StepRead:
    """A step: an email from a template or a task, `delay_days` business days after the step
    before it (after enrolment, for the first); at the end unless `position` is given."""
    now = resolve_now(now)
    sequence = _editable(session, actor, sequence_id)
    values = _step_values(session, actor, kind, template, task_title)
    delay = _check_delay(delay_days)
    count = session.scalar(select(func.count()).where(SequenceStep.sequence_id == sequence.id)) or 0
    if count >= MAX_STEPS:
        raise InvalidInput(f"a sequence has at most {MAX_STEPS} steps")
    if position is None:
        position = count + 1
    elif not 1 <= position <= count + 1:
        raise InvalidInput(f"position must be between 1 and {count + 1}")
    else:
        _shift(session, sequence.id, position, 1)
    step = SequenceStep(sequence_id=sequence.id, position=position, delay_days=delay, created_at=now,
                        updated_at=now, **values)
    session.add(step)
    flush(session, STEP, f"step {position} of {_label(sequence)}")
    audit(session, actor=actor, entity=STEP, entity_id=step.id, action="create", now=now,
          summary=f"{sequence.name} #{position}: {_step_read(session, step).label}")
    return _step_read(session, step)


def _step(session: Session, sequence_id: int, step_id: int) -> SequenceStep:
    step = get_or_404(session, SequenceStep, step_id, "step")
    if step.sequence_id != sequence_id:
        raise NotFound(f"no step with id {step_id} in this sequence")
    return step


def edit_step(session: Session, actor: Actor, sequence_id: int, step_id: int, *, version: int | None = None,
              delay_days: int | None = None, template: int | str | None = None, task_title: str | None = None,
              kind: str | None = None, now: datetime | None = None) -> StepRead:
    """Change a step's delay, template, task title or kind. A new delay applies to enrolments
    from the step before it done next (those waiting already keep their time)."""
    now = resolve_now(now)
    sequence = _editable(session, actor, sequence_id)
    step = _step(session, sequence.id, step_id)
    check_version(session, step, version, STEP, f"step {step.position} of {_label(sequence)}")
    values: dict[str, Any] = {}
    new_kind = kind or step.kind
    if kind is not None or template is not None or task_title is not None:
        values.update(_step_values(session, actor, new_kind,
                                   template if template is not None else (step.template_id if new_kind == "email" else None),
                                   task_title if task_title is not None else (step.task_title if new_kind == "task" else None)))
    if delay_days is not None:
        values["delay_days"] = _check_delay(delay_days)
    changed = apply_changes(step, values)
    if changed:
        step.updated_at = now
        flush(session, STEP, f"step {step.position} of {_label(sequence)}")
        audit(session, actor=actor, entity=STEP, entity_id=step.id, action="update", changes=changed, now=now)
    return _step_read(session, step)


def remove_step(session: Session, actor: Actor, sequence_id: int, step_id: int, *, version: int | None = None,
                now: datetime | None = None) -> None:
    """Remove a step; the steps after it move up, and enrolments waiting for it go on to the next."""
    now = resolve_now(now)
    sequence = _editable(session, actor, sequence_id)
    step = _step(session, sequence.id, step_id)
    check_version(session, step, version, STEP, f"step {step.position} of {_label(sequence)}")
    position = step.position
    audit(session, actor=actor, entity=STEP, entity_id=step.id, action="delete", now=now,
          summary=f"{sequence.name} #{position}: {_step_read(session, step).label}")
    session.delete(step)
    flush(session, STEP, f"step {position} of {_label(sequence)}")
    _shift(session, sequence.id, position + 1, -1)


# --- enrolling ---------------------------------------------------------------------------------


def _contact_view_conditions(session: Session, actor: Actor, view: Any, now: datetime) -> list:
    """The conditions of a smart list: a built-in one ("New leads") or a saved contact list, by
    name or id (or the view itself)."""
    from crm_tui.services import contacts, views
    from crm_tui.services.common import parse_shape

    if isinstance(view, str):
        text = view.strip().lower()
        found = next((b for b in views.BUILTIN_CONTACT_VIEWS if b.name.lower() == text), None)
        view = found or views.find_view(session, name=view, actor=actor, entity="contact")
    filters = parse_shape(ContactFilter, views.resolve_filters(view.filters, actor))
    return contacts.filter_conditions(session, view.query or None, filters, now)


def enroll(session: Session, actor: Actor, sequence_id: int, *, contact_ids: Iterable[int] | None = None,
           view: Any = None, sender_id: int | None = None, now: datetime | None = None,
           zone: tzinfo | None = None) -> EnrollResult:
    """Enrol contacts (given, or a smart list's) set-based: one INSERT ... SELECT that skips a
    contact already active in the sequence, one who asked not to be emailed, and one without an
    email address. Their emails go from `sender_id` (else the actor)."""
    now = resolve_now(now)
    permissions.require(session, actor, "activity.log")
    sequence = get_or_404(session, Sequence, sequence_id, ENTITY)
    if sequence.archived:
        raise InvalidInput(f"{_label(sequence)} is archived; unarchive it to enrol contacts")
    if (contact_ids is None) == (view is None):
        raise InvalidInput("enrol either contacts or a list, one of them")
    first = session.scalar(select(SequenceStep).where(SequenceStep.sequence_id == sequence.id)
                           .order_by(SequenceStep.position).limit(1))
    if first is None:
        raise InvalidInput(f"{_label(sequence)} has no steps yet; add one first", see="crm sequence step add")
    sender = sender_id if sender_id is not None else actor.user_id
    if sender is not None:
        get_or_404(session, User, sender, "user")
    if contact_ids is not None:
        ids = sorted({int(i) for i in contact_ids})
        if not ids:
            raise InvalidInput("no contacts to enrol")
        known = session.scalar(select(func.count()).where(Contact.id.in_(ids)))
        if known != len(ids):
            missing = sorted(set(ids) - set(session.scalars(select(Contact.id).where(Contact.id.in_(ids)))))
            raise NotFound(f"no contact with id {', '.join(map(str, missing[:5]))}")
        conditions = [Contact.id.in_(ids)]
    else:
        conditions = _contact_view_conditions(session, actor, view, now)
    zone = zone or get_zone(actor.team_timezone or "UTC")
    has_email = and_(Contact.email.is_not(None), Contact.email != "")
    counts = session.execute(select(
        func.sum(case((Contact.archived.is_(True), 1), else_=0)),
        func.sum(case((and_(Contact.archived.is_(False), Contact.do_not_email.is_(True)), 1), else_=0)),
        func.sum(case((and_(Contact.archived.is_(False), Contact.do_not_email.is_(False), ~has_email), 1), else_=0)),
        func.sum(case((and_(Contact.archived.is_(False), Contact.do_not_email.is_(False), has_email), 1), else_=0)),
    ).where(*conditions)).one()
    archived, dne, no_email, eligible = (int(x or 0) for x in counts)
    enrolled = 0
    if eligible:
        e = SequenceEnrollment.__table__
        due = add_business_days(now, first.delay_days, zone)
        rows = select(literal(1), literal(now, e.c.created_at.type), literal(now, e.c.updated_at.type),
                      literal(sequence.id), Contact.id, literal(ACTIVE), literal(1), literal(due, e.c.next_due_at.type),
                      literal(sender, e.c.sender_id.type), literal(actor.user_id, e.c.enrolled_by.type),
                      literal(now, e.c.enrolled_at.type)) \
            .where(*conditions, Contact.archived.is_(False), Contact.do_not_email.is_(False), has_email)
        stmt = _dialect_insert(session, e).from_select(
            ["version", "created_at", "updated_at", "sequence_id", "contact_id", "status", "next_position",
             "next_due_at", "sender_id", "enrolled_by", "enrolled_at"], rows).on_conflict_do_nothing()
        # the rows made (a driver's rowcount after ON CONFLICT is not reliable)
        enrolled = len(session.execute(stmt.returning(e.c.id)).all())
    if enrolled:
        audit(session, actor=actor, entity=ENTITY, entity_id=sequence.id, action="enroll", now=now,
              summary=f"{enrolled} contact(s) enrolled in {sequence.name}")
    return EnrollResult(enrolled=enrolled, already_active=eligible - enrolled, do_not_email=dne, no_email=no_email,
                        archived=archived)


def _dialect_insert(session: Session, table):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


# --- stopping ----------------------------------------------------------------------------------


def _stop_where(session: Session, conditions: list, reason: str, *, actor: Actor, now: datetime) -> int:
    """Stop the active enrolments that match, in one UPDATE, and audit each."""
    e = SequenceEnrollment
    stopped = session.execute(
        update(e).where(e.status == ACTIVE, *conditions)
        .values(status=STOPPED, stop_reason=reason, stopped_at=now, stopped_by=actor.user_id, next_due_at=None,
                updated_at=now, version=e.version + 1)
        .returning(e.id).execution_options(synchronize_session=False)).scalars().all()
    if stopped:
        session.execute(AuditEvent.__table__.insert(), audit_rows(
            actor=actor, now=now, events=[(ENROLLMENT, i, "stop", {"status": (ACTIVE, f"{STOPPED}: {reason}")})
                                          for i in stopped]))
    return len(stopped)


def stop(session: Session, actor: Actor, enrollment_id: int, reason: str = "manual",
         now: datetime | None = None) -> EnrollmentRow:
    """A person stops one contact's enrolment."""
    now = resolve_now(now)
    permissions.require(session, actor, "activity.log")
    enrollment = get_or_404(session, SequenceEnrollment, enrollment_id, "enrolment")
    if enrollment.status != ACTIVE:
        raise InvalidInput(f"this enrolment is {enrollment.status} already")
    _stop_where(session, [SequenceEnrollment.id == enrollment.id], reason, actor=actor, now=now)
    session.expire(enrollment)
    return _enrollment_rows(session, [SequenceEnrollment.id == enrollment.id], limit=1)[0]


def stop_for_contacts(session: Session, contact_ids: Iterable[int], reason: str, *, actor: Actor | None = None,
                      now: datetime | None = None) -> int:
    """Stop every active enrolment of these contacts (a hook: a deal won or lost, an unsubscribe)."""
    ids = sorted({int(i) for i in contact_ids if i is not None})
    if not ids:
        return 0
    now = resolve_now(now)
    if not session.scalar(select(exists().where(SequenceEnrollment.status == ACTIVE,
                                                SequenceEnrollment.contact_id.in_(ids)))):
        return 0
    return _stop_where(session, [SequenceEnrollment.contact_id.in_(ids)], reason,
                       actor=actor or _engine_actor("stops"), now=now)


def unsubscribe(session: Session, actor: Actor, contact_id: int, *, now: datetime | None = None) -> int:
    """The contact asked for no more mail: marked "do not email" (an audited contact edit) and
    every active enrolment of theirs stopped ("unsubscribed"). Returns how many stopped."""
    now = resolve_now(now)
    contact = get_or_404(session, Contact, contact_id, "contact")
    permissions.require(session, actor, "contact.edit", owner=contact.owner_id)
    if not contact.do_not_email:
        contact.do_not_email = True
        contact.updated_at = now
        flush(session, "contact", contact.full_name or f"contact #{contact.id}")
        audit(session, actor=actor, entity="contact", entity_id=contact.id, action="update",
              changes={"do_not_email": (False, True)}, now=now)
    return _stop_where(session, [SequenceEnrollment.contact_id == contact.id], "unsubscribed", actor=actor, now=now)


def stop_for_replies(session: Session, *, email_ids: Iterable[int], now: datetime | None = None) -> int:
    """After mail capture stored a batch: stop the enrolments whose contact replied, by threading
    (In-Reply-To or References naming an email a sequence sent) or by mail from the contact's
    address after the enrolment's last step. Set-based: a few queries per batch."""
    ids = list(email_ids)
    if not ids:
        return 0
    inbound = session.execute(select(EmailMessage.in_reply_to, EmailMessage.references, EmailMessage.from_addr,
                                     EmailMessage.sent_at)
                              .where(EmailMessage.id.in_(ids), EmailMessage.direction == "in")).all()
    if not inbound or not session.scalar(select(exists().where(SequenceEnrollment.status == ACTIVE))):
        return 0
    now = resolve_now(now)
    refs: set[str] = set()
    latest: dict[str, datetime] = {}
    for m in inbound:
        refs.update(x for x in [m.in_reply_to, *(m.references or "").split()] if x)
        address = parseaddr(m.from_addr or "")[1].strip().lower()
        if address:
            latest[address] = max(m.sent_at, latest.get(address, m.sent_at))
    e = SequenceEnrollment
    replied: set[int] = set()
    if refs:
        replied.update(session.scalars(
            select(SequenceSend.enrollment_id).join(EmailMessage, EmailMessage.id == SequenceSend.email_id)
            .join(e, e.id == SequenceSend.enrollment_id)
            .where(EmailMessage.message_id.in_(sorted(refs)[:5000]), e.status == ACTIVE)))
    if latest:
        for enrollment_id, address, last in session.execute(
                select(e.id, ContactEmail.email, e.last_step_at).join(ContactEmail, ContactEmail.contact_id == e.contact_id)
                .where(ContactEmail.email.in_(sorted(latest)), e.status == ACTIVE, e.last_step_at.is_not(None))):
            if latest[address] > last:
                replied.add(enrollment_id)
    if not replied:
        return 0
    return _stop_where(session, [e.id.in_(sorted(replied))], "replied", actor=_engine_actor("replies"), now=now)


# --- reading enrolments ------------------------------------------------------------------------


def _enrollment_stmt():
    e = SequenceEnrollment
    return (select(e.id, e.sequence_id, Sequence.name.label("sequence"), e.contact_id,
                   Contact.full_name.label("contact"), e.status, e.stop_reason, e.next_position, e.next_due_at,
                   e.enrolled_at, e.last_step_at, e.version)
            .join(Sequence, Sequence.id == e.sequence_id).join(Contact, Contact.id == e.contact_id))


def _row(r) -> EnrollmentRow:
    return EnrollmentRow(r.id, r.sequence_id, r.sequence, r.contact_id, r.contact, r.status, r.stop_reason,
                         r.next_position if r.status == ACTIVE else None, r.next_due_at, r.enrolled_at,
                         r.last_step_at, r.version)


def _enrollment_rows(session: Session, conditions: list, *, limit: int) -> list[EnrollmentRow]:
    rows = session.execute(_enrollment_stmt().where(*conditions)
                           .order_by(SequenceEnrollment.enrolled_at.desc(), SequenceEnrollment.id.desc())
                           .limit(limit)).all()
    return [_row(r) for r in rows]


def enrollments_page(session: Session, actor: Actor, sequence_id: int, *, status: str | None = None,
                     after: str | None = None, limit: int = 50) -> Page[EnrollmentRow]:
    """One page of a sequence's enrolments, in the order they were enrolled (keyset on id)."""
    get_or_404(session, Sequence, sequence_id, ENTITY)
    e = SequenceEnrollment
    stmt = _enrollment_stmt().where(e.sequence_id == sequence_id)
    if status is not None:
        if status not in (ACTIVE, STOPPED, FINISHED):
            raise InvalidInput(f"invalid status {status!r}: choose active, stopped or finished")
        stmt = stmt.where(e.status == status)
    rows, next_, prev_ = keyset_page(session, stmt, SortKey(e.id, e.id), row_key=lambda r: (r.id, r.id),
                                     after=after, limit=limit)
    return Page([_row(r) for r in rows], next_, prev_)


def contact_sequences(session: Session, actor: Actor, contact_id: int, *,
                      limit: int = CONTACT_ROWS) -> list[EnrollmentRow]:
    """A contact's enrolments, the latest first (at most `limit`)."""
    get_or_404(session, Contact, contact_id, "contact")
    return _enrollment_rows(session, [SequenceEnrollment.contact_id == contact_id], limit=limit)


def active_enrollment(session: Session, sequence_id: int, contact_id: int) -> EnrollmentRow:
    rows = _enrollment_rows(session, [SequenceEnrollment.sequence_id == sequence_id,
                                      SequenceEnrollment.contact_id == contact_id,
                                      SequenceEnrollment.status == ACTIVE], limit=1)
    if not rows:
        raise NotFound("that contact is not active in this sequence")
    return rows[0]


# --- the engine --------------------------------------------------------------------------------


def _engine_actor(name: str) -> Actor:
    """Who the audit trail says did the engine's changes: system:sequence/<name>."""
    return Actor(user_id=None, login=f"system:sequence/{name}"[:100], role="admin")


def due_count(session: Session, *, now: datetime) -> int:
    e = SequenceEnrollment
    return session.scalar(select(func.count()).where(e.status == ACTIVE, e.next_due_at <= now)) or 0


def run_due(session: Session, *, now: datetime, limit: int = BATCH, zone: tzinfo | None = None,
            email: bool = True, sender_addr: str | None = None) -> RunCounts:
    """Do the due steps, up to `limit` of them, in the caller's transaction.

    Set-based: the stops (do not email, no address, no step left) are UPDATEs; the due rows come
    in one query; outside its window a sequence's due emails move to the window's opening, and
    past a sender's daily cap to the next business day's, in one UPDATE each; the steps are
    claimed in one INSERT that ignores the (enrolment, step) rows another engine took. Each
    claimed email is filled from its template and queued in the outbox (sent after commit), each
    task made for the sender. `email` False (no SMTP) leaves email steps waiting. `sender_addr`:
    the From of a sender with no address of their own (the [smtp] sender)."""
    now = resolve_now(now)
    zone = zone or UTC
    counts = RunCounts()
    e, st = SequenceEnrollment, SequenceStep
    due = [e.status == ACTIVE, e.next_due_at <= now]
    if not session.scalar(select(exists().where(*due))):
        return counts
    system = _engine_actor("engine")
    # contacts who may not or cannot be emailed; and enrolments past their last step
    counts.stop("do_not_email", _stop_where(
        session, [*due[1:], e.contact_id.in_(select(Contact.id).where(Contact.do_not_email.is_(True)))],
        "do_not_email", actor=system, now=now))
    next_step = select(st.kind).where(st.sequence_id == e.sequence_id, st.position == e.next_position) \
        .scalar_subquery()
    counts.stop("no_email", _stop_where(
        session, [*due[1:], next_step == "email",
                  e.contact_id.in_(select(Contact.id).where(or_(Contact.email.is_(None), Contact.email == "")))],
        "no_email", actor=system, now=now))
    counts.finished += _finish_where(session, [*due, ~exists().where(st.sequence_id == e.sequence_id,
                                                                     st.position >= e.next_position)], now)
    kinds = ["email", "task"] if email else ["task"]
    stmt = (select(e.id, e.sequence_id, e.contact_id, e.sender_id, e.next_position, st.id.label("step_id"),
                   st.kind, st.template_id, st.task_title, Sequence.name, Sequence.window_start,
                   Sequence.window_end, Sequence.daily_cap)
            .join(st, and_(st.sequence_id == e.sequence_id, st.position == e.next_position))
            .join(Sequence, Sequence.id == e.sequence_id)
            .where(*due, st.kind.in_(kinds))
            .order_by(e.next_due_at, e.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":  # concurrent engines share the work
        stmt = stmt.with_for_update(skip_locked=True, of=e)
    rows = session.execute(stmt).all()
    rows = _hold_emails(session, rows, now, zone, counts)
    if not rows:
        return counts
    claimed = _claim(session, rows, now, zone)
    counts.skipped += len(rows) - len(claimed)
    rows = [r for r in rows if r.id in claimed]
    _do_steps(session, rows, claimed, now, zone, counts, sender_addr)
    return counts


def _finish_where(session: Session, conditions: list, now: datetime) -> int:
    e = SequenceEnrollment
    done = session.execute(update(e).where(*conditions)
                           .values(status=FINISHED, next_due_at=None, updated_at=now, version=e.version + 1)
                           .returning(e.id).execution_options(synchronize_session=False)).scalars().all()
    if done:
        session.execute(AuditEvent.__table__.insert(), audit_rows(
            actor=_engine_actor("engine"), now=now,
            events=[(ENROLLMENT, i, "finish", {"status": (ACTIVE, FINISHED)}) for i in done]))
    return len(done)


def _hold_emails(session: Session, rows: list, now: datetime, zone: tzinfo, counts: RunCounts) -> list:
    """The rows to do now: emails outside their sequence's window move to its opening, and those
    past a sender's daily cap to the next business day's opening (one UPDATE per sequence or
    sequence and sender, covering its due emails beyond this batch too)."""
    e, st = SequenceEnrollment, SequenceStep
    emails = [r for r in rows if r.kind == "email"]
    if not emails:
        return rows
    email_due = [e.status == ACTIVE, e.next_due_at <= now,
                 e.next_position.in_(select(st.position).where(st.sequence_id == e.sequence_id, st.kind == "email"))]
    held: set[int] = set()
    closed = {}
    for r in emails:
        opening = window_opening(now, r.window_start, r.window_end, zone)
        if opening > now:
            closed[r.sequence_id] = opening
    for sequence_id, opening in closed.items():
        counts.deferred += _defer(session, [*email_due, e.sequence_id == sequence_id], opening, now)
        held.update(r.id for r in emails if r.sequence_id == sequence_id)
    open_rows = [r for r in emails if r.id not in held]
    if open_rows:
        today = now.astimezone(zone).date()
        groups = sorted({(r.sequence_id, r.sender_id) for r in open_rows}, key=lambda k: (k[0], k[1] or 0))
        lock_names(session, *(f"sequence-cap:{s}:{u}:{today}" for s, u in groups))
        sent = {(s, u): n for s, u, n in session.execute(
            select(st.sequence_id, SequenceSend.sender_id, func.count())
            .join(st, st.id == SequenceSend.step_id)
            .where(SequenceSend.sent_on == today, SequenceSend.kind == "email",
                   st.sequence_id.in_({s for s, _ in groups}))
            .group_by(st.sequence_id, SequenceSend.sender_id))}
        for r in open_rows:
            key = (r.sequence_id, r.sender_id)
            if sent.get(key, 0) >= r.daily_cap:
                held.add(r.id)
                continue
            sent[key] = sent.get(key, 0) + 1
        over = {(r.sequence_id, r.sender_id, r.window_start) for r in open_rows if r.id in held}
        for sequence_id, sender_id, start in over:
            sender_cond = e.sender_id.is_(None) if sender_id is None else e.sender_id == sender_id
            kept = [r.id for r in open_rows if r.id not in held and (r.sequence_id, r.sender_id) ==
                    (sequence_id, sender_id)]
            counts.deferred += _defer(session, [*email_due, e.sequence_id == sequence_id, sender_cond,
                                                e.id.not_in(kept) if kept else true()],
                                      next_day_opening(now, start, zone), now)
    return [r for r in rows if r.id not in held]


def _defer(session: Session, conditions: list, until: datetime, now: datetime) -> int:
    e = SequenceEnrollment
    return session.execute(update(e).where(*conditions).values(next_due_at=until, updated_at=now,
                                                               version=e.version + 1)
                           .execution_options(synchronize_session=False)).rowcount or 0


def _claim(session: Session, rows: list, now: datetime, zone: tzinfo) -> dict[int, int]:
    """{enrolment id: send id} of the steps this transaction now owns (one INSERT for the batch)."""
    today = now.astimezone(zone).date()
    values = [{"enrollment_id": r.id, "step_id": r.step_id, "contact_id": r.contact_id, "sender_id": r.sender_id,
               "kind": r.kind, "sent_at": now, "sent_on": today} for r in rows]
    claimed: dict[int, int] = {}
    for start in range(0, len(values), 500):
        stmt = _dialect_insert(session, SequenceSend.__table__).values(values[start:start + 500]) \
            .on_conflict_do_nothing(index_elements=["enrollment_id", "step_id"]) \
            .returning(SequenceSend.__table__.c.enrollment_id, SequenceSend.__table__.c.id)
        claimed.update(dict(session.execute(stmt).all()))
    return claimed


def _do_steps(session: Session, rows: list, claimed: dict[int, int], now: datetime, zone: tzinfo,
              counts: RunCounts, sender_addr: str | None) -> None:
    from crm_tui.services import email_templates, mail_send, tasks

    templates = {t.id: t for t in session.scalars(
        select(EmailTemplate).where(EmailTemplate.id.in_({r.template_id for r in rows if r.template_id})))}
    senders = {u.id: u for u in session.scalars(select(User).where(User.id.in_({r.sender_id for r in rows
                                                                                  if r.sender_id})))}
    delays = {(s.sequence_id, s.position): s.delay_days for s in session.execute(
        select(SequenceStep.sequence_id, SequenceStep.position, SequenceStep.delay_days)
        .where(SequenceStep.sequence_id.in_({r.sequence_id for r in rows})))}
    addresses = dict(session.execute(select(Contact.id, Contact.email)
                                     .where(Contact.id.in_({r.contact_id for r in rows})))) if rows else {}
    done, failed, links = [], [], []
    for r in rows:
        actor = _engine_actor(r.name)
        user = senders.get(r.sender_id)
        try:
            if r.kind == "email":
                template = templates[r.template_id]
                me = Actor(user_id=r.sender_id, login=user.login if user else actor.login, role="admin")
                filled = email_templates.render(session, subject=template.subject, body=template.body, actor=me,
                                                contact_id=r.contact_id)
                from_addr = formataddr((user.name or user.login, user.email)) if user and user.email else None
                queued = mail_send.send(
                    session, draft=mail_send.Draft(to=[addresses[r.contact_id]], subject=filled.subject,
                                                   body=filled.body, contact_id=r.contact_id,
                                                   template_id=template.id),
                    actor=actor, now=now, source="workflow", rule=f"sequence {r.name}", from_addr=from_addr,
                    id_from=sender_addr, outcome=f"sent by sequence {r.name}"[:100])
                links.append({"send": claimed[r.id], "email": queued.email_id, "task": None})
                counts.emails += 1
            else:
                task = tasks.create_task(session, data={"title": r.task_title, "due_at": now,
                                                        "assignee_id": r.sender_id, "contact_id": r.contact_id,
                                                        "origin": "rule", "rule_name": f"sequence {r.name}"[:100]},
                                         actor=actor, now=now)
                links.append({"send": claimed[r.id], "email": None, "task": task.id})
                counts.tasks += 1
            done.append(r)
        except InvalidInput as exc:  # a merge field with no value, a bad address: this contact stops
            failed.append(r)
            counts.errors.append(f"{r.name}: contact #{r.contact_id}: {exc.message}")
    table = SequenceSend.__table__
    if links:
        session.execute(update(table).where(table.c.id == bindparam("send"))
                        .values(email_id=bindparam("email"), task_id=bindparam("task")), links)
    if failed:
        session.execute(delete(table).where(table.c.id.in_([claimed[r.id] for r in failed])))
        counts.stop("failed", _stop_where(session, [SequenceEnrollment.id.in_([r.id for r in failed])], "failed",
                                          actor=_engine_actor("engine"), now=now))
    _advance(session, done, delays, now, zone, counts)


def _advance(session: Session, rows: list, delays: dict, now: datetime, zone: tzinfo, counts: RunCounts) -> None:
    """Each enrolment on to its next step (due after that step's delay in business days), or finished."""
    e = SequenceEnrollment.__table__
    moves, finished = [], []
    due_after: dict[int, datetime] = {}
    for r in rows:
        following = delays.get((r.sequence_id, r.next_position + 1))
        if following is None:
            finished.append(r.id)
            continue
        if following not in due_after:
            due_after[following] = add_business_days(now, following, zone)
        moves.append({"eid": r.id, "pos": r.next_position, "due": due_after[following]})
    if moves:
        session.execute(update(e).where(e.c.id == bindparam("eid"), e.c.status == ACTIVE,
                                        e.c.next_position == bindparam("pos"))
                        .values(next_position=e.c.next_position + 1, next_due_at=bindparam("due"), last_step_at=now,
                                updated_at=now, version=e.c.version + 1), moves)
    if finished:
        session.execute(update(e).where(e.c.id.in_(finished)).values(last_step_at=now))
        counts.finished += _finish_where(session, [SequenceEnrollment.id.in_(finished),
                                                   SequenceEnrollment.status == ACTIVE], now)
