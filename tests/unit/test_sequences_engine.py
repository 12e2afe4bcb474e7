"""The sequences' engine step: each (enrolment, step) done exactly once (two runs, two OS processes),
delays in business days over a weekend, the sending window and the daily cap, do-not-email and
no-address stops, replies seen by mail capture (threading headers, and mail from the contact), and
a real SMTP send through the outbox (aiosmtpd). Frozen clock: Monday 2026-11-23 10:00 UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select, update

from crm_tui.models import Contact, ContactEmail, EmailMessage, Task
from crm_tui.models.sequence import SequenceEnrollment, SequenceSend
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import email_templates as templates, mail_store, sequence_engine, sequences
from crm_tui.workflows import runner
from crm_tui.workflows.rules import parse_rules
from tests.unit import proc_workers
from tests.unit.test_sequences import seq  # noqa: F401 - the fixture (pyflakes: used as an argument)
from tests.unit.test_workflow_email import Inbox, _free_port

UTC = timezone.utc
NO_RULES = parse_rules("")


def _run(db, when, **kw):
    with db.write() as s:
        return sequence_engine.run_due(s, now=when, zone=UTC, **kw)


def _enrol(db, actor, now, sq, *ids):
    with db.write() as s:
        return sequences.enroll(s, actor, sq.id, contact_ids=list(ids), now=now)


def _state(db):
    with db.read() as s:
        return {r.contact_id: (r.status, r.stop_reason, r.next_position, r.next_due_at)
                for r in s.scalars(select(SequenceEnrollment))}


def test_each_step_is_done_once_and_the_next_waits_business_days(db, actor, now, seq):
    sq, made = seq
    _enrol(db, actor, now, sq, made["Lee"], made["Kim"])
    first = _run(db, now)
    assert (first.emails, first.tasks, first.skipped) == (2, 0, 0)
    assert _run(db, now).done == 0  # the second run finds nothing due
    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert {v[2:] for v in _state(db).values()} == {(2, wednesday)}
    assert _run(db, wednesday - timedelta(minutes=1)).done == 0
    second = _run(db, wednesday)
    assert (second.tasks, second.finished) == (2, 2)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(EmailOutbox)) == 2
        sends = s.execute(select(SequenceSend.kind, SequenceSend.email_id, SequenceSend.task_id)).all()
        assert sorted(k for k, _, _ in sends) == ["email", "email", "task", "task"]
        assert all(e for k, e, _ in sends if k == "email") and all(t for k, _, t in sends if k == "task")
        assert set(s.scalars(select(Task.title))) == {"Call them"}
        assert set(s.scalars(select(Task.assignee_id))) == {actor.user_id}
        subjects = set(s.scalars(select(EmailMessage.subject)))
        funnel = sequences.funnel(s, sq.id)
    assert subjects == {"Hi Lee", "Hi Kim"}
    assert {v[:2] for v in _state(db).values()} == {("finished", None)}
    assert (funnel.enrolled, funnel.sent, funnel.finished, funnel.active) == (2, 2, 2, 0)


def test_a_delay_over_a_weekend_counts_business_days(db, actor, now, seq):
    sq, made = seq
    friday = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
    _enrol(db, actor, friday, sq, made["Lee"])
    assert _run(db, friday).emails == 1
    assert _state(db)[made["Lee"]][3] == datetime(2026, 12, 1, 15, 30, tzinfo=UTC)  # Tuesday, not Sunday
    assert sequences.add_business_days(friday, 1, UTC) == datetime(2026, 11, 30, 15, 30, tzinfo=UTC)


def test_emails_wait_for_the_sending_window_in_the_team_zone(db, actor, now, seq):
    sq, made = seq
    _enrol(db, actor, now, sq, made["Lee"])
    evening = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    held = _run(db, evening)
    assert (held.emails, held.deferred) == (0, 1)
    assert _state(db)[made["Lee"]][3] == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    with db.write() as s:
        s.execute(update(SequenceEnrollment).values(next_due_at=saturday))
    assert _run(db, saturday).emails == 0
    assert _state(db)[made["Lee"]][3] == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday's opening
    # in New York the window opens at 09:00 there: 14:00 UTC
    paris_morning = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    with db.write() as s:
        held = sequence_engine.run_due(s, now=paris_morning, zone=templates_zone("America/New_York"))
    assert held.deferred == 1 and _state(db)[made["Lee"]][3] == datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def templates_zone(name):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def test_the_daily_cap_per_sender_holds_the_rest_for_the_next_business_day(db, actor, now, seq):
    sq, made = seq
    with db.write() as s:
        sequences.update_sequence(s, actor, sq.id, daily_cap=1, now=now)
    _enrol(db, actor, now, sq, made["Lee"], made["Kim"])
    first = _run(db, now)
    assert (first.emails, first.deferred) == (1, 1)
    assert _run(db, now + timedelta(hours=1)).emails == 0
    waiting = [v for v in _state(db).values() if v[2] == 1]
    assert [v[3] for v in waiting] == [datetime(2026, 11, 24, 9, 0, tzinfo=UTC)]
    assert _run(db, datetime(2026, 11, 24, 9, 0, tzinfo=UTC)).emails == 1


def test_do_not_email_is_never_sent_and_no_address_stops_clearly(db, actor, now, seq):
    sq, made = seq
    _enrol(db, actor, now, sq, made["Lee"], made["Kim"])
    with db.write() as s:  # marked after enrolling (an import, an edit): the engine still never sends
        s.execute(update(Contact).where(Contact.id == made["Lee"]).values(do_not_email=True))
        s.execute(delete(ContactEmail).where(ContactEmail.contact_id == made["Kim"]))
        s.execute(update(Contact).where(Contact.id == made["Kim"]).values(email=None))
    counts = _run(db, now)
    assert counts.emails == 0 and counts.stopped == {"do_not_email": 1, "no_email": 1}
    assert {k: v[:2] for k, v in _state(db).items()} == {made["Lee"]: ("stopped", "do_not_email"),
                                                         made["Kim"]: ("stopped", "no_email")}
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(EmailOutbox)) == 0


def test_a_template_that_cannot_be_filled_stops_that_contact_only(db, actor, now, seq):
    sq, made = seq
    with db.write() as s:
        t = templates.find_template(s, ref="Intro", actor=actor)
        templates.update_template(s, template_id=t.id, body="{{ contact.title }}", actor=actor, now=now)
        s.execute(update(Contact).where(Contact.id == made["Kim"]).values(title="CEO"))
    _enrol(db, actor, now, sq, made["Lee"], made["Kim"])
    counts = _run(db, now)
    assert counts.emails == 1 and counts.stopped == {"failed": 1} and "contact.title" in counts.errors[0]
    assert _state(db)[made["Lee"]][:2] == ("stopped", "failed")
    assert _state(db)[made["Kim"]][2] == 2


def _inbound(message_id, sender, sent_at, **kw):
    return mail_store.MailMessage(message_id=message_id, sent_at=sent_at, subject="Re: Hi", from_addr=sender,
                                  to_addrs=("ann@team.example",), body="Thanks!", direction="inbound", **kw)


def test_a_reply_by_its_headers_or_from_the_contact_stops_the_sequence(db, actor, now, seq):
    sq, made = seq
    _enrol(db, actor, now, sq, made["Lee"], made["Kim"], made["Max"])
    _run(db, now)
    with db.read() as s:
        lee_mid = s.scalar(select(EmailMessage.message_id).join(SequenceSend, SequenceSend.email_id == EmailMessage.id)
                           .where(SequenceSend.contact_id == made["Lee"]))
    later = now + timedelta(hours=2)
    with db.write() as s:
        # from an address no contact has, but answering Lee's email: threading alone finds it
        mail_store.store_messages(s, [_inbound("r1@elsewhere.example", "lee.private@home.example", later,
                                               in_reply_to=lee_mid, references=(lee_mid,))],
                                  actor=actor, source="ingest", now=later)
        # mail from Kim before the step was sent does not count; after it does
        mail_store.store_messages(s, [_inbound("r2@acme.com", "kim@acme.com", now - timedelta(hours=1))],
                                  actor=actor, source="ingest", now=later)
    assert _state(db)[made["Kim"]][0] == "active"
    with db.write() as s:
        mail_store.store_messages(s, [_inbound("r3@acme.com", "Kim Park <kim@acme.com>", later)],
                                  actor=actor, source="ingest", now=later)
        funnel = sequences.funnel(s, sq.id)
    states = _state(db)
    assert states[made["Lee"]][:2] == states[made["Kim"]][:2] == ("stopped", "replied")
    assert funnel.replied == 2 and funnel.sent == 2


@pytest.fixture
def smtp_server():
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from crm_tui.workflows.email import SmtpSettings

    inbox, port = Inbox(), _free_port()
    server = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    yield inbox, SmtpSettings(host="127.0.0.1", port=port, sender="CRM <crm@team.example>", starttls=False, timeout=5)
    server.stop()


def test_the_workflow_run_sends_the_sequence_email_over_smtp_once(db, actor, now, seq, smtp_server):
    sq, made = seq
    inbox, smtp = smtp_server
    _enrol(db, actor, now, sq, made["Lee"])
    report = runner.run(db, rules=NO_RULES, now=now, zone=UTC, smtp=smtp, team_zone=UTC)
    assert report.sequences.emails == 1 and len(report.email.sent) == 1 and report.ok
    [msg] = inbox.messages
    assert (msg["From"], msg["To"], msg["Subject"]) == ("Ann Admin <ann@team.example>", "lee@acme.com", "Hi Lee")
    assert "Hello Lee. Ann Admin" in msg.get_payload()
    again = runner.run(db, rules=NO_RULES, now=now + timedelta(minutes=5), zone=UTC, smtp=smtp, team_zone=UTC)
    assert again.sequences.done == 0 and len(inbox.messages) == 1
    no_smtp = runner.run(db, rules=NO_RULES, now=now + timedelta(days=3), zone=UTC, smtp=None, team_zone=UTC)
    assert no_smtp.sequences.tasks == 1  # without SMTP, task steps still run (email steps wait)


def test_two_engines_in_two_processes_do_each_step_once(db, db_url, actor, now, seq):
    sq, made = seq
    with db.write() as s:
        ids = []
        for i in range(12):
            c = Contact(first_name=f"P{i}", last_name="X", full_name=f"P{i} X", email=f"p{i}@x.example",
                        created_at=now, updated_at=now)
            s.add(c)
            s.flush()
            ids.append(c.id)
        sequences.enroll(s, actor, sq.id, contact_ids=ids, now=now)
    reports = proc_workers.run_in_processes(proc_workers.run_sequences, [(db_url, now, 1), (db_url, now, 2)])
    assert [errors for *_, errors in reports] == [[], []]
    assert sum(done for _, done, _, _ in reports) == 12
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SequenceSend)) == 12
        assert s.scalar(select(func.count()).select_from(EmailOutbox)) == 12


def test_a_rule_email_never_goes_to_a_do_not_email_contact(db, actor, now, smtp_server):
    from crm_tui.services import deals
    from tests.unit.test_workflow_email import RULES
    from tests.unit.test_workflow_engine import _deal

    inbox, smtp = smtp_server
    deal = _deal(db, actor, now)
    with db.write() as s:
        sequences.unsubscribe(s, actor, deal.contact_id, now=now)
        deals.mark_won(s, deal_id=deal.id, actor=actor, now=now)
    report = runner.run(db, rules=RULES, now=now, zone=UTC, smtp=smtp)
    [fired] = report.fired
    assert "do not email" in fired.actions[0] and inbox.messages == []
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(EmailOutbox)) == 0


def _statements(db, fn) -> int:
    """How many statements `fn` sends to the database (an executemany counts once)."""
    from sqlalchemy import event

    seen = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def _more_contacts(db, now, n: int, tag: str) -> list[int]:
    from sqlalchemy import insert, literal

    with db.write() as s:
        s.execute(insert(Contact), [dict(first_name=f"{tag}{i}", last_name="Batch", full_name=f"{tag}{i} Batch",
                                         sort_name=f"batch {tag}{i}", email=f"{tag}{i}@batch.example",
                                         lifecycle="lead", created_at=now, updated_at=now) for i in range(n)])
        s.execute(insert(ContactEmail).from_select(
            ["contact_id", "email", "position"],
            select(Contact.id, Contact.email, literal(0)).where(Contact.first_name.like(f"{tag}%"),
                                                                Contact.last_name == "Batch")))
        return list(s.scalars(select(Contact.id).where(Contact.first_name.like(f"{tag}%"),
                                                        Contact.last_name == "Batch")))


def test_the_email_steps_are_set_based_and_go_under_the_senders_login(db, actor, now, seq):
    """Three due emails and twenty-five take the same statements: none runs per contact. Each email
    is the sender's (the outbox's user_id: their own SMTP login), stored and linked once."""
    sq, _made = seq
    few, many = _more_contacts(db, now, 3, "f"), _more_contacts(db, now, 25, "m")
    _enrol(db, actor, now, sq, *few)
    small = _statements(db, lambda: _run(db, now))
    later = now + timedelta(minutes=5)
    _enrol(db, actor, later, sq, *many)
    counts = []
    large = _statements(db, lambda: counts.append(_run(db, later)))
    assert counts[0].emails == 25 and not counts[0].errors
    assert large == small
    with db.read() as s:
        outbox = s.execute(select(EmailOutbox.user_id, EmailOutbox.from_addr, EmailOutbox.rule)).all()
        linked = s.execute(select(func.count(), func.count(func.distinct(SequenceSend.email_id)))
                           .where(SequenceSend.kind == "email")).one()
        subjects = set(s.scalars(select(EmailMessage.subject).where(EmailMessage.to_addrs.is_not(None))))
    assert {tuple(r) for r in outbox} == {(actor.user_id, "Ann Admin <ann@team.example>", "sequence Welcome  Leads")}
    assert len(outbox) == 28 and tuple(linked) == (28, 28)
    assert "Hi m24" in subjects and "Hi f0" in subjects


def test_a_batch_reads_its_contacts_once(db, actor, now, seq):
    """The due emails' contacts are read once for their addresses, the templates' merge fields and
    the send's check that they exist (mail_store's linking reads their companies on its own)."""
    from sqlalchemy import event

    sq, _made = seq
    _enrol(db, actor, now, sq, *_more_contacts(db, now, 3, "r"))
    seen = []

    def by_id(conn, cursor, statement, parameters, context, executemany):
        flat = " ".join(statement.split())
        if flat.startswith("SELECT") and " FROM contacts WHERE contacts.id IN " in flat:
            seen.append(flat)

    event.listen(db.engine, "before_cursor_execute", by_id)
    try:
        counts = _run(db, now)
    finally:
        event.remove(db.engine, "before_cursor_execute", by_id)
    assert counts.emails == 3 and not counts.errors
    assert len(seen) == 2, seen
    assert "contacts.company_id" in seen[-1] and "contacts.email" not in seen[-1]  # mail_store's
