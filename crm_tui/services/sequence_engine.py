"""The sequences' engine step (issue 21): `run_due` does each due step exactly once, in business
days, inside the sending window and under the daily cap, set-based. Called by the workflow run
(workflows/runner.run_sequences) for the app's timer, cron and `crm workflows run`.

Exactly once: a step is claimed by an INSERT into sequence_sends that ignores a conflict on
(enrolment, step), in the transaction that queues its email (the outbox, sent after commit by
workflows/email.send_queued) or makes its task; an engine that finds the row taken skips it.
(Apart from services/sequences, which mail_store calls after storing mail: this module queues
mail through mail_send, which stores through mail_store.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from email.utils import formataddr

from sqlalchemy import and_, bindparam, delete, exists, func, or_, select, true, update
from sqlalchemy.orm import Session

from crm_tui.clock import UTC, resolve_now
from crm_tui.errors import CrmError, InvalidInput
from crm_tui.models import AuditEvent, Contact, EmailTemplate, User
from crm_tui.models.sequence import ACTIVE, FINISHED, Sequence, SequenceEnrollment, SequenceSend, SequenceStep
from crm_tui.services import mail_send, tasks
from crm_tui.services.common import Actor, audit_rows, lock_names
from crm_tui.services.sequences import (
    ENROLLMENT,
    dialect_insert,
    engine_actor,
    stop_where,
    add_business_days,
    next_day_opening,
    window_opening,
)

BATCH = 500  # due steps per transaction


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
    rows: int = 0  # due steps this run looked at (a full batch: there may be more)

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
        self.rows += other.rows
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


def has_due(session: Session, *, now: datetime, email: bool = True) -> bool:
    """Whether any step is due (an index probe: a run with nothing to do takes no write lock);
    `email` False (no SMTP): only a task step, or a stop for do not email, counts."""
    e, st = SequenceEnrollment, SequenceStep
    due = [e.status == ACTIVE, e.next_due_at <= now]
    if not email:
        due.append(or_(exists().where(st.sequence_id == e.sequence_id, st.position == e.next_position,
                                      st.kind == "task"),
                       e.contact_id.in_(select(Contact.id).where(Contact.do_not_email.is_(True)))))
    return bool(session.scalar(select(exists().where(*due))))


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
    system = engine_actor("engine")
    # contacts who may not or cannot be emailed; and enrolments past their last step
    counts.stop("do_not_email", stop_where(
        session, [*due[1:], e.contact_id.in_(select(Contact.id).where(Contact.do_not_email.is_(True)))],
        "do_not_email", actor=system, now=now))
    next_step = select(st.kind).where(st.sequence_id == e.sequence_id, st.position == e.next_position) \
        .scalar_subquery()
    counts.stop("no_email", stop_where(
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
    counts.rows = len(rows)
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
            actor=engine_actor("engine"), now=now,
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
        stmt = dialect_insert(session, SequenceSend.__table__).values(values[start:start + 500]) \
            .on_conflict_do_nothing(index_elements=["enrollment_id", "step_id"]) \
            .returning(SequenceSend.__table__.c.enrollment_id, SequenceSend.__table__.c.id)
        claimed.update(dict(session.execute(stmt).all()))
    return claimed


def _do_steps(session: Session, rows: list, claimed: dict[int, int], now: datetime, zone: tzinfo,
              counts: RunCounts, sender_addr: str | None) -> None:
    # here: Jinja2 loads when a sequence first sends, not with the workflow engine at every start
    from crm_tui.services import email_templates


    templates = {t.id: t for t in session.scalars(
        select(EmailTemplate).where(EmailTemplate.id.in_({r.template_id for r in rows if r.template_id})))}
    senders = {u.id: u for u in session.scalars(select(User).where(User.id.in_({r.sender_id for r in rows
                                                                                  if r.sender_id})))}
    delays = {(s.sequence_id, s.position): s.delay_days for s in session.execute(
        select(SequenceStep.sequence_id, SequenceStep.position, SequenceStep.delay_days)
        .where(SequenceStep.sequence_id.in_({r.sequence_id for r in rows})))}
    done, failed, links = [], [], []
    emails = [r for r in rows if r.kind == "email"]
    # the emails' contacts (and their companies) read once: their addresses, the templates'
    # merge fields and the send's check that they exist
    records = email_templates.merge_records(session, [r.contact_id for r in emails])
    # the emails set-based: each template filled for its sender's contacts at once, and each
    # sequence's emails stored and queued in one batch (mail_send.send_many)
    filled: dict[int, object] = {}  # enrolment id -> Rendered, or the error that stops it
    for (template_id, sender_id), group in _grouped(emails, lambda r: (r.template_id, r.sender_id)).items():
        template, user = templates[template_id], senders.get(sender_id)
        me = Actor(user_id=sender_id, login=user.login if user else engine_actor(group[0].name).login, role="admin")
        by_contact = email_templates.render_many(session, subject=template.subject, body=template.body, actor=me,
                                                 contact_ids=[r.contact_id for r in group], records=records)
        filled.update((r.id, by_contact[r.contact_id]) for r in group)
    for name, group in _grouped(emails, lambda r: r.name).items():
        items, batch = [], []
        for r in group:
            rendered = filled[r.id]
            if isinstance(rendered, CrmError):
                failed.append(r)
                counts.errors.append(f"{r.name}: contact #{r.contact_id}: {rendered.message}")
                continue
            user = senders.get(r.sender_id)
            from_addr = formataddr((user.name or user.login, user.email)) if user and user.email else None
            items.append(mail_send.Outgoing(
                mail_send.Draft(to=[records.contacts[r.contact_id].email], subject=rendered.subject, body=rendered.body,
                                contact_id=r.contact_id, template_id=r.template_id),
                from_addr=from_addr, user_id=r.sender_id if from_addr else None))
            batch.append(r)
        results = mail_send.send_many(session, items, actor=engine_actor(name), now=now, source="workflow",
                                      rule=f"sequence {name}", id_from=sender_addr,
                                      outcome=f"sent by sequence {name}"[:100],
                                      known={"contact": records.contacts.keys()}) if items else []
        for r, queued in zip(batch, results):
            if isinstance(queued, CrmError):  # a bad address: this contact stops
                failed.append(r)
                counts.errors.append(f"{r.name}: contact #{r.contact_id}: {queued.message}")
                continue
            links.append({"send": claimed[r.id], "email": queued.email_id, "task": None})
            counts.emails += 1
            done.append(r)
    for r in rows:
        if r.kind == "email":
            continue
        try:
            task = tasks.create_task(session, data={"title": r.task_title, "due_at": now,
                                                    "assignee_id": r.sender_id, "contact_id": r.contact_id,
                                                    "origin": "rule", "rule_name": f"sequence {r.name}"[:100]},
                                     actor=engine_actor(r.name), now=now)
        except InvalidInput as exc:
            failed.append(r)
            counts.errors.append(f"{r.name}: contact #{r.contact_id}: {exc.message}")
            continue
        links.append({"send": claimed[r.id], "email": None, "task": task.id})
        counts.tasks += 1
        done.append(r)
    table = SequenceSend.__table__
    if links:
        session.execute(update(table).where(table.c.id == bindparam("send"))
                        .values(email_id=bindparam("email"), task_id=bindparam("task")), links)
    if failed:
        session.execute(delete(table).where(table.c.id.in_([claimed[r.id] for r in failed])))
        counts.stop("failed", stop_where(session, [SequenceEnrollment.id.in_([r.id for r in failed])], "failed",
                                          actor=engine_actor("engine"), now=now))
    _advance(session, done, delays, now, zone, counts)


def _grouped(rows: list, key) -> dict:
    """The rows by key, each group in the rows' order."""
    groups: dict = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return groups


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
